//! [`SqliteTokenStore`]: the auth-core store traits over a deadpool-sqlite pool.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration as StdDuration;

use auth_core::time::OffsetDateTime;
use auth_core::{
    AccessTokenEntry, AccessTokenRevocation, AccessTokenStore, ActivationChange, AuditEvent,
    AuditKind, AuditLog, AuditRecord, Cleanup, CleanupPolicy, CleanupReport, NewRefreshToken,
    NewUser, PasswordChange, RefreshTokenRecord, RefreshTokenStore, RevocationCursor,
    RevocationEvent, RevocationKind, RevokedItem, Rotation, SessionId, SessionRevocation,
    TokenHash, TokenId, UserDirectory, UserId, UserRecord, UserRevocation,
};
use deadpool_sqlite::rusqlite::{
    self, Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};
use deadpool_sqlite::{Config, Hook, HookError, Pool, PoolBuilder, Runtime};

use crate::convert::{
    bad_json, hash_at, micros, opt_micros, opt_time_at, opt_uuid_at, sid, tid, time_at, unexpected,
    uuid_at,
};
use crate::error::SqliteError;
use crate::migrate::{self, SqliteMigrationStatus};
use crate::writer::QueuedPool;

/// The busy timeout set on every connection: how long a statement waits for another
/// connection's write lock before failing with `SQLITE_BUSY`.
pub const DEFAULT_BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Storage for auth-tokens in one SQLite database file. Implements every auth-core
/// store trait, so it is an [`auth_core::TokenStore`]. Cheap to clone; clones share
/// the connection pool.
#[derive(Clone, Debug)]
pub struct SqliteTokenStore {
    pool: QueuedPool,
}

/// Sets the PRAGMAs every connection runs with.
fn configure_connection(conn: &mut Connection) -> rusqlite::Result<()> {
    // First, so that switching to WAL waits for other connections instead of failing.
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        // In-memory and some special databases cannot use WAL.
        tracing::warn!(journal_mode = %mode, "SQLite database did not switch to WAL");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Runs `f` on a pooled connection in the blocking pool.
pub(crate) async fn run<R, F>(pool: &Pool, f: F) -> Result<R, SqliteError>
where
    F: FnOnce(&mut Connection) -> Result<R, SqliteError> + Send + 'static,
    R: Send + 'static,
{
    let conn = pool.get().await?;
    conn.interact(f).await?
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed if `f` returns `Ok`, in
/// this store's turn among its writers.
pub(crate) async fn write<R, F>(pool: &QueuedPool, f: F) -> Result<R, SqliteError>
where
    F: FnOnce(&Transaction<'_>) -> Result<R, SqliteError> + Send + 'static,
    R: Send + 'static,
{
    let _turn = pool.writer_turn().await;
    run(pool, move |conn| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    })
    .await
}

impl SqliteTokenStore {
    /// Opens (creating it if needed) the database file at `path` and applies every
    /// pending migration.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, SqliteError> {
        let store = Self::connect(path)?;
        store.migrate_up().await?;
        Ok(store)
    }

    /// A store over the database file at `path` without migrating it (for
    /// `migrate down|status`, or when migrations are run separately). Connections are
    /// opened, and the file created, on first use.
    pub fn connect(path: impl AsRef<Path>) -> Result<Self, SqliteError> {
        Ok(Self::from_pool(Self::pool_builder(path).build()?))
    }

    /// A pool builder for the database file at `path` whose connections get the
    /// store's PRAGMAs (WAL, `foreign_keys=ON`, `synchronous=NORMAL`, busy timeout).
    /// Adjust it (`max_size`, timeouts, more hooks), build it, and pass the pool to
    /// [`from_pool`](Self::from_pool).
    pub fn pool_builder(path: impl AsRef<Path>) -> PoolBuilder {
        let builder = match Config::new(path.as_ref()).builder(Runtime::Tokio1) {
            Ok(builder) => builder,
            Err(never) => match never {},
        };
        builder.post_create(Hook::async_fn(|conn, _| {
            Box::pin(async move {
                conn.interact(configure_connection)
                    .await
                    .map_err(|e| HookError::Message(format!("configuring connection: {e}").into()))?
                    .map_err(HookError::Backend)
            })
        }))
    }

    /// A store over an existing pool. The pool should come from
    /// [`pool_builder`](Self::pool_builder), so that its connections have the PRAGMAs
    /// the store relies on (foreign keys, WAL, busy timeout). Does not migrate.
    pub fn from_pool(pool: Pool) -> Self {
        Self {
            pool: QueuedPool::new(pool),
        }
    }

    /// The writers' queue over the pool (every write transaction goes through it).
    pub(crate) fn writers(&self) -> &QueuedPool {
        &self.pool
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The highest migration version this build embeds.
    pub fn latest_migration() -> i64 {
        migrate::latest()
    }

    /// Applies every pending migration in version order, each in its own `BEGIN
    /// IMMEDIATE` transaction, recording it in `schema_migrations`. Returns the
    /// versions applied; empty when the schema is current (re-running changes
    /// nothing). Fails without changing anything if the database has a migration
    /// applied that this build does not embed, or one whose file was edited since.
    pub async fn migrate_up(&self) -> Result<Vec<i64>, SqliteError> {
        run(&self.pool, migrate::up).await
    }

    /// Reverts the `steps` highest applied migrations, highest first, each in its own
    /// transaction. Returns the versions reverted.
    pub async fn migrate_down(&self, steps: u32) -> Result<Vec<i64>, SqliteError> {
        run(&self.pool, move |conn| migrate::down_steps(conn, steps)).await
    }

    /// Reverts every applied migration above `version`, highest first, each in its
    /// own transaction; `0` reverts them all. Returns the versions reverted.
    pub async fn migrate_down_to(&self, version: i64) -> Result<Vec<i64>, SqliteError> {
        run(&self.pool, move |conn| migrate::down_to(conn, version)).await
    }

    /// Every embedded migration (pending, applied or modified) and every applied one
    /// this build does not know, by version. Changes nothing.
    pub async fn migration_status(&self) -> Result<Vec<SqliteMigrationStatus>, SqliteError> {
        run(&self.pool, migrate::status).await
    }
}

// ---------------------------------------------------------------- row mapping

macro_rules! user_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, email, password_hash, is_active, is_admin, tokens_valid_after, last_login FROM users ",
            $rest
        )
    };
}

/// The user with a phone number (one-time-code sign-in).
pub(crate) const USER_BY_PHONE: &str = user_select!("WHERE phone_number = ?1");

pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: UserId(row.get(0)?),
        email: row.get(1)?,
        password_hash: row.get(2)?,
        is_active: row.get(3)?,
        is_admin: row.get(4)?,
        tokens_valid_after: opt_time_at(row, 5)?,
        last_login: opt_time_at(row, 6)?,
    })
}

macro_rules! rt_select {
    ($($rest:literal)*) => {
        concat!(
            "SELECT id, user_id, session_id, generation, token_hash, issued_at, expires_at, ",
            "session_created_at, session_expires_at, rotated_at, replaced_by, revoked_at, ",
            "revoke_reason, reuse_count, user_agent, ip FROM refresh_tokens ",
            $($rest),*
        )
    };
}

fn refresh_from_row(row: &Row<'_>) -> rusqlite::Result<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        token: NewRefreshToken {
            id: TokenId(uuid_at(row, 0)?),
            user_id: UserId(row.get(1)?),
            session_id: SessionId(uuid_at(row, 2)?),
            generation: row.get(3)?,
            hash: hash_at(row, 4)?,
            issued_at: time_at(row, 5)?,
            expires_at: time_at(row, 6)?,
            session_created_at: time_at(row, 7)?,
            session_expires_at: time_at(row, 8)?,
            user_agent: row.get(14)?,
            ip: row.get(15)?,
        },
        rotated_at: opt_time_at(row, 9)?,
        replaced_by: opt_uuid_at(row, 10)?.map(TokenId),
        revoked_at: opt_time_at(row, 11)?,
        revoke_reason: row.get(12)?,
        reuse_count: row.get(13)?,
    })
}

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, \
     issued_at, expires_at, session_created_at, session_expires_at, user_agent, ip) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

fn insert_audit(tx: &Connection, e: &AuditEvent) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_logs (event_type, user_id, session_id, ip, user_agent, details, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        e.kind.as_str(),
        e.user_id.map(|u| u.0),
        e.session_id.map(|s| sid(s).to_vec()),
        e.ip,
        e.user_agent,
        e.details.to_string(),
        micros(e.at),
    ])?;
    Ok(())
}

fn insert_refresh(tx: &Connection, t: &NewRefreshToken) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_REFRESH)?.execute(params![
        &tid(t.id)[..],
        t.user_id.0,
        &sid(t.session_id)[..],
        t.generation,
        &t.hash.as_bytes()[..],
        micros(t.issued_at),
        micros(t.expires_at),
        micros(t.session_created_at),
        micros(t.session_expires_at),
        t.user_agent,
        t.ip,
    ])?;
    Ok(())
}

const INSERT_EVENT: &str = "INSERT INTO revoked_tokens (kind, user_id, jti, session_id, revoked_at, expires_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

fn insert_session_event(
    tx: &Connection,
    user: i64,
    session: &[u8],
    at: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_EVENT)?.execute(params![
        RevocationKind::Session.as_str(),
        user,
        None::<String>,
        session,
        at,
        expires_at
    ])?;
    Ok(())
}

fn insert_user_event(tx: &Connection, user: i64, at: i64, expires_at: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_EVENT)?.execute(params![
        RevocationKind::User.as_str(),
        user,
        None::<String>,
        None::<Vec<u8>>,
        at,
        expires_at
    ])?;
    Ok(())
}

fn disable_session_access_tokens(tx: &Connection, session: &[u8]) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE auth_user_tokens SET disabled = 1 WHERE session_id = ?1 AND disabled = 0",
    )?
    .execute([session])?;
    Ok(())
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<RevocationEvent> {
    let user_id = UserId(row.get(2)?);
    let kind: String = row.get(1)?;
    let jti: Option<String> = row.get(3)?;
    let session = opt_uuid_at(row, 4)?.map(SessionId);
    let item = RevokedItem::from_stored(&kind, user_id, jti, session)
        .map_err(|e| unexpected(1, format!("{kind}: {e}")))?;
    Ok(RevocationEvent {
        id: row.get(0)?,
        user_id,
        item,
        revoked_at: time_at(row, 5)?,
        expires_at: time_at(row, 6)?,
    })
}

fn access_from_row(row: &Row<'_>) -> rusqlite::Result<AccessTokenEntry> {
    Ok(AccessTokenEntry {
        jti: row.get(0)?,
        user_id: UserId(row.get(1)?),
        session_id: SessionId(uuid_at(row, 2)?),
        issued_at: time_at(row, 3)?,
        expires_at: time_at(row, 4)?,
        disabled: row.get(5)?,
    })
}

macro_rules! audit_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, event_type, user_id, session_id, ip, user_agent, details, created_at FROM audit_logs ",
            $rest
        )
    };
}

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let kind: String = row.get(1)?;
    let kind = AuditKind::parse(&kind).ok_or_else(|| unexpected(1, kind))?;
    let details: String = row.get(6)?;
    Ok(AuditRecord {
        id: row.get(0)?,
        event: AuditEvent {
            kind,
            user_id: row.get::<_, Option<i64>>(2)?.map(UserId),
            session_id: opt_uuid_at(row, 3)?.map(SessionId),
            ip: row.get(4)?,
            user_agent: row.get(5)?,
            details: serde_json::from_str(&details).map_err(|e| bad_json(6, e))?,
            at: time_at(row, 7)?,
        },
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

// ---------------------------------------------------------------- traits

impl UserDirectory for SqliteTokenStore {
    async fn create_user(&self, user: &NewUser) -> auth_core::Result<UserId> {
        let user = user.clone();
        let id = write(&self.pool, move |tx| {
            let at = micros(user.created_at);
            tx.prepare_cached(
                "INSERT INTO users (email, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            )?
            .execute(params![user.email, user.password_hash, at])
            .map_err(|e| if is_unique_violation(&e) { SqliteError::EmailTaken } else { e.into() })?;
            Ok(UserId(tx.last_insert_rowid()))
        })
        .await?;
        Ok(id)
    }

    async fn find_user_by_email(&self, email: &str) -> auth_core::Result<Option<UserRecord>> {
        let email = email.to_owned();
        let user = run(&self.pool, move |conn| {
            Ok(conn
                .prepare_cached(user_select!("WHERE email = ?1"))?
                .query_row([email], user_from_row)
                .optional()?)
        })
        .await?;
        Ok(user)
    }

    async fn find_user(&self, id: UserId) -> auth_core::Result<Option<UserRecord>> {
        let user = run(&self.pool, move |conn| {
            Ok(conn
                .prepare_cached(user_select!("WHERE id = ?1"))?
                .query_row([id.0], user_from_row)
                .optional()?)
        })
        .await?;
        Ok(user)
    }

    async fn set_password_hash(&self, change: &PasswordChange) -> auth_core::Result<()> {
        let (id, phc, at) = (change.user, change.password_hash.clone(), micros(change.at));
        write(&self.pool, move |tx| {
            tx.prepare_cached(
                "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
            )?
            .execute(params![phc, at, id.0])?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn record_login(&self, id: UserId, at: OffsetDateTime) -> auth_core::Result<()> {
        let at = micros(at);
        write(&self.pool, move |tx| {
            tx.prepare_cached("UPDATE users SET last_login = ?1, updated_at = ?1 WHERE id = ?2")?
                .execute(params![at, id.0])?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn set_user_active(&self, change: &ActivationChange) -> auth_core::Result<bool> {
        let (id, active) = (change.user, change.active);
        let (at, exp) = (micros(change.at), micros(change.event_expires_at));
        let found = write(&self.pool, move |tx| {
            let n = tx
                .prepare_cached("UPDATE users SET is_active = ?1, updated_at = ?2 WHERE id = ?3")?
                .execute(params![active, at, id.0])?;
            if n == 0 {
                return Ok(false);
            }
            insert_user_event(tx, id.0, at, exp)?;
            Ok(true)
        })
        .await?;
        Ok(found)
    }
}

impl RefreshTokenStore for SqliteTokenStore {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> auth_core::Result<()> {
        let token = token.clone();
        write(&self.pool, move |tx| Ok(insert_refresh(tx, &token)?)).await?;
        Ok(())
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        let hash = *hash;
        let found = run(&self.pool, move |conn| {
            Ok(conn
                .prepare_cached(rt_select!("WHERE token_hash = ?1"))?
                .query_row([&hash.as_bytes()[..]], refresh_from_row)
                .optional()?)
        })
        .await?;
        Ok(found)
    }

    async fn find_refresh_token_by_id(
        &self,
        id: TokenId,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        let found = run(&self.pool, move |conn| {
            Ok(conn
                .prepare_cached(rt_select!("WHERE id = ?1"))?
                .query_row([&tid(id)[..]], refresh_from_row)
                .optional()?)
        })
        .await?;
        Ok(found)
    }

    async fn rotate_refresh_token(&self, rotation: &Rotation) -> auth_core::Result<bool> {
        let rotation = rotation.clone();
        let _turn = self.pool.writer_turn().await;
        let rotated = run(&self.pool, move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let at = micros(rotation.at);
            let successor = tid(rotation.successor.id);
            let retired = tx
                .prepare_cached(
                    "UPDATE refresh_tokens SET rotated_at = ?1, replaced_by = ?2 \
                     WHERE id = ?3 AND rotated_at IS NULL AND revoked_at IS NULL",
                )?
                .execute(params![at, &successor[..], &tid(rotation.current)[..]])?;
            if retired == 0 {
                return Ok(false); // dropping `tx` rolls back (nothing was written)
            }
            if let Some(grace) = rotation.grace {
                let moved = tx
                    .prepare_cached(
                        "UPDATE refresh_tokens SET replaced_by = ?1, reuse_count = reuse_count + 1 \
                         WHERE id = ?2 AND reuse_count < ?3",
                    )?
                    .execute(params![
                        &successor[..],
                        &tid(grace.predecessor)[..],
                        grace.max_reuse
                    ])?;
                if moved == 0 {
                    tx.rollback()?;
                    return Ok(false);
                }
            }
            insert_refresh(&tx, &rotation.successor)?;
            insert_audit(&tx, &rotation.audit)?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
        Ok(rotated)
    }

    async fn live_refresh_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> auth_core::Result<Vec<RefreshTokenRecord>> {
        let now = micros(now);
        let rows = run(&self.pool, move |conn| {
            let mut stmt = conn.prepare_cached(rt_select!(
                "WHERE user_id = ?1 AND rotated_at IS NULL AND revoked_at IS NULL AND session_expires_at > ?2 "
                "ORDER BY session_created_at, id"
            ))?;
            let rows = stmt.query_map(params![user.0, now], refresh_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
        Ok(rows)
    }

    async fn live_refresh_token_of_session(
        &self,
        session: SessionId,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        let found = run(&self.pool, move |conn| {
            Ok(conn
                .prepare_cached(rt_select!(
                    "WHERE session_id = ?1 AND rotated_at IS NULL AND revoked_at IS NULL "
                    "ORDER BY generation DESC LIMIT 1"
                ))?
                .query_row([&sid(session)[..]], refresh_from_row)
                .optional()?)
        })
        .await?;
        Ok(found)
    }

    async fn revoke_session(&self, revocation: &SessionRevocation) -> auth_core::Result<bool> {
        let reason = revocation.reason;
        let (at, exp, session) = (
            micros(revocation.at),
            micros(revocation.event_expires_at),
            sid(revocation.session),
        );
        let had_live = write(&self.pool, move |tx| {
            let rows = tx
                .prepare_cached(
                    "UPDATE refresh_tokens SET revoked_at = ?1, revoke_reason = ?2 \
                     WHERE session_id = ?3 AND revoked_at IS NULL \
                     RETURNING user_id, rotated_at IS NULL",
                )?
                .query_map(params![at, reason.as_str(), &session[..]], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let Some(&(user, _)) = rows.first() else {
                return Ok(false);
            };
            disable_session_access_tokens(tx, &session)?;
            insert_session_event(tx, user, &session, at, exp)?;
            Ok(rows.iter().any(|&(_, live)| live))
        })
        .await?;
        Ok(had_live)
    }

    async fn revoke_user_sessions(&self, revocation: &UserRevocation) -> auth_core::Result<u64> {
        let (user, reason) = (revocation.user, revocation.reason);
        let (at, exp, tva) = (
            micros(revocation.at),
            micros(revocation.event_expires_at),
            opt_micros(revocation.tokens_valid_after),
        );
        let revoked = write(&self.pool, move |tx| {
            let rows = tx
                .prepare_cached(
                    "UPDATE refresh_tokens SET revoked_at = ?1, revoke_reason = ?2 \
                     WHERE user_id = ?3 AND revoked_at IS NULL \
                     RETURNING session_id, rotated_at IS NULL",
                )?
                .query_map(params![at, reason.as_str(), user.0], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // One event per session, in a stable order.
            let mut sessions: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
            for (session, live) in rows {
                *sessions.entry(session).or_default() |= live;
            }
            for session in sessions.keys() {
                disable_session_access_tokens(tx, session)?;
                insert_session_event(tx, user.0, session, at, exp)?;
            }
            if let Some(tva) = tva {
                let found = tx
                    .prepare_cached(
                        "UPDATE users SET tokens_valid_after = ?1, updated_at = ?2 WHERE id = ?3",
                    )?
                    .execute(params![tva, at, user.0])?;
                if found == 1 {
                    insert_user_event(tx, user.0, at, exp)?;
                }
            }
            Ok(sessions.values().filter(|live| **live).count() as u64)
        })
        .await?;
        Ok(revoked)
    }
}

impl AccessTokenStore for SqliteTokenStore {
    async fn register_access_token(&self, entry: &AccessTokenEntry) -> auth_core::Result<()> {
        let e = entry.clone();
        write(&self.pool, move |tx| {
            tx.prepare_cached(
                "INSERT INTO auth_user_tokens (jti, user_id, session_id, issued_at, expires_at, disabled) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![e.jti, e.user_id.0, &sid(e.session_id)[..], micros(e.issued_at), micros(e.expires_at), e.disabled])?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn find_access_token(&self, jti: &str) -> auth_core::Result<Option<AccessTokenEntry>> {
        let jti = jti.to_owned();
        let found = run(&self.pool, move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT jti, user_id, session_id, issued_at, expires_at, disabled FROM auth_user_tokens WHERE jti = ?1",
                )?
                .query_row([jti], access_from_row)
                .optional()?)
        })
        .await?;
        Ok(found)
    }

    async fn revoke_access_token(
        &self,
        revocation: &AccessTokenRevocation,
    ) -> auth_core::Result<bool> {
        let (jti, user) = (revocation.jti.clone(), revocation.user);
        let (at, exp) = (micros(revocation.at), micros(revocation.expires_at));
        let inserted = write(&self.pool, move |tx| {
            let n = tx
                .prepare_cached(
                    "INSERT INTO revoked_tokens (kind, user_id, jti, session_id, revoked_at, expires_at) \
                     VALUES (?1, ?2, ?3, NULL, ?4, ?5) ON CONFLICT (jti) DO NOTHING",
                )?
                .execute(params![RevocationKind::Token.as_str(), user.0, jti, at, exp])?;
            tx.prepare_cached("UPDATE auth_user_tokens SET disabled = 1 WHERE jti = ?1 AND disabled = 0")?
                .execute([&jti])?;
            Ok(n == 1)
        })
        .await?;
        Ok(inserted)
    }

    async fn revocation_events(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> auth_core::Result<Vec<RevocationEvent>> {
        let cursor = *cursor;
        let events = run(&self.pool, move |conn| {
            let limit = i64::from(limit);
            let rows = match cursor.recheck_since {
                None => conn
                    .prepare_cached(
                        "SELECT id, kind, user_id, jti, session_id, revoked_at, expires_at FROM revoked_tokens \
                         WHERE id > ?1 ORDER BY id LIMIT ?2",
                    )?
                    .query_map(params![cursor.after_id, limit], event_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                Some(since) => conn
                    .prepare_cached(
                        "SELECT id, kind, user_id, jti, session_id, revoked_at, expires_at FROM revoked_tokens \
                         WHERE id > ?1 OR revoked_at >= ?2 ORDER BY id LIMIT ?3",
                    )?
                    .query_map(params![cursor.after_id, micros(since), limit], event_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            Ok(rows)
        })
        .await?;
        Ok(events)
    }
}

impl AuditLog for SqliteTokenStore {
    async fn append_audit(&self, event: &AuditEvent) -> auth_core::Result<()> {
        let e = event.clone();
        write(&self.pool, move |tx| Ok(insert_audit(tx, &e)?)).await?;
        Ok(())
    }

    async fn recent_audit(
        &self,
        user: Option<UserId>,
        limit: u32,
    ) -> auth_core::Result<Vec<AuditRecord>> {
        let records = run(&self.pool, move |conn| {
            let limit = i64::from(limit);
            let rows = match user {
                None => conn
                    .prepare_cached(audit_select!("ORDER BY id DESC LIMIT ?1"))?
                    .query_map([limit], audit_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                Some(user) => conn
                    .prepare_cached(audit_select!(
                        "WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2"
                    ))?
                    .query_map(params![user.0, limit], audit_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            Ok(rows)
        })
        .await?;
        Ok(records)
    }
}

/// Deletes rows matching `sql` (which takes the cutoff and the batch size) in batches,
/// each its own short write transaction; returns the total.
async fn delete_in_batches(
    pool: &QueuedPool,
    sql: &'static str,
    cutoff: i64,
    batch: i64,
) -> Result<u64, SqliteError> {
    let mut total = 0u64;
    loop {
        let n = write(pool, move |tx| {
            Ok(tx.prepare_cached(sql)?.execute(params![cutoff, batch])?)
        })
        .await?;
        total += n as u64;
        if (n as i64) < batch {
            return Ok(total);
        }
    }
}

impl Cleanup for SqliteTokenStore {
    async fn cleanup(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> auth_core::Result<CleanupReport> {
        let batch = i64::from(policy.batch_size.max(1));
        let cutoff = micros(now - policy.retention);
        let now = micros(now);
        // Rows of sessions that ended before the cutoff: past their absolute expiry, or
        // revoked (revocation marks every row of the session). Rotated rows of a live
        // session match neither and are kept for reuse detection.
        let refresh_tokens = delete_in_batches(
            &self.pool,
            "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens \
             WHERE session_expires_at < ?1 OR (revoked_at IS NOT NULL AND revoked_at < ?1) LIMIT ?2)",
            cutoff,
            batch,
        )
        .await?;
        let revoked_tokens = delete_in_batches(
            &self.pool,
            "DELETE FROM revoked_tokens WHERE id IN (SELECT id FROM revoked_tokens WHERE expires_at < ?1 LIMIT ?2)",
            now,
            batch,
        )
        .await?;
        let access_tokens = delete_in_batches(
            &self.pool,
            "DELETE FROM auth_user_tokens WHERE rowid IN (SELECT rowid FROM auth_user_tokens \
             WHERE expires_at < ?1 LIMIT ?2)",
            now,
            batch,
        )
        .await?;
        Ok(CleanupReport {
            refresh_tokens,
            revoked_tokens,
            access_tokens,
        })
    }
}
