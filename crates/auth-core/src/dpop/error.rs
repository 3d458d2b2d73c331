//! Why a DPoP proof or a DPoP configuration was refused.

/// Why a DPoP proof was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The proof is longer than [`MAX_PROOF_BYTES`](super::MAX_PROOF_BYTES).
    #[error("DPoP proof longer than {max} bytes")]
    TooLarge {
        /// The longest accepted proof.
        max: usize,
    },
    /// The proof is not a compact JWS of three parts.
    #[error("DPoP proof is not a compact JWS")]
    Malformed,
    /// A part of the proof is not base64url without padding.
    #[error("DPoP proof {part} is not base64url")]
    InvalidBase64 {
        /// `header`, `claims` or `signature`.
        part: &'static str,
        /// The decoding error.
        #[source]
        source: base64::DecodeError,
    },
    /// The header or the claims are not the expected JSON object.
    #[error("DPoP proof {part} is not valid JSON")]
    InvalidJson {
        /// `header` or `claims`.
        part: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The header `typ` is not `dpop+jwt`.
    #[error("DPoP proof typ is not dpop+jwt")]
    WrongType,
    /// The header `alg` is absent, unknown, symmetric, `none` or not configured.
    #[error("DPoP proof algorithm `{0}` is not allowed")]
    AlgorithmNotAllowed(String),
    /// The header names critical extensions (`crit`), none of which are understood.
    #[error("DPoP proof has critical header extensions")]
    CriticalHeader,
    /// The header has no `jwk`, or it is not a JSON object.
    #[error("DPoP proof has no jwk header")]
    MissingKey,
    /// The header `jwk` carries private or symmetric key members.
    #[error("DPoP proof jwk carries private key material")]
    PrivateKey,
    /// The header `jwk` is not a key of the type and curve `alg` needs.
    #[error("DPoP proof jwk does not fit algorithm {alg}")]
    KeyAlgorithmMismatch {
        /// The header `alg`.
        alg: String,
    },
    /// The header `jwk` is malformed or too weak (RSA under 2048 bits).
    #[error("DPoP proof jwk is not a valid public key")]
    InvalidKey,
    /// The signature does not verify with the header `jwk`.
    #[error("DPoP proof signature does not verify")]
    BadSignature,
    /// A required claim is absent or of the wrong JSON type.
    #[error("DPoP proof claim `{0}` is missing or invalid")]
    InvalidClaim(&'static str),
    /// `htm` differs from the request method.
    #[error("DPoP proof htm does not match the request method")]
    MethodMismatch,
    /// `htu` differs from the request URL (query and fragment ignored).
    #[error("DPoP proof htu does not match the request URL")]
    UrlMismatch,
    /// `iat` is older than the maximum age or further in the future than the skew.
    #[error("DPoP proof iat is outside the acceptance window")]
    IssuedOutOfWindow,
    /// `ath` is absent although the request carries an access token.
    #[error("DPoP proof has no ath for the access token")]
    MissingAccessTokenHash,
    /// `ath` is not the hash of the request's access token.
    #[error("DPoP proof ath does not match the access token")]
    AccessTokenHashMismatch,
    /// Nonces are required and the proof has no `nonce`.
    #[error("DPoP proof nonce required")]
    NonceRequired,
    /// The `nonce` was not issued by this server, or it has expired.
    #[error("DPoP proof nonce is invalid or expired")]
    NonceInvalid,
    /// The same key already used this `jti` within the acceptance window.
    #[error("DPoP proof jti was already used")]
    Replayed,
    /// The replay cache is full of live entries; the proof is refused (fail closed).
    #[error("DPoP replay cache is full")]
    ReplayCacheFull,
}

impl DpopError {
    /// The OAuth error code for the response (RFC 9449 section 12.2):
    /// `use_dpop_nonce` for nonce refusals, `invalid_dpop_proof` otherwise.
    pub fn error_code(&self) -> &'static str {
        match self {
            DpopError::NonceRequired | DpopError::NonceInvalid => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// Why a [`DpopConfig`](super::DpopConfig) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopConfigError {
    /// An HMAC algorithm was listed: DPoP proofs are signed with asymmetric keys only.
    #[error("DPoP algorithm {0} is symmetric; only asymmetric algorithms are allowed")]
    SymmetricAlgorithm(String),
    /// The algorithm list is empty.
    #[error("DPoP needs at least one allowed algorithm")]
    NoAlgorithms,
    /// `max_age` or `max_clock_skew` is negative.
    #[error("DPoP {0} must not be negative")]
    NegativeDuration(&'static str),
    /// The replay cache capacity is zero.
    #[error("DPoP replay capacity must be at least 1")]
    ZeroReplayCapacity,
    /// The nonce secret is shorter than [`MIN_NONCE_SECRET_BYTES`](super::MIN_NONCE_SECRET_BYTES).
    #[error("DPoP nonce secret must be at least {min} bytes, got {len}")]
    WeakNonceSecret {
        /// Minimum length.
        min: usize,
        /// Given length.
        len: usize,
    },
    /// The nonce lifetime is not positive.
    #[error("DPoP nonce lifetime must be positive")]
    NonceLifetime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nonce_errors_ask_for_a_nonce() {
        assert_eq!(DpopError::NonceRequired.error_code(), "use_dpop_nonce");
        assert_eq!(DpopError::NonceInvalid.error_code(), "use_dpop_nonce");
        for other in [
            DpopError::Malformed,
            DpopError::BadSignature,
            DpopError::Replayed,
            DpopError::ReplayCacheFull,
            DpopError::MissingAccessTokenHash,
        ] {
            assert_eq!(other.error_code(), "invalid_dpop_proof", "{other}");
        }
    }
}
