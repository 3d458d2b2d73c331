//! Revocation push: LISTEN on the channel the `revoked_tokens` trigger notifies, and
//! bring a [`TokenService`]'s revocation cache up to date on every notification.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth_core::{TokenService, TokenStore};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::task::JoinHandle;

use crate::error::PgError;

/// The channel the migration's trigger on `revoked_tokens` notifies, once per statement
/// that writes revocations (delivered when the writing transaction commits).
pub const REVOCATION_CHANNEL: &str = "auth_revocations";

/// `application_name` of the listening connection (visible in `pg_stat_activity`).
const APPLICATION_NAME: &str = "auth-postgres-revocation-listener";

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Counters {
    notifications: AtomicU64,
    reconnects: AtomicU64,
    syncs: AtomicU64,
}

/// Keeps a [`TokenService`]'s revocation cache current by LISTEN/NOTIFY.
///
/// A background task holds one dedicated connection listening on
/// [`REVOCATION_CHANNEL`]. On each notification it marks the cache stale (so no check
/// can answer from a pre-revocation view) and syncs it from the feed's cursor at once.
/// When the connection drops it reconnects with backoff, LISTENs again and then syncs
/// through the cursor, which catches every revocation whose notification was lost while
/// disconnected; until then the cache stays marked stale, so checks sync themselves.
/// The periodic staleness bound of the cache still applies as a further fallback.
///
/// Dropping the listener (or calling [`stop`](Self::stop)) ends the task.
pub struct PgRevocationListener {
    task: JoinHandle<()>,
    counters: Arc<Counters>,
}

impl fmt::Debug for PgRevocationListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRevocationListener")
            .field("notifications", &self.notifications())
            .field("reconnects", &self.reconnects())
            .field("syncs", &self.syncs())
            .finish()
    }
}

impl PgRevocationListener {
    /// Starts listening with a dedicated connection to the database `pool` connects to,
    /// for `service`'s cache. Returns once LISTEN is active and the cache has been synced,
    /// so every revocation committed after this returns reaches the cache by push.
    ///
    /// Fails if the connection, the LISTEN or the initial sync fails.
    pub async fn start<S: TokenStore>(
        pool: &PgPool,
        service: TokenService<S>,
    ) -> auth_core::Result<Self> {
        let options = pool
            .connect_options()
            .as_ref()
            .clone()
            .application_name(APPLICATION_NAME);
        // A pool of one, used only to open (and reopen) the listening connection.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options);
        let listener = subscribe(&listen_pool).await?;
        let counters = Arc::new(Counters::default());
        sync(&service, &counters).await?;
        let task = tokio::spawn(run(listen_pool, listener, service, counters.clone()));
        Ok(Self { task, counters })
    }

    /// Notifications received so far.
    pub fn notifications(&self) -> u64 {
        self.counters.notifications.load(Ordering::Relaxed)
    }

    /// Times the listening connection was re-established after it dropped.
    pub fn reconnects(&self) -> u64 {
        self.counters.reconnects.load(Ordering::Relaxed)
    }

    /// Successful cache syncs made by the listener (the initial one included).
    pub fn syncs(&self) -> u64 {
        self.counters.syncs.load(Ordering::Relaxed)
    }

    /// Stops listening.
    pub fn stop(self) {}
}

impl Drop for PgRevocationListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, PgError> {
    let mut listener = PgListener::connect_with(pool)
        .await
        .map_err(PgError::Query)?;
    listener.ignore_pool_close_event(true);
    listener
        .listen(REVOCATION_CHANNEL)
        .await
        .map_err(PgError::Query)?;
    Ok(listener)
}

async fn sync<S: TokenStore>(
    service: &TokenService<S>,
    counters: &Counters,
) -> auth_core::Result<()> {
    service.revocation_cache().mark_stale();
    service.sync_revocations().await?;
    counters.syncs.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

async fn run<S: TokenStore>(
    pool: PgPool,
    listener: PgListener,
    service: TokenService<S>,
    counters: Arc<Counters>,
) {
    let mut listener = Some(listener);
    let mut backoff = MIN_BACKOFF;
    // Set while revocations may have been missed (connection lost, sync failed).
    let mut resync = false;
    loop {
        let Some(active) = listener.as_mut() else {
            // (Re)open the connection and LISTEN before reading the feed, so nothing
            // committed after the read can be missed.
            match subscribe(&pool).await {
                Ok(l) => {
                    listener = Some(l);
                    counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    resync = true;
                }
                Err(error) => {
                    tracing::warn!(%error, "revocation listener: reconnect failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            continue;
        };
        if resync {
            match sync(&service, &counters).await {
                Ok(()) => {
                    resync = false;
                    backoff = MIN_BACKOFF;
                }
                Err(error) => {
                    // The cache stays stale: checks sync themselves meanwhile.
                    service.revocation_cache().mark_stale();
                    tracing::warn!(%error, "revocation listener: sync failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        match active.try_recv().await {
            Ok(Some(_)) => {
                counters.notifications.fetch_add(1, Ordering::Relaxed);
                // One sync covers every notification already buffered.
                while active.next_buffered().is_some() {
                    counters.notifications.fetch_add(1, Ordering::Relaxed);
                }
                resync = true;
            }
            Ok(None) => {
                // The connection dropped and sqlx re-established it (LISTEN included);
                // notifications sent meanwhile are lost, so read the feed.
                service.revocation_cache().mark_stale();
                counters.reconnects.fetch_add(1, Ordering::Relaxed);
                resync = true;
            }
            Err(error) => {
                // Drop the connection and open a fresh one.
                service.revocation_cache().mark_stale();
                tracing::warn!(%error, "revocation listener: connection failed; reconnecting");
                listener = None;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
