//! [`OneTimeCodeStore`] over `one_time_codes`. A code request is one transaction that
//! first locks its phone's and its IP's rows in `one_time_code_locks` (in that order),
//! so concurrent requests cannot overrun a limit, and rolls back whole when a limit
//! refuses it. An attempt locks the live code row (`FOR UPDATE`, a current read) before
//! counting it; redemption is a conditional `UPDATE` in the transaction that finds or
//! creates the user, so of concurrent redemptions exactly one changes a row.

use auth_core::time::OffsetDateTime;
use auth_core::{
    AttemptTicket, CodeAttempt, CodeHash, CodeId, IssueCode, IssueOutcome, OneTimeCodeStore,
    RedeemCode, UserRecord,
};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{
    BigInt, Binary, Datetime, Integer, Nullable, Unsigned, Varbinary, Varchar,
};
use diesel_async::RunQueryDsl;

use crate::django::DjangoUserTable;
use crate::error::MySqlError;
use crate::pool::MySqlConnection;
use crate::rows::UserRow;
use crate::schema::auth_user;
use crate::store::{MySqlTokenStore, Tx, transaction, uuid_bytes, with_conn};
use crate::user_columns::{UserRead, UserReads, user_record};

#[derive(QueryableByName)]
struct CreatedAt {
    #[diesel(sql_type = Datetime)]
    created_at: OffsetDateTime,
}

#[derive(QueryableByName)]
struct LiveCode {
    #[diesel(sql_type = Binary)]
    id: Vec<u8>,
    #[diesel(sql_type = Binary)]
    code_hash: Vec<u8>,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Integer)]
    max_attempts: i32,
}

const LOCK: &str = "INSERT INTO one_time_code_locks (lock_key) VALUES (?) ON DUPLICATE KEY UPDATE lock_key = lock_key";

/// At most `?` lock rows whose phone or IP has no code row left (keys as [`issue`]
/// writes them: `phone:` or `ip:` and the value), so no limit counts them any more.
pub(crate) const DELETE_UNUSED_LOCKS: &str = "DELETE FROM one_time_code_locks \
     WHERE lock_key NOT IN (SELECT CONCAT('phone:', phone_number) FROM one_time_codes) \
       AND lock_key NOT IN (SELECT CONCAT('ip:', ip) FROM one_time_codes WHERE ip IS NOT NULL) \
     LIMIT ?";
const NTH_NEWEST_OF_PHONE: &str = "SELECT created_at FROM one_time_codes \
     WHERE phone_number = ? AND created_at > ? ORDER BY created_at DESC LIMIT 1 OFFSET ?";
const NTH_NEWEST_OF_IP: &str = "SELECT created_at FROM one_time_codes \
     WHERE ip = ? AND created_at > ? ORDER BY created_at DESC LIMIT 1 OFFSET ?";

async fn lock(conn: &mut MySqlConnection, key: String) -> Result<(), DieselError> {
    diesel::sql_query(LOCK)
        .bind::<Varbinary, _>(key.into_bytes())
        .execute(conn)
        .await
        .map(drop)
}

async fn nth_newest(
    conn: &mut MySqlConnection,
    sql: &'static str,
    key: &str,
    since: OffsetDateTime,
    offset: u32,
) -> Result<Option<OffsetDateTime>, DieselError> {
    diesel::sql_query(sql)
        .bind::<Varchar, _>(key)
        .bind::<Datetime, _>(since)
        .bind::<Unsigned<BigInt>, _>(u64::from(offset))
        .get_result::<CreatedAt>(conn)
        .await
        .optional()
        .map(|r| r.map(|r| r.created_at))
}

async fn limited(
    conn: &mut MySqlConnection,
    cmd: &IssueCode,
) -> Result<Option<IssueOutcome>, DieselError> {
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

async fn issue(
    conn: &mut MySqlConnection,
    cmd: &IssueCode,
) -> Result<Tx<IssueOutcome>, DieselError> {
    let c = &cmd.code;
    lock(conn, format!("phone:{}", c.phone.as_str())).await?;
    if let Some(ip) = &c.ip {
        lock(conn, format!("ip:{ip}")).await?;
    }
    if let Some(outcome) = limited(conn, cmd).await? {
        return Ok(Tx::Rollback(outcome));
    }
    diesel::sql_query(
        "UPDATE one_time_codes SET revoked_at = ? \
         WHERE phone_number = ? AND consumed_at IS NULL AND revoked_at IS NULL",
    )
    .bind::<Datetime, _>(c.created_at)
    .bind::<Varchar, _>(c.phone.as_str())
    .execute(conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO one_time_codes (id, phone_number, code_hash, ip, created_at, expires_at, \
         max_attempts) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind::<Binary, _>(uuid_bytes(&c.id.0))
    .bind::<Varchar, _>(c.phone.as_str())
    .bind::<Binary, _>(&c.hash.0[..])
    .bind::<Nullable<Varchar>, _>(c.ip.as_deref())
    .bind::<Datetime, _>(c.created_at)
    .bind::<Datetime, _>(c.expires_at)
    .bind::<Integer, _>(i32::try_from(c.max_attempts).unwrap_or(i32::MAX))
    .execute(conn)
    .await?;
    Ok(Tx::Commit(IssueOutcome::Issued))
}

async fn attempt(
    conn: &mut MySqlConnection,
    cmd: &CodeAttempt,
) -> Result<Tx<Option<LiveCode>>, DieselError> {
    let live = diesel::sql_query(
        "SELECT id, code_hash, attempts, max_attempts FROM one_time_codes \
         WHERE phone_number = ? AND consumed_at IS NULL AND revoked_at IS NULL \
         AND expires_at > ? AND attempts < max_attempts \
         ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
    )
    .bind::<Varchar, _>(cmd.phone.as_str())
    .bind::<Datetime, _>(cmd.at)
    .get_result::<LiveCode>(conn)
    .await
    .optional()?;
    let Some(mut live) = live else {
        return Ok(Tx::Rollback(None));
    };
    diesel::sql_query("UPDATE one_time_codes SET attempts = attempts + 1 WHERE id = ?")
        .bind::<Binary, _>(&live.id)
        .execute(conn)
        .await?;
    live.attempts += 1;
    Ok(Tx::Commit(Some(live)))
}

/// The user a redeemed code signed in: a row of the store's table or of an adopted Django one.
enum Redeemed {
    Own(UserRead),
    Adopted(UserRecord),
}

async fn redeem(
    conn: &mut MySqlConnection,
    cmd: &RedeemCode,
    django: Option<&DjangoUserTable>,
    reads: &UserReads,
) -> Result<Tx<Option<Redeemed>>, DieselError> {
    let consumed = diesel::sql_query(
        "UPDATE one_time_codes SET consumed_at = ? WHERE id = ? AND phone_number = ? \
         AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
    )
    .bind::<Datetime, _>(cmd.at)
    .bind::<Binary, _>(uuid_bytes(&cmd.id.0))
    .bind::<Varchar, _>(cmd.phone.as_str())
    .bind::<Datetime, _>(cmd.at)
    .execute(conn)
    .await?;
    if consumed == 0 {
        return Ok(Tx::Rollback(None));
    }
    if let Some(django) = django {
        let user = django
            .upsert_by_phone(conn, cmd.phone.as_str(), cmd.at)
            .await?;
        return Ok(Tx::Commit(Some(Redeemed::Adopted(user))));
    }
    diesel::sql_query(
        "INSERT INTO auth_user (phone_number, is_verified, last_login, created_at, updated_at) \
         VALUES (?, 1, ?, ?, ?) ON DUPLICATE KEY UPDATE is_verified = 1, \
         last_login = VALUES(last_login), updated_at = VALUES(updated_at)",
    )
    .bind::<Varchar, _>(cmd.phone.as_str())
    .bind::<Datetime, _>(cmd.at)
    .bind::<Datetime, _>(cmd.at)
    .bind::<Datetime, _>(cmd.at)
    .execute(conn)
    .await?;
    let user = auth_user::table
        .filter(auth_user::phone_number.eq(cmd.phone.as_str()))
        .select((UserRow::as_select(), reads.object()))
        .first(conn)
        .await?;
    Ok(Tx::Commit(Some(Redeemed::Own(user))))
}

fn ticket(live: LiveCode) -> Result<AttemptTicket, MySqlError> {
    let id = uuid::Uuid::from_slice(&live.id)
        .map_err(|_| MySqlError::InvalidRow("one_time_codes.id is not 16 bytes"))?;
    let hash: [u8; 32] = live
        .code_hash
        .try_into()
        .map_err(|_| MySqlError::InvalidRow("one_time_codes.code_hash is not 32 bytes"))?;
    let count = |n: i32| {
        u32::try_from(n).map_err(|_| MySqlError::InvalidRow("negative one-time-code attempts"))
    };
    Ok(AttemptTicket {
        id: CodeId(id),
        hash: CodeHash(hash),
        attempts: count(live.attempts)?,
        max_attempts: count(live.max_attempts)?,
    })
}

impl MySqlTokenStore {
    async fn issue_code_inner(&self, cmd: &IssueCode) -> Result<IssueOutcome, MySqlError> {
        Ok(transaction!(self, |conn| issue(conn, cmd).await)?)
    }

    async fn begin_code_attempt_inner(
        &self,
        cmd: &CodeAttempt,
    ) -> Result<Option<AttemptTicket>, MySqlError> {
        let live = transaction!(self, |conn| attempt(conn, cmd).await)?;
        live.map(ticket).transpose()
    }

    async fn redeem_code_inner(&self, cmd: &RedeemCode) -> Result<Option<UserRecord>, MySqlError> {
        let (django, reads) = (self.django(), self.user_reads());
        let redeemed = transaction!(self, |conn| redeem(conn, cmd, django, reads).await)?;
        match redeemed {
            Some(Redeemed::Own(row)) => user_record(row).map(Some),
            Some(Redeemed::Adopted(user)) => Ok(Some(user)),
            None => Ok(None),
        }
    }

    async fn withdraw_code_inner(&self, id: CodeId, at: OffsetDateTime) -> Result<(), MySqlError> {
        let query = diesel::sql_query(
            "UPDATE one_time_codes SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        )
        .bind::<Datetime, _>(at)
        .bind::<Binary, _>(uuid_bytes(&id.0));
        with_conn!(self, |conn| query.execute(conn).await)?;
        Ok(())
    }
}

impl OneTimeCodeStore for MySqlTokenStore {
    async fn issue_code(&self, cmd: &IssueCode) -> auth_core::Result<IssueOutcome> {
        Ok(self.issue_code_inner(cmd).await?)
    }

    async fn withdraw_code(&self, id: CodeId, at: OffsetDateTime) -> auth_core::Result<()> {
        Ok(self.withdraw_code_inner(id, at).await?)
    }

    async fn begin_code_attempt(
        &self,
        cmd: &CodeAttempt,
    ) -> auth_core::Result<Option<AttemptTicket>> {
        Ok(self.begin_code_attempt_inner(cmd).await?)
    }

    async fn redeem_code(&self, cmd: &RedeemCode) -> auth_core::Result<Option<UserRecord>> {
        Ok(self.redeem_code_inner(cmd).await?)
    }
}
