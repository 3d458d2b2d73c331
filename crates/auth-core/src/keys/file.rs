//! The key file: key material, key entries and the keyring spec.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::{KeyError, SigningAlgorithm};

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

pub(super) fn pem_der(
    pem_text: &str,
    kid: &str,
    alg: SigningAlgorithm,
) -> Result<Vec<u8>, KeyError> {
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
