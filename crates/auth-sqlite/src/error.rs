//! The crate's error type.

use deadpool_sqlite::rusqlite;

/// Errors of the SQLite backend. Converts into [`auth_core::Error`]: a taken email
/// becomes [`auth_core::Error::EmailTaken`], a transient one
/// ([`SqliteError::is_transient`]) [`auth_core::Error::Unavailable`], everything else
/// [`auth_core::Error::Storage`] with this error as the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqliteError {
    /// SQLite (or rusqlite) reported an error.
    #[error("SQLite error")]
    Sqlite(#[from] rusqlite::Error),
    /// No connection could be taken from the pool (including a failure while opening
    /// one or applying its PRAGMAs).
    #[error("could not get a SQLite connection from the pool")]
    Pool(#[from] deadpool_sqlite::PoolError),
    /// The connection pool could not be built.
    #[error("could not build the SQLite connection pool")]
    BuildPool(#[from] deadpool_sqlite::BuildError),
    /// The blocking database task panicked; the connection is discarded.
    #[error("a SQLite task panicked: {message}")]
    TaskPanicked {
        /// The panic message, when it was a string.
        message: String,
    },
    /// The blocking database task was cancelled before it ran.
    #[error("a SQLite task was cancelled")]
    TaskCancelled,
    /// The email is already registered (unique violation on `users.email`).
    #[error("email already registered")]
    EmailTaken,
    /// The URL does not name a database file (`sqlite:PATH`, `sqlite://PATH`,
    /// `sqlite:///ABSOLUTE/PATH`).
    #[error("`{url}` is not a sqlite: URL naming a file (e.g. sqlite:./auth.db)")]
    InvalidUrl {
        /// The URL given.
        url: String,
    },
}

impl From<deadpool_sqlite::InteractError> for SqliteError {
    fn from(e: deadpool_sqlite::InteractError) -> Self {
        match e {
            deadpool_sqlite::InteractError::Panic(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_owned());
                SqliteError::TaskPanicked { message }
            }
            deadpool_sqlite::InteractError::Cancelled => SqliteError::TaskCancelled,
        }
    }
}

impl SqliteError {
    /// Whether the operation may succeed if retried later (a writer held the lock past
    /// the busy timeout, the pool had no connection in time).
    pub fn is_transient(&self) -> bool {
        crate::timeouts::is_transient(self)
    }
}

impl From<SqliteError> for auth_core::Error {
    fn from(e: SqliteError) -> Self {
        match e {
            SqliteError::EmailTaken => auth_core::Error::EmailTaken,
            other if other.is_transient() => auth_core::Error::unavailable(other),
            other => auth_core::Error::storage(other),
        }
    }
}
