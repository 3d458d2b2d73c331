//! [`OneTimeCodeStore`] over SQLite: each operation is one `BEGIN IMMEDIATE`
//! transaction, which serialises concurrent requests for the same phone or IP and
//! makes attempts and redemption atomic.

use auth_core::time::OffsetDateTime;
use auth_core::{
    AttemptTicket, CodeAttempt, CodeHash, CodeId, IssueCode, IssueOutcome, OneTimeCodeStore,
    RedeemCode, UserRecord,
};
use deadpool_sqlite::rusqlite::{OptionalExtension, Transaction, params};

use crate::convert::{micros, time_at, uuid_at};
use crate::error::SqliteError;
use crate::store::{SqliteTokenStore, write};
use crate::users::user_from_row;

/// The creation time of the `offset`-th newest code (0 = newest) of `column = key`
/// created after `since`, if there is one.
fn nth_newest(
    tx: &Transaction<'_>,
    sql: &str,
    key: &str,
    since: i64,
    offset: u32,
) -> Result<Option<OffsetDateTime>, SqliteError> {
    Ok(tx
        .prepare_cached(sql)?
        .query_row(params![key, since, offset], |row| time_at(row, 0))
        .optional()?)
}

const NTH_NEWEST_OF_PHONE: &str = "SELECT created_at FROM one_time_codes \
     WHERE phone_number = ?1 AND created_at > ?2 ORDER BY created_at DESC LIMIT 1 OFFSET ?3";
const NTH_NEWEST_OF_IP: &str = "SELECT created_at FROM one_time_codes \
     WHERE ip = ?1 AND created_at > ?2 ORDER BY created_at DESC LIMIT 1 OFFSET ?3";

fn check_limits(
    tx: &Transaction<'_>,
    cmd: &IssueCode,
) -> Result<Option<IssueOutcome>, SqliteError> {
    for probe in cmd.limit_probes() {
        let sql = probe.key.choose(NTH_NEWEST_OF_PHONE, NTH_NEWEST_OF_IP);
        if let Some(since) = nth_newest(
            tx,
            sql,
            probe.key.value(),
            micros(probe.since),
            probe.offset,
        )? {
            return Ok(Some(probe.refusal(since)));
        }
    }
    Ok(None)
}

impl OneTimeCodeStore for SqliteTokenStore {
    async fn issue_code(&self, cmd: &IssueCode) -> auth_core::Result<IssueOutcome> {
        let cmd = cmd.clone();
        let outcome = write(self.connections(), move |tx| {
            if let Some(limited) = check_limits(tx, &cmd)? {
                return Ok(limited);
            }
            let c = &cmd.code;
            let at = micros(c.created_at);
            tx.prepare_cached(
                "UPDATE one_time_codes SET revoked_at = ?2 \
                 WHERE phone_number = ?1 AND consumed_at IS NULL AND revoked_at IS NULL",
            )?
            .execute(params![c.phone.as_str(), at])?;
            tx.prepare_cached(
                "INSERT INTO one_time_codes (id, phone_number, code_hash, ip, created_at, \
                 expires_at, max_attempts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                &c.id.0.as_bytes()[..],
                c.phone.as_str(),
                &c.hash.0[..],
                c.ip,
                at,
                micros(c.expires_at),
                c.max_attempts,
            ])?;
            Ok(IssueOutcome::Issued)
        })
        .await?;
        Ok(outcome)
    }

    async fn withdraw_code(&self, id: CodeId, at: OffsetDateTime) -> auth_core::Result<()> {
        let at = micros(at);
        write(self.connections(), move |tx| {
            tx.prepare_cached(
                "UPDATE one_time_codes SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            )?
            .execute(params![&id.0.as_bytes()[..], at])?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn begin_code_attempt(
        &self,
        cmd: &CodeAttempt,
    ) -> auth_core::Result<Option<AttemptTicket>> {
        let phone = cmd.phone.as_str().to_owned();
        let at = micros(cmd.at);
        let ticket = write(self.connections(), move |tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE one_time_codes SET attempts = attempts + 1 \
                     WHERE phone_number = ?1 AND consumed_at IS NULL AND revoked_at IS NULL \
                     AND expires_at > ?2 AND attempts < max_attempts \
                     RETURNING id, code_hash, attempts, max_attempts",
                )?
                .query_row(params![phone, at], |row| {
                    let hash: [u8; 32] = row.get(1)?;
                    Ok(AttemptTicket {
                        id: CodeId(uuid_at(row, 0)?),
                        hash: CodeHash(hash),
                        attempts: row.get(2)?,
                        max_attempts: row.get(3)?,
                    })
                })
                .optional()?)
        })
        .await?;
        Ok(ticket)
    }

    async fn redeem_code(&self, cmd: &RedeemCode) -> auth_core::Result<Option<UserRecord>> {
        let cmd = cmd.clone();
        let reads = self.user_reads().clone();
        let user = write(self.connections(), move |tx| {
            let at = micros(cmd.at);
            let phone = cmd.phone.as_str();
            let consumed = tx
                .prepare_cached(
                    "UPDATE one_time_codes SET consumed_at = ?2 WHERE id = ?1 \
                     AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
                )?
                .execute(params![&cmd.id.0.as_bytes()[..], at])?;
            if consumed == 0 {
                return Ok(None);
            }
            tx.prepare_cached(
                "INSERT INTO users (phone_number, is_verified, last_login, created_at, updated_at) \
                 VALUES (?1, 1, ?2, ?2, ?2) \
                 ON CONFLICT (phone_number) DO UPDATE SET is_verified = 1, last_login = ?2, updated_at = ?2",
            )?
            .execute(params![phone, at])?;
            Ok(Some(
                tx.prepare_cached(&reads.by_phone)?
                    .query_row([phone], user_from_row)?,
            ))
        })
        .await?;
        Ok(user)
    }
}
