//! The keyring: named keys, each pinned to one algorithm; one signs, all verify.

use std::collections::HashMap;
use std::fmt;
use std::sync::Once;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};

/// Algorithms a key can be pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256; secret of at least 32 bytes.
    HS256,
    /// HMAC-SHA384; secret of at least 48 bytes.
    HS384,
    /// HMAC-SHA512; secret of at least 64 bytes.
    HS512,
    /// Ed25519.
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256; modulus of at least 2048 bits.
    RS256,
}

impl SigningAlgorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::HS256 => "HS256",
            SigningAlgorithm::HS384 => "HS384",
            SigningAlgorithm::HS512 => "HS512",
            SigningAlgorithm::EdDSA => "EdDSA",
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::RS256 => "RS256",
        }
    }

    /// The jsonwebtoken algorithm.
    pub fn jwt(self) -> Algorithm {
        match self {
            SigningAlgorithm::HS256 => Algorithm::HS256,
            SigningAlgorithm::HS384 => Algorithm::HS384,
            SigningAlgorithm::HS512 => Algorithm::HS512,
            SigningAlgorithm::EdDSA => Algorithm::EdDSA,
            SigningAlgorithm::ES256 => Algorithm::ES256,
            SigningAlgorithm::RS256 => Algorithm::RS256,
        }
    }

    fn min_hmac_secret(self) -> Option<usize> {
        match self {
            SigningAlgorithm::HS256 => Some(32),
            SigningAlgorithm::HS384 => Some(48),
            SigningAlgorithm::HS512 => Some(64),
            _ => None,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// Key material as stored in a key file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyMaterial {
    /// An HMAC secret, base64 (standard alphabet).
    HmacSecretB64(String),
    /// A private key, PKCS#8 DER in base64 (EdDSA, ES256, RS256).
    Pkcs8DerB64(String),
    /// A private key in PEM (PKCS#8; PKCS#1 accepted for RSA).
    PrivatePem(String),
    /// A public key in PEM: verifies only, never signs.
    PublicPem(String),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyMaterial::PublicPem(p) => f.debug_tuple("PublicPem").field(p).finish(),
            _ => f.write_str("KeyMaterial(***)"),
        }
    }
}

impl KeyMaterial {
    /// Generates new material for `alg` from the OS random source.
    pub fn generate(alg: SigningAlgorithm) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let failed = || KeyError::InvalidKey {
            kid: String::new(),
            alg,
        };
        Ok(match alg {
            SigningAlgorithm::HS256 | SigningAlgorithm::HS384 | SigningAlgorithm::HS512 => {
                let mut secret = vec![0u8; alg.min_hmac_secret().unwrap_or(64)];
                getrandom::fill(&mut secret).map_err(|_| failed())?;
                KeyMaterial::HmacSecretB64(STANDARD.encode(secret))
            }
            SigningAlgorithm::EdDSA => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| failed())?;
                KeyMaterial::Pkcs8DerB64(STANDARD.encode(doc.as_ref()))
            }
            SigningAlgorithm::ES256 => {
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| failed())?;
                KeyMaterial::Pkcs8DerB64(STANDARD.encode(doc.as_ref()))
            }
            SigningAlgorithm::RS256 => {
                use aws_lc_rs::encoding::AsDer;
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| failed())?;
                let der = pair.as_der().map_err(|_| failed())?;
                KeyMaterial::Pkcs8DerB64(STANDARD.encode(der.as_ref()))
            }
        })
    }
}

/// One entry of a key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// Key id, sent in every token header.
    pub kid: String,
    /// The one algorithm this key is used with.
    pub alg: SigningAlgorithm,
    /// The material.
    #[serde(flatten)]
    pub material: KeyMaterial,
}

/// A key file: the keys and which one signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringSpec {
    /// Kid of the signing key.
    pub active: String,
    /// All keys; every one verifies.
    pub keys: Vec<KeySpec>,
}

impl KeyringSpec {
    /// A spec with one freshly generated key.
    pub fn generate(kid: &str, alg: SigningAlgorithm) -> Result<Self, KeyError> {
        Ok(Self {
            active: kid.to_owned(),
            keys: vec![KeySpec {
                kid: kid.to_owned(),
                alg,
                material: KeyMaterial::generate(alg)?,
            }],
        })
    }
}

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
    jwk: Option<serde_json::Value>,
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

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pem_der(pem_text: &str, kid: &str, alg: SigningAlgorithm) -> Result<Vec<u8>, KeyError> {
    let invalid = || KeyError::InvalidKey {
        kid: kid.to_owned(),
        alg,
    };
    let body: String = pem_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).map_err(|_| invalid())
}

impl Key {
    fn load(spec: &KeySpec) -> Result<Self, KeyError> {
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
                        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(der)})
                    }
                    SigningAlgorithm::ES256 if der.len() == 65 && der[0] == 4 => {
                        serde_json::json!({"kty": "EC", "crv": "P-256",
                            "x": b64url(&der[1..33]), "y": b64url(&der[33..])})
                    }
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
                        serde_json::json!({"kty": "RSA", "n": b64url(&c.n), "e": b64url(&c.e)})
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
                    serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(x)}),
                )
            }
            SigningAlgorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).ok()?;
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return None;
                }
                (
                    EncodingKey::from_ec_der(der),
                    DecodingKey::from_ec_der(point),
                    serde_json::json!({"kty": "EC", "crv": "P-256",
                        "x": b64url(&point[1..33]), "y": b64url(&point[33..])}),
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
                    serde_json::json!({"kty": "RSA", "n": b64url(&c.n), "e": b64url(&c.e)}),
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

/// Just enough DER reading to size RSA keys before aws-lc (which refuses small ones
/// without saying why) and to unwrap PKCS#8.
mod der {
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }

    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;

    /// The RSAPrivateKey inside a PKCS#8 PrivateKeyInfo.
    pub(super) fn pkcs8_inner(der: &[u8]) -> Option<&[u8]> {
        let (SEQUENCE, body, _) = tlv(der)? else {
            return None;
        };
        let (INTEGER, _, rest) = tlv(body)? else {
            return None;
        };
        let (SEQUENCE, _, rest) = tlv(rest)? else {
            return None;
        };
        let (OCTET_STRING, inner, _) = tlv(rest)? else {
            return None;
        };
        Some(inner)
    }

    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }

    fn push_uint(out: &mut Vec<u8>, value: &[u8]) {
        let value = &value[value.iter().take_while(|b| **b == 0).count()..];
        let pad = value.first().is_some_and(|b| b & 0x80 != 0);
        out.push(INTEGER);
        push_len(out, value.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
    }

    /// A PKCS#1 RSAPublicKey from big-endian modulus and exponent.
    pub(super) fn rsa_public_key(n: &[u8], e: &[u8]) -> Vec<u8> {
        let mut body = Vec::with_capacity(n.len() + e.len() + 16);
        push_uint(&mut body, n);
        push_uint(&mut body, e);
        let mut out = vec![SEQUENCE];
        push_len(&mut out, body.len());
        out.extend(body);
        out
    }

    /// Modulus size of a PKCS#1 RSAPrivateKey, PKCS#1 RSAPublicKey or the key inside
    /// a SubjectPublicKeyInfo.
    pub(super) fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
        let (SEQUENCE, body, _) = tlv(der)? else {
            return None;
        };
        let (tag, first, rest) = tlv(body)?;
        let n = match tag {
            // RSAPrivateKey: version, n, ...; RSAPublicKey: n, e.
            INTEGER if first.len() <= 1 => tlv(rest).filter(|t| t.0 == INTEGER)?.1,
            INTEGER => first,
            // SubjectPublicKeyInfo: algorithm, BIT STRING { RSAPublicKey }.
            SEQUENCE => {
                let (0x03, bits, _) = tlv(rest)? else {
                    return None;
                };
                return rsa_modulus_bits(bits.get(1..)?);
            }
            _ => return None,
        };
        Some(super::modulus_bits(n))
    }
}

fn modulus_bits(n: &[u8]) -> usize {
    let n = match n.iter().position(|b| *b != 0) {
        Some(i) => &n[i..],
        None => return 0,
    };
    n.len() * 8 - n[0].leading_zeros() as usize
}

/// The loaded keys: one signs, every one verifies (key rotation).
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
    by_kid: HashMap<String, usize>,
    active: usize,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.keys[self.active].kid)
            .field("keys", &self.keys)
            .finish()
    }
}

impl Keyring {
    /// Loads every key of the spec, refusing weak or broken keys.
    pub fn from_spec(spec: &KeyringSpec) -> Result<Self, KeyError> {
        let mut keys = Vec::with_capacity(spec.keys.len());
        let mut by_kid = HashMap::new();
        for key_spec in &spec.keys {
            let key = Key::load(key_spec)?;
            if by_kid.insert(key.kid.clone(), keys.len()).is_some() {
                return Err(KeyError::Keyring(format!("duplicate kid `{}`", key.kid)));
            }
            keys.push(key);
        }
        let active = *by_kid.get(&spec.active).ok_or_else(|| {
            KeyError::Keyring(format!("active kid `{}` is not listed", spec.active))
        })?;
        if keys[active].encoding.is_none() {
            return Err(KeyError::Keyring(format!(
                "active kid `{}` has no private key",
                spec.active
            )));
        }
        Ok(Self {
            keys,
            by_kid,
            active,
        })
    }

    /// Reads a JSON key file (see [`KeyringSpec`]).
    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        let spec: KeyringSpec =
            serde_json::from_str(json).map_err(|e| KeyError::File(e.to_string()))?;
        Self::from_spec(&spec)
    }

    /// A keyring of one freshly generated key (tests, development).
    pub fn generate(kid: &str, alg: SigningAlgorithm) -> Result<Self, KeyError> {
        Self::from_spec(&KeyringSpec::generate(kid, alg)?)
    }

    pub(crate) fn signing_key(&self) -> &Key {
        &self.keys[self.active]
    }

    pub(crate) fn key(&self, kid: &str) -> Option<&Key> {
        self.by_kid.get(kid).map(|i| &self.keys[*i])
    }

    /// Kid of the signing key.
    pub fn active_kid(&self) -> &str {
        &self.keys[self.active].kid
    }

    /// The public keys as a JWKS document (`{"keys": [...]}`); HMAC keys are never listed.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .iter()
            .filter_map(|k| {
                let mut jwk = k.jwk.clone()?;
                let obj = jwk.as_object_mut()?;
                obj.insert("kid".into(), k.kid.clone().into());
                obj.insert("alg".into(), k.alg.as_str().into());
                obj.insert("use".into(), "sig".into());
                Some(jwk)
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kid: &str, alg: SigningAlgorithm, material: KeyMaterial) -> KeyringSpec {
        KeyringSpec {
            active: kid.into(),
            keys: vec![KeySpec {
                kid: kid.into(),
                alg,
                material,
            }],
        }
    }

    fn hmac(len: usize) -> KeyMaterial {
        KeyMaterial::HmacSecretB64(STANDARD.encode(vec![7u8; len]))
    }

    #[test]
    fn every_algorithm_generates_signs_and_verifies() {
        for alg in [
            SigningAlgorithm::HS256,
            SigningAlgorithm::HS384,
            SigningAlgorithm::HS512,
            SigningAlgorithm::EdDSA,
            SigningAlgorithm::ES256,
            SigningAlgorithm::RS256,
        ] {
            let ring = Keyring::generate("k", alg).unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(ring.signing_key().alg, alg);
            assert_eq!(ring.active_kid(), "k");
        }
    }

    #[test]
    fn weak_hmac_secrets_are_refused() {
        for (alg, min) in [
            (SigningAlgorithm::HS256, 32),
            (SigningAlgorithm::HS384, 48),
            (SigningAlgorithm::HS512, 64),
        ] {
            let err = Keyring::from_spec(&spec("k", alg, hmac(min - 1))).unwrap_err();
            assert!(
                matches!(err, KeyError::WeakHmacSecret { .. }),
                "{alg}: {err}"
            );
            assert!(Keyring::from_spec(&spec("k", alg, hmac(min))).is_ok());
        }
    }

    #[test]
    fn rsa_under_2048_bits_is_refused() {
        let private =
            KeyMaterial::PrivatePem(include_str!("../tests/fixtures/rsa1024-private.pem").into());
        let err = Keyring::from_spec(&spec("r", SigningAlgorithm::RS256, private)).unwrap_err();
        assert!(matches!(err, KeyError::WeakRsaKey { bits: 1024 }), "{err}");
        let public =
            KeyMaterial::PublicPem(include_str!("../tests/fixtures/rsa1024-public.pem").into());
        let err = Keyring::from_spec(&spec("r", SigningAlgorithm::RS256, public)).unwrap_err();
        assert!(matches!(err, KeyError::WeakRsaKey { bits: 1024 }), "{err}");
        let ok =
            KeyMaterial::PrivatePem(include_str!("../tests/fixtures/rsa2048-private.pem").into());
        assert!(Keyring::from_spec(&spec("r", SigningAlgorithm::RS256, ok)).is_ok());
    }

    #[test]
    fn pem_keys_load_for_their_algorithm_only() {
        let ed = include_str!("../tests/fixtures/ed25519-private.pem");
        let ec = include_str!("../tests/fixtures/p256-private.pem");
        assert!(
            Keyring::from_spec(&spec(
                "e",
                SigningAlgorithm::EdDSA,
                KeyMaterial::PrivatePem(ed.into())
            ))
            .is_ok()
        );
        assert!(
            Keyring::from_spec(&spec(
                "e",
                SigningAlgorithm::ES256,
                KeyMaterial::PrivatePem(ec.into())
            ))
            .is_ok()
        );
        // A key is pinned: the Ed25519 key cannot be loaded as ES256 or RS256, nor as HMAC.
        for alg in [
            SigningAlgorithm::ES256,
            SigningAlgorithm::RS256,
            SigningAlgorithm::HS256,
        ] {
            let err = Keyring::from_spec(&spec("e", alg, KeyMaterial::PrivatePem(ed.into())))
                .unwrap_err();
            assert!(matches!(err, KeyError::InvalidKey { .. }), "{alg}: {err}");
        }
        let garbage = KeyMaterial::Pkcs8DerB64(STANDARD.encode(b"definitely not a key"));
        assert!(matches!(
            Keyring::from_spec(&spec("g", SigningAlgorithm::EdDSA, garbage)).unwrap_err(),
            KeyError::InvalidKey { .. }
        ));
    }

    #[test]
    fn keyring_rules() {
        let mut s = KeyringSpec::generate("a", SigningAlgorithm::HS256).unwrap();
        s.keys.push(s.keys[0].clone());
        assert!(
            matches!(Keyring::from_spec(&s).unwrap_err(), KeyError::Keyring(_)),
            "duplicate kid"
        );
        let mut s = KeyringSpec::generate("a", SigningAlgorithm::HS256).unwrap();
        s.active = "missing".into();
        assert!(matches!(
            Keyring::from_spec(&s).unwrap_err(),
            KeyError::Keyring(_)
        ));
        let public_only = spec(
            "p",
            SigningAlgorithm::EdDSA,
            KeyMaterial::PublicPem(include_str!("../tests/fixtures/ed25519-public.pem").into()),
        );
        assert!(
            matches!(
                Keyring::from_spec(&public_only).unwrap_err(),
                KeyError::Keyring(_)
            ),
            "active key must sign"
        );
        assert!(Keyring::from_json("{not json").is_err());
    }

    #[test]
    fn verify_only_public_keys_verify_their_tokens() {
        let signer = Keyring::from_spec(&spec(
            "rsa",
            SigningAlgorithm::RS256,
            KeyMaterial::PrivatePem(include_str!("../tests/fixtures/rsa2048-private.pem").into()),
        ))
        .unwrap();
        let mut verifier_spec = KeyringSpec::generate("current", SigningAlgorithm::EdDSA).unwrap();
        verifier_spec.keys.push(KeySpec {
            kid: "rsa".into(),
            alg: SigningAlgorithm::RS256,
            material: KeyMaterial::PublicPem(
                include_str!("../tests/fixtures/rsa2048-public.pem").into(),
            ),
        });
        verifier_spec.keys.push(KeySpec {
            kid: "ed-old".into(),
            alg: SigningAlgorithm::EdDSA,
            material: KeyMaterial::PublicPem(
                include_str!("../tests/fixtures/ed25519-public.pem").into(),
            ),
        });
        let verifier = Keyring::from_spec(&verifier_spec).unwrap();
        let message = b"header.payload";
        let signature = jsonwebtoken::crypto::sign(
            message,
            signer.signing_key().encoding.as_ref().unwrap(),
            jsonwebtoken::Algorithm::RS256,
        )
        .unwrap();
        assert!(verifier.key("rsa").unwrap().verify(message, &signature));
        assert!(
            !verifier
                .key("rsa")
                .unwrap()
                .verify(b"header.other", &signature)
        );
        assert!(!verifier.key("ed-old").unwrap().verify(message, &signature));
        assert_eq!(verifier.jwks()["keys"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn rotation_keeps_old_keys_verifying() {
        let old = KeyringSpec::generate("old", SigningAlgorithm::EdDSA).unwrap();
        let mut both = KeyringSpec::generate("new", SigningAlgorithm::ES256).unwrap();
        both.keys.extend(old.keys.clone());
        let ring = Keyring::from_spec(&both).unwrap();
        assert_eq!(ring.active_kid(), "new");
        assert!(ring.key("old").is_some());
        assert!(ring.key("new").is_some());
    }

    #[test]
    fn jwks_lists_public_keys_only_and_they_verify() {
        let mut s = KeyringSpec::generate("ed", SigningAlgorithm::EdDSA).unwrap();
        for (kid, alg) in [
            ("ec", SigningAlgorithm::ES256),
            ("rs", SigningAlgorithm::RS256),
            ("hs", SigningAlgorithm::HS256),
        ] {
            s.keys.extend(KeyringSpec::generate(kid, alg).unwrap().keys);
        }
        let ring = Keyring::from_spec(&s).unwrap();
        let jwks = ring.jwks();
        let text = jwks.to_string();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3, "HMAC secrets are never published: {text}");
        assert!(!text.contains("\"d\""), "no private parts");
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).unwrap();
        for kid in ["ed", "ec", "rs"] {
            let key = ring.key(kid).unwrap();
            let mut header = jsonwebtoken::Header::new(key.alg.jwt());
            header.kid = Some(kid.into());
            let claims = serde_json::json!({"sub": "1", "exp": 4_000_000_000u64});
            let token =
                jsonwebtoken::encode(&header, &claims, key.encoding.as_ref().unwrap()).unwrap();
            let jwk = set.find(kid).unwrap();
            let decoding = DecodingKey::from_jwk(jwk).unwrap();
            let mut validation = jsonwebtoken::Validation::new(key.alg.jwt());
            validation.required_spec_claims.clear();
            jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation)
                .unwrap_or_else(|e| panic!("{kid}: {e}"));
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = KeyringSpec::generate("a", SigningAlgorithm::HS256).unwrap();
        let KeyMaterial::HmacSecretB64(secret) = &s.keys[0].material else {
            panic!()
        };
        assert!(!format!("{s:?}").contains(secret.as_str()));
        let ring = Keyring::from_spec(&s).unwrap();
        assert!(!format!("{ring:?}").contains(secret.as_str()));
    }
}
