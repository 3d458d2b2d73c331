//! The shared behaviour suite every auth-tokens storage backend must pass.
//!
//! Each scenario is a plain `pub async fn` taking a [`TestDatabase`]: the service-level
//! ones in [`scenarios`], the store-level contract in [`contract`]. A backend exports
//! its [`TestDatabase`] (a fresh, migrated database per test) behind its `test-util`
//! feature, and its test file invokes [`conformance_tests!`], which expands to one
//! `#[tokio::test]` per scenario so each failure is reported by name. The backend crate
//! needs `tokio` (with `macros` and `rt-multi-thread`) as a dev-dependency.
//! [`MemoryTestDb`] runs the same suite on auth-core's `MemoryStore`. The SQL backends
//! also run the [`migrations`] scenarios through [`migration_conformance_tests!`] on a
//! [`MigrationTestDatabase`].
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod admin_scenarios;
pub mod contract;
mod database;
pub mod device_scenarios;
mod dpop_key;
pub mod fixtures;
pub mod harness;
mod memory;
pub mod migrations;
pub mod otp_scenarios;
pub mod replay;
pub mod scenarios;
pub mod throwaway;
pub mod timestamps;
mod url;
pub mod user_claims;

pub use database::{Table, TestDatabase, TimestampCell, UserColumnType, sql_literal};
pub use dpop_key::DpopKey;
pub use memory::MemoryTestDb;
pub use migrations::MigrationTestDatabase;
pub use url::database_url;
