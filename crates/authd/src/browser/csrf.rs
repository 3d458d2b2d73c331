//! CSRF protection of the cookie-authenticated browser endpoints, in two layers:
//!
//! 1. **Origin**: a present `Origin` header must be the issuer's origin (scheme, host,
//!    port); without one, `Sec-Fetch-Site` must be `same-origin`. A request with
//!    neither is refused too: every current browser sends one of them on a POST, so
//!    only non-browser clients omit both, and they can send `Origin` themselves.
//! 2. **Double submit**: the `X-CSRF-Token` header must equal the `__Host-authd_csrf`
//!    cookie, and both must be the HMAC-SHA256 of the session id under this process's
//!    [`CsrfKey`].
//!
//! The key is random per process (never configured, never stored): a restart, or a
//! request reaching another instance, makes existing CSRF tokens fail and the page
//! asks its user to sign in again. Deployments with several instances need sticky
//! routing for `/v1/browser/*`. Refusals are 403 `csrf_refused` and change nothing.

use std::sync::OnceLock;

use auth_core::SessionId;
use aws_lc_rs::hmac;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;

/// The request header carrying the double-submit token.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The per-process HMAC key of CSRF tokens, drawn once from the system RNG.
fn csrf_key() -> &'static hmac::Key {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .expect("the system random number generator works")
    })
}

/// The CSRF token of a session: base64url of HMAC-SHA256(key, session id).
pub(crate) fn csrf_token(session: SessionId) -> String {
    let tag = hmac::sign(csrf_key(), session.to_string().as_bytes());
    URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// Whether `token` is the CSRF token of `session` (constant-time).
fn is_token_of(token: &str, session: SessionId) -> bool {
    URL_SAFE_NO_PAD
        .decode(token)
        .is_ok_and(|tag| hmac::verify(csrf_key(), session.to_string().as_bytes(), &tag).is_ok())
}

/// 403 `csrf_refused`, logged with the reason (never a token).
pub(crate) fn refused(reason: &'static str) -> ApiError {
    tracing::info!(reason, "browser request refused as cross-site");
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_refused",
        "this request must come from the account page of this origin",
    )
}

/// `scheme://host[:port]` of a URL, lowercased, without a default port.
pub(crate) fn origin_of(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url.as_str()));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = match scheme {
        "https" => authority.strip_suffix(":443").unwrap_or(authority),
        "http" => authority.strip_suffix(":80").unwrap_or(authority),
        _ => authority,
    };
    format!("{scheme}://{authority}")
}

/// Layer 1: the request comes from the issuer's own origin.
pub(crate) fn check_same_origin(headers: &HeaderMap, issuer: &str) -> Result<(), ApiError> {
    match headers.get(header::ORIGIN) {
        Some(origin) => match origin.to_str() {
            Ok(origin) if origin_of(origin) == origin_of(issuer) => Ok(()),
            _ => Err(refused("origin")),
        },
        None => match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
            Some(b"same-origin") => Ok(()),
            Some(_) => Err(refused("sec-fetch-site")),
            None => Err(refused("no origin")),
        },
    }
}

/// Layer 2 without the session: the `X-CSRF-Token` header is present and equals the
/// CSRF cookie. Returns the token.
pub(crate) fn check_double_submit<'h>(
    headers: &'h HeaderMap,
    cookie: Option<&str>,
) -> Result<&'h str, ApiError> {
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| refused("no csrf header"))?;
    match cookie {
        Some(cookie) if cookie.as_bytes() == sent.as_bytes() => Ok(sent),
        _ => Err(refused("csrf header and cookie differ")),
    }
}

/// Layer 2 with the session: the token is the one issued for `session`.
pub(crate) fn check_session_token(token: &str, session: SessionId) -> Result<(), ApiError> {
    if is_token_of(token, session) {
        Ok(())
    } else {
        Err(refused("csrf token of another session"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn origins() {
        assert_eq!(origin_of("https://authd.test"), "https://authd.test");
        assert_eq!(origin_of("https://Authd.test:443/x"), "https://authd.test");
        assert_eq!(origin_of("http://localhost:8080/"), "http://localhost:8080");
        assert_ne!(
            origin_of("http://localhost:8081"),
            origin_of("http://localhost:8080")
        );
    }

    #[test]
    fn same_origin_rules() {
        let issuer = "https://authd.test";
        let with = |name: &'static str, value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            h
        };
        assert!(check_same_origin(&with("origin", "https://authd.test"), issuer).is_ok());
        assert!(check_same_origin(&with("origin", "https://evil.test"), issuer).is_err());
        assert!(check_same_origin(&with("origin", "null"), issuer).is_err());
        assert!(check_same_origin(&with("sec-fetch-site", "same-origin"), issuer).is_ok());
        assert!(check_same_origin(&with("sec-fetch-site", "same-site"), issuer).is_err());
        assert!(check_same_origin(&HeaderMap::new(), issuer).is_err());
    }
}
