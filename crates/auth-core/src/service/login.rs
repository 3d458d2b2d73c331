//! Registration, password login and application-opened sessions.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::audit::AuditKind;
use crate::commands::{LoginRecord, PasswordChange};
use crate::error::{Error, Result};
use crate::grant::GrantClaims;
use crate::refresh::{RefreshToken, TokenId};
use crate::session::{NewRefreshToken, SessionId};
use crate::store::TokenStore;
use crate::users::{NewUser, UserId, UserRecord, normalize_email};

use super::{ClientInfo, Subject, TokenPair, TokenService};

impl<S: TokenStore> TokenService<S> {
    pub(super) async fn hash_password(&self, password: &str) -> Result<String> {
        let policy = self.inner.config.password;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || policy.hash(&password))
            .await
            .map_err(Error::storage)?
    }

    /// Verifies a password; for an account without a hash (or no account) it verifies
    /// against a dummy hash, so timing does not reveal which. A stored hash that cannot
    /// be used (ARCHITECTURE.md, "Passwords") never matches and is logged with the user.
    pub(super) async fn verify_password(
        &self,
        password: &str,
        user: Option<UserId>,
        phc: Option<&str>,
    ) -> bool {
        let policy = self.inner.config.password;
        let (phc, real) = match phc {
            Some(phc) => (phc.to_owned(), true),
            None => (self.dummy_hash().await, false),
        };
        let password = password.to_owned();
        match tokio::task::spawn_blocking(move || policy.check(&password, &phc)).await {
            Ok(Ok(matched)) => matched && real,
            Ok(Err(error)) => {
                tracing::warn!(
                    user_id = user.map(|u| u.0),
                    %error,
                    "stored password hash is unusable: password login refused"
                );
                false
            }
            Err(_) => false,
        }
    }

    pub(super) async fn dummy_hash(&self) -> String {
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
        self.login_for(email, password, client, &GrantClaims::default())
            .await
    }

    /// [`login`](Self::login) for an OAuth grant: the session's first access token
    /// carries `grant`'s `client_id` and `scope`.
    pub async fn login_for(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
        grant: &GrantClaims,
    ) -> Result<TokenPair> {
        let email = normalize_email(email)?;
        let user = self.inner.store.find_user_by_email(&email).await?;
        let phc = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let password_ok = self
            .verify_password(password, user.as_ref().map(|u| u.id), phc)
            .await;
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
            let change = PasswordChange {
                user: user.id,
                password_hash: new_hash,
                at: now,
            };
            self.inner.store.set_password_hash(&change).await?;
        }
        let login = LoginRecord {
            user: user.id,
            at: now,
        };
        self.inner.store.record_login(&login).await?;
        let pair = self.open_session(&user, client, now, grant).await?;
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
        let pair = self
            .open_session(&user, client, now, &GrantClaims::default())
            .await?;
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

    pub(super) async fn open_session(
        &self,
        user: &UserRecord,
        client: &ClientInfo,
        now: OffsetDateTime,
        grant: &GrantClaims,
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
            client_id: grant.client_id.clone(),
            scope: grant.scope.clone(),
            device: client.device(),
        };
        self.inner.store.insert_refresh_token(&row).await?;
        let subject = Subject {
            user_id: user.id,
            tokens_valid_after: user.tokens_valid_after,
            is_admin: user.is_admin,
            claims: self.app_claims(user),
        };
        let dpop_jkt = row.device.dpop_jkt.as_deref();
        self.issue_pair(subject, session_id, refresh, now, grant, dpop_jkt)
            .await
    }

    /// The application claims for a user: its configured columns' values
    /// ([`UserRecord::column_claims`]), then the claims provider's, which win on a
    /// name both give. Reserved names are dropped when the token is issued.
    pub(super) fn app_claims(&self, user: &UserRecord) -> Map<String, Value> {
        let mut claims = user.column_claims.clone();
        if let Some(provider) = &self.inner.claims {
            claims.extend(provider(user));
        }
        claims
    }

    /// Whether issuing for a user needs its current record (configured claim columns
    /// or a claims provider), not only its cached state.
    pub(super) fn claims_need_user(&self) -> bool {
        self.inner.claims.is_some() || !self.inner.store.user_claim_columns().is_empty()
    }
}
