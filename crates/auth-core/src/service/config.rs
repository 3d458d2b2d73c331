//! Settings of a `TokenService` and their checks.

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::error::{Error, Result};
use crate::password::PasswordPolicy;
use crate::verified_cache::VerifiedCacheLimits;

/// How access tokens are checked beyond signature and claims. Each mode above
/// `Stateless` includes the `UserState` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationMode {
    /// Signature and claims only.
    Stateless,
    /// Plus: the user is active and `iat >= tokens_valid_after`.
    UserState,
    /// Plus: neither the `jti` nor the session is revoked.
    Denylist,
    /// Plus: the token is registered and not disabled (and, as in `Denylist`, neither it
    /// nor its session is revoked).
    Allowlist,
}

impl std::str::FromStr for RevocationMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "stateless" => Ok(Self::Stateless),
            "user_state" | "userstate" => Ok(Self::UserState),
            "denylist" => Ok(Self::Denylist),
            "allowlist" => Ok(Self::Allowlist),
            _ => Err(Error::Config(
                "revocation mode must be stateless, user_state, denylist or allowlist",
            )),
        }
    }
}

/// The default [`TokenServiceConfig::retry_window`]: 30 s, Okta's figure (Supabase uses
/// 10 s). It covers a lost response during a database outage of a few seconds plus a
/// client's exponential backoff (1, 2, 4, 8 s), and is still far shorter than an access
/// token's lifetime.
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::seconds(30);

/// Replays later than this after the rotation are retries (they spend the replay
/// budget); earlier ones are concurrent presentations (they do not).
pub(crate) const CONCURRENT_REPLAY: Duration = Duration::seconds(1);

/// Settings of a [`TokenService`].
#[derive(Debug, Clone)]
pub struct TokenServiceConfig {
    /// `iss` of issued tokens, required on verification.
    pub issuer: String,
    /// `aud` of issued tokens, required on verification.
    pub audience: String,
    /// Access-token lifetime (default 15 min).
    pub access_ttl: Duration,
    /// Lifetime of each refresh token (default 14 days), never past the session's end.
    pub refresh_ttl: Duration,
    /// Absolute session lifetime from login (default 30 days).
    pub session_ttl: Duration,
    /// A session unused for this long is dead (default 7 days; `None` disables).
    pub idle_timeout: Option<Duration>,
    /// Revocation mode (default `Denylist`).
    pub revocation_mode: RevocationMode,
    /// Retry window: how long after its rotation the immediate predecessor, presented
    /// again, is answered with the same successor instead of revoking the session
    /// (default [`DEFAULT_RETRY_WINDOW`]; zero is the strict RFC 9700 reading, any reuse
    /// revokes). See [`refresh`](super::TokenService::refresh).
    pub retry_window: Duration,
    /// How many retry replays (later than one second after the rotation) one predecessor
    /// may have; concurrent replays spend none (default 2).
    pub max_retry_replays: i32,
    /// Clock tolerance for `exp`, `nbf`, `iat` (default 5 s).
    pub leeway: Duration,
    /// Longest accepted access-token lifetime (default 1 h).
    pub max_access_lifetime: Duration,
    /// Longest accepted token text (default 8 KiB).
    pub max_token_bytes: usize,
    /// Maximum age of revocation-cache answers (default 5 s; zero syncs on every check).
    pub cache_max_staleness: Duration,
    /// Password hashing.
    pub password: PasswordPolicy,
    /// Bounds of the cache of verified asymmetric signatures.
    pub verified_cache: VerifiedCacheLimits,
}

impl TokenServiceConfig {
    /// Defaults for the given issuer and audience.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(14),
            session_ttl: Duration::days(30),
            idle_timeout: Some(Duration::days(7)),
            revocation_mode: RevocationMode::Denylist,
            retry_window: DEFAULT_RETRY_WINDOW,
            max_retry_replays: 2,
            leeway: Duration::seconds(5),
            max_access_lifetime: Duration::hours(1),
            max_token_bytes: 8 * 1024,
            cache_max_staleness: Duration::seconds(5),
            password: PasswordPolicy::default(),
            verified_cache: VerifiedCacheLimits::default(),
        }
    }

    pub(super) fn validate(&self) -> Result<()> {
        let positive = |d: Duration| d > Duration::ZERO;
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err(Error::Config("issuer and audience must be set"));
        }
        if !positive(self.access_ttl) || self.access_ttl > self.max_access_lifetime {
            return Err(Error::Config(
                "access_ttl must be positive and within max_access_lifetime",
            ));
        }
        if !positive(self.refresh_ttl) || !positive(self.session_ttl) {
            return Err(Error::Config(
                "refresh_ttl and session_ttl must be positive",
            ));
        }
        if self.idle_timeout.is_some_and(|d| !positive(d)) {
            return Err(Error::Config("idle_timeout must be positive"));
        }
        if self.retry_window < Duration::ZERO || self.max_retry_replays < 0 {
            return Err(Error::Config(
                "retry_window and max_retry_replays must not be negative",
            ));
        }
        if self.leeway < Duration::ZERO || self.cache_max_staleness < Duration::ZERO {
            return Err(Error::Config(
                "leeway and cache_max_staleness must not be negative",
            ));
        }
        if self.max_token_bytes < 256 {
            return Err(Error::Config("max_token_bytes is too small"));
        }
        Ok(())
    }
}
