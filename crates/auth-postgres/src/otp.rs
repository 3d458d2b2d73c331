//! [`OneTimeCodeStore`] over the `one_time_codes` table. A code request is one
//! transaction holding advisory locks on its phone and its IP (taken in that order),
//! so concurrent requests cannot overrun a limit; attempts and redemption are single
//! statements whose conditions PostgreSQL re-checks on the locked row under READ
//! COMMITTED, so they are atomic.

use auth_core::{
    AttemptTicket, CodeAttempt, CodeHash, CodeId, IssueCode, IssueOutcome, OneTimeCodeStore,
    RedeemCode, Result, UserRecord,
};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use time::OffsetDateTime;

use crate::error::{corrupt, db};
use crate::statements::user_columns;
use crate::store::PgTokenStore;
use crate::users::user_record;

/// Redeeming a code in one statement: the user is found or created only if this call
/// consumed the code; returns the user with the columns of a user read
/// (`statements::user_columns`). `$1` code id, `$2` phone, `$3` at.
pub(crate) const REDEEM_CODE: &str = concat!(
    "WITH consumed AS ( \
         UPDATE one_time_codes SET consumed_at = $3 \
         WHERE id = $1 AND phone_number = $2 AND consumed_at IS NULL \
         AND revoked_at IS NULL AND expires_at > $3 RETURNING phone_number \
     ) \
     INSERT INTO users (phone_number, is_verified, last_login, created_at, updated_at) \
     SELECT phone_number, TRUE, $3, $3, $3 FROM consumed \
     ON CONFLICT (phone_number) DO UPDATE \
         SET is_verified = TRUE, last_login = $3, updated_at = $3 \
     RETURNING ",
    user_columns!()
);

const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
const NTH_NEWEST_OF_PHONE: &str = "SELECT created_at FROM one_time_codes \
     WHERE phone_number = $1 AND created_at > $2 ORDER BY created_at DESC LIMIT 1 OFFSET $3";
const NTH_NEWEST_OF_IP: &str = "SELECT created_at FROM one_time_codes \
     WHERE ip = $1 AND created_at > $2 ORDER BY created_at DESC LIMIT 1 OFFSET $3";

async fn nth_newest(
    conn: &mut PgConnection,
    sql: &'static str,
    key: &str,
    since: OffsetDateTime,
    offset: u32,
) -> Result<Option<OffsetDateTime>> {
    sqlx::query_scalar(sql)
        .bind(key)
        .bind(since)
        .bind(i64::from(offset))
        .fetch_optional(conn)
        .await
        .map_err(db)
}

async fn limited(conn: &mut PgConnection, cmd: &IssueCode) -> Result<Option<IssueOutcome>> {
    for probe in cmd.limit_probes() {
        let sql = probe.key.choose(NTH_NEWEST_OF_PHONE, NTH_NEWEST_OF_IP);
        if let Some(since) =
            nth_newest(conn, sql, probe.key.value(), probe.since, probe.offset).await?
        {
            return Ok(Some(probe.refusal(since)));
        }
    }
    Ok(None)
}

fn attempts(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl OneTimeCodeStore for PgTokenStore {
    async fn issue_code(&self, cmd: &IssueCode) -> Result<IssueOutcome> {
        let c = &cmd.code;
        let mut tx = self.pool().begin().await.map_err(db)?;
        let phone_key = format!("one_time_codes:phone:{}", c.phone.as_str());
        sqlx::query(LOCK)
            .bind(&phone_key)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if let Some(ip) = &c.ip {
            let ip_key = format!("one_time_codes:ip:{ip}");
            sqlx::query(LOCK)
                .bind(&ip_key)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        if let Some(outcome) = limited(&mut tx, cmd).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(outcome);
        }
        sqlx::query(
            "WITH superseded AS ( \
                 UPDATE one_time_codes SET revoked_at = $5 \
                 WHERE phone_number = $2 AND consumed_at IS NULL AND revoked_at IS NULL \
             ) \
             INSERT INTO one_time_codes (id, phone_number, code_hash, ip, created_at, expires_at, \
                 max_attempts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id.0)
        .bind(c.phone.as_str())
        .bind(&c.hash.0[..])
        .bind(&c.ip)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(attempts(c.max_attempts))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(IssueOutcome::Issued)
    }

    async fn withdraw_code(&self, id: CodeId, at: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "UPDATE one_time_codes SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.0)
        .bind(at)
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn begin_code_attempt(&self, cmd: &CodeAttempt) -> Result<Option<AttemptTicket>> {
        let row = sqlx::query(
            "UPDATE one_time_codes SET attempts = attempts + 1 \
             WHERE phone_number = $1 AND consumed_at IS NULL AND revoked_at IS NULL \
             AND expires_at > $2 AND attempts < max_attempts \
             RETURNING id, code_hash, attempts, max_attempts",
        )
        .bind(cmd.phone.as_str())
        .bind(cmd.at)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(None) };
        let hash: Vec<u8> = row.try_get("code_hash").map_err(db)?;
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| corrupt("one_time_codes", "code_hash is not 32 bytes"))?;
        let count = |name| -> Result<u32> {
            let n: i32 = row.try_get(name).map_err(db)?;
            u32::try_from(n).map_err(|_| corrupt("one_time_codes", "negative attempt count"))
        };
        Ok(Some(AttemptTicket {
            id: CodeId(row.try_get("id").map_err(db)?),
            hash: CodeHash(hash),
            attempts: count("attempts")?,
            max_attempts: count("max_attempts")?,
        }))
    }

    async fn redeem_code(&self, cmd: &RedeemCode) -> Result<Option<UserRecord>> {
        let row = sqlx::query(self.user_reads().redeem_code.clone())
            .bind(cmd.id.0)
            .bind(cmd.phone.as_str())
            .bind(cmd.at)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(user_record).transpose().map_err(db)
    }
}
