//! The store's connections: its pool, one writer at a time, and connections kept
//! checked out between calls.
//!
//! SQLite has a single write lock per database; pooled connections that contend for
//! it wait in SQLite's busy handler, which sleeps and retries (1, 2, 5, 10 ms, ...), so
//! N concurrent writers finish far slower than the same writes queued. The store
//! queues its writers in-process (FIFO, async) before they touch a connection, so
//! `BEGIN IMMEDIATE` finds the lock free; reads never wait here (WAL lets them run
//! beside the writer). Writers in other processes still meet the busy timeout.
//!
//! Every checkout from deadpool-sqlite runs a recycle query (`SELECT $1`) on the
//! blocking pool before the call's own work, a second thread hop per call. So the
//! store keeps the writer's connection, and a few readers' connections, checked out
//! between its calls and reuses them directly: at most half of the pool's
//! [`max_size`](deadpool_sqlite::Status::max_size), so that code sharing the pool
//! ([`SqliteTokenStore::pool`](crate::SqliteTokenStore::pool)) still finds
//! connections. A kept connection is handed back to the pool when someone is waiting
//! for one, when its call panicked, or when the pool is closed.
//!
//! A call runs on its connection in place when the runtime is multi-threaded
//! ([`tokio::task::block_in_place`]: the worker's other tasks move to another thread
//! meanwhile), so it costs no wake-up of a blocking-pool thread; on a current-thread
//! runtime, where that is not allowed, it runs on the blocking pool. In place, a
//! timeout around the call fires only once the call returns, and a call can wait in
//! the busy handler (a writer in another process holds the lock) up to the busy
//! timeout: keep such deadlines longer than it (authd's defaults: 10 s and 5 s).

use std::any::Any;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex as SyncMutex};

use deadpool_sqlite::rusqlite::Connection;
use deadpool_sqlite::{InteractError, Object, Pool};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::SqliteError;

/// The store's connection pool, its writers' queue and its kept connections.
#[derive(Clone, Debug)]
pub(crate) struct Connections {
    pool: Pool,
    /// The writers' queue; holds the writer's kept connection between writes.
    writer: Arc<Mutex<Option<Object>>>,
    /// Readers' kept connections, idle between reads.
    readers: Arc<SyncMutex<Vec<Object>>>,
}

/// How many connections may be kept out of a pool of `max_size`: the writer's first,
/// then readers', never more than half the pool in all.
fn kept_budget(max_size: usize) -> (bool, usize) {
    let half = max_size / 2;
    let writer = half >= 1;
    (writer, half.saturating_sub(usize::from(writer)))
}

impl Connections {
    pub(crate) fn new(pool: Pool) -> Self {
        Self {
            pool,
            writer: Arc::new(Mutex::new(None)),
            readers: Arc::new(SyncMutex::new(Vec::new())),
        }
    }

    /// Waits for this store's turn to write; the write lock is free of this store's
    /// other writers while the turn lives.
    pub(crate) async fn writer_turn(&self) -> WriterTurn<'_> {
        WriterTurn {
            kept: self.writer.lock().await,
            pool: &self.pool,
        }
    }

    /// A connection for a read: a kept one if any is idle, else one from the pool.
    pub(crate) async fn reader(&self) -> Result<Object, SqliteError> {
        let kept = self.readers.lock().ok().and_then(|mut idle| idle.pop());
        kept_or_checked_out(&self.pool, kept).await
    }

    /// Takes back a reader's connection after a call that did not panic: kept if the
    /// budget allows and nobody waits on the pool, else returned to the pool.
    pub(crate) fn put_back_reader(&self, conn: Object) {
        let Some((_, readers)) = keep_budget_now(&self.pool, &conn) else {
            return;
        };
        if let Ok(mut idle) = self.readers.lock()
            && idle.len() < readers
        {
            idle.push(conn);
        }
    }
}

/// Runs `f` on `conn`: in place on a multi-threaded runtime, else on the blocking
/// pool. A panic in `f` is returned as [`SqliteError::TaskPanicked`] and poisons the
/// connection, which then goes back to the pool (and is dropped) instead of being kept.
pub(crate) async fn interact<R, F>(conn: &Object, f: F) -> Result<R, SqliteError>
where
    F: FnOnce(&mut Connection) -> R + Send + 'static,
    R: Send + 'static,
{
    let multi_threaded =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if !multi_threaded {
        return Ok(conn.interact(f).await?);
    }
    // The guard lives inside `catch_unwind`, so a panic in `f` poisons it on the way out.
    tokio::task::block_in_place(|| {
        catch_unwind(AssertUnwindSafe(|| {
            conn.lock().map(|mut guard| f(&mut guard))
        }))
        .map_err(panicked)?
        .map_err(|_| panicked(Box::new("connection poisoned by an earlier panic")))
    })
}

fn panicked(payload: Box<dyn Any + Send>) -> SqliteError {
    InteractError::Panic(payload).into()
}

/// `kept` while the pool is open, else a connection checked out of the pool.
async fn kept_or_checked_out(pool: &Pool, kept: Option<Object>) -> Result<Object, SqliteError> {
    match kept {
        Some(conn) if !pool.is_closed() => Ok(conn),
        _ => Ok(pool.get().await?),
    }
}

/// The keep budget if `conn` may be kept now (the pool is open, nobody waits on it,
/// the connection's call did not panic), else `None`.
fn keep_budget_now(pool: &Pool, conn: &Object) -> Option<(bool, usize)> {
    let status = pool.status();
    let keep = !pool.is_closed() && status.waiting == 0 && !conn.is_mutex_poisoned();
    keep.then(|| kept_budget(status.max_size))
}

/// This store's turn to write, and the writer's connection while it lasts.
#[derive(Debug)]
pub(crate) struct WriterTurn<'a> {
    kept: MutexGuard<'a, Option<Object>>,
    pool: &'a Pool,
}

impl WriterTurn<'_> {
    /// The writer's connection: the kept one, else one from the pool.
    pub(crate) async fn connection(&mut self) -> Result<Object, SqliteError> {
        kept_or_checked_out(self.pool, self.kept.take()).await
    }

    /// Takes back the writer's connection after a call that did not panic.
    pub(crate) fn put_back(&mut self, conn: Object) {
        if let Some((true, _)) = keep_budget_now(self.pool, &conn) {
            *self.kept = Some(conn);
        }
    }
}

impl Deref for Connections {
    type Target = Pool;
    fn deref(&self) -> &Pool {
        &self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::{interact, kept_budget};
    use crate::SqliteTokenStore;
    use crate::error::SqliteError;

    /// A call's answer comes back; a panicking call is an error and poisons its
    /// connection (so it is not kept), whichever way the runtime runs it.
    async fn calls_answer_and_a_panic_poisons_the_connection() {
        let dir = tempfile::tempdir().unwrap();
        let pool = SqliteTokenStore::pool_builder(dir.path().join("t.db"))
            .build()
            .unwrap();
        let conn = pool.get().await.unwrap();
        let two: i64 = interact(&conn, |c| c.query_row("SELECT 1 + 1", [], |r| r.get(0)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(two, 2);
        assert!(!conn.is_mutex_poisoned());
        let err = interact(&conn, |_| -> () { panic!("boom") })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SqliteError::TaskPanicked { message } if message == "boom"),
            "{err:?}"
        );
        assert!(conn.is_mutex_poisoned());
        let again = interact(&conn, |_| ()).await.unwrap_err();
        assert!(
            matches!(again, SqliteError::TaskPanicked { .. }),
            "{again:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_place_on_a_multi_threaded_runtime() {
        calls_answer_and_a_panic_poisons_the_connection().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn on_the_blocking_pool_on_a_current_thread_runtime() {
        calls_answer_and_a_panic_poisons_the_connection().await;
    }

    #[test]
    fn at_most_half_the_pool_is_kept_writer_first() {
        assert_eq!(kept_budget(1), (false, 0));
        assert_eq!(kept_budget(2), (true, 0));
        assert_eq!(kept_budget(4), (true, 1));
        assert_eq!(kept_budget(8), (true, 3));
        assert_eq!(kept_budget(9), (true, 3));
    }
}
