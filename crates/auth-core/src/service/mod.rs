//! `TokenService`: login, authenticate, refresh, logout and the rest, over any store.
//! One file per flow; see ARCHITECTURE.md for where each token rule lives.

mod admin;
mod admin_users;
mod authenticate;
mod config;
mod inspect;
mod issue;
mod login;
mod otp;
mod refresh;
mod refresh_stats;
mod revoke;

pub use admin_users::UserLookup;
pub use config::{DEFAULT_RETRY_WINDOW, RevocationMode, TokenServiceConfig};
pub use inspect::RefreshTokenInspection;
pub use otp::{CodeRequested, OneTimeCodes};
pub use refresh_stats::{REPLAY_DELAY_BUCKETS, RefreshCause, RefreshStats};

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditKind};
use crate::claims::ValidationRules;
use crate::clock::{Clock, SystemClock};
use crate::error::Result;
use crate::keys::{KeySlot, Keyring};
use crate::refresh::RefreshToken;
use crate::revocation::RevocationCache;
use crate::session::{SessionDevice, SessionId};
use crate::store::TokenStore;
use crate::users::{UserId, UserRecord};
use crate::verified_cache::{VerifiedCache, VerifiedCacheStats};

/// Where a request came from; stored with sessions and audit rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client IP.
    pub ip: Option<IpAddr>,
    /// User agent (truncated to 512 characters).
    pub user_agent: Option<String>,
    /// Client-chosen device id, kept with a session opened by this request (see
    /// [`SessionDevice::clean_field`]).
    pub device_id: Option<String>,
    /// Client-chosen device name, kept with a session opened by this request.
    pub device_name: Option<String>,
    /// The RFC 7638 thumbprint of the key of a DPoP proof this request carried, already
    /// verified by the caller for this request's method and URL. A session opened with
    /// it is bound to that key; a bound session is refreshed only with it; the access
    /// tokens issued carry it as `cnf.jkt`.
    pub dpop_jkt: Option<String>,
}

impl ClientInfo {
    fn device(&self) -> SessionDevice {
        SessionDevice {
            device_id: SessionDevice::clean_field(self.device_id.as_deref()),
            device_name: SessionDevice::clean_field(self.device_name.as_deref()),
            dpop_jkt: self.dpop_jkt.clone(),
        }
    }
    fn user_agent(&self) -> Option<String> {
        self.user_agent
            .as_ref()
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(512).collect())
    }
    fn ip(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

/// What login and refresh hand to the client.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The signed access token.
    pub access_token: String,
    /// `DPoP` when the access token is bound to a DPoP key (`cnf.jkt`), else `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The new refresh token; shown once, stored only as its hash.
    pub refresh_token: RefreshToken,
    /// The session.
    pub session_id: SessionId,
    /// The user.
    pub user_id: UserId,
    /// The access token's `jti`.
    pub jti: String,
    /// The scope the access token carries (`None`: no scope).
    pub scope: Option<String>,
}

/// What an access token is issued for.
struct Subject {
    user_id: UserId,
    tokens_valid_after: Option<OffsetDateTime>,
    /// The user's admin flag as read for this issue: the token's `roles` claim.
    is_admin: bool,
    claims: Map<String, Value>,
}

type ClaimsProvider = dyn Fn(&UserRecord) -> Map<String, Value> + Send + Sync;

struct Inner<S> {
    store: S,
    keys: KeySlot,
    config: TokenServiceConfig,
    rules: ValidationRules,
    clock: Arc<dyn Clock>,
    cache: RevocationCache,
    verified: VerifiedCache,
    claims: Option<Box<ClaimsProvider>>,
    dummy_hash: OnceLock<String>,
    otp: Option<OneTimeCodes>,
    refresh_counters: refresh_stats::RefreshCounters,
}

/// The token logic over a store. Cheap to clone; clones share the cache.
pub struct TokenService<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for TokenService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for TokenService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenService")
            .field("store", &self.inner.store)
            .field("keys", &self.inner.keys)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenService`].
pub struct TokenServiceBuilder<S> {
    store: S,
    keys: Keyring,
    config: TokenServiceConfig,
    clock: Arc<dyn Clock>,
    claims: Option<Box<ClaimsProvider>>,
    otp: Option<OneTimeCodes>,
}

impl<S> fmt::Debug for TokenServiceBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenServiceBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: TokenStore> TokenServiceBuilder<S> {
    /// Uses another clock (tests use [`ManualClock`](crate::ManualClock)).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds application claims (e.g. `market`) to every access token issued for a user.
    /// Reserved claim names are ignored. A store configured with
    /// [`UserClaimColumns`](crate::UserClaimColumns) already adds those columns' values
    /// ([`UserRecord::column_claims`], which `f` sees too); `f`'s claims win on a name
    /// both give.
    pub fn claims(
        mut self,
        f: impl Fn(&UserRecord) -> Map<String, Value> + Send + Sync + 'static,
    ) -> Self {
        self.claims = Some(Box::new(f));
        self
    }

    /// Enables phone sign-in by one-time code
    /// ([`request_code`](TokenService::request_code), [`verify_code`](TokenService::verify_code)).
    pub fn one_time_codes(mut self, codes: OneTimeCodes) -> Self {
        self.otp = Some(codes);
        self
    }

    /// Checks the configuration and builds the service.
    pub fn build(self) -> Result<TokenService<S>> {
        self.config.validate()?;
        if let Some(otp) = &self.otp {
            otp.config.validate()?;
        }
        let rules = ValidationRules {
            issuer: self.config.issuer.clone(),
            audience: self.config.audience.clone(),
            leeway: self.config.leeway,
            max_lifetime: self.config.max_access_lifetime,
            max_token_bytes: self.config.max_token_bytes,
        };
        Ok(TokenService {
            inner: Arc::new(Inner {
                cache: RevocationCache::new(self.config.cache_max_staleness),
                verified: VerifiedCache::new(self.config.verified_cache),
                store: self.store,
                keys: KeySlot::new(self.keys),
                rules,
                config: self.config,
                clock: self.clock,
                claims: self.claims,
                dummy_hash: OnceLock::new(),
                otp: self.otp,
                refresh_counters: Default::default(),
            }),
        })
    }
}

fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The next whole second strictly after `t`: JWT times are whole seconds, so every
/// token issued at or before `t` has `iat` below it.
fn next_whole_second(t: OffsetDateTime) -> OffsetDateTime {
    from_seconds(t.unix_timestamp() + 1)
}

fn from_seconds(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl<S: TokenStore> TokenService<S> {
    /// Starts building a service over `store` signing with `keys`.
    pub fn builder(store: S, keys: Keyring, config: TokenServiceConfig) -> TokenServiceBuilder<S> {
        TokenServiceBuilder {
            store,
            keys,
            config,
            clock: Arc::new(SystemClock),
            claims: None,
            otp: None,
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The keyring now in use (for JWKS): a snapshot, see
    /// [`replace_keys`](Self::replace_keys).
    pub fn keys(&self) -> Arc<Keyring> {
        self.inner.keys.load()
    }

    /// Replaces the keyring while the service runs (key reload): tokens are signed by
    /// the new active key from now on; every key the new ring lists verifies, so a
    /// standby key can be published before it signs and a retired one keeps verifying
    /// its tokens until the key file drops it.
    pub fn replace_keys(&self, keys: Keyring) {
        tracing::info!(active = keys.active_kid(), "keyring replaced");
        self.inner.keys.replace(keys);
    }

    /// The configuration.
    pub fn config(&self) -> &TokenServiceConfig {
        &self.inner.config
    }

    /// The clock's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// Hits, misses and size of the verified-token cache.
    pub fn verified_cache_stats(&self) -> VerifiedCacheStats {
        self.inner.verified.stats()
    }

    /// The revocation cache.
    pub fn revocation_cache(&self) -> &RevocationCache {
        &self.inner.cache
    }

    /// Reads new revocations into the cache now; returns how many it applied.
    pub async fn sync_revocations(&self) -> Result<usize> {
        self.inner.cache.sync(&self.inner.store, self.now()).await
    }

    fn event_expiry(&self, now: OffsetDateTime) -> OffsetDateTime {
        now + self.inner.config.max_access_lifetime + self.inner.config.leeway
    }

    fn audit_event(
        &self,
        kind: AuditKind,
        user_id: Option<UserId>,
        session_id: Option<SessionId>,
        client: &ClientInfo,
        details: Value,
        at: OffsetDateTime,
    ) -> AuditEvent {
        AuditEvent {
            kind,
            user_id,
            session_id,
            ip: client.ip(),
            user_agent: client.user_agent(),
            details,
            at,
        }
    }

    async fn audit(
        &self,
        kind: AuditKind,
        user_id: Option<UserId>,
        session_id: Option<SessionId>,
        client: &ClientInfo,
        details: Value,
        at: OffsetDateTime,
    ) -> Result<()> {
        let event = self.audit_event(kind, user_id, session_id, client, details, at);
        self.inner.store.append_audit(&event).await
    }
}
