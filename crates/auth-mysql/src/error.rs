//! The crate's error type.

/// Errors of the MySQL backend. Converts into [`auth_core::Error`]: transient ones
/// ([`MySqlError::is_transient`]) into [`auth_core::Error::Unavailable`].
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
    /// A users table name that is not `table` or `database.table` of plain identifiers.
    #[error(
        "invalid users table name `{0}`: expected `table` or `database.table`, each of [A-Za-z0-9_$]"
    )]
    InvalidUsersTable(String),
    /// User claim columns were configured on a store whose users are an adopted Django
    /// table: not supported (the claims come from the store's own `auth_user` only).
    #[error("user claim columns are not supported on the adopted Django table `{0}`")]
    ClaimColumnsOnDjangoTable(String),
    /// A stored row does not hold what the library wrote (e.g. a UUID column of the wrong length).
    #[error("stored row is invalid: {0}")]
    InvalidRow(&'static str),
}

impl MySqlError {
    /// Whether the operation may succeed if retried later: the server could not be
    /// reached or went away, no pooled connection came within the wait timeout, or a
    /// deadlock, lock wait or statement timeout outlived the retries.
    pub fn is_transient(&self) -> bool {
        use deadpool::managed::PoolError;
        match self {
            MySqlError::Query(e) => crate::transient::diesel_error(e),
            MySqlError::Connection(e) => crate::transient::connection_error(e),
            MySqlError::Pool(PoolError::Timeout(_) | PoolError::Closed) => true,
            MySqlError::Pool(PoolError::Backend(e)) => crate::transient::connection_error(e),
            _ => false,
        }
    }
}

impl From<MySqlError> for auth_core::Error {
    fn from(err: MySqlError) -> Self {
        match err {
            MySqlError::EmailTaken => auth_core::Error::EmailTaken,
            other if other.is_transient() => auth_core::Error::unavailable(other),
            MySqlError::ValueTooLong { field, reason } => {
                auth_core::Error::InvalidInput { field, reason }
            }
            other => auth_core::Error::storage(other),
        }
    }
}
