//! The proof's own key: the header `jwk`, checked to be public and to fit `alg`, and
//! the signature checked with it.

use aws_lc_rs::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::DpopError;

/// JWK members that carry private or symmetric key material (RFC 7518 section 6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Smallest accepted RSA modulus.
const MIN_RSA_BITS: usize = 2048;

/// Refuses a JWK object with any private member, whatever its value or `kty`.
pub(super) fn refuse_private(jwk: &Map<String, Value>) -> Result<(), DpopError> {
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(DpopError::PrivateKey);
    }
    Ok(())
}

fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

fn bytes(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, DpopError> {
    let text = member(jwk, name).ok_or(DpopError::InvalidKey)?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| DpopError::InvalidKey)
}

/// An EC public key as an uncompressed SEC1 point, if `jwk` is on `crv`.
fn ec_point(
    jwk: &Map<String, Value>,
    crv: &str,
    coordinate: usize,
    mismatch: impl Fn() -> DpopError,
) -> Result<Vec<u8>, DpopError> {
    if member(jwk, "kty") != Some("EC") || member(jwk, "crv") != Some(crv) {
        return Err(mismatch());
    }
    let (x, y) = (bytes(jwk, "x")?, bytes(jwk, "y")?);
    if x.len() != coordinate || y.len() != coordinate {
        return Err(DpopError::InvalidKey);
    }
    let mut point = Vec::with_capacity(1 + 2 * coordinate);
    point.push(4);
    point.extend(x);
    point.extend(y);
    Ok(point)
}

fn modulus_bits(n: &[u8]) -> usize {
    match n.iter().position(|b| *b != 0) {
        Some(i) => (n.len() - i) * 8 - n[i].leading_zeros() as usize,
        None => 0,
    }
}

/// Checks `signature` over `message` with the public `jwk`, which must be of the key
/// type (and curve) `alg` needs. `jwk` must already have passed [`refuse_private`].
pub(super) fn verify_signature(
    alg: Algorithm,
    jwk: &Map<String, Value>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), DpopError> {
    let mismatch = || DpopError::KeyAlgorithmMismatch {
        alg: format!("{alg:?}"),
    };
    let verified = match alg {
        Algorithm::ES256 => {
            let point = ec_point(jwk, "P-256", 32, mismatch)?;
            UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).verify(message, signature)
        }
        Algorithm::ES384 => {
            let point = ec_point(jwk, "P-384", 48, mismatch)?;
            UnparsedPublicKey::new(&sig::ECDSA_P384_SHA384_FIXED, point).verify(message, signature)
        }
        Algorithm::EdDSA => {
            if member(jwk, "kty") != Some("OKP") || member(jwk, "crv") != Some("Ed25519") {
                return Err(mismatch());
            }
            let x = bytes(jwk, "x")?;
            if x.len() != 32 {
                return Err(DpopError::InvalidKey);
            }
            UnparsedPublicKey::new(&sig::ED25519, x).verify(message, signature)
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            if member(jwk, "kty") != Some("RSA") {
                return Err(mismatch());
            }
            let (n, e) = (bytes(jwk, "n")?, bytes(jwk, "e")?);
            // Minimal big-endian octets (RFC 7518 section 6.3.1): no leading zero.
            if n.first().is_none_or(|b| *b == 0) || e.first().is_none_or(|b| *b == 0) {
                return Err(DpopError::InvalidKey);
            }
            if modulus_bits(&n) < MIN_RSA_BITS {
                return Err(DpopError::InvalidKey);
            }
            let params = match alg {
                Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                _ => &sig::RSA_PSS_2048_8192_SHA512,
            };
            RsaPublicKeyComponents { n: &n, e: &e }.verify(params, message, signature)
        }
        // HMAC (and any algorithm jsonwebtoken adds later) never verifies a proof.
        _ => return Err(DpopError::AlgorithmNotAllowed(format!("{alg:?}"))),
    };
    verified.map_err(|_| DpopError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_private_member_is_refused() {
        for m in PRIVATE_MEMBERS {
            let mut jwk = object(json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}));
            jwk.insert(m.into(), Value::Null);
            assert!(
                matches!(refuse_private(&jwk), Err(DpopError::PrivateKey)),
                "{m}"
            );
        }
        let public = object(json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}));
        assert!(refuse_private(&public).is_ok());
    }

    #[test]
    fn key_type_must_fit_the_algorithm() {
        let p256 = object(json!({"kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode([1u8; 32]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])}));
        for alg in [
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::RS256,
            Algorithm::PS256,
        ] {
            let err = verify_signature(alg, &p256, b"m", &[0; 64]).unwrap_err();
            assert!(
                matches!(err, DpopError::KeyAlgorithmMismatch { .. }),
                "{alg:?}: {err}"
            );
        }
        // The right type, but not a point on the curve.
        let err = verify_signature(Algorithm::ES256, &p256, b"m", &[0; 64]).unwrap_err();
        assert!(matches!(err, DpopError::BadSignature), "{err}");
        let err = verify_signature(Algorithm::HS256, &p256, b"m", &[0; 32]).unwrap_err();
        assert!(matches!(err, DpopError::AlgorithmNotAllowed(_)), "{err}");
    }

    #[test]
    fn short_coordinates_and_small_rsa_moduli_are_invalid_keys() {
        let short = object(json!({"kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode([1u8; 31]), "y": URL_SAFE_NO_PAD.encode([2u8; 32])}));
        let err = verify_signature(Algorithm::ES256, &short, b"m", &[0; 64]).unwrap_err();
        assert!(matches!(err, DpopError::InvalidKey), "{err}");
        let n = vec![0xffu8; 255];
        assert_eq!(modulus_bits(&n), 2040);
        let rsa = object(json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&n), "e": "AQAB"}));
        let err = verify_signature(Algorithm::RS256, &rsa, b"m", &[0; 255]).unwrap_err();
        assert!(matches!(err, DpopError::InvalidKey), "{err}");
        let mut padded = vec![0u8; 257];
        padded[1..].fill(0xff);
        let rsa = object(json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(&padded), "e": "AQAB"}));
        let err = verify_signature(Algorithm::RS256, &rsa, b"m", &[0; 256]).unwrap_err();
        assert!(matches!(err, DpopError::InvalidKey), "{err}");
    }
}
