//! The crate's error type.

use std::error::Error as StdError;

/// Errors of the MySQL backend. Converts into [`auth_core::Error`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MySqlError {
    /// A statement failed (including deadlocks that persisted through the retries).
    #[error("MySQL query failed")]
    Query(#[from] diesel::result::Error),
    /// A connection could not be established or set up (strict `sql_mode`, time zone).
    #[error("could not connect to MySQL")]
    Connection(#[from] diesel::ConnectionError),
    /// No pooled connection could be had.
    #[error("MySQL connection pool error")]
    Pool(#[from] deadpool::managed::PoolError<diesel::ConnectionError>),
    /// The pool configuration was refused.
    #[error("could not build the MySQL connection pool")]
    PoolBuild(#[from] deadpool::managed::BuildError),
    /// Applying or reverting a migration failed.
    #[error("MySQL migration failed")]
    Migration(#[source] Box<dyn StdError + Send + Sync + 'static>),
    /// The blocking task running the migrations panicked or was cancelled.
    #[error("migration task failed")]
    MigrationTask(#[from] tokio::task::JoinError),
    /// A value does not fit its column; refused before it reached the database.
    #[error("`{field}` {reason}")]
    ValueTooLong {
        /// The field (column) concerned.
        field: &'static str,
        /// What the column allows, e.g. "must be at most 512 characters".
        reason: &'static str,
    },
    /// The email is already registered (unique violation on `auth_user.email`).
    #[error("email already registered")]
    EmailTaken,
    /// A stored row does not hold what the library wrote (e.g. a UUID column of the wrong length).
    #[error("stored row is invalid: {0}")]
    InvalidRow(&'static str),
}

impl From<MySqlError> for auth_core::Error {
    fn from(err: MySqlError) -> Self {
        match err {
            MySqlError::EmailTaken => auth_core::Error::EmailTaken,
            MySqlError::ValueTooLong { field, reason } => {
                auth_core::Error::InvalidInput { field, reason }
            }
            other => auth_core::Error::storage(other),
        }
    }
}
