//! The `Authorization: Bearer` (RFC 6750 section 2.1) and `Authorization: DPoP`
//! (RFC 9449 section 7.1) headers.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::error::AuthError;

/// How an access token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    /// `Authorization: Bearer`.
    Bearer,
    /// `Authorization: DPoP`, with a `DPoP` proof header.
    Dpop,
}

/// The bearer token of a request: `Ok(None)` without one (or with another scheme),
/// `Err` for a malformed or repeated header.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    Ok(match access_token(headers)? {
        Some((TokenScheme::Bearer, token)) => Some(token),
        _ => None,
    })
}

/// The access token of a request and its scheme (`Bearer` or `DPoP`): `Ok(None)`
/// without one (or with another scheme), `Err` for a malformed or repeated header.
pub fn access_token(headers: &HeaderMap) -> Result<Option<(TokenScheme, &str)>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::MalformedHeader);
    }
    let value = value.to_str().map_err(|_| AuthError::MalformedHeader)?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        TokenScheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        TokenScheme::Dpop
    } else {
        return Ok(None);
    };
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(AuthError::MalformedHeader);
    }
    Ok(Some((scheme, token)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(&headers(&[])).unwrap(), None);
        assert_eq!(
            bearer_token(&headers(&["Bearer abc"])).unwrap(),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers(&["bearer   abc "])).unwrap(),
            Some("abc")
        );
        assert_eq!(
            bearer_token(&headers(&["Basic dXNlcjpwYXNz"])).unwrap(),
            None
        );
        assert!(bearer_token(&headers(&["Bearer"])).is_err());
        assert!(bearer_token(&headers(&["Bearer a b"])).is_err());
        assert!(bearer_token(&headers(&["Bearer a", "Bearer b"])).is_err());
        assert_eq!(bearer_token(&headers(&["DPoP abc"])).unwrap(), None);
    }

    #[test]
    fn dpop_scheme_parsing() {
        assert_eq!(
            access_token(&headers(&["DPoP abc"])).unwrap(),
            Some((TokenScheme::Dpop, "abc"))
        );
        assert_eq!(
            access_token(&headers(&["dpop abc"])).unwrap(),
            Some((TokenScheme::Dpop, "abc"))
        );
        assert_eq!(
            access_token(&headers(&["Bearer abc"])).unwrap(),
            Some((TokenScheme::Bearer, "abc"))
        );
        assert!(access_token(&headers(&["DPoP"])).is_err());
        assert!(access_token(&headers(&["DPoP a", "Bearer a"])).is_err());
        assert_eq!(access_token(&headers(&["Basic x"])).unwrap(), None);
    }
}
