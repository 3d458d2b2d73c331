//! DPoP-bound access tokens at the resource server (RFC 9449 section 7): a token whose
//! claims carry `cnf.jkt` is accepted only as `Authorization: DPoP` with a `DPoP`
//! proof for this request, this token (`ath`) and that key; a bound token sent as
//! `Bearer` is refused (no downgrade), and so is an unbound token sent as `DPoP`.
//!
//! Depends on: auth-core's [`DpopVerifier`] (the proof checks), the verified claims'
//! `cnf`, and the resource server's public origin for `htu`.

use auth_core::time::OffsetDateTime;
use auth_core::{DpopError, DpopRequest, DpopVerifier, VerifiedProof};
use axum::http::{HeaderMap, Method, Uri};

use crate::bearer::TokenScheme;
use crate::error::AuthError;

/// The `DPoP` request header carrying the proof.
pub const DPOP_HEADER: &str = "dpop";

/// What a resource server needs to check DPoP proofs: the verifier (its algorithms,
/// window, replay cache and nonces) and the origin clients address it by.
#[derive(Debug)]
pub struct DpopCheck {
    verifier: DpopVerifier,
    public_origin: String,
}

impl DpopCheck {
    /// Checks proofs with `verifier`; `public_origin` (`https://api.example`, no path)
    /// is the scheme and authority clients use, so `htu` is it plus the request path.
    pub fn new(verifier: DpopVerifier, public_origin: impl Into<String>) -> Self {
        let public_origin = public_origin.into().trim_end_matches('/').to_owned();
        Self {
            verifier,
            public_origin,
        }
    }

    /// The verifier.
    pub fn verifier(&self) -> &DpopVerifier {
        &self.verifier
    }

    /// The URL a proof for a request to `uri` must name in `htu`.
    pub fn request_url(&self, uri: &Uri) -> String {
        format!("{}{}", self.public_origin, uri.path())
    }

    /// Verifies the request's single `DPoP` header for `method` and `uri` (and
    /// `access_token`, whose hash the proof must carry in `ath`): `Ok(None)` without a
    /// header, an [`AuthError::InvalidDpopProof`] (or [`AuthError::UseDpopNonce`] with a
    /// fresh nonce) for a bad one or several.
    pub fn verify_request(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        access_token: Option<&str>,
    ) -> Result<Option<VerifiedProof>, AuthError> {
        let mut values = headers.get_all(DPOP_HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(AuthError::InvalidDpopProof(DpopError::Malformed));
        }
        let proof = value
            .to_str()
            .map_err(|_| AuthError::InvalidDpopProof(DpopError::Malformed))?;
        let url = self.request_url(uri);
        let request = DpopRequest {
            method: method.as_str(),
            url: &url,
            access_token,
        };
        let now = OffsetDateTime::now_utc();
        match self.verifier.verify(proof, &request, now) {
            Ok(verified) => Ok(Some(verified)),
            Err(e @ (DpopError::NonceRequired | DpopError::NonceInvalid)) => {
                match self.verifier.issue_nonce(now) {
                    Some(nonce) => Err(AuthError::UseDpopNonce { nonce, source: e }),
                    None => Err(AuthError::InvalidDpopProof(e)),
                }
            }
            Err(e) => Err(AuthError::InvalidDpopProof(e)),
        }
    }
}

/// The sender constraint of a verified token: a bound token needs the `DPoP` scheme and
/// a proof by its key; an unbound one the `Bearer` scheme.
pub(crate) fn check_sender(
    auth: &auth_core::Authenticated,
    scheme: TokenScheme,
    token: &str,
    dpop: Option<&DpopCheck>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(), AuthError> {
    let bound = auth.claims.cnf.as_ref().map(|c| c.jkt.as_str());
    match (scheme, bound) {
        (TokenScheme::Bearer, None) => Ok(()),
        (TokenScheme::Bearer, Some(_)) => Err(AuthError::DpopRequired),
        (TokenScheme::Dpop, None) => Err(AuthError::NotDpopBound),
        (TokenScheme::Dpop, Some(jkt)) => {
            let dpop = dpop.ok_or(AuthError::DpopUnsupported)?;
            let proof = dpop
                .verify_request(method, uri, headers, Some(token))?
                .ok_or(AuthError::MissingDpopProof)?;
            if proof.jkt == jkt {
                Ok(())
            } else {
                Err(AuthError::DpopKeyMismatch)
            }
        }
    }
}
