//! Connections and the deadpool pool: every connection is set up in strict mode, UTC.

use std::time::Duration;

use deadpool::managed::RecycleError;
use diesel::ConnectionError;
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncMysqlConnection, RunQueryDsl,
    SimpleAsyncConnection, TransactionManager,
};

use crate::django::DjangoUsers;
use crate::error::MySqlError;

/// The connection type: diesel-async over the pure-Rust `mysql_async` driver.
pub type MySqlConnection = AsyncMysqlConnection;

/// The deadpool pool of [`MySqlConnection`]s.
pub type MySqlPool = deadpool::managed::Pool<MySqlManager>;

/// A connection checked out of the [`MySqlPool`]; returns to it when dropped.
pub type MySqlPooledConnection = deadpool::managed::Object<MySqlManager>;

/// Run on every new connection before it is used: strict `sql_mode` (over-long or
/// invalid values are errors, never silently truncated or zeroed) and UTC, so
/// `DATETIME(6)` values are UTC instants.
pub const MYSQL_SESSION_SETUP: &str = "SET SESSION sql_mode = \
     'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', \
     SESSION time_zone = '+00:00'";

/// Opens one connection set up like the pool's (strict `sql_mode`, UTC).
pub async fn establish(url: &str) -> Result<MySqlConnection, MySqlError> {
    Ok(establish_strict(url, None).await?)
}

async fn establish_strict(
    url: &str,
    statement_timeout: Option<Duration>,
) -> Result<MySqlConnection, ConnectionError> {
    let mut conn = AsyncMysqlConnection::establish(url).await?;
    conn.batch_execute(MYSQL_SESSION_SETUP)
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    if let Some(limit) = statement_timeout {
        set_statement_timeout(&mut conn, limit).await?;
    }
    Ok(conn)
}

/// MariaDB's `max_statement_time` (seconds, every statement), or where the server
/// does not know it, MySQL's `max_execution_time` (milliseconds, read-only SELECTs).
async fn set_statement_timeout(
    conn: &mut MySqlConnection,
    limit: Duration,
) -> Result<(), ConnectionError> {
    let mariadb = format!(
        "SET SESSION max_statement_time = {:.3}",
        limit.as_secs_f64().max(0.001)
    );
    if conn.batch_execute(&mariadb).await.is_ok() {
        return Ok(());
    }
    let mysql = format!(
        "SET SESSION max_execution_time = {}",
        limit.as_millis().max(1)
    );
    conn.batch_execute(&mysql)
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)
}

/// Opens connections with the strict setup and checks them before they are handed out
/// again: a connection left inside a transaction (a cancelled request) is dropped, and
/// one idle for longer than [`MySqlOptions::verify_after_idle`] must answer `SELECT 1`
/// first (the server or a proxy may have closed it meanwhile).
#[derive(Debug)]
pub struct MySqlManager {
    url: String,
    verify_after_idle: Duration,
    statement_timeout: Option<Duration>,
}

impl deadpool::managed::Manager for MySqlManager {
    type Type = MySqlConnection;
    type Error = ConnectionError;

    async fn create(&self) -> Result<MySqlConnection, ConnectionError> {
        establish_strict(&self.url, self.statement_timeout).await
    }

    async fn recycle(
        &self,
        conn: &mut MySqlConnection,
        metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<ConnectionError> {
        if <AnsiTransactionManager as TransactionManager<MySqlConnection>>::is_broken_transaction_manager(conn) {
            return Err(RecycleError::message("connection left inside a transaction"));
        }
        if metrics.last_used() >= self.verify_after_idle {
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .await
                .map_err(|e| {
                    RecycleError::Backend(ConnectionError::CouldntSetupConfiguration(e))
                })?;
        }
        Ok(())
    }
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
    /// A connection idle at least this long answers `SELECT 1` before it is handed out
    /// again (default 5 s; zero checks on every checkout, one round trip each).
    pub verify_after_idle: Duration,
    /// Server-side limit on every statement (MariaDB `max_statement_time`, MySQL
    /// `max_execution_time`); `None` leaves the server's setting (default 5 s).
    pub statement_timeout: Option<Duration>,
    /// A Django `auth_user` to adopt as the users table (ARCHITECTURE.md, "Existing
    /// deployments"); `None` (the default): the store's own `auth_user`.
    pub users_table: Option<DjangoUsers>,
}

impl MySqlOptions {
    /// Defaults for the given URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            wait_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            verify_after_idle: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(5)),
            users_table: None,
        }
    }
}

/// Builds the pool; connections are opened on demand, each through the strict setup.
pub fn build_pool(options: &MySqlOptions) -> Result<MySqlPool, MySqlError> {
    let manager = MySqlManager {
        url: options.url.clone(),
        verify_after_idle: options.verify_after_idle,
        statement_timeout: options.statement_timeout,
    };
    Ok(MySqlPool::builder(manager)
        .max_size(options.max_connections.max(1))
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(options.wait_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .build()?)
}
