//! DPoP proof verification (RFC 9449): a proof JWT signed by the client's own key,
//! bound to one HTTP request, used once.

mod error;
mod htu;
mod key;
mod nonce;
mod proof;
mod replay;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_claims;
#[cfg(test)]
mod tests_replay;
mod thumbprint;

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

pub use error::{DpopConfigError, DpopError};
pub use nonce::{MIN_NONCE_SECRET_BYTES, NonceConfig};
pub use proof::DPOP_PROOF_TYPE;
pub use thumbprint::{access_token_hash, jwk_thumbprint};

use nonce::Nonces;
use proof::Claims;
use replay::ReplayCache;

/// Longest accepted proof text; longer proofs are refused before parsing.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// What a [`DpopVerifier`] accepts.
#[derive(Debug, Clone)]
pub struct DpopConfig {
    /// Algorithms a proof may be signed with. Asymmetric only: HMAC algorithms are
    /// refused by [`DpopConfig::validate`], `none` is never accepted.
    pub allowed_algorithms: Vec<Algorithm>,
    /// How far in the past `iat` may be (default 60 s).
    pub max_age: Duration,
    /// How far in the future `iat` may be (default 5 s).
    pub max_clock_skew: Duration,
    /// Most (key, `jti`) pairs remembered at once (default 100 000). A full cache
    /// refuses new proofs: `replay_capacity / (max_age + max_clock_skew)` is the
    /// sustained proof rate it supports.
    pub replay_capacity: usize,
    /// Server nonces; `None` (the default) when proofs need no nonce.
    pub nonce: Option<NonceConfig>,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            allowed_algorithms: vec![
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
                Algorithm::RS256,
                Algorithm::PS256,
            ],
            max_age: Duration::seconds(60),
            max_clock_skew: Duration::seconds(5),
            replay_capacity: 100_000,
            nonce: None,
        }
    }
}

impl DpopConfig {
    /// Refuses symmetric or no algorithms, negative durations, a zero replay capacity
    /// and weak nonce settings.
    pub fn validate(&self) -> Result<(), DpopConfigError> {
        if self.allowed_algorithms.is_empty() {
            return Err(DpopConfigError::NoAlgorithms);
        }
        if let Some(alg) = self
            .allowed_algorithms
            .iter()
            .find(|a| a.family() == AlgorithmFamily::Hmac)
        {
            return Err(DpopConfigError::SymmetricAlgorithm(format!("{alg:?}")));
        }
        if self.max_age.is_negative() {
            return Err(DpopConfigError::NegativeDuration("max_age"));
        }
        if self.max_clock_skew.is_negative() {
            return Err(DpopConfigError::NegativeDuration("max_clock_skew"));
        }
        if self.replay_capacity == 0 {
            return Err(DpopConfigError::ZeroReplayCapacity);
        }
        if let Some(nonce) = &self.nonce {
            nonce.validate()?;
        }
        Ok(())
    }
}

/// The HTTP request a proof must be bound to.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The request method, e.g. `POST` (compared case-sensitively with `htm`).
    pub method: &'a str,
    /// The absolute request URL; its query and fragment are ignored.
    pub url: &'a str,
    /// The access token sent with the request, if any; the proof's `ath` must match it.
    pub access_token: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url without padding.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: OffsetDateTime,
}

/// Checks DPoP proofs and remembers their `jti`s; shared by reference across tasks.
#[derive(Debug)]
pub struct DpopVerifier {
    config: DpopConfig,
    nonces: Option<Nonces>,
    replay: ReplayCache,
}

impl DpopVerifier {
    /// A verifier for `config`, once [`DpopConfig::validate`] accepts it.
    pub fn new(config: DpopConfig) -> Result<Self, DpopConfigError> {
        config.validate()?;
        Ok(Self {
            nonces: config.nonce.as_ref().map(Nonces::new),
            replay: ReplayCache::new(config.replay_capacity),
            config,
        })
    }

    /// The configuration this verifier enforces.
    pub fn config(&self) -> &DpopConfig {
        &self.config
    }

    /// A fresh nonce for the `DPoP-Nonce` response header, valid for the configured
    /// lifetime from `now`; `None` when nonces are not configured.
    pub fn issue_nonce(&self, now: OffsetDateTime) -> Option<String> {
        self.nonces.as_ref().map(|n| n.issue(now))
    }

    /// Verifies `proof` (the `DPoP` request header) for `request` at `now`, and records
    /// its `jti` so the same proof is refused next time. The `jti` is recorded only
    /// when every other check passed.
    pub fn verify(
        &self,
        proof: &str,
        request: &DpopRequest<'_>,
        now: OffsetDateTime,
    ) -> Result<VerifiedProof, DpopError> {
        if proof.len() > MAX_PROOF_BYTES {
            return Err(DpopError::TooLarge {
                max: MAX_PROOF_BYTES,
            });
        }
        let parts = proof::split(proof)?;
        let (alg, jwk) = proof::check_header(&parts.header, &self.config.allowed_algorithms)?;
        key::verify_signature(alg, jwk, parts.message.as_bytes(), &parts.signature)?;
        let jkt = jwk_thumbprint(&Value::Object(jwk.clone()))?;

        let claims = Claims::from_json(proof::decode_object("claims", parts.claims_b64)?)?;
        if claims.htm != request.method {
            return Err(DpopError::MethodMismatch);
        }
        let htu = htu::normalize(&claims.htu).ok_or(DpopError::InvalidClaim("htu"))?;
        if htu::normalize(request.url).as_ref() != Some(&htu) {
            return Err(DpopError::UrlMismatch);
        }
        let now_s = now.unix_timestamp();
        let oldest = now_s.saturating_sub(self.config.max_age.whole_seconds());
        let newest = now_s.saturating_add(self.config.max_clock_skew.whole_seconds());
        if claims.iat < oldest || claims.iat > newest {
            return Err(DpopError::IssuedOutOfWindow);
        }
        let iat = OffsetDateTime::from_unix_timestamp(claims.iat)
            .map_err(|_| DpopError::IssuedOutOfWindow)?;
        if let Some(token) = request.access_token {
            match &claims.ath {
                None => return Err(DpopError::MissingAccessTokenHash),
                Some(Value::String(ath)) if *ath == access_token_hash(token) => {}
                Some(_) => return Err(DpopError::AccessTokenHashMismatch),
            }
        }
        if let Some(nonces) = &self.nonces {
            match &claims.nonce {
                None => return Err(DpopError::NonceRequired),
                Some(Value::String(nonce)) => nonces.check(nonce, now)?,
                Some(_) => return Err(DpopError::NonceInvalid),
            }
        }

        // Last: a proof refused for any other reason must not use up its jti.
        let window = self
            .config
            .max_age
            .saturating_add(self.config.max_clock_skew);
        let forget_after = claims.iat.saturating_add(window.whole_seconds());
        self.replay
            .check_and_insert(&jkt, &claims.jti, forget_after, now_s)?;
        Ok(VerifiedProof {
            jkt,
            jti: claims.jti,
            iat,
        })
    }
}
