//! Test helpers: client keys of each type that sign proofs, and a default request.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{DpopConfig, DpopError, DpopRequest, DpopVerifier, VerifiedProof, jwk_thumbprint};

pub(super) const NOW: i64 = 1_800_000_000;
pub(super) const URL: &str = "https://server.example.com/token";
pub(super) const TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

pub(super) fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap()
}

pub(super) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) enum SignWith {
    Jwt(EncodingKey),
    Rsa(RsaKeyPair, &'static dyn aws_lc_rs::signature::RsaEncoding),
}

/// A client key: how it signs, and its public jwk.
pub(super) struct Signer {
    pub(super) alg: &'static str,
    pub(super) key: SignWith,
    pub(super) jwk: Value,
}

pub(super) fn install_provider() {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

pub(super) fn es256() -> Signer {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = pair.to_pkcs8v1().unwrap();
    let point = pair.public_key().as_ref();
    assert_eq!(point.len(), 65);
    Signer {
        alg: "ES256",
        key: SignWith::Jwt(EncodingKey::from_ec_der(der.as_ref())),
        jwk: json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])}),
    }
}

pub(super) fn ed25519() -> Signer {
    let pair = Ed25519KeyPair::generate().unwrap();
    let der = pair.to_pkcs8().unwrap();
    Signer {
        alg: "EdDSA",
        key: SignWith::Jwt(EncodingKey::from_ed_der(der.as_ref())),
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())}),
    }
}

pub(super) fn rsa(alg: &'static str) -> Signer {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let c = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let encoding: &'static dyn aws_lc_rs::signature::RsaEncoding = match alg {
        "RS256" => &RSA_PKCS1_SHA256,
        _ => &RSA_PSS_SHA256,
    };
    Signer {
        alg,
        key: SignWith::Rsa(pair, encoding),
        jwk: json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e)}),
    }
}

impl Signer {
    pub(super) fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk})
    }

    pub(super) fn jkt(&self) -> String {
        jwk_thumbprint(&self.jwk).unwrap()
    }

    /// Signs `header` and `claims` as given (nothing added or checked).
    pub(super) fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        install_provider();
        let message = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = match &self.key {
            SignWith::Jwt(key) => {
                jsonwebtoken::crypto::sign(message.as_bytes(), key, self.alg.parse().unwrap())
                    .unwrap()
            }
            SignWith::Rsa(pair, encoding) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(
                    *encoding,
                    &SystemRandom::new(),
                    message.as_bytes(),
                    &mut sig,
                )
                .unwrap();
                b64(sig)
            }
        };
        format!("{message}.{signature}")
    }

    pub(super) fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&self.header(), claims)
    }
}

pub(super) fn fresh_jti() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}", N.fetch_add(1, Ordering::Relaxed))
}

pub(super) fn claims() -> Value {
    json!({"jti": fresh_jti(), "htm": "POST", "htu": URL, "iat": NOW})
}

pub(super) fn with(mut c: Value, name: &str, value: Value) -> Value {
    c[name] = value;
    c
}

pub(super) fn request() -> DpopRequest<'static> {
    DpopRequest {
        method: "POST",
        url: URL,
        access_token: None,
    }
}

pub(super) fn verifier() -> DpopVerifier {
    DpopVerifier::new(DpopConfig::default()).unwrap()
}

pub(super) fn verify(v: &DpopVerifier, proof: &str) -> Result<VerifiedProof, DpopError> {
    v.verify(proof, &request(), now())
}
