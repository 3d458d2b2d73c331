//! SQLite storage for auth-tokens: every auth-core store trait over rusqlite (bundled) and deadpool-sqlite.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Creates the file if needed, then applies the embedded migrations.
//! let store = auth_sqlite::SqliteTokenStore::connect("sqlite:auth.db").await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```
//!
//! Every connection runs with `journal_mode=WAL`, `foreign_keys=ON`,
//! `synchronous=NORMAL` and a busy timeout; every write transaction starts with
//! `BEGIN IMMEDIATE`, one writer of a store at a time (queued in-process). The schema lives in the workspace's `migrations-sqlite/` folder
//! as numbered, reversible `NNNN_name.up.sql` / `NNNN_name.down.sql` files, embedded at
//! build time and run through [`auth_core::Migrations`].
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod access;
mod adopt;
mod audit;
mod cleanup;
mod connections;
mod convert;
mod error;
mod import;
mod migrate;
mod otp;
mod refresh;
mod store;
#[cfg(feature = "test-util")]
mod test_util;
mod timeouts;
mod url;
mod user_columns;
mod users;

pub use error::SqliteError;
pub use store::{DEFAULT_BUSY_TIMEOUT, SqliteTokenStore};
#[cfg(feature = "test-util")]
pub use test_util::TestDb;
pub use timeouts::SqliteTimeouts;

/// Re-exported so users name the same driver and pool versions (`deadpool_sqlite::rusqlite`).
pub use deadpool_sqlite;
