//! Checking an access token against the configured revocation mode.

use crate::claims::{Authenticated, verify_access_token};
use crate::error::{Result, TokenRejection};
use crate::store::TokenStore;
use crate::users::{UserId, UserState};

use super::{RevocationMode, TokenService};

impl<S: TokenStore> TokenService<S> {
    /// Checks an access token's header rules, signature and claims only, never the
    /// revocation state (for inspection tools; requests go through
    /// [`authenticate`](Self::authenticate)).
    pub fn verify_signature_and_claims(&self, token: &str) -> Result<Authenticated> {
        let now = self.now().unix_timestamp();
        Ok(verify_access_token(
            token,
            &self.inner.keys.load(),
            &self.inner.rules,
            now,
        )?)
    }

    /// Checks an access token: header rules, signature, claims, then the configured
    /// revocation mode through the cache.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated> {
        let now = self.now();
        let verified = self.inner.verified.verify(
            token,
            &self.inner.keys.load(),
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

    pub(super) async fn load_user_state(&self, user: UserId) -> Result<UserState> {
        let cache = &self.inner.cache;
        let epoch = cache.epoch();
        let state = match self.inner.store.find_user(user).await? {
            Some(record) => {
                cache.insert_user(&record, epoch);
                UserState::from(&record)
            }
            None => {
                let state = UserState {
                    is_active: false,
                    tokens_valid_after: None,
                    is_admin: false,
                };
                cache.insert_user_state(user, state, epoch);
                state
            }
        };
        Ok(state)
    }
}
