//! One writer at a time per store. SQLite has a single write lock per database; pooled
//! connections that contend for it wait in SQLite's busy handler, which sleeps and
//! retries (1, 2, 5, 10 ms, ...), so N concurrent writers finish far slower than the
//! same writes queued. The store queues its writers in-process (FIFO, async) before
//! they take a connection, so `BEGIN IMMEDIATE` finds the lock free; reads never wait
//! here (WAL lets them run beside the writer). Writers in other processes still meet
//! the busy timeout.

use std::ops::Deref;
use std::sync::Arc;

use deadpool_sqlite::Pool;
use tokio::sync::{Mutex, MutexGuard};

/// The store's connection pool and its writers' queue.
#[derive(Clone, Debug)]
pub(crate) struct QueuedPool {
    pool: Pool,
    writers: Arc<Mutex<()>>,
}

impl QueuedPool {
    pub(crate) fn new(pool: Pool) -> Self {
        Self {
            pool,
            writers: Arc::new(Mutex::new(())),
        }
    }

    /// Waits for this store's turn to write; the write lock is free of this store's
    /// other writers while the guard lives.
    pub(crate) async fn writer_turn(&self) -> MutexGuard<'_, ()> {
        self.writers.lock().await
    }
}

impl Deref for QueuedPool {
    type Target = Pool;
    fn deref(&self) -> &Pool {
        &self.pool
    }
}
