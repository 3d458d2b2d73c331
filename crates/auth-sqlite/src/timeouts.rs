//! Bounds on how long a database call may take: the pool's wait for a connection and
//! SQLite's busy timeout (how long a statement waits for another writer's lock).

use std::time::Duration;

use deadpool_sqlite::Hook;

use crate::error::SqliteError;
use crate::store::{DEFAULT_BUSY_TIMEOUT, SqliteTokenStore};
use crate::url::sqlite_path;

/// Time limits of a [`SqliteTokenStore`]'s pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteTimeouts {
    /// Longest wait for a pooled connection, opening one included (default 2 s); past
    /// it the call fails with a transient [`SqliteError::Pool`] timeout.
    pub acquire: Duration,
    /// `busy_timeout` of every connection (default [`DEFAULT_BUSY_TIMEOUT`]): a
    /// statement waiting longer for the write lock fails with `SQLITE_BUSY`, transient.
    pub busy: Duration,
}

impl Default for SqliteTimeouts {
    fn default() -> Self {
        Self {
            acquire: Duration::from_secs(2),
            busy: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

impl SqliteTokenStore {
    /// Connects to the database file a `sqlite:` URL names, bounded by `timeouts`;
    /// otherwise as [`connect`](Self::connect).
    pub async fn connect_with_timeouts(
        url: &str,
        timeouts: SqliteTimeouts,
    ) -> Result<Self, SqliteError> {
        let busy = timeouts.busy;
        let pool = Self::pool_builder(sqlite_path(url)?)
            .post_create(Hook::sync_fn(move |conn, _| {
                // Runs after the store's own hook, which set the default busy timeout.
                if let Ok(guard) = conn.lock() {
                    let _ = guard.busy_timeout(busy);
                }
                Ok(())
            }))
            .wait_timeout(Some(timeouts.acquire))
            .create_timeout(Some(timeouts.acquire))
            .build()?;
        let store = Self::from_pool(pool);
        store.check_connection().await?;
        Ok(store)
    }
}

/// Whether a SQLite failure is transient: another writer held the lock past the busy
/// timeout, no pooled connection came in time, or the runtime cancelled the task.
pub(crate) fn is_transient(err: &SqliteError) -> bool {
    use deadpool_sqlite::PoolError;
    use deadpool_sqlite::rusqlite::{Error, ErrorCode};
    let busy = |e: &Error| {
        matches!(
            e.sqlite_error_code(),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        )
    };
    match err {
        SqliteError::Sqlite(e) => busy(e),
        SqliteError::Pool(PoolError::Timeout(_) | PoolError::Closed) => true,
        SqliteError::Pool(PoolError::Backend(e)) => busy(e),
        SqliteError::TaskCancelled => true,
        _ => false,
    }
}
