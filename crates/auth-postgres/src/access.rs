//! [`AccessTokenStore`] over `auth_user_tokens` (allowlist) and `revoked_tokens` (feed).

use auth_core::{
    AccessTokenEntry, AccessTokenRevocation, AccessTokenStore, Result, RevocationCursor,
    RevocationEvent, RevocationKind, RevokedItem, SessionId, UserId,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::error::{corrupt, db};
use crate::store::PgTokenStore;

const EVENTS_AFTER: &str = "SELECT id, kind, user_id, jti, session_id, revoked_at, expires_at \
    FROM revoked_tokens WHERE id > $1 ORDER BY id LIMIT $2";

const EVENTS_AFTER_OR_SINCE: &str = "SELECT id, kind, user_id, jti, session_id, revoked_at, expires_at \
    FROM revoked_tokens WHERE id > $1 OR revoked_at >= $3 ORDER BY id LIMIT $2";

/// Appends a token event (kind `$5`) unless the jti is already denied, and disables its allowlist
/// row. One statement. Returns the number of events written (0 or 1).
const REVOKE_ACCESS_TOKEN: &str = "WITH ins AS ( \
        INSERT INTO revoked_tokens (kind, user_id, jti, revoked_at, expires_at) \
        VALUES ($5, $2, $1, $3, $4) \
        ON CONFLICT (jti) DO NOTHING \
        RETURNING id \
    ), dis AS ( \
        UPDATE auth_user_tokens SET disabled = TRUE WHERE jti = $1 AND NOT disabled \
    ) \
    SELECT count(*) FROM ins";

fn event(row: &PgRow) -> Result<RevocationEvent> {
    let kind: String = row.try_get("kind").map_err(db)?;
    let user_id = UserId(row.try_get("user_id").map_err(db)?);
    let jti: Option<String> = row.try_get("jti").map_err(db)?;
    let session: Option<Uuid> = row.try_get("session_id").map_err(db)?;
    let item = RevokedItem::from_stored(&kind, user_id, jti, session.map(SessionId))
        .map_err(|e| corrupt("revoked_tokens", e.as_str()))?;
    Ok(RevocationEvent {
        id: row.try_get("id").map_err(db)?,
        user_id,
        item,
        revoked_at: row.try_get("revoked_at").map_err(db)?,
        expires_at: row.try_get("expires_at").map_err(db)?,
    })
}

impl AccessTokenStore for PgTokenStore {
    async fn register_access_token(&self, entry: &AccessTokenEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_user_tokens (jti, user_id, session_id, issued_at, expires_at, disabled) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&entry.jti)
        .bind(entry.user_id.0)
        .bind(entry.session_id.0)
        .bind(entry.issued_at)
        .bind(entry.expires_at)
        .bind(entry.disabled)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn find_access_token(&self, jti: &str) -> Result<Option<AccessTokenEntry>> {
        let row = sqlx::query(
            "SELECT jti, user_id, session_id, issued_at, expires_at, disabled \
             FROM auth_user_tokens WHERE jti = $1",
        )
        .bind(jti)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let entry = (|| {
            Ok::<_, sqlx::Error>(AccessTokenEntry {
                jti: row.try_get("jti")?,
                user_id: UserId(row.try_get("user_id")?),
                session_id: SessionId(row.try_get("session_id")?),
                issued_at: row.try_get("issued_at")?,
                expires_at: row.try_get("expires_at")?,
                disabled: row.try_get("disabled")?,
            })
        })()
        .map_err(db)?;
        Ok(Some(entry))
    }

    async fn revoke_access_token(&self, revocation: &AccessTokenRevocation) -> Result<bool> {
        let written: i64 = sqlx::query_scalar(REVOKE_ACCESS_TOKEN)
            .bind(&revocation.jti)
            .bind(revocation.user.0)
            .bind(revocation.at)
            .bind(revocation.expires_at)
            .bind(RevocationKind::Token.as_str())
            .fetch_one(self.pool())
            .await
            .map_err(db)?;
        Ok(written == 1)
    }

    async fn revocation_events(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> Result<Vec<RevocationEvent>> {
        let query = match cursor.recheck_since {
            Some(since) => sqlx::query(EVENTS_AFTER_OR_SINCE)
                .bind(cursor.after_id)
                .bind(i64::from(limit))
                .bind(since),
            None => sqlx::query(EVENTS_AFTER)
                .bind(cursor.after_id)
                .bind(i64::from(limit)),
        };
        let rows = query.fetch_all(self.pool()).await.map_err(db)?;
        rows.iter().map(event).collect()
    }
}
