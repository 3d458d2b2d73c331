//! Access-token claims and their validation: signature, header rules and claims,
//! with the claims parsed exactly once.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::error::TokenRejection;
use crate::keys::{Key, KeyError, Keyring};
use crate::session::SessionId;
use crate::users::UserId;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Claim names the library sets itself; application claims may not use them.
pub const RESERVED_CLAIMS: [&str; 13] = [
    "iss",
    "aud",
    "sub",
    "exp",
    "iat",
    "nbf",
    "jti",
    "sid",
    "typ",
    "client_id",
    "scope",
    ROLES_CLAIM,
    CONFIRMATION_CLAIM,
];

/// The confirmation claim (RFC 7800, `cnf`) of a DPoP-bound access token: its `jkt`
/// member is the thumbprint of the key whose proofs must accompany the token (RFC 9449
/// section 6).
pub const CONFIRMATION_CLAIM: &str = "cnf";

/// The `cnf` claim of a DPoP-bound access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// RFC 7638 SHA-256 thumbprint of the DPoP public key, base64url.
    pub jkt: String,
}

/// The claim listing the user's roles (RFC 9068 section 2.2.3.1, `roles`): `["admin"]`
/// in the access tokens of a user whose `is_admin` flag was set when the token was
/// issued; absent in everyone else's (ARCHITECTURE.md, "Admin users").
pub const ROLES_CLAIM: &str = "roles";

/// The role of an admin user in [`ROLES_CLAIM`].
pub const ADMIN_ROLE: &str = "admin";

/// The registered claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: the user id.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Token id: 128 random bits, hex.
    pub jti: String,
    /// Session id.
    pub sid: SessionId,
    /// The DPoP key the token is bound to (`None`: a bearer token). A `cnf` without
    /// `jkt` is refused, never read as unbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// What validation checks besides the signature.
#[derive(Debug, Clone)]
pub(crate) struct ValidationRules {
    /// Required `iss`.
    pub issuer: String,
    /// Required member of `aud`.
    pub audience: String,
    /// Tolerance for `exp`, `nbf` and `iat` (default 5 s).
    pub leeway: Duration,
    /// Longest accepted `exp - iat` (default 1 h).
    pub max_lifetime: Duration,
    /// Longest accepted token text (default 8 KiB).
    pub max_token_bytes: usize,
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
    jwk: Option<IgnoredAny>,
    jku: Option<IgnoredAny>,
    x5u: Option<IgnoredAny>,
    x5c: Option<IgnoredAny>,
    crit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] Vec<Cow<'a, str>>),
}

#[derive(Deserialize)]
struct RawClaims<'a> {
    #[serde(borrow)]
    iss: Option<Cow<'a, str>>,
    #[serde(borrow)]
    aud: Option<Audience<'a>>,
    #[serde(borrow)]
    sub: Option<Cow<'a, str>>,
    exp: Option<i64>,
    iat: Option<i64>,
    nbf: Option<i64>,
    #[serde(borrow)]
    jti: Option<Cow<'a, str>>,
    sid: Option<SessionId>,
    cnf: Option<Confirmation>,
}

/// An access token whose signature and claims passed validation.
#[derive(Clone)]
pub struct Authenticated {
    /// The registered claims.
    pub claims: AccessClaims,
    /// The user (`sub`).
    pub user_id: UserId,
    payload: Vec<u8>,
}

impl std::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("claims", &self.claims)
            .field("user_id", &self.user_id)
            .finish()
    }
}

impl Authenticated {
    /// Length of the decoded claims JSON.
    pub(crate) fn payload_len(&self) -> usize {
        self.payload.len()
    }

    /// Reads an application claim (e.g. `market`); `None` if absent or of another type.
    pub fn claim<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        let mut all: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&self.payload).ok()?;
        serde_json::from_value(all.remove(name)?).ok()
    }

    /// The verified view of a token checked by a verifier outside this crate (one that
    /// verified the signature, `iss`, `aud`, `exp`, `nbf` against a remote JWKS, e.g.
    /// auth-axum's): parses the registered claims from the JSON `payload`. `audience`
    /// is the audience the verifier required.
    pub fn from_verified_claims(payload: Vec<u8>, audience: &str) -> Result<Self, TokenRejection> {
        let raw: RawClaims<'_> =
            serde_json::from_slice(&payload).map_err(|_| TokenRejection::InvalidClaim("claims"))?;
        let exp = raw.exp.ok_or(TokenRejection::InvalidClaim("exp"))?;
        let iat = raw.iat.ok_or(TokenRejection::InvalidClaim("iat"))?;
        let sub = raw.sub.ok_or(TokenRejection::InvalidClaim("sub"))?;
        let user_id: UserId = sub
            .parse()
            .map_err(|_| TokenRejection::InvalidClaim("sub"))?;
        let claims = AccessClaims {
            iss: raw
                .iss
                .ok_or(TokenRejection::InvalidClaim("iss"))?
                .into_owned(),
            aud: audience.to_owned(),
            sub: sub.into_owned(),
            exp,
            iat,
            nbf: raw.nbf.unwrap_or(iat),
            jti: raw
                .jti
                .ok_or(TokenRejection::InvalidClaim("jti"))?
                .into_owned(),
            sid: raw.sid.ok_or(TokenRejection::InvalidClaim("sid"))?,
            cnf: raw.cnf,
        };
        Ok(Self {
            claims,
            user_id,
            payload,
        })
    }
}

fn decode_part(part: &str, max: usize) -> Result<Vec<u8>, TokenRejection> {
    if part.len() > max {
        return Err(TokenRejection::TooLarge);
    }
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenRejection::Malformed)
}

/// Signs a claims set with the keyring's active key: `typ` is [`ACCESS_TOKEN_TYPE`],
/// `kid` the active key's. The counterpart of [`verify_access_token`].
pub(crate) fn sign_access_token(
    claims: &serde_json::Map<String, serde_json::Value>,
    keys: &Keyring,
) -> Result<String, KeyError> {
    let key = keys.signing_key();
    let mut header = jsonwebtoken::Header::new(key.alg.jwt());
    header.typ = Some(ACCESS_TOKEN_TYPE.into());
    header.kid = Some(key.kid.clone());
    let encoding = key
        .encoding
        .as_ref()
        .ok_or_else(|| KeyError::Keyring("active key cannot sign".into()))?;
    jsonwebtoken::encode(&header, claims, encoding).map_err(KeyError::Signing)
}

/// Verifies an access token's header, signature and claims at `now` (seconds).
pub(crate) fn verify_access_token(
    token: &str,
    keys: &Keyring,
    rules: &ValidationRules,
    now: i64,
) -> Result<Authenticated, TokenRejection> {
    verify_access_token_with_key(token, keys, rules, now).map(|(verified, _)| verified)
}

/// [`verify_access_token`], also naming the key whose signature matched.
pub(crate) fn verify_access_token_with_key<'k>(
    token: &str,
    keys: &'k Keyring,
    rules: &ValidationRules,
    now: i64,
) -> Result<(Authenticated, &'k Key), TokenRejection> {
    if token.len() > rules.max_token_bytes {
        return Err(TokenRejection::TooLarge);
    }
    let (message, signature) = token.rsplit_once('.').ok_or(TokenRejection::Malformed)?;
    let (header_b64, payload_b64) = message.split_once('.').ok_or(TokenRejection::Malformed)?;
    if payload_b64.contains('.') || signature.is_empty() {
        return Err(TokenRejection::Malformed);
    }

    let header_json = decode_part(header_b64, 2048)?;
    let header: RawHeader<'_> =
        serde_json::from_slice(&header_json).map_err(|_| TokenRejection::Malformed)?;
    if header.jwk.is_some()
        || header.jku.is_some()
        || header.x5u.is_some()
        || header.x5c.is_some()
        || header.crit.is_some()
    {
        return Err(TokenRejection::ForbiddenHeader);
    }
    let alg = header.alg.ok_or(TokenRejection::AlgorithmNotAllowed)?;
    match header.typ.as_deref() {
        Some(t)
            if t.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                || t.eq_ignore_ascii_case("application/at+jwt") => {}
        _ => return Err(TokenRejection::WrongType),
    }
    let key = keys
        .key(header.kid.as_deref().ok_or(TokenRejection::UnknownKey)?)
        .ok_or(TokenRejection::UnknownKey)?;
    if alg != key.alg.as_str() {
        return Err(TokenRejection::AlgorithmNotAllowed);
    }
    if !key.verify(message.as_bytes(), signature) {
        return Err(TokenRejection::BadSignature);
    }

    let payload = decode_part(payload_b64, rules.max_token_bytes)?;
    let raw: RawClaims<'_> =
        serde_json::from_slice(&payload).map_err(|_| TokenRejection::InvalidClaim("claims"))?;

    let exp = raw.exp.ok_or(TokenRejection::InvalidClaim("exp"))?;
    let iat = raw.iat.ok_or(TokenRejection::InvalidClaim("iat"))?;
    let nbf = raw.nbf.unwrap_or(iat);
    let iss = raw.iss.ok_or(TokenRejection::InvalidClaim("iss"))?;
    let aud = raw.aud.ok_or(TokenRejection::InvalidClaim("aud"))?;
    let sub = raw.sub.ok_or(TokenRejection::InvalidClaim("sub"))?;
    let jti = raw.jti.ok_or(TokenRejection::InvalidClaim("jti"))?;
    let sid = raw.sid.ok_or(TokenRejection::InvalidClaim("sid"))?;
    let user_id: UserId = sub
        .parse()
        .map_err(|_| TokenRejection::InvalidClaim("sub"))?;

    if iss != rules.issuer {
        return Err(TokenRejection::WrongIssuer);
    }
    let audience_ok = match &aud {
        Audience::One(a) => *a == rules.audience,
        Audience::Many(list) => list.iter().any(|a| *a == rules.audience),
    };
    if !audience_ok {
        return Err(TokenRejection::WrongAudience);
    }
    check_times(exp, nbf, iat, rules, now)?;

    let claims = AccessClaims {
        iss: iss.into_owned(),
        aud: rules.audience.clone(),
        sub: sub.into_owned(),
        exp,
        iat,
        nbf,
        jti: jti.into_owned(),
        sid,
        cnf: raw.cnf,
    };
    let verified = Authenticated {
        claims,
        user_id,
        payload,
    };
    Ok((verified, key))
}

/// The time rules of an access token at `now` (seconds): `exp`, `nbf` and `iat` with
/// the leeway, and the longest lifetime. The only rules whose verdict changes over a
/// token's life, so a cached verification re-checks exactly these.
pub(crate) fn check_times(
    exp: i64,
    nbf: i64,
    iat: i64,
    rules: &ValidationRules,
    now: i64,
) -> Result<(), TokenRejection> {
    let leeway = rules.leeway.whole_seconds();
    if exp.saturating_add(leeway) <= now {
        return Err(TokenRejection::Expired);
    }
    if nbf.saturating_sub(leeway) > now {
        return Err(TokenRejection::NotYetValid);
    }
    if iat.saturating_sub(leeway) > now {
        return Err(TokenRejection::IssuedInFuture);
    }
    if exp.saturating_sub(iat) > rules.max_lifetime.whole_seconds() {
        return Err(TokenRejection::LifetimeTooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyMaterial, KeySpec, KeyringSpec, SigningAlgorithm};
    use base64::engine::general_purpose::STANDARD;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{Value, json};

    const NOW: i64 = 1_800_000_000;
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keyring() -> Keyring {
        Keyring::from_spec(&KeyringSpec {
            active: "k1".into(),
            keys: vec![
                KeySpec {
                    kid: "k1".into(),
                    alg: SigningAlgorithm::HS256,
                    material: KeyMaterial::HmacSecretB64(STANDARD.encode(SECRET)),
                },
                KeySpec {
                    kid: "ed".into(),
                    alg: SigningAlgorithm::EdDSA,
                    material: KeyMaterial::PrivatePem(
                        include_str!("../tests/fixtures/ed25519-private.pem").into(),
                    ),
                },
            ],
        })
        .unwrap()
    }

    fn rules() -> ValidationRules {
        ValidationRules {
            issuer: "iss-1".into(),
            audience: "aud-1".into(),
            leeway: Duration::seconds(5),
            max_lifetime: Duration::hours(1),
            max_token_bytes: 8192,
        }
    }

    fn claims() -> Value {
        json!({"iss": "iss-1", "aud": "aud-1", "sub": "42", "exp": NOW + 900, "iat": NOW, "nbf": NOW,
               "jti": "00112233445566778899aabbccddeeff", "sid": "6f9619ff-8b86-d011-b42d-00cf4fc964ff"})
    }

    fn header(alg: jsonwebtoken::Algorithm, kid: Option<&str>, typ: Option<&str>) -> Header {
        let mut h = Header::new(alg);
        h.kid = kid.map(Into::into);
        h.typ = typ.map(Into::into);
        h
    }

    fn sign(header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    fn good_header() -> Header {
        header(jsonwebtoken::Algorithm::HS256, Some("k1"), Some("at+jwt"))
    }

    fn verify(token: &str) -> Result<Authenticated, TokenRejection> {
        verify_access_token(token, &keyring(), &rules(), NOW)
    }

    fn with(field: &str, value: Value) -> Value {
        let mut c = claims();
        c[field] = value;
        c
    }

    fn without(field: &str) -> Value {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(field);
        c
    }

    #[test]
    fn a_good_token_verifies_and_keeps_app_claims() {
        let token = sign(&good_header(), &with("market", json!("us")));
        let auth = verify(&token).unwrap();
        assert_eq!(auth.user_id, UserId(42));
        assert_eq!(auth.claims.exp, NOW + 900);
        assert_eq!(auth.claim::<String>("market").as_deref(), Some("us"));
        assert_eq!(auth.claim::<String>("absent"), None);
    }

    #[test]
    fn audience_may_be_a_list() {
        let token = sign(&good_header(), &with("aud", json!(["other", "aud-1"])));
        assert!(verify(&token).is_ok());
        let token = sign(&good_header(), &with("aud", json!(["other"])));
        assert_eq!(verify(&token).unwrap_err(), TokenRejection::WrongAudience);
    }

    #[test]
    fn algorithm_is_pinned_per_key_and_never_none() {
        let hs384 = jsonwebtoken::encode(
            &header(jsonwebtoken::Algorithm::HS384, Some("k1"), Some("at+jwt")),
            &claims(),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            verify(&hs384).unwrap_err(),
            TokenRejection::AlgorithmNotAllowed
        );
        // An HMAC token naming the EdDSA key (the classic public-key-as-secret confusion).
        let confused = sign(
            &header(jsonwebtoken::Algorithm::HS256, Some("ed"), Some("at+jwt")),
            &claims(),
        );
        assert_eq!(
            verify(&confused).unwrap_err(),
            TokenRejection::AlgorithmNotAllowed
        );
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        for alg in ["none", "None", "NONE", ""] {
            let h =
                URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"k1"}}"#));
            assert!(verify(&format!("{h}.{payload}.")).is_err());
            assert!(verify(&format!("{h}.{payload}.AAAA")).is_err());
        }
        let h = URL_SAFE_NO_PAD.encode(r#"{"typ":"at+jwt","kid":"k1"}"#);
        assert_eq!(
            verify(&format!("{h}.{payload}.AAAA")).unwrap_err(),
            TokenRejection::AlgorithmNotAllowed
        );
    }

    #[test]
    fn keys_from_the_header_are_never_used() {
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        for extra in [
            r#""jwk":{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#,
            r#""jku":"https://attacker.example/jwks.json""#,
            r#""x5u":"https://attacker.example/cert.pem""#,
            r#""x5c":["MIIB"]"#,
            r#""crit":["exp"]"#,
        ] {
            let header_json = format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"k1",{extra}}}"#);
            let h = URL_SAFE_NO_PAD.encode(&header_json);
            let message = format!("{h}.{payload}");
            let sig = jsonwebtoken::crypto::sign(
                message.as_bytes(),
                &EncodingKey::from_secret(SECRET),
                jsonwebtoken::Algorithm::HS256,
            )
            .unwrap();
            assert_eq!(
                verify(&format!("{message}.{sig}")).unwrap_err(),
                TokenRejection::ForbiddenHeader,
                "{extra}"
            );
        }
    }

    #[test]
    fn unknown_or_missing_kid_is_rejected() {
        let token = sign(
            &header(jsonwebtoken::Algorithm::HS256, Some("k2"), Some("at+jwt")),
            &claims(),
        );
        assert_eq!(verify(&token).unwrap_err(), TokenRejection::UnknownKey);
        let token = sign(
            &header(jsonwebtoken::Algorithm::HS256, None, Some("at+jwt")),
            &claims(),
        );
        assert_eq!(verify(&token).unwrap_err(), TokenRejection::UnknownKey);
    }

    #[test]
    fn typ_must_be_at_jwt() {
        for typ in [None, Some("JWT"), Some("rt+jwt"), Some("")] {
            let token = sign(
                &header(jsonwebtoken::Algorithm::HS256, Some("k1"), typ),
                &claims(),
            );
            assert_eq!(
                verify(&token).unwrap_err(),
                TokenRejection::WrongType,
                "{typ:?}"
            );
        }
        let token = sign(
            &header(
                jsonwebtoken::Algorithm::HS256,
                Some("k1"),
                Some("application/at+jwt"),
            ),
            &claims(),
        );
        assert!(verify(&token).is_ok());
    }

    #[test]
    fn required_claims_must_be_present_and_typed() {
        for field in ["iss", "aud", "sub", "exp", "iat", "jti", "sid"] {
            let token = sign(&good_header(), &without(field));
            assert!(
                matches!(verify(&token).unwrap_err(), TokenRejection::InvalidClaim(_)),
                "missing {field}"
            );
        }
        for (field, value) in [
            ("exp", json!("1800000900")),
            ("exp", json!(1.8e9 + 900.5)),
            ("iat", json!(null)),
            ("iss", json!(7)),
            ("aud", json!({"a": 1})),
            ("sid", json!("not-a-uuid")),
            ("sub", json!("not-a-number")),
        ] {
            let token = sign(&good_header(), &with(field, value.clone()));
            assert!(
                matches!(verify(&token).unwrap_err(), TokenRejection::InvalidClaim(_)),
                "{field}={value}"
            );
        }
    }

    #[test]
    fn issuer_and_audience_must_match() {
        assert_eq!(
            verify(&sign(&good_header(), &with("iss", json!("iss-2")))).unwrap_err(),
            TokenRejection::WrongIssuer
        );
        assert_eq!(
            verify(&sign(&good_header(), &with("aud", json!("aud-2")))).unwrap_err(),
            TokenRejection::WrongAudience
        );
    }

    #[test]
    fn time_claims_are_checked_with_leeway() {
        let expired = with("exp", json!(NOW - 5));
        assert_eq!(
            verify(&sign(&good_header(), &expired)).unwrap_err(),
            TokenRejection::Expired
        );
        assert!(verify(&sign(&good_header(), &with("exp", json!(NOW - 4)))).is_ok());
        let mut future = claims();
        future["nbf"] = json!(NOW + 6);
        assert_eq!(
            verify(&sign(&good_header(), &future)).unwrap_err(),
            TokenRejection::NotYetValid
        );
        let mut issued_later = claims();
        issued_later["iat"] = json!(NOW + 60);
        issued_later["nbf"] = json!(NOW);
        assert_eq!(
            verify(&sign(&good_header(), &issued_later)).unwrap_err(),
            TokenRejection::IssuedInFuture
        );
        let long = with("exp", json!(NOW + 3601));
        assert_eq!(
            verify(&sign(&good_header(), &long)).unwrap_err(),
            TokenRejection::LifetimeTooLong
        );
    }

    #[test]
    fn signature_must_verify() {
        let token = sign(&good_header(), &claims());
        let (msg, _) = token.rsplit_once('.').unwrap();
        let other = jsonwebtoken::encode(
            &good_header(),
            &claims(),
            &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
        )
        .unwrap();
        let (_, other_sig) = other.rsplit_once('.').unwrap();
        assert_eq!(
            verify(&format!("{msg}.{other_sig}")).unwrap_err(),
            TokenRejection::BadSignature
        );
    }

    #[test]
    fn oversized_tokens_are_refused_before_decoding() {
        let token = format!(
            "{}.{}.{}",
            "!".repeat(4000),
            "!".repeat(4000),
            "!".repeat(200)
        );
        assert_eq!(verify(&token).unwrap_err(), TokenRejection::TooLarge);
        let big_claim = with("pad", json!("x".repeat(9000)));
        assert_eq!(
            verify(&sign(&good_header(), &big_claim)).unwrap_err(),
            TokenRejection::TooLarge
        );
    }

    #[test]
    fn eddsa_tokens_verify_with_their_key() {
        let keys = keyring();
        let key = keys.key("ed").unwrap();
        let token = jsonwebtoken::encode(
            &header(jsonwebtoken::Algorithm::EdDSA, Some("ed"), Some("at+jwt")),
            &claims(),
            key.encoding.as_ref().unwrap(),
        )
        .unwrap();
        assert!(verify_access_token(&token, &keys, &rules(), NOW).is_ok());
    }

    #[test]
    fn no_input_panics() {
        // Deterministic pseudo-random bytes and structured near-misses.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let good = sign(&good_header(), &claims());
        for i in 0..5_000 {
            let len = (next() % 300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
            if i % 3 == 0 {
                // Mutate a real token instead.
                bytes = good.as_bytes().to_vec();
                let pos = (next() as usize) % bytes.len();
                bytes[pos] = (next() % 128) as u8;
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = verify(&text);
            let _ = crate::RefreshToken::parse(&text);
        }
    }
}
