//! PostgreSQL storage for auth-tokens on sqlx, with revocations pushed to caches by LISTEN/NOTIFY.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod access;
mod audit;
mod cleanup;
mod error;
mod import;
mod listener;
mod migrate;
mod otp;
mod refresh;
mod statements;
mod store;
#[cfg(feature = "test-util")]
mod test_util;
mod timeouts;
mod user_columns;
mod users;

pub use cleanup::PgCleanupStats;
pub use error::PgError;
pub use listener::{PgRevocationListener, REVOCATION_CHANNEL};
pub use migrate::MIGRATOR;
pub use statements::PgStatements;
pub use store::PgTokenStore;
#[cfg(feature = "test-util")]
pub use test_util::TestDb;
pub use timeouts::PgTimeouts;
