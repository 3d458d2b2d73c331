//! Bounds on how long a database call may take: the pool's acquire wait and the
//! server-side `statement_timeout` of every pooled connection.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool};

use crate::error::PgError;
use crate::store::PgTokenStore;

/// Time limits of a [`PgTokenStore`]'s pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimeouts {
    /// Longest wait for a pooled connection, opening one included (default 2 s).
    /// Past it the call fails with [`PgError::Unavailable`] (`PoolTimedOut`).
    pub acquire: Duration,
    /// `statement_timeout` of every connection (default 5 s; `None` leaves the server's
    /// setting). A statement past it is cancelled by the server: SQLSTATE 57014,
    /// [`PgError::Unavailable`].
    pub statement: Option<Duration>,
}

impl Default for PgTimeouts {
    fn default() -> Self {
        Self {
            acquire: Duration::from_secs(2),
            statement: Some(Duration::from_secs(5)),
        }
    }
}

impl PgTokenStore {
    /// Connects to `url` with [`pool_options`](Self::pool_options) bounded by `timeouts`.
    /// Does not migrate.
    pub async fn connect_with_timeouts(url: &str, timeouts: PgTimeouts) -> Result<Self, PgError> {
        let mut options: PgConnectOptions = url.parse().map_err(PgError::Query)?;
        if let Some(statement) = timeouts.statement {
            let millis = statement.as_millis().max(1).to_string();
            options = options.options([("statement_timeout", millis.as_str())]);
        }
        let pool: PgPool = Self::pool_options()
            .acquire_timeout(timeouts.acquire)
            .connect_with(options)
            .await
            .map_err(PgError::from)?;
        Ok(Self::from_pool(pool))
    }
}
