//! Access-token claims and their validation: signature, header rules and claims,
//! with the claims parsed exactly once.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::error::TokenRejection;
use crate::keys::Keyring;
use crate::session::SessionId;
use crate::users::UserId;

/// The `typ` header of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Claim names the library sets itself; application claims may not use them.
pub const RESERVED_CLAIMS: [&str; 9] = ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "sid", "typ"];

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
}

/// An access token whose signature and claims passed validation.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The registered claims.
    pub claims: AccessClaims,
    /// The user (`sub`).
    pub user_id: UserId,
    payload: Vec<u8>,
}

impl Authenticated {
    /// Reads an application claim (e.g. `market`); `None` if absent or of another type.
    pub fn claim<T: serde::de::DeserializeOwned>(&self, name: &str) -> Option<T> {
        let mut all: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&self.payload).ok()?;
        serde_json::from_value(all.remove(name)?).ok()
    }
}

fn decode_part(part: &str, max: usize) -> Result<Vec<u8>, TokenRejection> {
    if part.len() > max {
        return Err(TokenRejection::TooLarge);
    }
    URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenRejection::Malformed)
}

/// Verifies an access token's header, signature and claims at `now` (seconds).
pub(crate) fn verify_access_token(
    token: &str,
    keys: &Keyring,
    rules: &ValidationRules,
    now: i64,
) -> Result<Authenticated, TokenRejection> {
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
        Some(t) if t.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
            || t.eq_ignore_ascii_case("application/at+jwt") => {}
        _ => return Err(TokenRejection::WrongType),
    }
    let key = keys.key(header.kid.as_deref().ok_or(TokenRejection::UnknownKey)?)
        .ok_or(TokenRejection::UnknownKey)?;
    if alg != key.alg.as_str() {
        return Err(TokenRejection::AlgorithmNotAllowed);
    }
    match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.decoding, key.alg.jwt()) {
        Ok(true) => {}
        _ => return Err(TokenRejection::BadSignature),
    }

    let payload = decode_part(payload_b64, rules.max_token_bytes)?;
    let raw: RawClaims<'_> =
        serde_json::from_slice(&payload).map_err(|_| TokenRejection::InvalidClaim("claims"))?;
    let leeway = rules.leeway.whole_seconds();

    let exp = raw.exp.ok_or(TokenRejection::InvalidClaim("exp"))?;
    let iat = raw.iat.ok_or(TokenRejection::InvalidClaim("iat"))?;
    let nbf = raw.nbf.unwrap_or(iat);
    let iss = raw.iss.ok_or(TokenRejection::InvalidClaim("iss"))?;
    let aud = raw.aud.ok_or(TokenRejection::InvalidClaim("aud"))?;
    let sub = raw.sub.ok_or(TokenRejection::InvalidClaim("sub"))?;
    let jti = raw.jti.ok_or(TokenRejection::InvalidClaim("jti"))?;
    let sid = raw.sid.ok_or(TokenRejection::InvalidClaim("sid"))?;
    let user_id: UserId = sub.parse().map_err(|_| TokenRejection::InvalidClaim("sub"))?;

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

    let claims = AccessClaims {
        iss: iss.into_owned(),
        aud: rules.audience.clone(),
        sub: sub.into_owned(),
        exp,
        iat,
        nbf,
        jti: jti.into_owned(),
        sid,
    };
    Ok(Authenticated { claims, user_id, payload })
}
