//! Connections and the deadpool pool: every connection is set up in strict mode, UTC.

use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};

use crate::error::MySqlError;

/// The connection type: diesel-async over the pure-Rust `mysql_async` driver.
pub type MySqlConnection = AsyncMysqlConnection;

/// The deadpool pool of [`MySqlConnection`]s.
pub type MySqlPool = Pool<MySqlConnection>;

/// Run on every new connection before it is used: strict `sql_mode` (over-long or
/// invalid values are errors, never silently truncated or zeroed) and UTC, so
/// `DATETIME(6)` values are UTC instants.
pub const MYSQL_SESSION_SETUP: &str = "SET SESSION sql_mode = \
     'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', \
     SESSION time_zone = '+00:00'";

/// Opens one connection set up like the pool's (strict `sql_mode`, UTC).
pub async fn establish(url: &str) -> Result<MySqlConnection, MySqlError> {
    Ok(establish_strict(url).await?)
}

async fn establish_strict(url: &str) -> Result<MySqlConnection, ConnectionError> {
    let mut conn = AsyncMysqlConnection::establish(url).await?;
    conn.batch_execute(MYSQL_SESSION_SETUP)
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct MySqlOptions {
    /// `mysql://user[:password]@host[:port]/database`.
    pub url: String,
    /// Most connections open at once (default 16).
    pub max_connections: usize,
    /// How long a caller waits for a free connection (default 30 s).
    pub wait_timeout: Duration,
    /// How long opening a new connection may take (default 10 s).
    pub connect_timeout: Duration,
    /// Run `SELECT 1` on a connection before handing it out again (default true), so a
    /// connection the server closed is replaced instead of failing a request. Costs one
    /// round trip per checkout.
    pub verify_on_checkout: bool,
}

impl MySqlOptions {
    /// Defaults for the given URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            wait_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            verify_on_checkout: true,
        }
    }
}

/// Builds the pool; connections are opened on demand, each through the strict setup.
pub fn build_pool(options: &MySqlOptions) -> Result<MySqlPool, MySqlError> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|url| Box::pin(establish_strict(url)));
    config.recycling_method = if options.verify_on_checkout {
        RecyclingMethod::Verified
    } else {
        RecyclingMethod::Fast
    };
    let manager =
        AsyncDieselConnectionManager::<MySqlConnection>::new_with_config(&options.url, config);
    Ok(Pool::builder(manager)
        .max_size(options.max_connections.max(1))
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(options.wait_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .build()?)
}
