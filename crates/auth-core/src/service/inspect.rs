//! Inspection: what presenting a refresh token now would get, without presenting it.

use crate::error::{Error, RefreshRejection, Result};
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
    /// A rotated token reads as [`RefreshRejection::Reused`] (inside the retry window
    /// presenting it may still replay its successor).
    pub rejection: Option<RefreshRejection>,
}

impl<S: TokenStore> TokenService<S> {
    /// Looks a refresh token up and judges it by the refresh rules at the service's
    /// clock (revoked, expired, rotated, idle, user inactive), changing nothing: no
    /// rotation, no reuse handling, no audit row. A malformed or unknown token is
    /// [`Error::InvalidGrant`](crate::Error::InvalidGrant).
    pub async fn inspect_refresh_token(&self, presented: &str) -> Result<RefreshTokenInspection> {
        let hash = RefreshToken::parse(presented)?.hash();
        let record = self
            .inner
            .store
            .find_refresh_token(&hash)
            .await?
            .ok_or(RefreshRejection::Unknown)?;
        let now = self.now();
        let rejection = match record.refusal_at(now) {
            Some(refusal) => Some(refusal),
            None if record.rotated_at.is_some() => Some(RefreshRejection::Reused),
            None => match self.active_subject(&record, now).await {
                Ok(_) => None,
                Err(Error::InvalidGrant(refusal)) => Some(refusal),
                Err(e) => return Err(e),
            },
        };
        Ok(RefreshTokenInspection { record, rejection })
    }
}
