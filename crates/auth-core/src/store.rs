//! The storage contract every backend implements. The conformance suite holds
//! every backend to the same behaviour.
//!
//! All times are UTC with microsecond precision; backends must round-trip them exactly.
//! Every time a backend writes comes from its arguments (the service's injected clock);
//! a backend never reads a clock of its own.

use std::future::Future;
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditQuery, AuditRecord};
use crate::cleanup::{CleanupBatch, CleanupPolicy, CleanupReport, DeletedBatch, run_cleanup};
use crate::commands::{
    AccessTokenRevocation, ActivationChange, AdminChange, LoginRecord, PasswordChange,
    SessionRevocation, UserRevocation,
};
use crate::error::Result;
use crate::import::{ImportedUser, UserImport};
use crate::otp::phone::PhoneNumber;
use crate::otp::store::OneTimeCodeStore;
use crate::refresh::{TokenHash, TokenId};
use crate::revocation::{AccessTokenEntry, RevocationCursor, RevocationEvent};
use crate::session::{NewRefreshToken, RefreshTokenRecord, Replay, Rotation, SessionId};
use crate::user_columns::UserClaimColumns;
use crate::users::{NewUser, UserId, UserRecord};

/// Users: lookup, creation, credentials and state.
pub trait UserDirectory: Send + Sync {
    /// Creates a user; [`Error::EmailTaken`](crate::Error::EmailTaken) if the email exists.
    fn create_user(&self, user: &NewUser) -> impl Future<Output = Result<UserId>> + Send;

    /// Finds a user by normalised email.
    fn find_user_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<UserRecord>>> + Send;

    /// Finds a user by id.
    fn find_user(&self, id: UserId) -> impl Future<Output = Result<Option<UserRecord>>> + Send;

    /// Replaces the stored password hash (rehash on login, password change).
    fn set_password_hash(&self, change: &PasswordChange)
    -> impl Future<Output = Result<()>> + Send;

    /// Records a successful login: both `last_login` and `updated_at` become `login.at`.
    fn record_login(&self, login: &LoginRecord) -> impl Future<Output = Result<()>> + Send;

    /// Activates or deactivates a user and appends a user revocation event so caches
    /// drop the user's state. `Ok(false)` if the user does not exist.
    fn set_user_active(
        &self,
        change: &ActivationChange,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The columns whose values every user read carries in
    /// [`UserRecord::column_claims`]; none unless the store was configured with some
    /// (each backend's `with_user_claim_columns`, which checks they exist).
    fn user_claim_columns(&self) -> &UserClaimColumns {
        UserClaimColumns::none()
    }
}

/// Sessions and their refresh tokens. Each session has at most one live token.
pub trait RefreshTokenStore: Send + Sync {
    /// Inserts the first refresh token of a new session.
    fn insert_refresh_token(
        &self,
        token: &NewRefreshToken,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Finds a refresh token by the SHA-256 of its text.
    fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<RefreshTokenRecord>>> + Send;

    /// Finds a refresh token by row id.
    fn find_refresh_token_by_id(
        &self,
        id: TokenId,
    ) -> impl Future<Output = Result<Option<RefreshTokenRecord>>> + Send;

    /// Applies a rotation atomically: retires `rotation.current` (sets `rotated_at`,
    /// `replaced_by` and `successor_seed`), inserts the successor and appends
    /// `rotation.audit`, in one transaction. Writes nothing and returns `Ok(false)` when
    /// `rotation.current` is no longer live; of N concurrent calls for one token exactly
    /// one returns `Ok(true)`.
    fn rotate_refresh_token(
        &self,
        rotation: &Rotation,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Records a replay atomically: with a budget, increments the predecessor's
    /// `reuse_count` only while it is below the budget and `replaced_by` is still
    /// `replay.successor` (else writes nothing and returns `Ok(false)`); then appends
    /// `replay.audit`. Of N concurrent retries at most the budget's worth succeed.
    fn replay_refresh_token(&self, replay: &Replay) -> impl Future<Output = Result<bool>> + Send;

    /// The live token of each session of the user whose absolute expiry is after `now`.
    fn live_refresh_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<RefreshTokenRecord>>> + Send;

    /// The live token of a session, if it has one.
    fn live_refresh_token_of_session(
        &self,
        session: SessionId,
    ) -> impl Future<Output = Result<Option<RefreshTokenRecord>>> + Send;

    /// Revokes a session: marks its unrevoked tokens revoked, disables its allowlisted
    /// access tokens and appends a session revocation event (kept until
    /// `event_expires_at`), all atomically. `Ok(false)` if it had no live token.
    fn revoke_session(
        &self,
        revocation: &SessionRevocation,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Revokes every session of a user as [`revoke_session`](Self::revoke_session)
    /// does, and when `tokens_valid_after` is given stores it and appends a user
    /// revocation event, all atomically. Returns the number of sessions revoked.
    fn revoke_user_sessions(
        &self,
        revocation: &UserRevocation,
    ) -> impl Future<Output = Result<u64>> + Send;
}

/// Access-token state: the allowlist, the denylist and the revocation feed.
pub trait AccessTokenStore: Send + Sync {
    /// Registers an issued access token (Allowlist mode).
    fn register_access_token(
        &self,
        entry: &AccessTokenEntry,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Looks up a registered access token by jti.
    fn find_access_token(
        &self,
        jti: &str,
    ) -> impl Future<Output = Result<Option<AccessTokenEntry>>> + Send;

    /// Denies one access token by jti (denylist row, allowlist row disabled, revocation
    /// event) atomically. Idempotent: `Ok(false)` if it was already revoked.
    fn revoke_access_token(
        &self,
        revocation: &AccessTokenRevocation,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Revocation events after the cursor, oldest first, at most `limit`; see
    /// [`RevocationCursor`] for the re-check window.
    fn revocation_events(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RevocationEvent>>> + Send;
}

/// The append-only audit log.
pub trait AuditLog: Send + Sync {
    /// Appends one event.
    fn append_audit(&self, event: &AuditEvent) -> impl Future<Output = Result<()>> + Send;

    /// The events matching every filter `query` sets, highest id (newest) first, at
    /// most `query.limit`, in one query.
    fn audit_page(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send;

    /// The newest events first, optionally of one user only.
    fn recent_audit(
        &self,
        user: Option<UserId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditRecord>>> + Send
    where
        Self: Sized,
    {
        async move { self.audit_page(&AuditQuery::recent(user, limit)).await }
    }
}

/// What an administrator needs beyond [`UserDirectory`]: finding a user by phone and
/// importing users in bulk.
pub trait UserAdmin: Send + Sync {
    /// Finds a user by E.164 phone number.
    fn find_user_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> impl Future<Output = Result<Option<UserRecord>>> + Send;

    /// Grants or withdraws the admin flag and appends a user revocation event, both
    /// atomically. `Ok(false)` if the user does not exist.
    fn set_user_admin(&self, change: &AdminChange) -> impl Future<Output = Result<bool>> + Send;

    /// Imports a batch in one transaction: for each user, in order, the stored user
    /// with its email, else with its phone, is returned as
    /// [`ImportedUser::Existing`] and left unchanged; otherwise the user is inserted
    /// (email, phone, password hash, active and admin flags, `created_at = updated_at =
    /// batch.at`). Any failure rolls the whole batch back.
    fn import_users(
        &self,
        batch: &UserImport,
    ) -> impl Future<Output = Result<Vec<ImportedUser>>> + Send;
}

/// Removal of expired rows: the rules, the loop and the counting are core's; a backend
/// translates one batch of one rule.
pub trait Cleanup: Send + Sync {
    /// Deletes at most `batch.limit` rows matching `batch.rule` (see
    /// [`CleanupRule`](crate::CleanupRule) for each rule's rows and key) whose key is
    /// before `batch.cutoff` and at or after `batch.after`, in one short transaction;
    /// returns how many and the highest key deleted.
    fn delete_expired_batch(
        &self,
        batch: &CleanupBatch,
    ) -> impl Future<Output = Result<DeletedBatch>> + Send;

    /// Applies every [`CleanupRule`](crate::CleanupRule) at `now` in batches of
    /// `policy.batch_size`: refresh-token rows of sessions that ended more than
    /// `policy.retention` before `now`, expired revocation and allowlist rows, spent
    /// one-time codes outside the limit window. Rotated rows of live sessions are kept.
    /// Backends keep this provided loop.
    fn cleanup(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<CleanupReport>> + Send
    where
        Self: Sized,
    {
        run_cleanup(self, policy, now)
    }
}

/// Everything a [`TokenService`](crate::TokenService) needs from a backend.
pub trait TokenStore:
    UserDirectory
    + UserAdmin
    + RefreshTokenStore
    + AccessTokenStore
    + AuditLog
    + Cleanup
    + OneTimeCodeStore
    + Clone
    + 'static
{
}

impl<T> TokenStore for T where
    T: UserDirectory
        + UserAdmin
        + RefreshTokenStore
        + AccessTokenStore
        + AuditLog
        + Cleanup
        + OneTimeCodeStore
        + Clone
        + 'static
{
}
