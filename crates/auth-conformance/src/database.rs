//! What a backend provides to run the suite.

use std::future::Future;

use auth_core::time::OffsetDateTime;
use auth_core::{NewRefreshToken, TokenStore};

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

    /// Drops the database.
    fn teardown(self) -> impl Future<Output = ()> + Send;
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
