//! DPoP at authd's token endpoints (RFC 9449 section 5): the [`DpopProof`] of a login,
//! refresh, OAuth token or code verification request. A valid proof binds the session
//! it opens to the proof's key and makes the access tokens `DPoP` tokens; a bad proof
//! is 400 `invalid_dpop_proof` (`use_dpop_nonce` with a fresh `DPoP-Nonce` when nonces
//! are on); no proof is a plain bearer request. Resource requests (`/v1/me`, ...) are
//! checked by auth-axum through `AuthState::dpop`.
//!
//! Depends on: the state's `DpopCheck` (verifier and the issuer as public origin, so
//! `htu` is the issuer plus the endpoint path) and `ClientInfo::dpop_jkt`, which the
//! core binds and enforces.

use auth_core::{ClientInfo, TokenStore, VerifiedProof};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::error::ApiError;

/// The verified `DPoP` proof of a token request, if it carried one.
#[derive(Debug)]
pub(crate) struct DpopProof(Option<VerifiedProof>);

impl DpopProof {
    /// `client` with the proof's key thumbprint (none without a proof).
    pub(crate) fn bind(self, client: ClientInfo) -> ClientInfo {
        ClientInfo {
            dpop_jkt: self.0.map(|proof| proof.jkt),
            ..client
        }
    }
}

impl<S: TokenStore> FromRequestParts<AppState<S>> for DpopProof {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        state
            .dpop
            .verify_request(&parts.method, &parts.uri, &parts.headers, None)
            .map(DpopProof)
            .map_err(ApiError::dpop_refused)
    }
}
