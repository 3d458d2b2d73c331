//! Rows as loaded, and their conversion into auth-core's records.

use auth_core::time::OffsetDateTime;
use auth_core::{
    AccessTokenEntry, AuditEvent, AuditKind, AuditRecord, NewRefreshToken, RefreshTokenRecord,
    RevocationEvent, RevokedItem, SessionDevice, SessionId, SuccessorSeed, TokenHash, TokenId,
    UserId, UserRecord,
};
use diesel::prelude::*;
use uuid::Uuid;

use crate::error::MySqlError;
use crate::schema::{audit_logs, auth_user, auth_user_tokens, revoked_tokens};

fn uuid(bytes: &[u8], what: &'static str) -> Result<Uuid, MySqlError> {
    Uuid::from_slice(bytes).map_err(|_| MySqlError::InvalidRow(what))
}

fn required<T>(value: Option<T>, what: &'static str) -> Result<T, MySqlError> {
    value.ok_or(MySqlError::InvalidRow(what))
}

/// A refresh-token row of `auth_user_tokens`.
#[derive(Queryable, Selectable)]
#[diesel(table_name = auth_user_tokens, check_for_backend(diesel::mysql::Mysql))]
pub(crate) struct RefreshRow {
    token_id: Option<Vec<u8>>,
    token_hash: Option<Vec<u8>>,
    user_id: i64,
    session_id: Option<Vec<u8>>,
    generation: i32,
    issued_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
    session_created_at: Option<OffsetDateTime>,
    session_expires_at: Option<OffsetDateTime>,
    user_agent: Option<String>,
    ip: Option<String>,
    rotated_at: Option<OffsetDateTime>,
    replaced_by: Option<Vec<u8>>,
    revoked_at: Option<OffsetDateTime>,
    revoke_reason: Option<String>,
    reuse_count: i32,
    successor_seed: Option<Vec<u8>>,
    client_id: Option<String>,
    scope: Option<String>,
    device_id: Option<String>,
    device_name: Option<String>,
    dpop_jkt: Option<String>,
}

impl TryFrom<RefreshRow> for RefreshTokenRecord {
    type Error = MySqlError;

    fn try_from(r: RefreshRow) -> Result<Self, MySqlError> {
        let hash = required(r.token_hash, "refresh token without token_hash")?;
        Ok(RefreshTokenRecord {
            token: NewRefreshToken {
                id: TokenId(uuid(
                    &required(r.token_id, "refresh token without token_id")?,
                    "token_id",
                )?),
                hash: TokenHash::from_slice(&hash).ok_or(MySqlError::InvalidRow("token_hash"))?,
                user_id: UserId(r.user_id),
                session_id: SessionId(uuid(
                    &required(r.session_id, "refresh token without session_id")?,
                    "session_id",
                )?),
                generation: r.generation,
                issued_at: required(r.issued_at, "refresh token without issued_at")?,
                expires_at: required(r.expires_at, "refresh token without expires_at")?,
                session_created_at: required(
                    r.session_created_at,
                    "refresh token without session_created_at",
                )?,
                session_expires_at: required(
                    r.session_expires_at,
                    "refresh token without session_expires_at",
                )?,
                user_agent: r.user_agent,
                ip: r.ip,
                client_id: r.client_id,
                scope: r.scope,
                device: SessionDevice {
                    device_id: r.device_id,
                    device_name: r.device_name,
                    dpop_jkt: r.dpop_jkt,
                },
            },
            rotated_at: r.rotated_at,
            replaced_by: r
                .replaced_by
                .map(|b| uuid(&b, "replaced_by").map(TokenId))
                .transpose()?,
            successor_seed: r
                .successor_seed
                .map(|b| {
                    SuccessorSeed::from_slice(&b).ok_or(MySqlError::InvalidRow("successor_seed"))
                })
                .transpose()?,
            revoked_at: r.revoked_at,
            revoke_reason: r.revoke_reason,
            reuse_count: r.reuse_count,
        })
    }
}

/// An allowlisted access-token row of `auth_user_tokens`.
#[derive(Queryable, Selectable)]
#[diesel(table_name = auth_user_tokens, check_for_backend(diesel::mysql::Mysql))]
pub(crate) struct AccessRow {
    jti: Option<Vec<u8>>,
    user_id: i64,
    session_id: Option<Vec<u8>>,
    issued_at: Option<OffsetDateTime>,
    expires_at: Option<OffsetDateTime>,
    disabled: Option<bool>,
}

impl TryFrom<AccessRow> for AccessTokenEntry {
    type Error = MySqlError;

    fn try_from(r: AccessRow) -> Result<Self, MySqlError> {
        let jti = String::from_utf8(required(r.jti, "access token without jti")?)
            .map_err(|_| MySqlError::InvalidRow("jti is not UTF-8"))?;
        Ok(AccessTokenEntry {
            jti,
            user_id: UserId(r.user_id),
            session_id: SessionId(uuid(
                &required(r.session_id, "access token without session_id")?,
                "session_id",
            )?),
            issued_at: required(r.issued_at, "access token without issued_at")?,
            expires_at: required(r.expires_at, "access token without expires_at")?,
            // The seed's column is nullable; a NULL is not "available".
            disabled: r.disabled.unwrap_or(true),
        })
    }
}

/// A row of `auth_user`.
#[derive(Queryable, Selectable)]
#[diesel(table_name = auth_user, check_for_backend(diesel::mysql::Mysql))]
pub(crate) struct UserRow {
    id: i64,
    email: Option<Vec<u8>>,
    password_hash: Option<String>,
    is_active: bool,
    is_admin: bool,
    tokens_valid_after: Option<OffsetDateTime>,
    last_login: Option<OffsetDateTime>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = MySqlError;

    fn try_from(r: UserRow) -> Result<Self, MySqlError> {
        let email = r
            .email
            .map(String::from_utf8)
            .transpose()
            .map_err(|_| MySqlError::InvalidRow("email is not UTF-8"))?;
        Ok(UserRecord {
            id: UserId(r.id),
            email,
            password_hash: r.password_hash,
            is_active: r.is_active,
            is_admin: r.is_admin,
            tokens_valid_after: r.tokens_valid_after,
            last_login: r.last_login,
            column_claims: Default::default(),
        })
    }
}

/// A row of `revoked_tokens`.
#[derive(Queryable, Selectable)]
#[diesel(table_name = revoked_tokens, check_for_backend(diesel::mysql::Mysql))]
pub(crate) struct RevokedRow {
    id: i64,
    kind: String,
    user_id: i64,
    jti: Option<Vec<u8>>,
    session_id: Option<Vec<u8>>,
    revoked_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

impl TryFrom<RevokedRow> for RevocationEvent {
    type Error = MySqlError;

    fn try_from(r: RevokedRow) -> Result<Self, MySqlError> {
        let jti = r
            .jti
            .map(String::from_utf8)
            .transpose()
            .map_err(|_| MySqlError::InvalidRow("jti is not UTF-8"))?;
        let session = r
            .session_id
            .map(|s| uuid(&s, "session_id").map(SessionId))
            .transpose()?;
        let item = RevokedItem::from_stored(&r.kind, UserId(r.user_id), jti, session)
            .map_err(|e| MySqlError::InvalidRow(e.as_str()))?;
        Ok(RevocationEvent {
            id: r.id,
            user_id: UserId(r.user_id),
            item,
            revoked_at: r.revoked_at,
            expires_at: r.expires_at,
        })
    }
}

/// A row of `audit_logs`.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_logs, check_for_backend(diesel::mysql::Mysql))]
pub(crate) struct AuditRow {
    id: i64,
    event_type: String,
    user_id: Option<i64>,
    session_id: Option<Vec<u8>>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: String,
    created_at: OffsetDateTime,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = MySqlError;

    fn try_from(r: AuditRow) -> Result<Self, MySqlError> {
        Ok(AuditRecord {
            id: r.id,
            event: AuditEvent {
                kind: AuditKind::parse(&r.event_type)
                    .ok_or(MySqlError::InvalidRow("unknown audit event_type"))?,
                user_id: r.user_id.map(UserId),
                session_id: r
                    .session_id
                    .map(|b| uuid(&b, "session_id").map(SessionId))
                    .transpose()?,
                ip: r.ip,
                user_agent: r.user_agent,
                details: serde_json::from_str(&r.details)
                    .map_err(|_| MySqlError::InvalidRow("details is not JSON"))?,
                at: r.created_at,
            },
        })
    }
}

/// A revocation-feed row to insert.
#[derive(Insertable)]
#[diesel(table_name = revoked_tokens, check_for_backend(diesel::mysql::Mysql))]
pub(crate) struct NewRevokedRow<'a> {
    pub(crate) kind: &'static str,
    pub(crate) user_id: i64,
    pub(crate) jti: Option<&'a [u8]>,
    pub(crate) session_id: Option<&'a [u8]>,
    pub(crate) revoked_at: OffsetDateTime,
    pub(crate) expires_at: OffsetDateTime,
}
