//! The store: a [`PgPool`], how to connect one, and how to migrate it.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::PgError;
use crate::user_columns::UserReads;

/// PostgreSQL implementation of every auth-core store trait over one [`PgPool`].
///
/// Cheap to clone; clones share the pool. Every operation but the session revocations
/// is one statement (writes that touch several tables use data-modifying CTEs), atomic
/// under PostgreSQL's default READ COMMITTED isolation and one round trip; a revocation
/// is one transaction that also revokes the successor of a rotation racing it.
#[derive(Debug, Clone)]
pub struct PgTokenStore {
    pool: PgPool,
    users: Arc<UserReads>,
}

impl PgTokenStore {
    /// A store over an existing pool (build it with [`pool_options`](Self::pool_options)
    /// for the recommended settings). Does not migrate.
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            users: Arc::default(),
        }
    }

    /// The statements that read a user, with the configured claim columns.
    pub(crate) fn user_reads(&self) -> &UserReads {
        &self.users
    }

    pub(crate) fn with_user_reads(self, reads: UserReads) -> Self {
        Self {
            users: Arc::new(reads),
            ..self
        }
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
        Ok(Self::from_pool(pool))
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

    /// Applies every pending migration ([`auth_core::Migrations::migrate_up`]);
    /// returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>, auth_core::MigrationError> {
        auth_core::Migrations::migrate_up(self).await
    }
}
