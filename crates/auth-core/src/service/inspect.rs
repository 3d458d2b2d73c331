//! Inspection: what presenting a refresh token now would get, without presenting it.

use crate::error::{RefreshRejection, Result};
use crate::refresh::RefreshToken;
use crate::session::RefreshTokenRecord;
use crate::store::TokenStore;

use super::TokenService;

/// A refresh token's stored row and what presenting it now would get.
#[derive(Debug, Clone)]
pub struct RefreshTokenInspection {
    /// The stored row.
    pub record: RefreshTokenRecord,
    /// Why a refresh with it now would be refused; `None` if it would be exchanged.
    /// A rotated token reads as [`RefreshRejection::Reused`] (inside a grace window
    /// its re-exchange may still be allowed).
    pub rejection: Option<RefreshRejection>,
}

impl<S: TokenStore> TokenService<S> {
    /// Looks a refresh token up and judges it by the refresh rules at the service's
    /// clock (revoked, expired, rotated, idle, user inactive), changing nothing: no
    /// rotation, no reuse handling, no audit row. A malformed or unknown token is
    /// [`Error::InvalidGrant`](crate::Error::InvalidGrant).
    pub async fn inspect_refresh_token(&self, presented: &str) -> Result<RefreshTokenInspection> {
        let hash = RefreshToken::parse(presented)?.hash();
        let store = &self.inner.store;
        let record = store
            .find_refresh_token(&hash)
            .await?
            .ok_or(RefreshRejection::Unknown)?;
        let now = self.now();
        let token = &record.token;
        let rejection = if record.revoked_at.is_some() {
            Some(RefreshRejection::Revoked)
        } else if now >= token.session_expires_at || now >= token.expires_at {
            Some(RefreshRejection::Expired)
        } else if record.rotated_at.is_some() {
            Some(RefreshRejection::Reused)
        } else if self
            .inner
            .config
            .idle_timeout
            .is_some_and(|idle| now >= token.issued_at + idle)
        {
            Some(RefreshRejection::IdleExpired)
        } else if !store
            .find_user(token.user_id)
            .await?
            .is_some_and(|user| user.is_active)
        {
            Some(RefreshRejection::UserInactive)
        } else {
            None
        };
        Ok(RefreshTokenInspection { record, rejection })
    }
}
