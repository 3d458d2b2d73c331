//! The error type every operation of the library returns.

use std::error::Error as StdError;

/// Result with the library's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRejection {
    /// The token is longer than the configured maximum (8 KiB by default).
    #[error("token too large")]
    TooLarge,
    /// The token is not three base64url parts with JSON header and claims.
    #[error("malformed token")]
    Malformed,
    /// The header names an algorithm other than the one pinned to its key, or `none`.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header has no `kid` or one the keyring does not hold.
    #[error("unknown key id")]
    UnknownKey,
    /// The header carries a key or key reference (`jwk`, `jku`, `x5u`, `x5c`) or `crit`.
    #[error("forbidden header parameter")]
    ForbiddenHeader,
    /// The header `typ` is not `at+jwt` (for example a refresh or ID token).
    #[error("wrong token type")]
    WrongType,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A required claim is missing or has the wrong JSON type.
    #[error("missing or mistyped claim `{0}`")]
    InvalidClaim(&'static str),
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is in the future.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `exp - iat` exceeds the configured maximum lifetime.
    #[error("token lifetime too long")]
    LifetimeTooLong,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The token's `jti` was revoked.
    #[error("token revoked")]
    Revoked,
    /// The token's session was revoked (logout, reuse attack, admin action).
    #[error("session revoked")]
    SessionRevoked,
    /// The user is deactivated or unknown.
    #[error("user inactive")]
    UserInactive,
    /// The token was issued before the user's `tokens_valid_after` (logout-all, password change).
    #[error("token issued before the user's tokens_valid_after")]
    IssuedBeforeValidAfter,
    /// Allowlist mode: the token is not registered or was disabled.
    #[error("token not registered or disabled")]
    NotAllowed,
}

/// Why a refresh token was refused. Every refresh failure is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshRejection {
    /// Not of the `rt_` + 43 base64url characters form.
    #[error("malformed refresh token")]
    Malformed,
    /// No stored token has this hash.
    #[error("unknown refresh token")]
    Unknown,
    /// The token or its session passed its absolute expiry.
    #[error("refresh token expired")]
    Expired,
    /// The session was idle for longer than the idle timeout.
    #[error("session idle timeout")]
    IdleExpired,
    /// The session was revoked (logout, logout-all, admin, earlier theft signal).
    #[error("session revoked")]
    Revoked,
    /// A rotated token was presented again outside the retry rules (strict window,
    /// after the window, an older generation, the replay budget spent): theft signal.
    /// The whole session has been revoked.
    #[error("refresh token reuse detected; session revoked")]
    Reused,
    /// The user is deactivated or gone.
    #[error("user inactive")]
    UserInactive,
    /// The session was opened for another OAuth client (or for none, or the presenter
    /// names none): refused, the session left alone (RFC 6749 section 6).
    #[error("refresh token issued to another client")]
    ClientMismatch,
    /// The requested scope goes beyond the scope the session was granted (RFC 6749
    /// section 6: `invalid_scope`).
    #[error("requested scope exceeds the granted scope")]
    ScopeExceeded,
    /// The session is bound to a DPoP key (RFC 9449 section 5) and the request carried
    /// no proof, or a proof by another key: refused, the session left alone (a thief
    /// without the device's key gets nothing, and cannot end the session either).
    #[error("refresh token is bound to another DPoP key")]
    DpopKeyMismatch,
}

/// Why a one-time code was refused. The client is told only "invalid or expired
/// code"; the reason goes to the audit log and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeRejection {
    /// The phone has no live code (none sent, expired, used, burned or withdrawn).
    #[error("no live code")]
    NoLiveCode,
    /// The code does not match; attempts remain.
    #[error("wrong code")]
    Mismatch,
    /// The code does not match and that was its last attempt: it is burned.
    #[error("wrong code; attempts exhausted")]
    AttemptsExhausted,
    /// The code matched but a concurrent verify redeemed it first.
    #[error("code already redeemed")]
    AlreadyRedeemed,
}

impl CodeRejection {
    /// A short label for metrics and audit rows.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeRejection::NoLiveCode => "no_live_code",
            CodeRejection::Mismatch => "mismatch",
            CodeRejection::AttemptsExhausted => "attempts_exhausted",
            CodeRejection::AlreadyRedeemed => "already_redeemed",
        }
    }
}

/// Errors of the library. A service maps these to HTTP codes; none carries a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An access token was refused (HTTP 401).
    #[error("invalid access token: {0}")]
    InvalidToken(#[from] TokenRejection),
    /// A refresh token was refused (HTTP 400 `invalid_grant`).
    #[error("invalid refresh token: {0}")]
    InvalidGrant(#[from] RefreshRejection),
    /// Wrong email or password, or a disabled account. Never says which.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// An input failed validation before anything was written.
    #[error("invalid input `{field}`: {reason}")]
    InvalidInput {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A one-time code was refused (HTTP 400 `invalid_code`); the client is never told why.
    #[error("invalid or expired code")]
    InvalidCode(CodeRejection),
    /// A one-time-code limit refused the request; nothing was written (HTTP 429 with
    /// `Retry-After`).
    #[error("too many code requests ({limit}); retry after {retry_after}")]
    CodeRateLimited {
        /// Which limit.
        limit: crate::otp::store::CodeLimit,
        /// When the request may succeed, rounded up to whole seconds.
        retry_after: time::Duration,
    },
    /// The code could not be delivered and was withdrawn (HTTP 503).
    #[error("code delivery failed")]
    CodeDelivery(#[source] crate::otp::sender::SendError),
    /// The email is already registered.
    #[error("email already registered")]
    EmailTaken,
    /// The session, user or token named does not exist (or is not the caller's).
    #[error("not found")]
    NotFound,
    /// A valid access token without the admin role, or of a user who is no longer an
    /// active admin, on an internal endpoint (HTTP 403).
    #[error("the admin role is required")]
    Forbidden,
    /// A key was refused at load, or signing failed.
    #[error("key error: {0}")]
    Key(#[from] crate::keys::KeyError),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    PasswordHash(#[source] password_hash::Error),
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// Configured user claim columns ([`UserClaimColumns`](crate::UserClaimColumns)) that
    /// the users table does not have; told when the store is configured with them.
    #[error("user claim columns missing from table `{table}`: {}", .columns.join(", "))]
    MissingUserColumns {
        /// The users table, as the backend names it.
        table: &'static str,
        /// The configured names it lacks.
        columns: Vec<String>,
    },
    /// The storage backend failed; the source is the backend's own error. Permanent:
    /// retrying the same request will not help (HTTP 500).
    #[error("storage error")]
    Storage(#[source] Box<dyn StdError + Send + Sync + 'static>),
    /// The storage is unreachable or overloaded for now: connection refused or reset,
    /// no pooled connection within the acquire timeout, the server shutting down, a
    /// statement timeout, a serialization conflict that outlived its retries. Nothing
    /// was committed that the caller was not told about; the same request may succeed
    /// later (HTTP 503 with `Retry-After`). The source is the backend's own error.
    #[error("storage temporarily unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync + 'static>),
    /// The service sheds load: no password-hashing slot became free within the
    /// configured wait (HTTP 503 with `Retry-After`).
    #[error("overloaded: no password-hashing slot free in time")]
    Overloaded,
}

impl Error {
    /// Wraps a backend error, keeping it as the source.
    pub fn storage(err: impl StdError + Send + Sync + 'static) -> Self {
        Error::Storage(Box::new(err))
    }

    /// Wraps a transient backend error (see [`Error::Unavailable`]), keeping it as the source.
    pub fn unavailable(err: impl StdError + Send + Sync + 'static) -> Self {
        Error::Unavailable(Box::new(err))
    }

    /// Whether the same request may succeed if retried later: the storage was
    /// unavailable or the service was shedding load.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_) | Error::Overloaded)
    }
}
