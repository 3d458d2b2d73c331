//! JWK thumbprints (RFC 7638) and the access token hash (`ath`, RFC 9449 section 4.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::DpopError;

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding: the
/// `jkt` a DPoP-bound access token carries in `cnf`.
///
/// Only the members RFC 7638 requires for the key type are hashed (EC: `crv`, `kty`,
/// `x`, `y`; RSA: `e`, `kty`, `n`; OKP: `crv`, `kty`, `x`); any other member is
/// ignored. Refuses other key types and required members that are absent or not strings.
pub fn jwk_thumbprint(jwk: &Value) -> Result<String, DpopError> {
    let members: &[&str] = match jwk.get("kty").and_then(Value::as_str) {
        Some("EC") => &["crv", "kty", "x", "y"],
        Some("RSA") => &["e", "kty", "n"],
        Some("OKP") => &["crv", "kty", "x"],
        _ => return Err(DpopError::InvalidKey),
    };
    // Members are already in lexicographic order; values are JSON strings written
    // with serde_json's escaping and no whitespace (RFC 7638 section 3.3).
    let mut canonical = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk
            .get(*name)
            .and_then(Value::as_str)
            .ok_or(DpopError::InvalidKey)?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push('"');
        canonical.push_str(name);
        canonical.push_str("\":");
        canonical.push_str(&Value::from(value).to_string());
    }
    canonical.push('}');
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// The `ath` claim value for an access token: base64url (no padding) of the SHA-256
/// of its ASCII text.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 7638 section 3.1.
    const RFC_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7638_example_thumbprint() {
        let jwk = json!({"kty": "RSA", "n": RFC_N, "e": "AQAB", "alg": "RS256",
                         "kid": "2011-04-29"});
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn non_required_members_and_order_do_not_change_the_thumbprint() {
        let a = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB"});
        let b = json!({"y": "BBBB", "use": "sig", "x": "AAAA", "kid": "k", "crv": "P-256",
                       "kty": "EC"});
        assert_eq!(jwk_thumbprint(&a).unwrap(), jwk_thumbprint(&b).unwrap());
        let c = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBC"});
        assert_ne!(jwk_thumbprint(&a).unwrap(), jwk_thumbprint(&c).unwrap());
    }

    #[test]
    fn okp_thumbprint_hashes_the_canonical_members() {
        let jwk = json!({"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "kty": "OKP",
                         "crv": "Ed25519", "kid": "ignored"});
        let canonical =
            r#"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical))
        );
    }

    #[test]
    fn unknown_types_and_missing_members_are_refused() {
        for jwk in [
            json!({"kty": "oct", "k": "c2VjcmV0"}),
            json!({"kty": "EC", "crv": "P-256", "x": "AAAA"}),
            json!({"kty": "RSA", "n": RFC_N, "e": 65537}),
            json!({"n": RFC_N, "e": "AQAB"}),
            json!("RSA"),
        ] {
            assert!(
                matches!(jwk_thumbprint(&jwk), Err(DpopError::InvalidKey)),
                "{jwk}"
            );
        }
    }

    #[test]
    fn access_token_hash_matches_rfc9449_example() {
        // RFC 9449 section 7.1: the access token and its ath.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
