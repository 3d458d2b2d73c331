//! The proof itself: splitting the compact JWS, the header rules and the claims.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde_json::{Map, Value};

use super::DpopError;

/// The `typ` header of a DPoP proof (RFC 9449 section 4.2).
pub const DPOP_PROOF_TYPE: &str = "dpop+jwt";

/// Longest accepted `jti`, in characters.
pub(super) const MAX_JTI_CHARS: usize = 256;

/// A compact JWS split into its parts, the header and claims decoded.
#[derive(Debug)]
pub(super) struct Parts<'a> {
    /// `header.claims`, the signed bytes.
    pub(super) message: &'a str,
    pub(super) header: Map<String, Value>,
    pub(super) claims_b64: &'a str,
    pub(super) signature: Vec<u8>,
}

fn decode(part: &'static str, b64: &str) -> Result<Vec<u8>, DpopError> {
    URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|source| DpopError::InvalidBase64 { part, source })
}

/// The JSON object in a base64url part.
pub(super) fn decode_object(
    part: &'static str,
    b64: &str,
) -> Result<Map<String, Value>, DpopError> {
    serde_json::from_slice(&decode(part, b64)?)
        .map_err(|source| DpopError::InvalidJson { part, source })
}

/// Splits `proof` into header, claims and signature; decodes header and signature.
pub(super) fn split(proof: &str) -> Result<Parts<'_>, DpopError> {
    let (message, signature_b64) = proof.rsplit_once('.').ok_or(DpopError::Malformed)?;
    let (header_b64, claims_b64) = message.split_once('.').ok_or(DpopError::Malformed)?;
    if claims_b64.contains('.') || header_b64.is_empty() || signature_b64.is_empty() {
        return Err(DpopError::Malformed);
    }
    Ok(Parts {
        message,
        header: decode_object("header", header_b64)?,
        claims_b64,
        signature: decode("signature", signature_b64)?,
    })
}

/// The header rules before the signature: `typ`, `alg` in `allowed` (never `none` or
/// HMAC), no `crit`, a public `jwk`. Returns the algorithm and the jwk.
pub(super) fn check_header<'h>(
    header: &'h Map<String, Value>,
    allowed: &[Algorithm],
) -> Result<(Algorithm, &'h Map<String, Value>), DpopError> {
    if header.get("typ").and_then(Value::as_str) != Some(DPOP_PROOF_TYPE) {
        return Err(DpopError::WrongType);
    }
    let name = match header.get("alg") {
        Some(Value::String(name)) => name.as_str(),
        Some(other) => return Err(DpopError::AlgorithmNotAllowed(other.to_string())),
        None => return Err(DpopError::AlgorithmNotAllowed(String::new())),
    };
    let alg = name
        .parse::<Algorithm>()
        .ok()
        .filter(|a| a.family() != AlgorithmFamily::Hmac && allowed.contains(a))
        .ok_or_else(|| DpopError::AlgorithmNotAllowed(name.to_owned()))?;
    if header.contains_key("crit") {
        return Err(DpopError::CriticalHeader);
    }
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or(DpopError::MissingKey)?;
    super::key::refuse_private(jwk)?;
    Ok((alg, jwk))
}

/// The claims DPoP defines, after the signature verified.
#[derive(Debug)]
pub(super) struct Claims {
    pub(super) jti: String,
    pub(super) htm: String,
    pub(super) htu: String,
    pub(super) iat: i64,
    pub(super) ath: Option<Value>,
    pub(super) nonce: Option<Value>,
}

fn string(claims: &mut Map<String, Value>, name: &'static str) -> Result<String, DpopError> {
    match claims.remove(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(DpopError::InvalidClaim(name)),
    }
}

impl Claims {
    /// The claims from their JSON object: `jti` (1 to 256 characters), `htm` and `htu`
    /// strings, `iat` an integer.
    pub(super) fn from_json(mut claims: Map<String, Value>) -> Result<Self, DpopError> {
        let jti = string(&mut claims, "jti")?;
        if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS {
            return Err(DpopError::InvalidClaim("jti"));
        }
        Ok(Self {
            jti,
            htm: string(&mut claims, "htm")?,
            htu: string(&mut claims, "htu")?,
            iat: claims
                .get("iat")
                .and_then(Value::as_i64)
                .ok_or(DpopError::InvalidClaim("iat"))?,
            ath: claims.remove("ath"),
            nonce: claims.remove("nonce"),
        })
    }
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

    const EC_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}"#;

    fn header(extra: &str) -> Map<String, Value> {
        serde_json::from_str(&format!(r#"{{"typ":"dpop+jwt","jwk":{EC_JWK}{extra}}}"#)).unwrap()
    }

    #[test]
    fn split_needs_exactly_three_non_empty_parts() {
        for bad in ["", "a", "a.b", "a.b.c.d", ".e30.AA", "e30.e30.", "e30..AA."] {
            assert!(split(bad).is_err(), "{bad}");
        }
        assert!(matches!(split("e30.e30.AA"), Ok(p) if p.message == "e30.e30"));
        assert!(matches!(
            split("e30=.e30.AA"),
            Err(DpopError::InvalidBase64 { part: "header", .. })
        ));
        assert!(matches!(
            split("WzFd.e30.AA"), // [1]
            Err(DpopError::InvalidJson { part: "header", .. })
        ));
    }

    #[test]
    fn header_rules() {
        let all = [Algorithm::ES256, Algorithm::HS256];
        assert!(check_header(&header(r#","alg":"ES256""#), &all).is_ok());
        let refused = |extra: &str| check_header(&header(extra), &all).unwrap_err();
        assert!(
            matches!(refused(r#","alg":"none""#), DpopError::AlgorithmNotAllowed(a) if a == "none")
        );
        // Listed, but symmetric: still refused.
        assert!(
            matches!(refused(r#","alg":"HS256""#), DpopError::AlgorithmNotAllowed(a) if a == "HS256")
        );
        assert!(matches!(
            refused(r#","alg":"ES384""#),
            DpopError::AlgorithmNotAllowed(_)
        ));
        assert!(matches!(
            refused(r#","alg":"es256""#),
            DpopError::AlgorithmNotAllowed(_)
        ));
        assert!(matches!(
            refused(r#","alg":7"#),
            DpopError::AlgorithmNotAllowed(_)
        ));
        assert!(matches!(
            refused(r#","alg":"ES256","crit":["x"]"#),
            DpopError::CriticalHeader
        ));
        let mut no_jwk = header(r#","alg":"ES256""#);
        no_jwk.insert("jwk".into(), json!("not an object"));
        assert!(matches!(
            check_header(&no_jwk, &all),
            Err(DpopError::MissingKey)
        ));
        let mut typ = header(r#","alg":"ES256""#);
        typ.insert("typ".into(), json!("DPoP+JWT"));
        assert!(matches!(
            check_header(&typ, &all),
            Err(DpopError::WrongType)
        ));
    }

    #[test]
    fn claim_types_and_jti_length() {
        let good = json!({"jti": "x", "htm": "POST", "htu": "https://a/", "iat": 1});
        assert!(Claims::from_json(object(good.clone())).is_ok());
        for (name, value) in [
            ("jti", json!("")),
            ("jti", json!("é".repeat(257))),
            ("jti", json!(5)),
            ("htm", json!(null)),
            ("htu", json!(["https://a/"])),
            ("iat", json!("1")),
            ("iat", json!(1.5)),
        ] {
            let mut c = object(good.clone());
            c.insert(name.into(), value.clone());
            assert!(
                matches!(Claims::from_json(c), Err(DpopError::InvalidClaim(n)) if n == name),
                "{name}: {value}"
            );
        }
        let mut long = object(good);
        long.insert("jti".into(), json!("é".repeat(256)));
        assert!(Claims::from_json(long).is_ok());
    }
}
