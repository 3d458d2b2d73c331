//! [`MySqlTokenStore`]: every auth-core storage trait over the pool.

use std::collections::BTreeMap;
use std::fmt;

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    AccessTokenEntry, AccessTokenRevocation, AccessTokenStore, ActivationChange, AuditEvent,
    AuditLog, AuditRecord, Cleanup, CleanupPolicy, CleanupReport, NewRefreshToken, NewUser,
    PasswordChange, RefreshTokenRecord, RefreshTokenStore, RevocationCursor, RevocationEvent,
    RevocationKind, Rotation, SessionId, SessionRevocation, TokenHash, TokenId, UserDirectory,
    UserId, UserRecord, UserRevocation,
};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Datetime, Unsigned};
use diesel_async::{AnsiTransactionManager, RunQueryDsl, TransactionManager};

use crate::error::MySqlError;
use crate::limits;
use crate::migrate::{self, MySqlMigrationStatus};
use crate::pool::{MySqlConnection, MySqlOptions, MySqlPool, MySqlPooledConnection, build_pool};
use crate::rows::{AccessRow, AuditRow, NewRevokedRow, RefreshRow, RevokedRow, UserRow};
use crate::schema::{
    ACCESS, REFRESH, audit_logs, auth_user, auth_user_tokens as tokens, revoked_tokens,
};
use crate::statements::{
    InsertAccessToken, InsertAudit, InsertRefreshToken, MoveGracePredecessor, RetireToken,
};

/// How often a transaction that InnoDB chose as a deadlock victim is run again. Each
/// victim was rolled back whole, so running it again is safe; after the last attempt
/// the deadlock is returned as an error.
const DEADLOCK_ATTEMPTS: u32 = 5;

/// The end of a transaction body: commit or roll back, and what to return.
enum Tx<T> {
    Commit(T),
    Rollback(T),
}

fn is_deadlock(e: &DieselError) -> bool {
    // diesel-async keeps the server's message, not its code (1213, ER_LOCK_DEADLOCK).
    matches!(e, DieselError::DatabaseError(_, info) if info.message().starts_with("Deadlock found"))
}

/// Whether a connection that returned `e` may go back to the pool. Constraint
/// violations and deadlocks leave it healthy; other database errors may come from a
/// broken link (the driver reports those as unclassified database errors), so such a
/// connection is dropped rather than handed to the next request.
fn keeps_connection(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, _) => is_deadlock(e),
        _ => true,
    }
}

/// Hands a connection back to the pool, or drops it after an error that may have broken it.
fn release<T>(pooled: MySqlPooledConnection, result: &Result<T, DieselError>) {
    if let Err(e) = result
        && !keeps_connection(e)
    {
        drop(MySqlPooledConnection::take(pooled));
    }
}

/// Runs `$body` (an expression of type `Result<T, DieselError>` using `$conn`) on a
/// pooled connection.
macro_rules! with_conn {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut pooled = $store.conn().await?;
        let $conn: &mut MySqlConnection = &mut pooled;
        let result = async { $body }.await;
        release(pooled, &result);
        result
    }};
}

async fn finish<T>(
    conn: &mut MySqlConnection,
    body: Result<Tx<T>, DieselError>,
) -> Result<T, DieselError> {
    type Manager = AnsiTransactionManager;
    match body {
        Ok(Tx::Commit(value)) => {
            <Manager as TransactionManager<MySqlConnection>>::commit_transaction(conn).await?;
            Ok(value)
        }
        Ok(Tx::Rollback(value)) => {
            <Manager as TransactionManager<MySqlConnection>>::rollback_transaction(conn).await?;
            Ok(value)
        }
        Err(e) => {
            // A failed rollback leaves the connection marked broken; the pool drops it.
            let _ =
                <Manager as TransactionManager<MySqlConnection>>::rollback_transaction(conn).await;
            Err(e)
        }
    }
}

/// Runs `$body` (an expression of type `Result<Tx<T>, DieselError>` using `$conn`) in a
/// transaction on a pooled connection, again if InnoDB picked it as a deadlock victim.
macro_rules! transaction {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut attempt = 1;
        loop {
            let mut pooled = $store.conn().await?;
            let $conn: &mut MySqlConnection = &mut pooled;
            let result = match <AnsiTransactionManager as TransactionManager<MySqlConnection>>::begin_transaction(
                $conn,
            )
            .await
            {
                Ok(()) => async { $body }.await,
                Err(e) => Err(e),
            };
            let result = finish($conn, result).await;
            release(pooled, &result);
            match result {
                Err(e) if attempt < DEADLOCK_ATTEMPTS && is_deadlock(&e) => {
                    tracing::debug!(attempt, "MySQL deadlock victim; running the transaction again");
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}

/// The MySQL (and MariaDB) store: users in `auth_user`, refresh tokens and allowlisted
/// access tokens in `auth_user_tokens` (by `token_type`), the revocation feed in
/// `revoked_tokens`, the audit log in `audit_logs`. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct MySqlTokenStore {
    pool: MySqlPool,
}

impl fmt::Debug for MySqlTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("MySqlTokenStore")
            .field("pool_size", &status.size)
            .field("pool_max_size", &status.max_size)
            .finish_non_exhaustive()
    }
}

impl MySqlTokenStore {
    /// Connects with default [`MySqlOptions`]; fails if no connection can be opened.
    pub async fn connect(url: &str) -> Result<Self, MySqlError> {
        Self::connect_with(&MySqlOptions::new(url)).await
    }

    /// Connects with the given options; fails if no connection can be opened.
    pub async fn connect_with(options: &MySqlOptions) -> Result<Self, MySqlError> {
        let store = Self {
            pool: build_pool(options)?,
        };
        drop(store.conn().await?);
        Ok(store)
    }

    /// A store over a pool made by [`build_pool`](crate::build_pool) (whose connections
    /// run in strict `sql_mode`, UTC: a pool set up otherwise breaks that guarantee).
    pub fn from_pool(pool: MySqlPool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    async fn conn(&self) -> Result<MySqlPooledConnection, MySqlError> {
        Ok(self.pool.get().await?)
    }

    /// A connection of its own for the migrations, taken out of the pool.
    async fn migration_conn(&self) -> Result<MySqlConnection, MySqlError> {
        Ok(MySqlPooledConnection::take(self.conn().await?))
    }

    /// Applies every pending migration; returns the versions applied (none when the
    /// schema is current, so running it again is a no-op).
    pub async fn run_pending_migrations(&self) -> Result<Vec<String>, MySqlError> {
        self.run_next_migrations(usize::MAX).await
    }

    /// Applies at most `n` pending migrations, oldest first; returns the versions applied.
    pub async fn run_next_migrations(&self, n: usize) -> Result<Vec<String>, MySqlError> {
        migrate::with_harness(self.migration_conn().await?, move |h| migrate::run_up(h, n)).await
    }

    /// Reverts at most `n` applied migrations, newest first (`usize::MAX`: down to an
    /// empty database); returns the versions reverted.
    pub async fn revert_migrations(&self, n: usize) -> Result<Vec<String>, MySqlError> {
        migrate::with_harness(self.migration_conn().await?, move |h| {
            migrate::run_down(h, n)
        })
        .await
    }

    /// Every embedded migration and whether it is applied.
    pub async fn migration_status(&self) -> Result<Vec<MySqlMigrationStatus>, MySqlError> {
        migrate::with_harness(self.migration_conn().await?, migrate::status).await
    }

    /// Deletes rows matching `sql` (one `?` for the cutoff, one for the batch size) in
    /// batches, each its own statement and so its own short transaction.
    async fn delete_in_batches(
        &self,
        sql: &'static str,
        cutoff: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, MySqlError> {
        let batch = u64::from(batch.max(1));
        let mut total = 0;
        loop {
            let query = diesel::sql_query(sql)
                .bind::<Datetime, _>(cutoff)
                .bind::<Unsigned<BigInt>, _>(batch);
            let n = with_conn!(self, |conn| query.execute(conn).await)? as u64;
            total += n;
            if n < batch {
                return Ok(total);
            }
        }
    }
}

fn uuid_bytes(id: &uuid::Uuid) -> &[u8] {
    id.as_bytes().as_slice()
}

impl MySqlTokenStore {
    async fn create_user_inner(&self, user: &NewUser) -> Result<UserId, MySqlError> {
        limits::EMAIL.check(&user.email)?;
        limits::PASSWORD_HASH.check_opt(user.password_hash.as_deref())?;
        let insert = diesel::insert_into(auth_user::table).values((
            auth_user::email.eq(user.email.as_bytes()),
            auth_user::password_hash.eq(user.password_hash.as_deref()),
            auth_user::created_at.eq(user.created_at),
            auth_user::updated_at.eq(user.created_at),
        ));
        // LAST_INSERT_ID() is per connection: both statements run on the same one.
        let id: Option<u64> = with_conn!(self, |conn| {
            match insert.execute(conn).await {
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
                Err(e) => Err(e),
                Ok(_) => diesel::select(sql::<Unsigned<BigInt>>("LAST_INSERT_ID()"))
                    .get_result(conn)
                    .await
                    .map(Some),
            }
        })?;
        let id = id.ok_or(MySqlError::EmailTaken)?;
        Ok(UserId(i64::try_from(id).map_err(|_| {
            MySqlError::InvalidRow("user id out of range")
        })?))
    }

    async fn find_user_by_email_inner(
        &self,
        email: &str,
    ) -> Result<Option<UserRecord>, MySqlError> {
        if !limits::EMAIL.fits(email) {
            return Ok(None);
        }
        let row = with_conn!(self, |conn| auth_user::table
            .filter(auth_user::email.eq(email.as_bytes()))
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(UserRecord::try_from).transpose()
    }

    async fn find_user_inner(&self, id: UserId) -> Result<Option<UserRecord>, MySqlError> {
        let row = with_conn!(self, |conn| auth_user::table
            .find(id.0)
            .select(UserRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(UserRecord::try_from).transpose()
    }

    async fn set_password_hash_inner(&self, change: &PasswordChange) -> Result<(), MySqlError> {
        let phc = change.password_hash.as_str();
        limits::PASSWORD_HASH.check(phc)?;
        with_conn!(self, |conn| diesel::update(
            auth_user::table.find(change.user.0)
        )
        .set((
            auth_user::password_hash.eq(phc),
            auth_user::updated_at.eq(change.at),
        ))
        .execute(conn)
        .await)?;
        Ok(())
    }

    async fn record_login_inner(&self, id: UserId, at: OffsetDateTime) -> Result<(), MySqlError> {
        with_conn!(self, |conn| diesel::update(auth_user::table.find(id.0))
            .set((auth_user::last_login.eq(at), auth_user::updated_at.eq(at)))
            .execute(conn)
            .await)?;
        Ok(())
    }

    async fn set_user_active_inner(&self, change: &ActivationChange) -> Result<bool, MySqlError> {
        let ActivationChange {
            user: id,
            active,
            at,
            event_expires_at,
        } = *change;
        Ok(transaction!(self, |conn| {
            let found = diesel::update(auth_user::table.find(id.0))
                .set((
                    auth_user::is_active.eq(active),
                    auth_user::updated_at.eq(at),
                ))
                .execute(conn)
                .await?;
            if found == 0 {
                return Ok(Tx::Commit(false));
            }
            diesel::insert_into(revoked_tokens::table)
                .values(NewRevokedRow {
                    kind: RevocationKind::User.as_str(),
                    user_id: id.0,
                    jti: None,
                    session_id: None,
                    revoked_at: at,
                    expires_at: event_expires_at,
                })
                .execute(conn)
                .await?;
            Ok(Tx::Commit(true))
        })?)
    }
}

impl UserDirectory for MySqlTokenStore {
    async fn create_user(&self, user: &NewUser) -> auth_core::Result<UserId> {
        Ok(self.create_user_inner(user).await?)
    }

    async fn find_user_by_email(&self, email: &str) -> auth_core::Result<Option<UserRecord>> {
        Ok(self.find_user_by_email_inner(email).await?)
    }

    async fn find_user(&self, id: UserId) -> auth_core::Result<Option<UserRecord>> {
        Ok(self.find_user_inner(id).await?)
    }

    async fn set_password_hash(&self, change: &PasswordChange) -> auth_core::Result<()> {
        Ok(self.set_password_hash_inner(change).await?)
    }

    async fn record_login(&self, id: UserId, at: OffsetDateTime) -> auth_core::Result<()> {
        Ok(self.record_login_inner(id, at).await?)
    }

    async fn set_user_active(&self, change: &ActivationChange) -> auth_core::Result<bool> {
        Ok(self.set_user_active_inner(change).await?)
    }
}

fn check_refresh(token: &NewRefreshToken) -> Result<(), MySqlError> {
    limits::USER_AGENT.check_opt(token.user_agent.as_deref())?;
    limits::IP.check_opt(token.ip.as_deref())
}

impl MySqlTokenStore {
    async fn insert_refresh_token_inner(&self, token: &NewRefreshToken) -> Result<(), MySqlError> {
        check_refresh(token)?;
        with_conn!(self, |conn| InsertRefreshToken(token).execute(conn).await)?;
        Ok(())
    }

    async fn find_refresh_by_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, MySqlError> {
        let row = with_conn!(self, |conn| tokens::table
            .filter(tokens::token_hash.eq(hash.as_bytes().as_slice()))
            .filter(tokens::token_type.eq(REFRESH))
            .select(RefreshRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    async fn find_refresh_by_id(
        &self,
        id: TokenId,
    ) -> Result<Option<RefreshTokenRecord>, MySqlError> {
        let row = with_conn!(self, |conn| tokens::table
            .filter(tokens::token_id.eq(uuid_bytes(&id.0)))
            .filter(tokens::token_type.eq(REFRESH))
            .select(RefreshRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    async fn rotate_inner(&self, rotation: &Rotation) -> Result<bool, MySqlError> {
        check_refresh(&rotation.successor)?;
        let audit = audit_insert(&rotation.audit)?;
        let successor = uuid_bytes(&rotation.successor.id.0);
        let current = uuid_bytes(&rotation.current.0);
        let at = rotation.at;
        Ok(transaction!(self, |conn| {
            // The predecessor first: its row precedes the live one in the session, the
            // order in which a concurrent session revocation locks them.
            if let Some(grace) = rotation.grace {
                let predecessor = uuid_bytes(&grace.predecessor.0);
                let max_reuse = grace.max_reuse;
                let moved = MoveGracePredecessor {
                    predecessor,
                    successor,
                    max_reuse: &max_reuse,
                    at: &at,
                }
                .execute(conn)
                .await?;
                if moved == 0 {
                    return Ok(Tx::Rollback(false));
                }
            }
            // Conditional update checked by the rows it matched (the connection reports
            // found rows): of concurrent rotations of one token exactly one matches.
            let retired = RetireToken {
                current,
                successor,
                at: &at,
            }
            .execute(conn)
            .await?;
            if retired == 0 {
                return Ok(Tx::Rollback(false));
            }
            InsertRefreshToken(&rotation.successor)
                .execute(conn)
                .await?;
            audit.clone().execute(conn).await?;
            Ok(Tx::Commit(true))
        })?)
    }

    async fn live_refresh_tokens_inner(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshTokenRecord>, MySqlError> {
        let rows = with_conn!(self, |conn| tokens::table
            .filter(tokens::user_id.eq(user.0))
            .filter(tokens::token_type.eq(REFRESH))
            .filter(tokens::rotated_at.is_null())
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::session_expires_at.gt(now))
            .order(tokens::id.asc())
            .select(RefreshRow::as_select())
            .load(conn)
            .await)?;
        rows.into_iter().map(RefreshTokenRecord::try_from).collect()
    }

    async fn live_refresh_token_of_session_inner(
        &self,
        session: SessionId,
    ) -> Result<Option<RefreshTokenRecord>, MySqlError> {
        let row = with_conn!(self, |conn| tokens::table
            .filter(tokens::session_id.eq(uuid_bytes(&session.0)))
            .filter(tokens::token_type.eq(REFRESH))
            .filter(tokens::rotated_at.is_null())
            .filter(tokens::revoked_at.is_null())
            .order(tokens::id.desc())
            .select(RefreshRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    async fn revoke_session_inner(
        &self,
        revocation: &SessionRevocation,
    ) -> Result<bool, MySqlError> {
        let SessionRevocation {
            session,
            reason,
            at,
            event_expires_at,
        } = *revocation;
        limits::REVOKE_REASON.check(reason.as_str())?;
        let sid = uuid_bytes(&session.0);
        Ok(transaction!(self, |conn| {
            let unrevoked: Vec<(i64, Option<OffsetDateTime>)> = tokens::table
                .filter(tokens::session_id.eq(sid))
                .filter(tokens::token_type.eq(REFRESH))
                .filter(tokens::revoked_at.is_null())
                .select((tokens::user_id, tokens::rotated_at))
                .for_update()
                .load(conn)
                .await?;
            let Some(&(user_id, _)) = unrevoked.as_slice().first() else {
                return Ok(Tx::Commit(false));
            };
            diesel::update(
                tokens::table
                    .filter(tokens::session_id.eq(sid))
                    .filter(tokens::token_type.eq(REFRESH))
                    .filter(tokens::revoked_at.is_null()),
            )
            .set((
                tokens::revoked_at.eq(at),
                tokens::revoke_reason.eq(reason.as_str()),
            ))
            .execute(conn)
            .await?;
            diesel::update(
                tokens::table
                    .filter(tokens::session_id.eq(sid))
                    .filter(tokens::token_type.eq(ACCESS)),
            )
            .set(tokens::disabled.eq(true))
            .execute(conn)
            .await?;
            diesel::insert_into(revoked_tokens::table)
                .values(NewRevokedRow {
                    kind: RevocationKind::Session.as_str(),
                    user_id,
                    jti: None,
                    session_id: Some(sid),
                    revoked_at: at,
                    expires_at: event_expires_at,
                })
                .execute(conn)
                .await?;
            Ok(Tx::Commit(
                unrevoked.iter().any(|(_, rotated_at)| rotated_at.is_none()),
            ))
        })?)
    }

    async fn revoke_user_sessions_inner(
        &self,
        revocation: &UserRevocation,
    ) -> Result<u64, MySqlError> {
        let UserRevocation {
            user,
            reason,
            at,
            event_expires_at,
            tokens_valid_after,
        } = *revocation;
        limits::REVOKE_REASON.check(reason.as_str())?;
        Ok(transaction!(self, |conn| {
            let unrevoked: Vec<(Option<Vec<u8>>, Option<OffsetDateTime>)> = tokens::table
                .filter(tokens::user_id.eq(user.0))
                .filter(tokens::token_type.eq(REFRESH))
                .filter(tokens::revoked_at.is_null())
                .select((tokens::session_id, tokens::rotated_at))
                .for_update()
                .load(conn)
                .await?;
            // Session -> whether it had a live (unrotated) row.
            let mut sessions: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
            for (sid, rotated_at) in unrevoked {
                *sessions.entry(sid.unwrap_or_default()).or_default() |= rotated_at.is_none();
            }
            if !sessions.is_empty() {
                diesel::update(
                    tokens::table
                        .filter(tokens::user_id.eq(user.0))
                        .filter(tokens::token_type.eq(REFRESH))
                        .filter(tokens::revoked_at.is_null()),
                )
                .set((
                    tokens::revoked_at.eq(at),
                    tokens::revoke_reason.eq(reason.as_str()),
                ))
                .execute(conn)
                .await?;
                let ids: Vec<&[u8]> = sessions.keys().map(Vec::as_slice).collect();
                diesel::update(
                    tokens::table
                        .filter(tokens::session_id.eq_any(&ids))
                        .filter(tokens::token_type.eq(ACCESS)),
                )
                .set(tokens::disabled.eq(true))
                .execute(conn)
                .await?;
                let events: Vec<NewRevokedRow<'_>> = ids
                    .iter()
                    .map(|sid| NewRevokedRow {
                        kind: RevocationKind::Session.as_str(),
                        user_id: user.0,
                        jti: None,
                        session_id: Some(sid),
                        revoked_at: at,
                        expires_at: event_expires_at,
                    })
                    .collect();
                diesel::insert_into(revoked_tokens::table)
                    .values(&events)
                    .execute(conn)
                    .await?;
            }
            if let Some(tva) = tokens_valid_after {
                let found = diesel::update(auth_user::table.find(user.0))
                    .set((
                        auth_user::tokens_valid_after.eq(tva),
                        auth_user::updated_at.eq(at),
                    ))
                    .execute(conn)
                    .await?;
                if found > 0 {
                    diesel::insert_into(revoked_tokens::table)
                        .values(NewRevokedRow {
                            kind: RevocationKind::User.as_str(),
                            user_id: user.0,
                            jti: None,
                            session_id: None,
                            revoked_at: at,
                            expires_at: event_expires_at,
                        })
                        .execute(conn)
                        .await?;
                }
            }
            Ok(Tx::Commit(
                sessions.values().filter(|live| **live).count() as u64
            ))
        })?)
    }
}

impl RefreshTokenStore for MySqlTokenStore {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> auth_core::Result<()> {
        Ok(self.insert_refresh_token_inner(token).await?)
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        Ok(self.find_refresh_by_hash(hash).await?)
    }

    async fn find_refresh_token_by_id(
        &self,
        id: TokenId,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        Ok(self.find_refresh_by_id(id).await?)
    }

    async fn rotate_refresh_token(&self, rotation: &Rotation) -> auth_core::Result<bool> {
        Ok(self.rotate_inner(rotation).await?)
    }

    async fn live_refresh_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> auth_core::Result<Vec<RefreshTokenRecord>> {
        Ok(self.live_refresh_tokens_inner(user, now).await?)
    }

    async fn live_refresh_token_of_session(
        &self,
        session: SessionId,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        Ok(self.live_refresh_token_of_session_inner(session).await?)
    }

    async fn revoke_session(&self, revocation: &SessionRevocation) -> auth_core::Result<bool> {
        Ok(self.revoke_session_inner(revocation).await?)
    }

    async fn revoke_user_sessions(&self, revocation: &UserRevocation) -> auth_core::Result<u64> {
        Ok(self.revoke_user_sessions_inner(revocation).await?)
    }
}

impl MySqlTokenStore {
    async fn register_access_token_inner(
        &self,
        entry: &AccessTokenEntry,
    ) -> Result<(), MySqlError> {
        limits::JTI.check(&entry.jti)?;
        with_conn!(self, |conn| InsertAccessToken(entry).execute(conn).await)?;
        Ok(())
    }

    async fn find_access_token_inner(
        &self,
        jti: &str,
    ) -> Result<Option<AccessTokenEntry>, MySqlError> {
        if !limits::JTI.fits(jti) {
            return Ok(None);
        }
        let row = with_conn!(self, |conn| tokens::table
            .filter(tokens::jti.eq(jti.as_bytes()))
            .filter(tokens::token_type.eq(ACCESS))
            .select(AccessRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(AccessTokenEntry::try_from).transpose()
    }

    async fn revoke_access_token_inner(
        &self,
        revocation: &AccessTokenRevocation,
    ) -> Result<bool, MySqlError> {
        let (jti, user) = (revocation.jti.as_str(), revocation.user);
        let (at, expires_at) = (revocation.at, revocation.expires_at);
        limits::JTI.check(jti)?;
        Ok(transaction!(self, |conn| {
            diesel::update(
                tokens::table
                    .filter(tokens::jti.eq(jti.as_bytes()))
                    .filter(tokens::token_type.eq(ACCESS)),
            )
            .set(tokens::disabled.eq(true))
            .execute(conn)
            .await?;
            let inserted = diesel::insert_into(revoked_tokens::table)
                .values(NewRevokedRow {
                    kind: RevocationKind::Token.as_str(),
                    user_id: user.0,
                    jti: Some(jti.as_bytes()),
                    session_id: None,
                    revoked_at: at,
                    expires_at,
                })
                .execute(conn)
                .await;
            match inserted {
                Ok(_) => Ok(Tx::Commit(true)),
                // Already revoked: the unique jti refused a second row.
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    Ok(Tx::Commit(false))
                }
                Err(e) => Err(e),
            }
        })?)
    }

    async fn revocation_events_inner(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> Result<Vec<RevocationEvent>, MySqlError> {
        let mut query = revoked_tokens::table
            .select(RevokedRow::as_select())
            .into_boxed();
        query = match cursor.recheck_since {
            Some(since) => query.filter(
                revoked_tokens::id
                    .gt(cursor.after_id)
                    .or(revoked_tokens::revoked_at.ge(since)),
            ),
            None => query.filter(revoked_tokens::id.gt(cursor.after_id)),
        };
        let query = query
            .order(revoked_tokens::id.asc())
            .limit(i64::from(limit));
        let rows = with_conn!(self, |conn| query.load(conn).await)?;
        rows.into_iter().map(RevocationEvent::try_from).collect()
    }
}

impl AccessTokenStore for MySqlTokenStore {
    async fn register_access_token(&self, entry: &AccessTokenEntry) -> auth_core::Result<()> {
        Ok(self.register_access_token_inner(entry).await?)
    }

    async fn find_access_token(&self, jti: &str) -> auth_core::Result<Option<AccessTokenEntry>> {
        Ok(self.find_access_token_inner(jti).await?)
    }

    async fn revoke_access_token(
        &self,
        revocation: &AccessTokenRevocation,
    ) -> auth_core::Result<bool> {
        Ok(self.revoke_access_token_inner(revocation).await?)
    }

    async fn revocation_events(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> auth_core::Result<Vec<RevocationEvent>> {
        Ok(self.revocation_events_inner(cursor, limit).await?)
    }
}

impl MySqlTokenStore {
    async fn append_audit_inner(&self, event: &AuditEvent) -> Result<(), MySqlError> {
        let insert = audit_insert(event)?;
        with_conn!(self, |conn| insert.execute(conn).await)?;
        Ok(())
    }

    async fn recent_audit_inner(
        &self,
        user: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, MySqlError> {
        let mut query = audit_logs::table.select(AuditRow::as_select()).into_boxed();
        if let Some(user) = user {
            query = query.filter(audit_logs::user_id.eq(user.0));
        }
        let query = query.order(audit_logs::id.desc()).limit(i64::from(limit));
        let rows = with_conn!(self, |conn| query.load(conn).await)?;
        rows.into_iter().map(AuditRecord::try_from).collect()
    }
}

impl AuditLog for MySqlTokenStore {
    async fn append_audit(&self, event: &AuditEvent) -> auth_core::Result<()> {
        Ok(self.append_audit_inner(event).await?)
    }

    async fn recent_audit(
        &self,
        user: Option<UserId>,
        limit: u32,
    ) -> auth_core::Result<Vec<AuditRecord>> {
        Ok(self.recent_audit_inner(user, limit).await?)
    }
}

impl MySqlTokenStore {
    async fn cleanup_inner(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> Result<CleanupReport, MySqlError> {
        let cutoff = now - policy.retention.max(Duration::ZERO);
        let batch = policy.batch_size;
        // Sessions that ended (absolute expiry, or revocation) before the cutoff: every
        // row of such a session matches one of the two rules. Rotated rows of live
        // sessions match neither and stay for reuse detection.
        let expired = self
            .delete_in_batches(
                "DELETE FROM auth_user_tokens WHERE token_type = 'refresh' AND session_expires_at < ? LIMIT ?",
                cutoff,
                batch,
            )
            .await?;
        let revoked = self
            .delete_in_batches(
                "DELETE FROM auth_user_tokens WHERE token_type = 'refresh' AND revoked_at < ? LIMIT ?",
                cutoff,
                batch,
            )
            .await?;
        let revoked_tokens = self
            .delete_in_batches(
                "DELETE FROM revoked_tokens WHERE expires_at < ? LIMIT ?",
                now,
                batch,
            )
            .await?;
        let access_tokens = self
            .delete_in_batches(
                "DELETE FROM auth_user_tokens WHERE token_type = 'access' AND expires_at < ? LIMIT ?",
                now,
                batch,
            )
            .await?;
        Ok(CleanupReport {
            refresh_tokens: expired + revoked,
            revoked_tokens,
            access_tokens,
        })
    }
}

impl Cleanup for MySqlTokenStore {
    async fn cleanup(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> auth_core::Result<CleanupReport> {
        Ok(self.cleanup_inner(policy, now).await?)
    }
}

/// The checked insert of an audit row.
fn audit_insert(event: &AuditEvent) -> Result<InsertAudit<'_>, MySqlError> {
    let event_type = event.kind.as_str();
    limits::EVENT_TYPE.check(event_type)?;
    limits::IP.check_opt(event.ip.as_deref())?;
    limits::USER_AGENT.check_opt(event.user_agent.as_deref())?;
    Ok(InsertAudit {
        event_type,
        user_id: event.user_id.map(|u| u.0),
        session_id: event.session_id.as_ref().map(|s| uuid_bytes(&s.0)),
        ip: event.ip.as_deref(),
        user_agent: event.user_agent.as_deref(),
        details: event.details.to_string(),
        created_at: &event.at,
    })
}

// After the transaction macros, which it uses.
mod otp;
