//! What a backend provides to run the suite.

use std::future::Future;

use auth_core::time::OffsetDateTime;
use auth_core::{NewRefreshToken, TokenStore, UserClaimColumns, UserId};
use serde_json::Value;

/// Logical tables, mapped by each backend to its own table (and row filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Users.
    Users,
    /// Refresh-token rows (all sessions, all generations).
    RefreshTokens,
    /// The revocation feed / denylist (`revoked_tokens`).
    RevokedTokens,
    /// Registered access tokens (allowlist).
    AccessTokens,
    /// The audit log.
    AuditLogs,
    /// One-time codes (phone sign-in).
    OneTimeCodes,
    /// Rows kept only to serialise code requests per phone and IP (MySQL's
    /// `one_time_code_locks`); always empty on a backend without such rows.
    CodeLocks,
}

/// A fresh, migrated, empty database and the store over it.
pub trait TestDatabase: Sized + Send + Sync + 'static {
    /// The backend's store.
    type Store: TokenStore;

    /// Creates a new database for one test, migrated and empty.
    fn create() -> impl Future<Output = Self> + Send;

    /// A store over this database.
    fn store(&self) -> Self::Store;

    /// Rows in a logical table, counted with the backend's own driver.
    fn count_rows(&self, table: Table) -> impl Future<Output = u64> + Send;

    /// Every cell of every table of the database, as bytes (text as UTF-8), so a test
    /// can prove a secret appears nowhere.
    fn dump_cells(&self) -> impl Future<Output = Vec<Vec<u8>>> + Send;

    /// Every timestamp cell of every table the flows write (not the migration
    /// bookkeeping), decoded with the backend's own driver, NULLs left out.
    fn dump_timestamps(&self) -> impl Future<Output = Vec<TimestampCell>> + Send;

    /// Inserts `token` as a live refresh-token row with the backend's own driver,
    /// bypassing the store's code, and says whether the database accepted it (the
    /// error text if not). The schema's own constraints are what is being tested.
    fn insert_refresh_token_row(
        &self,
        token: &NewRefreshToken,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// A store over this database reading `columns` as claims: the backend's own
    /// `with_user_claim_columns`, with its checks.
    fn store_with_user_claim_columns(
        &self,
        columns: UserClaimColumns,
    ) -> impl Future<Output = auth_core::Result<Self::Store>> + Send;

    /// Adds a nullable column of the application's own to the users table, with the
    /// backend's own driver (`ALTER TABLE ... ADD COLUMN`), holding `default` (a string
    /// or an integer) in every row until set.
    fn add_user_column(
        &self,
        name: &'static str,
        column_type: UserColumnType,
        default: Option<Value>,
    ) -> impl Future<Output = ()> + Send;

    /// Sets a user's value in a column added by
    /// [`add_user_column`](Self::add_user_column): a string, an integer or null.
    fn set_user_column(
        &self,
        user: UserId,
        name: &'static str,
        value: Value,
    ) -> impl Future<Output = ()> + Send;

    /// Drops the database.
    fn teardown(self) -> impl Future<Output = ()> + Send;
}

/// The SQL type of a column added by [`TestDatabase::add_user_column`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserColumnType {
    /// Text (seed 002's `market VARCHAR(10)`).
    Text,
    /// A 64-bit integer.
    Integer,
}

impl UserColumnType {
    /// The column's SQL type on each database: SQLite, PostgreSQL, MySQL.
    pub fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            UserColumnType::Text => ("TEXT", "varchar(64)", "VARCHAR(64)"),
            UserColumnType::Integer => ("INTEGER", "bigint", "BIGINT"),
        }
    }
}

/// A column default or value as an SQL literal, for the test databases' own DDL and
/// updates: a string quoted (test constants only), an integer as is, else NULL.
pub fn sql_literal(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Number(n) if n.is_i64() => n.to_string(),
        Value::Null => "NULL".to_owned(),
        other => panic!("a test column holds a string, an integer or null, not {other}"),
    }
}

/// One stored timestamp: where it is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampCell {
    /// The table, as the backend names it.
    pub table: String,
    /// The column, as the backend names it.
    pub column: String,
    /// The stored instant.
    pub value: OffsetDateTime,
}
