//! The public half of a key as a JWK, and the keyring's JWKS document. The one place
//! JWK JSON is built.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{Key, Keyring};

/// A public key in JWK terms (RFC 7517/7518/8037), without `kid`, `alg` and `use`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PublicJwk {
    /// Ed25519: the 32-byte public key.
    Ed25519 { x: Vec<u8> },
    /// P-256: the affine coordinates.
    P256 { x: Vec<u8>, y: Vec<u8> },
    /// RSA: big-endian modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl PublicJwk {
    /// From an uncompressed SEC1 point (`04 || x || y`); `None` for any other shape.
    pub(super) fn p256_point(point: &[u8]) -> Option<Self> {
        (point.len() == 65 && point[0] == 4).then(|| PublicJwk::P256 {
            x: point[1..33].to_vec(),
            y: point[33..].to_vec(),
        })
    }

    fn to_json(&self, key: &Key) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let mut jwk = match self {
            PublicJwk::Ed25519 { x } => json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)}),
            PublicJwk::P256 { x, y } => {
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
            PublicJwk::Rsa { n, e } => json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
        };
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("kid".into(), key.kid.clone().into());
            obj.insert("alg".into(), key.alg.as_str().into());
            obj.insert("use".into(), "sig".into());
        }
        jwk
    }
}

impl Keyring {
    /// The public keys as a JWKS document (`{"keys": [...]}`); HMAC keys are never listed.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter_map(|k| Some(k.jwk.as_ref()?.to_json(k)))
            .collect();
        json!({ "keys": keys })
    }
}
