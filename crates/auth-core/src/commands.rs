//! The compound writes a store applies, as values. The service builds each one with
//! the injected clock's time; a backend translates it into its statements and adds no
//! rule, clock or stored literal of its own (ARCHITECTURE.md, "The store contract").

use time::OffsetDateTime;

use crate::session::{RevokeReason, SessionId};
use crate::users::UserId;

/// Revokes one session: its unrevoked refresh tokens, its allowlisted access tokens
/// and a session revocation event, atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRevocation {
    /// The session.
    pub session: SessionId,
    /// Why, stored with each revoked refresh token.
    pub reason: RevokeReason,
    /// When: `revoked_at` of every row written.
    pub at: OffsetDateTime,
    /// Until when the revocation event is kept.
    pub event_expires_at: OffsetDateTime,
}

/// Revokes every session of a user as [`SessionRevocation`] does; with
/// `tokens_valid_after`, also stores it (`updated_at = at`) and appends a user event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRevocation {
    /// The user.
    pub user: UserId,
    /// Why, stored with each revoked refresh token.
    pub reason: RevokeReason,
    /// When: `revoked_at` of every row written, `updated_at` of the user.
    pub at: OffsetDateTime,
    /// Until when the revocation events are kept.
    pub event_expires_at: OffsetDateTime,
    /// Access tokens issued before this instant stop working.
    pub tokens_valid_after: Option<OffsetDateTime>,
}

/// Denies one access token: denylist row, allowlist row disabled, revocation event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRevocation {
    /// The token's `jti`.
    pub jti: String,
    /// Its owner.
    pub user: UserId,
    /// When.
    pub at: OffsetDateTime,
    /// The token's own expiry (plus leeway): the event is kept until then.
    pub expires_at: OffsetDateTime,
}

/// Replaces a user's password hash (`updated_at = at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChange {
    /// The user.
    pub user: UserId,
    /// The new PHC string.
    pub password_hash: String,
    /// When: the user's `updated_at`.
    pub at: OffsetDateTime,
}

/// Records a successful login (`last_login = updated_at = at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRecord {
    /// The user.
    pub user: UserId,
    /// When: the user's `last_login` and `updated_at`.
    pub at: OffsetDateTime,
}

/// Grants or withdraws a user's admin flag (`updated_at = at`) and appends a user
/// revocation event, atomically, so every cache reads the user again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminChange {
    /// The user.
    pub user: UserId,
    /// The new flag.
    pub admin: bool,
    /// When: the user's `updated_at` and the event's `revoked_at`.
    pub at: OffsetDateTime,
    /// Until when the event is kept.
    pub event_expires_at: OffsetDateTime,
}

/// Activates or deactivates a user (`updated_at = at`) and appends a user revocation
/// event, atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationChange {
    /// The user.
    pub user: UserId,
    /// The new state.
    pub active: bool,
    /// When: the user's `updated_at` and the event's `revoked_at`.
    pub at: OffsetDateTime,
    /// Until when the event is kept.
    pub event_expires_at: OffsetDateTime,
}
