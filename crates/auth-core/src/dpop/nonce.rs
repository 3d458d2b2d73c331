//! Server-issued DPoP nonces (RFC 9449 section 8), stateless: the nonce carries its
//! own expiry and an HMAC over it, so any instance sharing the secret checks it.
//!
//! Format: base64url (no padding) of `expiry (unix seconds, 8 bytes big-endian) ||
//! HMAC-SHA256(secret, expiry bytes)`.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

use super::{DpopConfigError, DpopError};

/// Shortest accepted nonce secret.
pub const MIN_NONCE_SECRET_BYTES: usize = 32;

const NONCE_BYTES: usize = 8 + 32;

/// Nonce settings: the HMAC secret and how long an issued nonce stays valid.
#[derive(Clone)]
pub struct NonceConfig {
    secret: Vec<u8>,
    lifetime: Duration,
}

impl fmt::Debug for NonceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceConfig")
            .field("secret", &"***")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl NonceConfig {
    /// Nonce settings from a secret of at least [`MIN_NONCE_SECRET_BYTES`] and a
    /// positive lifetime.
    pub fn new(secret: impl Into<Vec<u8>>, lifetime: Duration) -> Result<Self, DpopConfigError> {
        let config = Self {
            secret: secret.into(),
            lifetime,
        };
        config.validate()?;
        Ok(config)
    }

    /// How long an issued nonce stays valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    pub(super) fn validate(&self) -> Result<(), DpopConfigError> {
        if self.secret.len() < MIN_NONCE_SECRET_BYTES {
            return Err(DpopConfigError::WeakNonceSecret {
                min: MIN_NONCE_SECRET_BYTES,
                len: self.secret.len(),
            });
        }
        if !self.lifetime.is_positive() {
            return Err(DpopConfigError::NonceLifetime);
        }
        Ok(())
    }
}

/// Issues and checks nonces with one prepared key.
pub(super) struct Nonces {
    key: hmac::Key,
    lifetime: Duration,
}

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nonces")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Nonces {
    pub(super) fn new(config: &NonceConfig) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &config.secret),
            lifetime: config.lifetime,
        }
    }

    /// A nonce valid until `now + lifetime`.
    pub(super) fn issue(&self, now: OffsetDateTime) -> String {
        let expiry = (now + self.lifetime).unix_timestamp().to_be_bytes();
        let tag = hmac::sign(&self.key, &expiry);
        let mut raw = [0u8; NONCE_BYTES];
        raw[..8].copy_from_slice(&expiry);
        raw[8..].copy_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Accepts a nonce this key issued whose expiry is still after `now`.
    pub(super) fn check(&self, nonce: &str, now: OffsetDateTime) -> Result<(), DpopError> {
        let mut raw = [0u8; NONCE_BYTES + 3];
        // The length check first keeps decode_slice's buffer bounds irrelevant.
        if nonce.len() != 54 {
            return Err(DpopError::NonceInvalid);
        }
        let n = URL_SAFE_NO_PAD
            .decode_slice(nonce, &mut raw)
            .map_err(|_| DpopError::NonceInvalid)?;
        if n != NONCE_BYTES {
            return Err(DpopError::NonceInvalid);
        }
        let (expiry, tag) = raw[..NONCE_BYTES].split_at(8);
        hmac::verify(&self.key, expiry, tag).map_err(|_| DpopError::NonceInvalid)?;
        let mut be = [0u8; 8];
        be.copy_from_slice(expiry);
        if now.unix_timestamp() < i64::from_be_bytes(be) {
            Ok(())
        } else {
            Err(DpopError::NonceInvalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn nonces(secret: &[u8]) -> Nonces {
        Nonces::new(&NonceConfig::new(secret, Duration::seconds(300)).unwrap())
    }

    #[test]
    fn a_nonce_is_valid_until_its_expiry() {
        let n = nonces(&[7; 32]);
        let nonce = n.issue(at(NOW));
        assert_eq!(nonce.len(), 54);
        assert!(n.check(&nonce, at(NOW)).is_ok());
        assert!(n.check(&nonce, at(NOW + 299)).is_ok());
        assert!(matches!(
            n.check(&nonce, at(NOW + 300)),
            Err(DpopError::NonceInvalid)
        ));
    }

    #[test]
    fn another_secret_or_a_changed_byte_is_invalid() {
        let nonce = nonces(&[7; 32]).issue(at(NOW));
        let other = nonces(&[8; 32]);
        assert!(matches!(
            other.check(&nonce, at(NOW)),
            Err(DpopError::NonceInvalid)
        ));
        // Pushing the expiry forward breaks the tag.
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        raw[7] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(&raw);
        let n = nonces(&[7; 32]);
        assert!(matches!(
            n.check(&forged, at(NOW)),
            Err(DpopError::NonceInvalid)
        ));
        for junk in [
            "",
            "abc",
            &nonce[..53],
            &format!("{nonce}A"),
            &"!".repeat(54),
        ] {
            assert!(
                matches!(n.check(junk, at(NOW)), Err(DpopError::NonceInvalid)),
                "{junk}"
            );
        }
    }

    #[test]
    fn weak_secrets_and_empty_lifetimes_are_refused() {
        assert_eq!(
            NonceConfig::new(vec![0; 31], Duration::seconds(60)).unwrap_err(),
            DpopConfigError::WeakNonceSecret { min: 32, len: 31 }
        );
        assert_eq!(
            NonceConfig::new(vec![0; 32], Duration::ZERO).unwrap_err(),
            DpopConfigError::NonceLifetime
        );
        let debug = format!(
            "{:?}",
            NonceConfig::new(vec![0x41; 32], Duration::MINUTE).unwrap()
        );
        assert!(!debug.contains("AAAA") && !debug.contains("65"), "{debug}");
    }
}
