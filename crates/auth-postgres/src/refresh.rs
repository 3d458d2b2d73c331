//! [`RefreshTokenStore`] over `refresh_tokens`.

use auth_core::{
    NewRefreshToken, RefreshTokenRecord, RefreshTokenStore, Replay, Result, RevocationKind,
    RevokeReason, Rotation, SessionDevice, SessionId, SessionRevocation, SuccessorSeed, TokenHash,
    TokenId, UserId, UserRevocation,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{corrupt, db};
use crate::statements::PgStatements;
use crate::store::PgTokenStore;

fn refresh_record(row: &PgRow) -> Result<RefreshTokenRecord> {
    let hash: Vec<u8> = row.try_get("token_hash").map_err(db)?;
    let hash = TokenHash::from_slice(&hash)
        .ok_or_else(|| corrupt("refresh_tokens", "token_hash is not 32 bytes"))?;
    let token = NewRefreshToken {
        id: TokenId(row.try_get("id").map_err(db)?),
        hash,
        user_id: UserId(row.try_get("user_id").map_err(db)?),
        session_id: SessionId(row.try_get("session_id").map_err(db)?),
        generation: row.try_get("generation").map_err(db)?,
        issued_at: row.try_get("issued_at").map_err(db)?,
        expires_at: row.try_get("expires_at").map_err(db)?,
        session_created_at: row.try_get("session_created_at").map_err(db)?,
        session_expires_at: row.try_get("session_expires_at").map_err(db)?,
        user_agent: row.try_get("user_agent").map_err(db)?,
        ip: row.try_get("ip").map_err(db)?,
        client_id: row.try_get("client_id").map_err(db)?,
        scope: row.try_get("scope").map_err(db)?,
        device: SessionDevice {
            device_id: row.try_get("device_id").map_err(db)?,
            device_name: row.try_get("device_name").map_err(db)?,
            dpop_jkt: row.try_get("dpop_jkt").map_err(db)?,
        },
    };
    let successor_seed = row
        .try_get::<Option<Vec<u8>>, _>("successor_seed")
        .map_err(db)?
        .map(|seed| {
            SuccessorSeed::from_slice(&seed)
                .ok_or_else(|| corrupt("refresh_tokens", "successor_seed is not 32 bytes"))
        })
        .transpose()?;
    Ok(RefreshTokenRecord {
        token,
        rotated_at: row.try_get("rotated_at").map_err(db)?,
        replaced_by: row
            .try_get::<Option<Uuid>, _>("replaced_by")
            .map_err(db)?
            .map(TokenId),
        successor_seed,
        revoked_at: row.try_get("revoked_at").map_err(db)?,
        revoke_reason: row.try_get("revoke_reason").map_err(db)?,
        reuse_count: row.try_get("reuse_count").map_err(db)?,
    })
}

const RECORD_COLUMNS_WHERE_USER_LIVE: &str = "SELECT id, user_id, session_id, generation, token_hash, \
    issued_at, expires_at, session_created_at, session_expires_at, rotated_at, replaced_by, revoked_at, \
    revoke_reason, reuse_count, user_agent, ip, successor_seed, client_id, scope, device_id, \
    device_name, dpop_jkt FROM refresh_tokens \
    WHERE user_id = $1 AND rotated_at IS NULL AND revoked_at IS NULL AND session_expires_at > $2 \
    ORDER BY session_created_at DESC, session_id";

const RECORD_COLUMNS_WHERE_SESSION_LIVE: &str = "SELECT id, user_id, session_id, generation, token_hash, \
    issued_at, expires_at, session_created_at, session_expires_at, rotated_at, replaced_by, revoked_at, \
    revoke_reason, reuse_count, user_agent, ip, successor_seed, client_id, scope, device_id, \
    device_name, dpop_jkt FROM refresh_tokens \
    WHERE session_id = $1 AND rotated_at IS NULL AND revoked_at IS NULL";

// Revocation runs in one transaction: a first statement revokes, disables and writes
// the events; then, because under READ COMMITTED that statement cannot see a successor
// inserted by a rotation that committed while it waited for the rotated row's lock, a
// follow-up statement (each with a fresh snapshot) revokes such successors until it finds
// none. Once a snapshot shows no unrevoked row in the session, no rotation can add one:
// a rotation needs a live row, and every live row is then locked by this transaction.

/// Revokes the unrevoked rows of one session; if any changed, disables the session's
/// allowlisted access tokens and appends one session event (kind `$5`). Returns whether a live
/// row was among them and whether anything changed.
const REVOKE_SESSION: &str = "WITH rt AS ( \
        UPDATE refresh_tokens SET revoked_at = $2, revoke_reason = $3 \
        WHERE session_id = $1 AND revoked_at IS NULL \
        RETURNING user_id, rotated_at \
    ), allow AS ( \
        UPDATE auth_user_tokens SET disabled = TRUE \
        WHERE session_id = $1 AND NOT disabled AND EXISTS (SELECT 1 FROM rt) \
    ), ev AS ( \
        INSERT INTO revoked_tokens (kind, user_id, session_id, revoked_at, expires_at) \
        SELECT $5::text, (SELECT user_id FROM rt LIMIT 1), $1, $2, $4 WHERE EXISTS (SELECT 1 FROM rt) \
    ) \
    SELECT EXISTS (SELECT 1 FROM rt WHERE rotated_at IS NULL), EXISTS (SELECT 1 FROM rt)";

/// Revokes every session of a user as [`REVOKE_SESSION`] does (one event per session
/// that had unrevoked rows) and, when `$5` is not null, stores `tokens_valid_after` and
/// appends a user event (kinds `$6`, `$7`). Returns the sessions that had a live row and all sessions
/// changed.
const REVOKE_USER_SESSIONS: &str = "WITH rt AS ( \
        UPDATE refresh_tokens SET revoked_at = $2, revoke_reason = $3 \
        WHERE user_id = $1 AND revoked_at IS NULL \
        RETURNING session_id, rotated_at \
    ), sessions AS ( \
        SELECT session_id, bool_or(rotated_at IS NULL) AS had_live FROM rt GROUP BY session_id \
    ), allow AS ( \
        UPDATE auth_user_tokens SET disabled = TRUE \
        WHERE user_id = $1 AND NOT disabled AND session_id IN (SELECT session_id FROM sessions) \
    ), ev AS ( \
        INSERT INTO revoked_tokens (kind, user_id, session_id, revoked_at, expires_at) \
        SELECT $6::text, $1, session_id, $2, $4 FROM sessions ORDER BY session_id \
    ), usr AS ( \
        UPDATE users SET tokens_valid_after = $5, updated_at = $2 \
        WHERE id = $1 AND $5::timestamptz IS NOT NULL \
        RETURNING id \
    ), uev AS ( \
        INSERT INTO revoked_tokens (kind, user_id, revoked_at, expires_at) \
        SELECT $7::text, id, $2, $4 FROM usr \
    ) \
    SELECT coalesce(array_agg(session_id) FILTER (WHERE had_live), '{}'), \
           coalesce(array_agg(session_id), '{}') FROM sessions";

/// The follow-up pass: revokes rows of the sessions `$1` still unrevoked (successors
/// of rotations that committed during the first statement) and disables their
/// allowlisted tokens. Returns the rows changed and the sessions among them with a
/// live row.
const REVOKE_STRAGGLERS: &str = "WITH rt AS ( \
        UPDATE refresh_tokens SET revoked_at = $2, revoke_reason = $3 \
        WHERE session_id = ANY($1) AND revoked_at IS NULL \
        RETURNING session_id, rotated_at \
    ), allow AS ( \
        UPDATE auth_user_tokens SET disabled = TRUE \
        WHERE session_id IN (SELECT session_id FROM rt) AND NOT disabled \
    ) \
    SELECT count(*), coalesce(array_agg(DISTINCT session_id) FILTER (WHERE rotated_at IS NULL), '{}') FROM rt";

impl PgTokenStore {
    /// Runs [`REVOKE_STRAGGLERS`] until it changes nothing; returns the sessions in which
    /// it revoked a live row.
    async fn revoke_stragglers(
        tx: &mut sqlx::PgConnection,
        sessions: &[Uuid],
        reason: RevokeReason,
        at: OffsetDateTime,
    ) -> Result<Vec<Uuid>> {
        let mut live = Vec::new();
        loop {
            let (changed, with_live): (i64, Vec<Uuid>) = sqlx::query_as(REVOKE_STRAGGLERS)
                .bind(sessions)
                .bind(at)
                .bind(reason.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            live.extend(with_live);
            if changed == 0 {
                return Ok(live);
            }
        }
    }
}

impl RefreshTokenStore for PgTokenStore {
    async fn insert_refresh_token(&self, t: &NewRefreshToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, issued_at, \
             expires_at, session_created_at, session_expires_at, user_agent, ip, client_id, scope, \
             device_id, device_name, dpop_jkt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(t.id.0)
        .bind(t.user_id.0)
        .bind(t.session_id.0)
        .bind(t.generation)
        .bind(t.hash.as_bytes().as_slice())
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(t.session_created_at)
        .bind(t.session_expires_at)
        .bind(&t.user_agent)
        .bind(&t.ip)
        .bind(&t.client_id)
        .bind(&t.scope)
        .bind(&t.device.device_id)
        .bind(&t.device.device_name)
        .bind(&t.device.dpop_jkt)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn find_refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>> {
        let row = sqlx::query(PgStatements::FIND_REFRESH_TOKEN)
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(refresh_record).transpose()
    }

    async fn find_refresh_token_by_id(&self, id: TokenId) -> Result<Option<RefreshTokenRecord>> {
        let row = sqlx::query(PgStatements::FIND_REFRESH_TOKEN_BY_ID)
            .bind(id.0)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(refresh_record).transpose()
    }

    async fn rotate_refresh_token(&self, rotation: &Rotation) -> Result<bool> {
        let s = &rotation.successor;
        let audit = &rotation.audit;
        let query = sqlx::query_scalar::<_, i64>(PgStatements::ROTATE)
            .bind(rotation.current.0)
            .bind(rotation.at)
            .bind(s.id.0)
            .bind(s.user_id.0)
            .bind(s.session_id.0)
            .bind(s.generation)
            .bind(s.hash.as_bytes().as_slice())
            .bind(s.issued_at)
            .bind(s.expires_at)
            .bind(s.session_created_at)
            .bind(s.session_expires_at)
            .bind(&s.user_agent)
            .bind(&s.ip)
            .bind(&s.client_id)
            .bind(&s.scope)
            .bind(rotation.successor_seed.as_bytes().as_slice())
            .bind(audit.kind.as_str())
            .bind(audit.user_id.map(|u| u.0))
            .bind(audit.session_id.map(|s| s.0))
            .bind(&audit.ip)
            .bind(&audit.user_agent)
            .bind(sqlx::types::Json(&audit.details))
            .bind(audit.at)
            .bind(&s.device.device_id)
            .bind(&s.device.device_name)
            .bind(&s.device.dpop_jkt);
        // A serialization failure or deadlock is an error (PgError::Conflict), never `true`.
        let inserted = query.fetch_one(self.pool()).await.map_err(db)?;
        Ok(inserted == 1)
    }

    async fn replay_refresh_token(&self, replay: &Replay) -> Result<bool> {
        let audit = &replay.audit;
        let written = sqlx::query_scalar::<_, i64>(PgStatements::REPLAY)
            .bind(replay.predecessor.0)
            .bind(replay.successor.0)
            .bind(replay.budget)
            .bind(audit.kind.as_str())
            .bind(audit.user_id.map(|u| u.0))
            .bind(audit.session_id.map(|s| s.0))
            .bind(&audit.ip)
            .bind(&audit.user_agent)
            .bind(sqlx::types::Json(&audit.details))
            .bind(audit.at)
            .fetch_one(self.pool())
            .await
            .map_err(db)?;
        Ok(written == 1)
    }

    async fn live_refresh_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshTokenRecord>> {
        let rows = sqlx::query(RECORD_COLUMNS_WHERE_USER_LIVE)
            .bind(user.0)
            .bind(now)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(refresh_record).collect()
    }

    async fn live_refresh_token_of_session(
        &self,
        session: SessionId,
    ) -> Result<Option<RefreshTokenRecord>> {
        let row = sqlx::query(RECORD_COLUMNS_WHERE_SESSION_LIVE)
            .bind(session.0)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(refresh_record).transpose()
    }

    async fn revoke_session(&self, revocation: &SessionRevocation) -> Result<bool> {
        let SessionRevocation {
            session,
            reason,
            at,
            event_expires_at,
        } = *revocation;
        let mut tx = self.pool().begin().await.map_err(db)?;
        let (mut had_live, changed): (bool, bool) = sqlx::query_as(REVOKE_SESSION)
            .bind(session.0)
            .bind(at)
            .bind(reason.as_str())
            .bind(event_expires_at)
            .bind(RevocationKind::Session.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if changed {
            had_live |= !Self::revoke_stragglers(&mut tx, &[session.0], reason, at)
                .await?
                .is_empty();
        }
        tx.commit().await.map_err(db)?;
        Ok(had_live)
    }

    async fn revoke_user_sessions(&self, revocation: &UserRevocation) -> Result<u64> {
        let (reason, at) = (revocation.reason, revocation.at);
        let mut tx = self.pool().begin().await.map_err(db)?;
        let (mut live, changed): (Vec<Uuid>, Vec<Uuid>) = sqlx::query_as(REVOKE_USER_SESSIONS)
            .bind(revocation.user.0)
            .bind(at)
            .bind(reason.as_str())
            .bind(revocation.event_expires_at)
            .bind(revocation.tokens_valid_after)
            .bind(RevocationKind::Session.as_str())
            .bind(RevocationKind::User.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
        if !changed.is_empty() {
            live.extend(Self::revoke_stragglers(&mut tx, &changed, reason, at).await?);
        }
        tx.commit().await.map_err(db)?;
        live.sort_unstable();
        live.dedup();
        Ok(live.len() as u64)
    }
}
