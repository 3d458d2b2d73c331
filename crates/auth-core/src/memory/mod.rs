//! [`MemoryStore`]: the reference implementation of the store traits, in process
//! memory (see ARCHITECTURE.md, "MemoryStore and test-util").
//!
//! Every operation takes one lock for its whole duration, so each is atomic and they are
//! linearisable: of N concurrent rotations of one token exactly one wins because the
//! second caller sees the first one's write, never by luck of timing. The constraints a
//! database schema would enforce (unique email, token hash and jti, the user a row
//! belongs to, at most one live refresh token per session) are checked before anything
//! is changed, so a refused operation writes nothing.

mod columns;
mod import;
mod otp;
mod state;
#[cfg(test)]
mod tests;
mod traits;

use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::audit::AuditRecord;
use crate::revocation::{AccessTokenEntry, RevocationEvent};
use crate::session::RefreshTokenRecord;
use crate::user_columns::UserClaimColumns;
use crate::users::UserRecord;

use state::State;

/// A constraint of the in-memory "schema" refused a write; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// A value that must be unique (`what`) is already stored.
    #[error("unique constraint violated: {0}")]
    UniqueViolation(&'static str),
    /// A row names a user that does not exist.
    #[error("foreign key violated: {0}")]
    ForeignKeyViolation(&'static str),
    /// A value is longer than its column holds (the SQL schemas' limits).
    #[error("check constraint violated: {0}")]
    CheckViolation(&'static str),
}

impl From<MemoryError> for crate::Error {
    fn from(e: MemoryError) -> Self {
        crate::Error::storage(e)
    }
}

/// A stored user with the times the record does not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryUser {
    /// The user as the directory returns it.
    pub record: UserRecord,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// E.164 phone number (phone sign-in), if any.
    pub phone_number: Option<String>,
    /// Whether a one-time code proved the phone.
    pub is_verified: bool,
    /// The user's values in the application's own columns
    /// ([`MemoryStore::add_user_column`]); a column without a value here is NULL.
    pub columns: serde_json::Map<String, serde_json::Value>,
}

/// A one-time code row: the command's values and what happened to it since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCode {
    /// The row as issued.
    pub code: crate::otp::store::NewCode,
    /// Attempts counted.
    pub attempts: u32,
    /// When it was redeemed.
    pub consumed_at: Option<OffsetDateTime>,
    /// When it was superseded or withdrawn.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A copy of everything a [`MemoryStore`] holds, table by table, oldest row first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryTables {
    /// Users.
    pub users: Vec<MemoryUser>,
    /// Refresh-token rows of every session and generation.
    pub refresh_tokens: Vec<RefreshTokenRecord>,
    /// Registered access tokens (allowlist).
    pub access_tokens: Vec<AccessTokenEntry>,
    /// The revocation feed (denylist).
    pub revocation_events: Vec<RevocationEvent>,
    /// The audit log.
    pub audit: Vec<AuditRecord>,
    /// One-time codes.
    pub codes: Vec<MemoryCode>,
}

/// Storage for auth-tokens in process memory: fast unit tests of a
/// [`TokenService`](crate::TokenService), and the reference the conformance suite holds
/// the database backends to. Cheap to clone; clones share the data. Nothing survives
/// the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    claim_columns: UserClaimColumns,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every row, for tests that look at what was stored.
    pub fn tables(&self) -> MemoryTables {
        self.lock().tables()
    }

    /// The lock every operation holds for its whole duration. A panic while it was held
    /// cannot leave a half-done write (each operation checks before it changes
    /// anything), so a poisoned lock is taken over.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
