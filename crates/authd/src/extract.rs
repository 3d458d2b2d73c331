//! axum extractors: the bearer-token [`Authenticated`], the client's [`ClientContext`],
//! and [`Body`] (JSON or form, size-limited, 400 on anything malformed).

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use auth_core::{ClientInfo, TokenService, TokenStore};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// How one bearer-token check ended; see [`AuthState::observe_authentication`].
#[derive(Debug, Clone, Copy)]
pub enum AuthOutcome<'a> {
    /// The token was accepted.
    Accepted,
    /// The request carried no bearer token.
    Missing,
    /// The token was refused, or the check failed.
    Refused(&'a auth_core::Error),
}

/// State that can check bearer tokens: anything that gives access to a
/// [`TokenService`]. Implemented for `TokenService<S>`, `Arc<TokenService<S>>` and
/// authd's own state; another axum service implements it for its state in three lines
/// and then uses [`Authenticated`] in its handlers.
///
/// ```
/// use auth_core::{TokenService, TokenStore};
/// use authd::{AuthState, Authenticated};
///
/// #[derive(Clone)]
/// struct MyState<S: TokenStore> {
///     tokens: TokenService<S>,
///     greeting: &'static str,
/// }
///
/// impl<S: TokenStore> AuthState for MyState<S> {
///     type Store = S;
///     fn token_service(&self) -> &TokenService<S> {
///         &self.tokens
///     }
/// }
///
/// async fn hello<S: TokenStore>(
///     axum::extract::State(state): axum::extract::State<MyState<S>>,
///     auth: Authenticated,
/// ) -> String {
///     format!("{} user {}", state.greeting, auth.user_id)
/// }
///
/// fn routes<S: TokenStore>(state: MyState<S>) -> axum::Router {
///     axum::Router::new().route("/hello", axum::routing::get(hello::<S>)).with_state(state)
/// }
/// ```
pub trait AuthState: Send + Sync {
    /// The store behind the token service.
    type Store: TokenStore;

    /// The token service that checks bearer tokens.
    fn token_service(&self) -> &TokenService<Self::Store>;

    /// Called with every authentication's outcome (authd counts them for /metrics).
    fn observe_authentication(&self, _outcome: AuthOutcome<'_>) {}
}

impl<S: TokenStore> AuthState for TokenService<S> {
    type Store = S;
    fn token_service(&self) -> &TokenService<S> {
        self
    }
}

impl<S: TokenStore> AuthState for Arc<TokenService<S>> {
    type Store = S;
    fn token_service(&self) -> &TokenService<S> {
        self
    }
}

/// A request whose `Authorization: Bearer` access token passed
/// [`TokenService::authenticate`] (signature, claims and the configured revocation
/// mode). Rejects with 401 and `WWW-Authenticate: Bearer ...`, or 500 if the store failed.
#[derive(Debug, Clone)]
pub struct Authenticated(pub auth_core::Authenticated);

impl Deref for Authenticated {
    type Target = auth_core::Authenticated;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The bearer token of a request: `Ok(None)` without one, `Err` for a malformed header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::invalid_token());
    }
    let value = value.to_str().map_err(|_| ApiError::invalid_token())?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(ApiError::invalid_token());
    }
    Ok(Some(token))
}

impl<St: AuthState> FromRequestParts<St> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let token = match bearer_token(&parts.headers) {
            Ok(Some(token)) => token,
            Ok(None) => {
                state.observe_authentication(AuthOutcome::Missing);
                return Err(ApiError::missing_token());
            }
            Err(e) => {
                let malformed =
                    auth_core::Error::InvalidToken(auth_core::TokenRejection::Malformed);
                state.observe_authentication(AuthOutcome::Refused(&malformed));
                return Err(e);
            }
        };
        match state.token_service().authenticate(token).await {
            Ok(auth) => {
                state.observe_authentication(AuthOutcome::Accepted);
                Ok(Authenticated(auth))
            }
            Err(e) => {
                state.observe_authentication(AuthOutcome::Refused(&e));
                Err(e.into())
            }
        }
    }
}

/// Who is calling: the client address and the `User-Agent`. The address is the
/// socket's peer, or, when the peer is a configured trusted proxy, the client its
/// `Forwarded` / `X-Forwarded-For` header names (see `TrustedProxies`).
#[derive(Debug, Clone, Default)]
pub struct ClientContext(pub ClientInfo);

impl<St: Send + Sync> FromRequestParts<St> for ClientContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<crate::deadline::ResolvedClient>() {
            Some(resolved) => Some(resolved.0),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_canonical()),
        };
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(ClientContext(ClientInfo { ip, user_agent }))
    }
}

/// A request body as JSON, or as `application/x-www-form-urlencoded` when so labelled.
/// Larger than the body limit: 413. Anything that does not parse: 400
/// `invalid_request`, without echoing the input.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<St: Send + Sync, T: DeserializeOwned> FromRequest<St> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        let form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::invalid_request("could not read the request body")
            }
        })?;
        let parsed = if form {
            serde_urlencoded::from_bytes(&bytes)
                .map_err(|_| ApiError::invalid_request("malformed form body"))
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                ApiError::invalid_request("the body is not a JSON object with the expected fields")
            })
        };
        parsed.map(Body)
    }
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
    }
}
