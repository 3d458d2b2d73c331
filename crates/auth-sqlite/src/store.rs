//! [`SqliteTokenStore`]: the connection pool, its PRAGMAs, and the transaction helpers every module writes through.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use deadpool_sqlite::rusqlite::{self, Connection, Transaction, TransactionBehavior};
use deadpool_sqlite::{Config, Hook, HookError, Pool, PoolBuilder, Runtime};

use crate::connections::{Connections, interact};
use crate::error::SqliteError;
use crate::url::sqlite_path;
use crate::user_columns::UserReads;

/// The busy timeout set on every connection: how long a statement waits for another
/// connection's write lock before failing with `SQLITE_BUSY`.
pub const DEFAULT_BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Storage for auth-tokens in one SQLite database file. Implements every auth-core
/// store trait, so it is an [`auth_core::TokenStore`]. Cheap to clone; clones share
/// the connection pool.
#[derive(Clone, Debug)]
pub struct SqliteTokenStore {
    connections: Connections,
    users: Arc<UserReads>,
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

/// Runs `f` on a reader's connection.
pub(crate) async fn run<R, F>(conns: &Connections, f: F) -> Result<R, SqliteError>
where
    F: FnOnce(&mut Connection) -> Result<R, SqliteError> + Send + 'static,
    R: Send + 'static,
{
    let conn = conns.reader().await?;
    let out = interact(&conn, f).await?;
    conns.put_back_reader(conn);
    out
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed if `f` returns `Ok`, in
/// this store's turn among its writers.
pub(crate) async fn write<R, F>(conns: &Connections, f: F) -> Result<R, SqliteError>
where
    F: FnOnce(&Transaction<'_>) -> Result<R, SqliteError> + Send + 'static,
    R: Send + 'static,
{
    let mut turn = conns.writer_turn().await;
    let conn = turn.connection().await?;
    let out = interact(&conn, move |conn| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    })
    .await?;
    turn.put_back(conn);
    out
}

impl SqliteTokenStore {
    /// Connects to the database file a `sqlite:` URL names (`sqlite:PATH`,
    /// `sqlite://PATH`, `sqlite:///ABSOLUTE/PATH`; a `?query` is ignored), creating the
    /// file if needed. Fails if no connection can be opened. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, SqliteError> {
        let store = Self::from_pool(Self::pool_builder(sqlite_path(url)?).build()?);
        store.check_connection().await?;
        Ok(store)
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
            connections: Connections::new(pool),
            users: Arc::default(),
        }
    }

    /// Applies every pending migration ([`auth_core::Migrations::migrate_up`]);
    /// returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>, auth_core::MigrationError> {
        auth_core::Migrations::migrate_up(self).await
    }

    /// Opens one connection (creating the file), so a bad path fails here.
    pub(crate) async fn check_connection(&self) -> Result<(), SqliteError> {
        drop(self.pool().get().await?);
        Ok(())
    }

    /// The store's connections (every call goes through them).
    pub(crate) fn connections(&self) -> &Connections {
        &self.connections
    }

    /// The statements that read a user, with the configured claim columns.
    pub(crate) fn user_reads(&self) -> &Arc<UserReads> {
        &self.users
    }

    pub(crate) fn with_user_reads(self, reads: UserReads) -> Self {
        Self {
            users: Arc::new(reads),
            ..self
        }
    }

    /// The connection pool. Between its calls the store keeps up to half of its
    /// connections checked out (the writer's and a few readers'), handing them back
    /// when a checkout waits.
    pub fn pool(&self) -> &Pool {
        &self.connections
    }
}
