//! `TokenService`: login, authenticate, refresh, logout and the rest, over any store.

mod otp;

pub use otp::{CodeRequested, OneTimeCodes};

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditEvent, AuditKind};
use crate::claims::{
    ACCESS_TOKEN_TYPE, Authenticated, RESERVED_CLAIMS, ValidationRules, verify_access_token,
};
use crate::cleanup::{CleanupPolicy, CleanupReport};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, RefreshRejection, Result, TokenRejection};
use crate::keys::{KeyError, Keyring};
use crate::password::PasswordPolicy;
use crate::refresh::{RefreshToken, TokenId};
use crate::revocation::{AccessTokenEntry, RevocationCache, RevocationEvent, RevokedItem};
use crate::session::{
    GraceReexchange, NewRefreshToken, RefreshTokenRecord, RevokeReason, Rotation, SessionId,
    SessionInfo,
};
use crate::store::TokenStore;
use crate::users::{NewUser, UserId, UserRecord, UserState, normalize_email};

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
    /// Window in which the immediate predecessor may be exchanged again (default 0: strict).
    pub reuse_grace: Duration,
    /// How many times one predecessor may be re-exchanged inside the window (default 2).
    pub max_grace_reuse: i32,
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
            reuse_grace: Duration::ZERO,
            max_grace_reuse: 2,
            leeway: Duration::seconds(5),
            max_access_lifetime: Duration::hours(1),
            max_token_bytes: 8 * 1024,
            cache_max_staleness: Duration::seconds(5),
            password: PasswordPolicy::default(),
        }
    }

    fn validate(&self) -> Result<()> {
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
        if self.reuse_grace < Duration::ZERO || self.max_grace_reuse < 0 {
            return Err(Error::Config(
                "reuse_grace and max_grace_reuse must not be negative",
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

/// Where a request came from; stored with sessions and audit rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client IP.
    pub ip: Option<IpAddr>,
    /// User agent (truncated to 512 characters).
    pub user_agent: Option<String>,
}

impl ClientInfo {
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
    /// Always `Bearer`.
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
}

/// What an access token is issued for.
struct Subject {
    user_id: UserId,
    tokens_valid_after: Option<OffsetDateTime>,
    claims: Map<String, Value>,
}

type ClaimsProvider = dyn Fn(&UserRecord) -> Map<String, Value> + Send + Sync;

struct Inner<S> {
    store: S,
    keys: Keyring,
    config: TokenServiceConfig,
    rules: ValidationRules,
    clock: Arc<dyn Clock>,
    cache: RevocationCache,
    claims: Option<Box<ClaimsProvider>>,
    dummy_hash: OnceLock<String>,
    otp: Option<OneTimeCodes>,
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
    /// Reserved claim names are ignored.
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
                store: self.store,
                keys: self.keys,
                rules,
                config: self.config,
                clock: self.clock,
                claims: self.claims,
                dummy_hash: OnceLock::new(),
                otp: self.otp,
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

    /// The keyring (for JWKS).
    pub fn keys(&self) -> &Keyring {
        &self.inner.keys
    }

    /// The configuration.
    pub fn config(&self) -> &TokenServiceConfig {
        &self.inner.config
    }

    /// The clock's current time.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
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

    async fn hash_password(&self, password: &str) -> Result<String> {
        let policy = self.inner.config.password;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || policy.hash(&password))
            .await
            .map_err(Error::storage)?
    }

    /// Verifies a password; for an account without a hash (or no account) it verifies
    /// against a dummy hash, so timing does not reveal which.
    async fn verify_password(&self, password: &str, phc: Option<&str>) -> bool {
        let policy = self.inner.config.password;
        let (phc, real) = match phc {
            Some(phc) => (phc.to_owned(), true),
            None => (self.dummy_hash().await, false),
        };
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || policy.verify(&password, &phc))
            .await
            .unwrap_or(false);
        ok && real
    }

    async fn dummy_hash(&self) -> String {
        if let Some(hash) = self.inner.dummy_hash.get() {
            return hash.clone();
        }
        let hash = self
            .hash_password("dummy password, never matches")
            .await
            .unwrap_or_default();
        self.inner.dummy_hash.get_or_init(|| hash).clone()
    }

    /// Creates a user with an email and password.
    pub async fn register(&self, email: &str, password: &str) -> Result<UserId> {
        let email = normalize_email(email)?;
        self.inner.config.password.check_new_password(password)?;
        let hash = self.hash_password(password).await?;
        let user = NewUser {
            email,
            password_hash: Some(hash),
            created_at: self.now(),
        };
        self.inner.store.create_user(&user).await
    }

    /// Checks email and password and opens a session. Every failure is
    /// [`Error::InvalidCredentials`], whether or not the account exists.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair> {
        let email = normalize_email(email)?;
        let user = self.inner.store.find_user_by_email(&email).await?;
        let phc = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let password_ok = self.verify_password(password, phc).await;
        let rehash = phc.is_some_and(|p| self.inner.config.password.needs_rehash(p));
        let now = self.now();
        let user = match user {
            Some(user) if password_ok && user.is_active => user,
            other => {
                let reason = match &other {
                    Some(u) if password_ok && !u.is_active => "inactive",
                    _ => "bad_credentials",
                };
                let uid = other.map(|u| u.id);
                self.audit(
                    AuditKind::LoginFailed,
                    uid,
                    None,
                    client,
                    json!({"reason": reason}),
                    now,
                )
                .await?;
                return Err(Error::InvalidCredentials);
            }
        };
        if rehash {
            let new_hash = self.hash_password(password).await?;
            self.inner
                .store
                .set_password_hash(user.id, &new_hash)
                .await?;
        }
        self.inner.store.record_login(user.id, now).await?;
        let pair = self.open_session(&user, client, now).await?;
        self.audit(
            AuditKind::LoginSucceeded,
            Some(user.id),
            Some(pair.session_id),
            client,
            json!({}),
            now,
        )
        .await?;
        Ok(pair)
    }

    /// Opens a session for a user the application authenticated itself (SMS code,
    /// SSO). [`Error::NotFound`] for an unknown user, [`Error::InvalidCredentials`] for
    /// a deactivated one.
    pub async fn start_session(&self, user: UserId, client: &ClientInfo) -> Result<TokenPair> {
        let user = self
            .inner
            .store
            .find_user(user)
            .await?
            .ok_or(Error::NotFound)?;
        if !user.is_active {
            return Err(Error::InvalidCredentials);
        }
        let now = self.now();
        let pair = self.open_session(&user, client, now).await?;
        self.audit(
            AuditKind::LoginSucceeded,
            Some(user.id),
            Some(pair.session_id),
            client,
            json!({}),
            now,
        )
        .await?;
        Ok(pair)
    }

    async fn open_session(
        &self,
        user: &UserRecord,
        client: &ClientInfo,
        now: OffsetDateTime,
    ) -> Result<TokenPair> {
        let cfg = &self.inner.config;
        let session_id = SessionId::new();
        let refresh = RefreshToken::generate();
        let session_expires_at = now + cfg.session_ttl;
        let row = NewRefreshToken {
            id: TokenId::new(),
            hash: refresh.hash(),
            user_id: user.id,
            session_id,
            generation: 0,
            issued_at: now,
            expires_at: (now + cfg.refresh_ttl).min(session_expires_at),
            session_created_at: now,
            session_expires_at,
            user_agent: client.user_agent(),
            ip: client.ip(),
        };
        self.inner.store.insert_refresh_token(&row).await?;
        let subject = Subject {
            user_id: user.id,
            tokens_valid_after: user.tokens_valid_after,
            claims: self.app_claims(user),
        };
        self.issue_pair(subject, session_id, refresh, now).await
    }

    /// The application claims for a user (empty without a claims provider).
    fn app_claims(&self, user: &UserRecord) -> Map<String, Value> {
        match &self.inner.claims {
            Some(provider) => provider(user),
            None => Map::new(),
        }
    }

    async fn issue_pair(
        &self,
        subject: Subject,
        session_id: SessionId,
        refresh_token: RefreshToken,
        now: OffsetDateTime,
    ) -> Result<TokenPair> {
        let cfg = &self.inner.config;
        let Subject {
            user_id,
            tokens_valid_after,
            mut claims,
        } = subject;
        // Never before tokens_valid_after, so a token issued right after logout-all in
        // the same second is still valid.
        let iat = now
            .unix_timestamp()
            .max(tokens_valid_after.map_or(i64::MIN, |t| t.unix_timestamp()));
        let exp = iat + cfg.access_ttl.whole_seconds();
        let jti = random_jti();
        claims.retain(|k, _| !RESERVED_CLAIMS.contains(&k.as_str()));
        claims.insert("iss".into(), cfg.issuer.clone().into());
        claims.insert("aud".into(), cfg.audience.clone().into());
        claims.insert("sub".into(), user_id.to_string().into());
        claims.insert("exp".into(), exp.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("nbf".into(), iat.into());
        claims.insert("jti".into(), jti.clone().into());
        claims.insert("sid".into(), session_id.to_string().into());

        let key = self.inner.keys.signing_key();
        let mut header = jsonwebtoken::Header::new(key.alg.jwt());
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header.kid = Some(key.kid.clone());
        let encoding = key
            .encoding
            .as_ref()
            .ok_or_else(|| Error::Key(KeyError::Keyring("active key cannot sign".into())))?;
        let access_token = jsonwebtoken::encode(&header, &claims, encoding)
            .map_err(|e| Error::Key(KeyError::Signing(e)))?;

        if cfg.revocation_mode == RevocationMode::Allowlist {
            let entry = AccessTokenEntry {
                jti: jti.clone(),
                user_id,
                session_id,
                issued_at: from_seconds(iat),
                expires_at: from_seconds(exp),
                disabled: false,
            };
            self.inner.store.register_access_token(&entry).await?;
        }
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: exp - now.unix_timestamp(),
            refresh_token,
            session_id,
            user_id,
            jti,
        })
    }

    /// Checks an access token's header rules, signature and claims only, never the
    /// revocation state (for inspection tools; requests go through
    /// [`authenticate`](Self::authenticate)).
    pub fn verify_signature_and_claims(&self, token: &str) -> Result<Authenticated> {
        let now = self.now().unix_timestamp();
        Ok(verify_access_token(
            token,
            &self.inner.keys,
            &self.inner.rules,
            now,
        )?)
    }

    /// Checks an access token: header rules, signature, claims, then the configured
    /// revocation mode through the cache.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated> {
        let now = self.now();
        let verified = verify_access_token(
            token,
            &self.inner.keys,
            &self.inner.rules,
            now.unix_timestamp(),
        )?;
        let mode = self.inner.config.revocation_mode;
        if mode == RevocationMode::Stateless {
            return Ok(verified);
        }
        let cache = &self.inner.cache;
        cache.ensure_fresh(&self.inner.store, now).await?;
        let claims = &verified.claims;
        // Allowlist mode checks the denylist too: a session revoked between a rotation
        // and the registration of its new access token must still stop that token.
        let deny = matches!(mode, RevocationMode::Denylist | RevocationMode::Allowlist);
        let verdict = match cache.cached_verdict(
            verified.user_id,
            claims.iat,
            &claims.jti,
            &claims.sid,
            deny,
        ) {
            Some(verdict) => verdict,
            None => self
                .load_user_state(verified.user_id)
                .await?
                .check(claims.iat)
                .and_then(|()| match cache.is_denied(&claims.jti, &claims.sid) {
                    Some(rejection) if deny => Err(rejection),
                    _ => Ok(()),
                }),
        };
        verdict?;
        if mode == RevocationMode::Allowlist {
            let entry = match cache.allowed(&claims.jti) {
                Some(entry) => Some(entry),
                None => {
                    let epoch = cache.epoch();
                    let found = self.inner.store.find_access_token(&claims.jti).await?;
                    if let Some(entry) = &found {
                        cache.insert_allowed(entry.clone(), epoch);
                    }
                    found
                }
            };
            match entry {
                Some(e) if !e.disabled && e.user_id == verified.user_id => {}
                _ => return Err(TokenRejection::NotAllowed.into()),
            }
        }
        Ok(verified)
    }

    async fn load_user_state(&self, user: UserId) -> Result<UserState> {
        let cache = &self.inner.cache;
        let epoch = cache.epoch();
        let state = match self.inner.store.find_user(user).await? {
            Some(record) => UserState::from(&record),
            None => UserState {
                is_active: false,
                tokens_valid_after: None,
            },
        };
        cache.insert_user_state(user, state, epoch);
        Ok(state)
    }

    /// Exchanges a refresh token for a new pair, rotating it atomically. A rotated
    /// token presented again revokes the whole session unless it is the immediate
    /// predecessor inside the grace window and within its re-exchange budget.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<TokenPair> {
        let result = self.rotate(presented, client).await;
        if let Err(Error::InvalidGrant(rejection)) = &result {
            tracing::info!(classification = ?rejection, "refresh refused");
        }
        result
    }

    async fn rotate(&self, presented: &str, client: &ClientInfo) -> Result<TokenPair> {
        let token = RefreshToken::parse(presented)?;
        let hash = token.hash();
        let cfg = &self.inner.config;
        let store = &self.inner.store;
        for _ in 0..4 {
            let now = self.now();
            let rec = store
                .find_refresh_token(&hash)
                .await?
                .ok_or(RefreshRejection::Unknown)?;
            if rec.revoked_at.is_some() {
                return Err(RefreshRejection::Revoked.into());
            }
            if now >= rec.token.session_expires_at || now >= rec.token.expires_at {
                return Err(RefreshRejection::Expired.into());
            }
            let (current, grace) = if rec.rotated_at.is_some() {
                match self.grace_successor(&rec, now).await? {
                    Ok(live) => {
                        let grace = GraceReexchange {
                            predecessor: rec.token.id,
                            max_reuse: cfg.max_grace_reuse,
                        };
                        (live, Some(grace))
                    }
                    Err(reason) => return self.reuse_detected(&rec, client, now, reason).await,
                }
            } else {
                (rec, None)
            };
            if let Some(idle) = cfg.idle_timeout
                && now >= current.token.issued_at + idle
            {
                return Err(RefreshRejection::IdleExpired.into());
            }
            let subject = match self.refresh_subject(current.token.user_id, now).await? {
                Some(subject) => subject,
                None => return Err(RefreshRejection::UserInactive.into()),
            };
            let successor_token = RefreshToken::generate();
            let t = &current.token;
            let successor = NewRefreshToken {
                id: TokenId::new(),
                hash: successor_token.hash(),
                user_id: t.user_id,
                session_id: t.session_id,
                generation: t.generation + 1,
                issued_at: now,
                expires_at: (now + cfg.refresh_ttl).min(t.session_expires_at),
                session_created_at: t.session_created_at,
                session_expires_at: t.session_expires_at,
                user_agent: t.user_agent.clone(),
                ip: t.ip.clone(),
            };
            let audit = self.audit_event(
                AuditKind::TokenRefreshed,
                Some(t.user_id),
                Some(t.session_id),
                client,
                json!({
                    "generation": successor.generation,
                    "grace": grace.is_some(),
                    "classification": if grace.is_some() { "grace_reexchange" } else { "rotation" },
                }),
                now,
            );
            let rotation = Rotation {
                current: t.id,
                successor,
                at: now,
                grace,
                audit,
            };
            if !store.rotate_refresh_token(&rotation).await? {
                // Lost a race or the grace budget: read again and classify anew.
                continue;
            }
            let pair = self
                .issue_pair(subject, t.session_id, successor_token, now)
                .await?;
            return Ok(pair);
        }
        Err(RefreshRejection::Reused.into())
    }

    /// Who a refresh issues for, `None` if the user is inactive or gone. Without a claims
    /// provider the user's state comes from the revocation cache (fresh within
    /// `cache_max_staleness`, like every access-token check), saving a round trip per
    /// refresh; with one, the user is read so the claims are current.
    async fn refresh_subject(&self, user: UserId, now: OffsetDateTime) -> Result<Option<Subject>> {
        if self.inner.claims.is_some() {
            return Ok(match self.inner.store.find_user(user).await? {
                Some(record) if record.is_active => Some(Subject {
                    user_id: record.id,
                    tokens_valid_after: record.tokens_valid_after,
                    claims: self.app_claims(&record),
                }),
                _ => None,
            });
        }
        let cache = &self.inner.cache;
        cache.ensure_fresh(&self.inner.store, now).await?;
        let state = match cache.user_state(user) {
            Some(state) => state,
            None => self.load_user_state(user).await?,
        };
        Ok(state.is_active.then(|| Subject {
            user_id: user,
            tokens_valid_after: state.tokens_valid_after,
            claims: Map::new(),
        }))
    }

    /// For a rotated token: its live successor if a grace re-exchange is allowed,
    /// otherwise why not (the reuse classification).
    async fn grace_successor(
        &self,
        rec: &RefreshTokenRecord,
        now: OffsetDateTime,
    ) -> Result<Result<RefreshTokenRecord, &'static str>> {
        let cfg = &self.inner.config;
        let Some(rotated_at) = rec.rotated_at else {
            return Ok(Err("not_rotated"));
        };
        if cfg.reuse_grace.is_zero() {
            return Ok(Err("strict"));
        }
        if now >= rotated_at + cfg.reuse_grace {
            return Ok(Err("outside_grace_window"));
        }
        if rec.reuse_count >= cfg.max_grace_reuse {
            return Ok(Err("grace_reuse_exhausted"));
        }
        let Some(successor_id) = rec.replaced_by else {
            return Ok(Err("older_generation"));
        };
        match self
            .inner
            .store
            .find_refresh_token_by_id(successor_id)
            .await?
        {
            Some(s) if s.is_live() && s.token.session_id == rec.token.session_id => Ok(Ok(s)),
            _ => Ok(Err("older_generation")),
        }
    }

    async fn reuse_detected(
        &self,
        rec: &RefreshTokenRecord,
        client: &ClientInfo,
        now: OffsetDateTime,
        reason: &'static str,
    ) -> Result<TokenPair> {
        let t = &rec.token;
        self.revoke_session_rows(t.session_id, t.user_id, RevokeReason::ReuseDetected, now)
            .await?;
        tracing::warn!(user = %t.user_id, session = %t.session_id, reason, "refresh token reuse detected; session revoked");
        self.audit(
            AuditKind::TokenReuseAttack,
            Some(t.user_id),
            Some(t.session_id),
            client,
            json!({"classification": reason, "presented_generation": t.generation}),
            now,
        )
        .await?;
        Err(RefreshRejection::Reused.into())
    }

    async fn revoke_session_rows(
        &self,
        session: SessionId,
        user: UserId,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let expires_at = self.event_expiry(now);
        let revoked = self
            .inner
            .store
            .revoke_session(session, reason, now, expires_at)
            .await?;
        self.apply_locally(user, RevokedItem::Session(session), now, expires_at);
        Ok(revoked)
    }

    /// Applies a revocation this process just made to its own cache at once.
    fn apply_locally(
        &self,
        user: UserId,
        item: RevokedItem,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) {
        let event = RevocationEvent {
            id: 0,
            user_id: user,
            item,
            revoked_at: now,
            expires_at,
        };
        self.inner.cache.apply_local(event, now);
    }

    /// Logs out: revokes the token's session and the token itself.
    pub async fn logout(&self, token: &Authenticated, client: &ClientInfo) -> Result<()> {
        let now = self.now();
        let sid = token.claims.sid;
        self.revoke_session_rows(sid, token.user_id, RevokeReason::Logout, now)
            .await?;
        self.deny_token(token, now).await?;
        self.audit(
            AuditKind::SessionRevoked,
            Some(token.user_id),
            Some(sid),
            client,
            json!({"reason": "logout"}),
            now,
        )
        .await
    }

    async fn deny_token(&self, token: &Authenticated, now: OffsetDateTime) -> Result<bool> {
        let expires_at = from_seconds(token.claims.exp) + self.inner.config.leeway;
        let jti = &token.claims.jti;
        let revoked = self
            .inner
            .store
            .revoke_access_token(jti, token.user_id, now, expires_at)
            .await?;
        self.apply_locally(
            token.user_id,
            RevokedItem::Token(jti.clone()),
            now,
            expires_at,
        );
        Ok(revoked)
    }

    /// Revokes one access token by its jti (the session stays).
    pub async fn revoke_access_token(
        &self,
        token: &Authenticated,
        client: &ClientInfo,
    ) -> Result<()> {
        let now = self.now();
        if self.deny_token(token, now).await? {
            self.audit(
                AuditKind::AccessTokenRevoked,
                Some(token.user_id),
                Some(token.claims.sid),
                client,
                json!({"jti": token.claims.jti}),
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// Logs out everywhere: revokes every session of the user and moves
    /// `tokens_valid_after`, so every access token issued so far stops working.
    /// Returns the number of sessions revoked.
    pub async fn logout_all(&self, user: UserId, client: &ClientInfo) -> Result<u64> {
        let now = self.now();
        let tva = next_whole_second(now);
        let n = self
            .inner
            .store
            .revoke_user_sessions(
                user,
                RevokeReason::LogoutAll,
                now,
                self.event_expiry(now),
                Some(tva),
            )
            .await?;
        self.apply_locally(user, RevokedItem::User(user), now, self.event_expiry(now));
        self.inner.cache.mark_stale();
        self.audit(
            AuditKind::LogoutAll,
            Some(user),
            None,
            client,
            json!({"sessions": n}),
            now,
        )
        .await?;
        Ok(n)
    }

    /// The user's active sessions, newest login first.
    pub async fn list_sessions(&self, user: UserId) -> Result<Vec<SessionInfo>> {
        let now = self.now();
        let idle = self.inner.config.idle_timeout;
        let mut sessions: Vec<SessionInfo> = self
            .inner
            .store
            .live_refresh_tokens(user, now)
            .await?
            .iter()
            .filter(|r| {
                now < r.token.expires_at && idle.is_none_or(|d| now < r.token.issued_at + d)
            })
            .map(SessionInfo::from)
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(sessions)
    }

    /// Revokes one session of the user; [`Error::NotFound`] if it is not theirs or not live.
    pub async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<()> {
        match self
            .inner
            .store
            .live_refresh_token_of_session(session)
            .await?
        {
            Some(live) if live.token.user_id == user => {}
            _ => return Err(Error::NotFound),
        }
        let now = self.now();
        self.revoke_session_rows(session, user, RevokeReason::Revoked, now)
            .await?;
        self.audit(
            AuditKind::SessionRevoked,
            Some(user),
            Some(session),
            client,
            json!({"reason": "revoked"}),
            now,
        )
        .await
    }

    /// RFC 7009 revocation of either token type. Unknown, invalid or expired tokens
    /// are not an error: there is nothing to revoke.
    pub async fn revoke_token(&self, token: &str, client: &ClientInfo) -> Result<()> {
        if let Ok(refresh) = RefreshToken::parse(token) {
            if let Some(rec) = self.inner.store.find_refresh_token(&refresh.hash()).await?
                && rec.revoked_at.is_none()
            {
                let now = self.now();
                let t = &rec.token;
                if self
                    .revoke_session_rows(t.session_id, t.user_id, RevokeReason::Revoked, now)
                    .await?
                {
                    self.audit(
                        AuditKind::SessionRevoked,
                        Some(t.user_id),
                        Some(t.session_id),
                        client,
                        json!({"reason": "rfc7009"}),
                        now,
                    )
                    .await?;
                }
            }
            return Ok(());
        }
        let now = self.now();
        match verify_access_token(
            token,
            &self.inner.keys,
            &self.inner.rules,
            now.unix_timestamp(),
        ) {
            Ok(verified) => self.revoke_access_token(&verified, client).await,
            Err(_) => Ok(()),
        }
    }

    /// Deactivates or reactivates a user. Deactivation stops logins and refreshes, and
    /// access tokens in every mode but `Stateless`. `Ok(false)` if the user is unknown.
    pub async fn set_user_active(&self, user: UserId, active: bool) -> Result<bool> {
        let now = self.now();
        let found = self
            .inner
            .store
            .set_user_active(user, active, now, self.event_expiry(now))
            .await?;
        if found {
            self.apply_locally(user, RevokedItem::User(user), now, self.event_expiry(now));
        }
        Ok(found)
    }

    /// Sets a new password and logs the user out everywhere.
    pub async fn change_password(
        &self,
        user: UserId,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        self.inner
            .config
            .password
            .check_new_password(new_password)?;
        self.inner
            .store
            .find_user(user)
            .await?
            .ok_or(Error::NotFound)?;
        let hash = self.hash_password(new_password).await?;
        self.inner.store.set_password_hash(user, &hash).await?;
        self.logout_all(user, client).await.map(|_| ())
    }

    /// Removes expired rows (see [`Cleanup`](crate::Cleanup)) and records a CLEANUP audit row.
    pub async fn cleanup(&self, policy: &CleanupPolicy) -> Result<CleanupReport> {
        let now = self.now();
        let report = self.inner.store.cleanup(policy, now).await?;
        let details = serde_json::to_value(report).unwrap_or_default();
        self.audit(
            AuditKind::Cleanup,
            None,
            None,
            &ClientInfo::default(),
            details,
            now,
        )
        .await?;
        Ok(report)
    }
}
