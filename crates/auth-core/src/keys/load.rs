//! Loading a key: parsing its material, deriving the public half and a trial signature.

use std::fmt;
use std::sync::Once;

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::der::{self, modulus_bits};
use super::file::pem_der;
use super::jwks::PublicJwk;
use super::{KeyError, KeyMaterial, KeySpec, SigningAlgorithm};

/// A key prepared once for verification, so the per-request path only hashes and checks.
#[derive(Clone)]
enum Verifier {
    Hmac(Box<aws_lc_rs::hmac::Key>),
    Public(aws_lc_rs::signature::ParsedPublicKey),
}

impl Verifier {
    fn new(alg: SigningAlgorithm, decoding: &DecodingKey) -> Option<Self> {
        use aws_lc_rs::signature as sig;
        let bytes = decoding.try_get_as_bytes().ok();
        Some(match alg {
            SigningAlgorithm::HS256 => Verifier::Hmac(Box::new(aws_lc_rs::hmac::Key::new(
                aws_lc_rs::hmac::HMAC_SHA256,
                bytes?,
            ))),
            SigningAlgorithm::HS384 => Verifier::Hmac(Box::new(aws_lc_rs::hmac::Key::new(
                aws_lc_rs::hmac::HMAC_SHA384,
                bytes?,
            ))),
            SigningAlgorithm::HS512 => Verifier::Hmac(Box::new(aws_lc_rs::hmac::Key::new(
                aws_lc_rs::hmac::HMAC_SHA512,
                bytes?,
            ))),
            SigningAlgorithm::EdDSA => {
                Verifier::Public(sig::ParsedPublicKey::new(&sig::ED25519, bytes?).ok()?)
            }
            SigningAlgorithm::ES256 => Verifier::Public(
                sig::ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, bytes?).ok()?,
            ),
            SigningAlgorithm::RS256 => {
                let der = match decoding.kind() {
                    jsonwebtoken::DecodingKeyKind::RsaModulusExponent { n, e } => {
                        der::rsa_public_key(n, e)
                    }
                    jsonwebtoken::DecodingKeyKind::SecretOrDer(der) => der.clone(),
                };
                Verifier::Public(
                    sig::ParsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, der).ok()?,
                )
            }
        })
    }

    /// Checks a base64url signature over `message`.
    fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        let mut buf = [0u8; 1024];
        let Ok(n) = URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut buf) else {
            return false;
        };
        let signature = &buf[..n];
        match self {
            Verifier::Hmac(key) => aws_lc_rs::hmac::verify(key, message, signature).is_ok(),
            Verifier::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

/// A loaded key.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: String,
    pub(crate) alg: SigningAlgorithm,
    pub(crate) encoding: Option<EncodingKey>,
    verifier: Verifier,
    pub(super) jwk: Option<PublicJwk>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("signs", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another provider already installed by the application is fine too: it is
        // only the absence of one that would panic.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    });
}

impl Key {
    pub(super) fn load(spec: &KeySpec) -> Result<Self, KeyError> {
        install_crypto_provider();
        let kid = spec.kid.clone();
        let alg = spec.alg;
        let invalid = || KeyError::InvalidKey {
            kid: kid.clone(),
            alg,
        };
        if kid.is_empty() || kid.len() > 128 {
            return Err(KeyError::Keyring("kid must be 1 to 128 characters".into()));
        }
        let key = match (&spec.material, alg.min_hmac_secret()) {
            (KeyMaterial::HmacSecretB64(b64), Some(min)) => {
                let secret = STANDARD.decode(b64).map_err(|_| invalid())?;
                if secret.len() < min {
                    return Err(KeyError::WeakHmacSecret {
                        alg,
                        min,
                        len: secret.len(),
                    });
                }
                Key {
                    kid: kid.clone(),
                    alg,
                    encoding: Some(EncodingKey::from_secret(&secret)),
                    verifier: Verifier::new(alg, &DecodingKey::from_secret(&secret))
                        .ok_or_else(invalid)?,
                    jwk: None,
                }
            }
            (KeyMaterial::Pkcs8DerB64(_) | KeyMaterial::PrivatePem(_), None) => {
                let der = match &spec.material {
                    KeyMaterial::Pkcs8DerB64(b64) => STANDARD.decode(b64).map_err(|_| invalid())?,
                    KeyMaterial::PrivatePem(pem) => pem_der(pem, &kid, alg)?,
                    _ => unreachable!("matched above"),
                };
                Self::from_private_der(&kid, alg, &der).ok_or_else(invalid)??
            }
            (KeyMaterial::PublicPem(pem), None) => {
                let bytes = pem.as_bytes();
                let decoding = match alg {
                    SigningAlgorithm::EdDSA => DecodingKey::from_ed_pem(bytes),
                    SigningAlgorithm::ES256 => DecodingKey::from_ec_pem(bytes),
                    SigningAlgorithm::RS256 => DecodingKey::from_rsa_pem(bytes),
                    _ => return Err(invalid()),
                }
                .map_err(|_| invalid())?;
                let der = decoding.try_get_as_bytes().map_err(|_| invalid())?;
                let jwk = match alg {
                    SigningAlgorithm::EdDSA if der.len() == 32 => {
                        PublicJwk::Ed25519 { x: der.to_vec() }
                    }
                    SigningAlgorithm::ES256 => PublicJwk::p256_point(der).ok_or_else(invalid)?,
                    SigningAlgorithm::RS256 => {
                        let bits = der::rsa_modulus_bits(der).ok_or_else(invalid)?;
                        if bits < 2048 {
                            return Err(KeyError::WeakRsaKey { bits });
                        }
                        let public =
                            aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|_| invalid())?;
                        let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(&public);
                        let bits = modulus_bits(&c.n);
                        if bits < 2048 {
                            return Err(KeyError::WeakRsaKey { bits });
                        }
                        PublicJwk::Rsa { n: c.n, e: c.e }
                    }
                    _ => return Err(invalid()),
                };
                let verifier = Verifier::new(alg, &decoding).ok_or_else(invalid)?;
                Key {
                    kid: kid.clone(),
                    alg,
                    encoding: None,
                    verifier,
                    jwk: Some(jwk),
                }
            }
            _ => return Err(invalid()),
        };
        key.trial()?;
        Ok(key)
    }

    /// Parses a private key and derives its public half. `None` if it does not parse.
    fn from_private_der(
        kid: &str,
        alg: SigningAlgorithm,
        der: &[u8],
    ) -> Option<Result<Self, KeyError>> {
        let (encoding, decoding, jwk) = match alg {
            SigningAlgorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).ok()?;
                let x = pair.public_key().as_ref();
                (
                    EncodingKey::from_ed_der(der),
                    DecodingKey::from_ed_der(x),
                    PublicJwk::Ed25519 { x: x.to_vec() },
                )
            }
            SigningAlgorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).ok()?;
                let point = pair.public_key().as_ref();
                let jwk = PublicJwk::p256_point(point)?;
                (
                    EncodingKey::from_ec_der(der),
                    DecodingKey::from_ec_der(point),
                    jwk,
                )
            }
            SigningAlgorithm::RS256 => {
                // jsonwebtoken signs with a PKCS#1 RSAPrivateKey; unwrap PKCS#8 if given.
                let pkcs1 = der::pkcs8_inner(der).unwrap_or(der);
                let bits = der::rsa_modulus_bits(pkcs1)?;
                if bits < 2048 {
                    return Some(Err(KeyError::WeakRsaKey { bits }));
                }
                let pair = RsaKeyPair::from_der(pkcs1).ok()?;
                let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                (
                    EncodingKey::from_rsa_der(pkcs1),
                    DecodingKey::from_rsa_raw_components(&c.n, &c.e),
                    PublicJwk::Rsa { n: c.n, e: c.e },
                )
            }
            _ => return None,
        };
        let verifier = Verifier::new(alg, &decoding)?;
        Some(Ok(Key {
            kid: kid.to_owned(),
            alg,
            encoding: Some(encoding),
            verifier,
            jwk: Some(jwk),
        }))
    }

    /// Signs and verifies a fixed message, so a broken key fails at load, not at login.
    fn trial(&self) -> Result<(), KeyError> {
        let Some(encoding) = &self.encoding else {
            return Ok(());
        };
        let failed = || KeyError::TrialFailed {
            kid: self.kid.clone(),
        };
        let message = b"auth-tokens trial signature";
        let sig =
            jsonwebtoken::crypto::sign(message, encoding, self.alg.jwt()).map_err(|_| failed())?;
        if self.verify(message, &sig) {
            Ok(())
        } else {
            Err(failed())
        }
    }

    /// Checks a base64url signature over `message` with this key.
    pub(crate) fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        self.verifier.verify(message, signature_b64)
    }
}
