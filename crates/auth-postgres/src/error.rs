//! The crate's error type and its mapping onto [`auth_core::Error`].

/// Errors of the PostgreSQL backend. Converted into [`auth_core::Error`] at the trait
/// boundary: [`PgError::EmailTaken`] becomes [`auth_core::Error::EmailTaken`], every
/// other variant [`auth_core::Error::Storage`] with this error as its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// A query or connection failed.
    #[error("PostgreSQL query failed")]
    Query(#[source] sqlx::Error),
    /// The transaction lost a serialization or deadlock conflict (SQLSTATE 40001 or
    /// 40P01) and was rolled back; nothing was written. The caller may retry.
    #[error("PostgreSQL transaction conflict (serialization failure or deadlock)")]
    Conflict(#[source] sqlx::Error),
    /// The unique index on `users.email` refused an insert.
    #[error("email already registered")]
    EmailTaken(#[source] sqlx::Error),
    /// Applying or reverting the embedded migrations failed.
    #[error("PostgreSQL migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row holds a value the library cannot represent.
    #[error("corrupt row in `{table}`: {what}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong.
        what: &'static str,
    },
}

/// SQLSTATE of a unique violation.
const UNIQUE_VIOLATION: &str = "23505";
/// SQLSTATE of a serialization failure.
const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE of a detected deadlock.
const DEADLOCK_DETECTED: &str = "40P01";
/// The unique index on `users.email` (migration 1).
const USERS_EMAIL_KEY: &str = "users_email_key";

impl PgError {
    /// Whether the operation may succeed if retried as a whole (conflicts only).
    pub fn is_conflict(&self) -> bool {
        matches!(self, PgError::Conflict(_))
    }
}

impl From<sqlx::Error> for PgError {
    fn from(err: sqlx::Error) -> Self {
        let Some(db) = err.as_database_error() else {
            return PgError::Query(err);
        };
        let code = db.code();
        match code.as_deref() {
            Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED) => PgError::Conflict(err),
            Some(UNIQUE_VIOLATION) if db.constraint() == Some(USERS_EMAIL_KEY) => {
                PgError::EmailTaken(err)
            }
            _ => PgError::Query(err),
        }
    }
}

impl From<PgError> for auth_core::Error {
    fn from(err: PgError) -> Self {
        match err {
            PgError::EmailTaken(_) => auth_core::Error::EmailTaken,
            other => auth_core::Error::storage(other),
        }
    }
}

/// Shorthand used by the trait implementations.
pub(crate) fn db(err: sqlx::Error) -> auth_core::Error {
    PgError::from(err).into()
}

/// A corrupt-row error as an [`auth_core::Error`].
pub(crate) fn corrupt(table: &'static str, what: &'static str) -> auth_core::Error {
    PgError::Corrupt { table, what }.into()
}
