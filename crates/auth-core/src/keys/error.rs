//! Why a key was refused.

use super::SigningAlgorithm;

/// Why a key was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The HMAC secret is shorter than the algorithm's hash.
    #[error("HMAC secret for {alg} must be at least {min} bytes, got {len}")]
    WeakHmacSecret {
        /// Algorithm.
        alg: SigningAlgorithm,
        /// Minimum length.
        min: usize,
        /// Given length.
        len: usize,
    },
    /// The RSA modulus is under 2048 bits.
    #[error("RSA key must be at least 2048 bits, got {bits}")]
    WeakRsaKey {
        /// Given modulus size.
        bits: usize,
    },
    /// The material does not parse as a key of the pinned algorithm.
    #[error("key `{kid}` is not a valid {alg} key")]
    InvalidKey {
        /// Key id.
        kid: String,
        /// Algorithm.
        alg: SigningAlgorithm,
    },
    /// A trial signature did not verify with the key's own public part.
    #[error("key `{kid}` failed its trial sign/verify")]
    TrialFailed {
        /// Key id.
        kid: String,
    },
    /// Empty or duplicate kid, or an active kid that is not a signing key.
    #[error("keyring: {0}")]
    Keyring(String),
    /// Signing a token failed.
    #[error("signing failed")]
    Signing(#[source] jsonwebtoken::errors::Error),
    /// A key file could not be read.
    #[error("key file: {0}")]
    File(String),
}
