//! A client's DPoP key for tests and benches: a P-256 key pair (aws-lc-rs) that makes
//! RFC 9449 proofs, built by hand so the proofs do not come from the code under test.

use auth_core::time::OffsetDateTime;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

/// A device's P-256 DPoP key.
#[derive(Debug)]
pub struct DpopKey {
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl DpopKey {
    /// A fresh key.
    pub fn generate() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": B64.encode(&point[1..33]),
            "y": B64.encode(&point[33..65]),
        });
        Self { pair, jwk }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 thumbprint, as `cnf.jkt` names it.
    pub fn thumbprint(&self) -> String {
        auth_core::jwk_thumbprint(&self.jwk).expect("thumbprint")
    }

    /// An ES256 proof for `method` on `url`, issued at `iat`, with `ath` of
    /// `access_token` when given, and a fresh `jti`.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        iat: OffsetDateTime,
    ) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": url,
            "iat": iat.unix_timestamp(),
        });
        if let Some(token) = access_token {
            claims["ath"] = auth_core::access_token_hash(token).into();
        }
        let message = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message.as_bytes())
            .expect("sign");
        format!("{message}.{}", B64.encode(signature.as_ref()))
    }
}
