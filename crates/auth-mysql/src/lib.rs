//! MySQL storage for auth-tokens over diesel-async and deadpool, upgrading the legacy `auth_user_tokens` table in place.
//!
//! [`MySqlTokenStore`] implements every storage trait of `auth-core` over MySQL 8 or
//! MariaDB 10.11+ (InnoDB), through diesel-async's pure-Rust `mysql_async` driver and a
//! deadpool pool whose every connection runs in strict `sql_mode` with the UTC time zone.
//! The schema lives in `migrations-mysql/` at the repository root, in diesel's folder
//! format; it is embedded here and applied with [`MySqlTokenStore::migrate`] (the
//! [`auth_core::Migrations`] contract) or the diesel CLI.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = auth_mysql::MySqlTokenStore::connect("mysql://root@127.0.0.1:3306/auth").await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod access;
mod audit;
mod cleanup;
mod django;
mod error;
mod import;
mod limits;
mod migrate;
mod otp;
mod pool;
mod refresh;
mod rows;
mod schema;
mod statements;
mod store;
#[cfg(feature = "test-util")]
mod test_util;
mod transient;
mod user_columns;
mod users;

pub use django::DjangoUsers;
pub use error::MySqlError;
pub use migrate::MYSQL_MIGRATIONS;
pub use pool::{
    MYSQL_SESSION_SETUP, MySqlConnection, MySqlManager, MySqlOptions, MySqlPool,
    MySqlPooledConnection, build_pool, establish,
};
pub use store::MySqlTokenStore;
#[cfg(feature = "test-util")]
pub use test_util::TestDb;
