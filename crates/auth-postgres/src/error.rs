//! The crate's error type and its mapping onto [`auth_core::Error`].

/// Errors of the PostgreSQL backend. Converted into [`auth_core::Error`] at the trait
/// boundary: [`PgError::EmailTaken`] becomes [`auth_core::Error::EmailTaken`], the
/// transient ones ([`PgError::Unavailable`], [`PgError::Conflict`]) become
/// [`auth_core::Error::Unavailable`], every other variant [`auth_core::Error::Storage`],
/// each with this error as its source.
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
    /// The server cannot be reached or is going away, the pool had no connection within
    /// its acquire timeout, or a statement or lock timeout fired (I/O and TLS errors,
    /// pool timeout or closed, SQLSTATE classes 08 and 53, 57P01-57P03, 57014, 55P03).
    /// Nothing was committed; the request may succeed later.
    #[error("PostgreSQL unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The unique index on `users.email` refused an insert.
    #[error("email already registered")]
    EmailTaken(#[source] sqlx::Error),
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
    /// Whether the operation lost a serialization or deadlock conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, PgError::Conflict(_))
    }

    /// Whether the operation may succeed if retried later (conflicts and outages).
    pub fn is_transient(&self) -> bool {
        matches!(self, PgError::Conflict(_) | PgError::Unavailable(_))
    }
}

/// Whether a SQLSTATE says the server is unreachable, overloaded, shutting down or
/// timed the statement out (PostgreSQL appendix A: classes 08 and 53, 57P01 admin
/// shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 57014 query canceled by
/// `statement_timeout`, 55P03 lock not available under `lock_timeout`).
fn transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "57014" | "55P03")
}

/// Whether a driver error (not one the server sent) means the server is out of reach.
fn transient_driver_error(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed
    )
}

impl From<sqlx::Error> for PgError {
    fn from(err: sqlx::Error) -> Self {
        let Some(db) = err.as_database_error() else {
            return if transient_driver_error(&err) {
                PgError::Unavailable(err)
            } else {
                PgError::Query(err)
            };
        };
        let code = db.code();
        match code.as_deref() {
            Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED) => PgError::Conflict(err),
            Some(code) if transient_sqlstate(code) => PgError::Unavailable(err),
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
            other if other.is_transient() => auth_core::Error::unavailable(other),
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
