//! The store: a [`PgPool`] and the embedded migrations.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::PgError;

/// The migrations of `migrations-postgres/`, embedded at build time.
///
/// `MIGRATOR.run(&pool)` applies them; `MIGRATOR.undo(&pool, 0)` reverts them all. The
/// same folder works with `sqlx migrate run --source migrations-postgres`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations-postgres");

/// PostgreSQL implementation of every auth-core store trait over one [`PgPool`].
///
/// Cheap to clone; clones share the pool. Every operation but the session revocations
/// is one statement (writes that touch several tables use data-modifying CTEs), atomic
/// under PostgreSQL's default READ COMMITTED isolation and one round trip; a revocation
/// is one transaction that also revokes the successor of a rotation racing it.
#[derive(Debug, Clone)]
pub struct PgTokenStore {
    pool: PgPool,
}

impl PgTokenStore {
    /// A store over an existing pool (build it with [`pool_options`](Self::pool_options)
    /// for the recommended settings).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Connects to `url` (e.g. `postgres://user@host:5432/db`) with
    /// [`pool_options`](Self::pool_options). Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, PgError> {
        let options: PgConnectOptions = url.parse().map_err(PgError::Query)?;
        Self::connect_with(options).await
    }

    /// Connects with explicit connection options and [`pool_options`](Self::pool_options).
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, PgError> {
        let pool = Self::pool_options()
            .connect_with(options)
            .await
            .map_err(PgError::from)?;
        Ok(Self::new(pool))
    }

    /// The recommended pool settings: no ping on every acquire (`test_before_acquire(false)`;
    /// with it, point lookups ran at half the throughput), a bounded acquire wait, and
    /// idle connections recycled.
    pub fn pool_options() -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(600))
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the pending embedded migrations; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<(), PgError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }
}
