//! Browser sessions (README, "Browser sessions and the account page"): a password
//! login whose refresh token lives in an `HttpOnly` cookie instead of the page's
//! script, refreshed and ended through cookie-authenticated endpoints guarded against
//! cross-site requests, and the `/account` page that uses them.
//!
//! - `POST /v1/browser/login`: `{email, password, device_name?, device_id?}` (the
//!   same password login as `/v1/auth/login`: rate limits, hashing slots); answers
//!   `{access_token, token_type, expires_in, session_id, csrf_token}` and sets the
//!   cookies (see [`cookie`]). The request must be same-origin (login CSRF).
//! - `POST /v1/browser/refresh`: rotates the cookie's refresh token; same answer.
//! - `POST /v1/browser/logout`: revokes the cookie's session; 204.
//!
//! Refresh and logout pass both CSRF layers of [`csrf`] before anything else; an
//! `invalid_grant` (reuse, revocation, expiry) clears the cookies. Browser sessions
//! are bearer sessions: a `DPoP` header is not read here.

mod cookie;
mod csrf;
mod page;

use auth_core::{ClientInfo, RefreshToken, TokenPair, TokenStore};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Body, ClientContext, DeviceFields};
use crate::metrics::error_label;
use cookie::{
    CSRF_COOKIE, REFRESH_COOKIE, clear_session_cookies, read_cookie, set_session_cookies,
};

/// The browser routes, as matched (the `route` label of metrics).
pub(crate) const BROWSER_ROUTES: [&str; 6] = [
    "/v1/browser/login",
    "/v1/browser/refresh",
    "/v1/browser/logout",
    "/account",
    "/account/account.js",
    "/account/account.css",
];

/// The browser session routes and the account page over the app state.
pub(crate) fn routes<S: TokenStore>() -> Router<AppState<S>> {
    Router::new()
        .route(BROWSER_ROUTES[0], post(login::<S>))
        .route(BROWSER_ROUTES[1], post(refresh::<S>))
        .route(BROWSER_ROUTES[2], post(logout::<S>))
        .route(BROWSER_ROUTES[3], get(page::account_html))
        .route(BROWSER_ROUTES[4], get(page::account_js))
        .route(BROWSER_ROUTES[5], get(page::account_css))
}

/// The body of a browser login.
#[derive(Deserialize)]
struct BrowserLoginBody {
    email: String,
    password: String,
    #[serde(flatten)]
    device: DeviceFields,
}

/// A browser token answer: a token answer without the refresh token (it is in the
/// cookie), with the session's CSRF token.
#[derive(Serialize)]
struct BrowserTokens<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    session_id: String,
    csrf_token: &'a str,
}

/// 401 `login_required`: no refresh cookie (never signed in, or signed out).
fn login_required() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "login_required",
        "no browser session cookie; sign in",
    )
}

/// An error answer that also deletes both cookies.
fn clearing(error: ApiError) -> Response {
    let mut response = error.into_response();
    clear_session_cookies(response.headers_mut());
    response
}

/// The answer to a login or refresh: the JSON body and the session's cookies, living
/// as long as the session has left (from its stored `session_expires_at`).
async fn session_answer<S: TokenStore>(
    state: &AppState<S>,
    pair: &TokenPair,
) -> Result<Response, ApiError> {
    let stored = state
        .service
        .store()
        .find_refresh_token(&pair.refresh_token.hash())
        .await?;
    let remaining = match stored {
        Some(record) => (record.token.session_expires_at - state.service.now()).whole_seconds(),
        None => state.service.config().refresh_ttl.whole_seconds(),
    };
    let csrf = csrf::csrf_token(pair.session_id);
    let body = BrowserTokens {
        access_token: &pair.access_token,
        token_type: pair.token_type,
        expires_in: pair.expires_in,
        session_id: pair.session_id.to_string(),
        csrf_token: &csrf,
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    set_session_cookies(headers, pair.refresh_token.expose(), &csrf, remaining);
    Ok(response)
}

/// `POST /v1/browser/login`: a same-origin password login that sets the cookies.
async fn login<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    headers: HeaderMap,
    Body(body): Body<BrowserLoginBody>,
) -> Result<Response, ApiError> {
    csrf::check_same_origin(&headers, &state.service.config().issuer)?;
    let client = body.device.describe(client);
    let pair = state
        .password_login(&body.email, &body.password, &client)
        .await?;
    session_answer(&state, &pair).await
}

/// The refresh token of a cookie-authenticated request that passed both CSRF layers
/// (and, for refresh, the refresh rate limits), with whether it names a stored token
/// (`false`: it can neither refresh nor be revoked).
async fn checked_cookie<'h, S: TokenStore>(
    state: &AppState<S>,
    headers: &'h HeaderMap,
    client: &ClientInfo,
    limit_refresh: bool,
) -> Result<(&'h str, bool), ApiError> {
    csrf::check_same_origin(headers, &state.service.config().issuer)?;
    let token = csrf::check_double_submit(headers, read_cookie(headers, CSRF_COOKIE))?;
    let presented = read_cookie(headers, REFRESH_COOKIE).ok_or_else(login_required)?;
    if limit_refresh {
        state.check_refresh_limits(client.ip, presented).await?;
    }
    let Ok(parsed) = RefreshToken::parse(presented) else {
        return Ok((presented, false));
    };
    match state
        .service
        .store()
        .find_refresh_token(&parsed.hash())
        .await?
    {
        Some(record) => {
            csrf::check_session_token(token, record.token.session_id)?;
            Ok((presented, true))
        }
        None => Ok((presented, false)),
    }
}

/// `POST /v1/browser/refresh`: rotates the cookie's refresh token (CSRF-checked);
/// any `invalid_grant` clears the cookies.
async fn refresh<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (presented, known) = checked_cookie(&state, &headers, &client, true).await?;
    if !known {
        state.metrics.refresh("invalid_grant");
        return Ok(clearing(ApiError::invalid_grant()));
    }
    match state.service.refresh(presented, &client).await {
        Ok(pair) => {
            state.metrics.refresh("success");
            session_answer(&state, &pair).await
        }
        Err(e) => {
            state.metrics.refresh(error_label(&e));
            let error = ApiError::from(e);
            if error.code() == "invalid_grant" {
                Ok(clearing(error))
            } else {
                Err(error)
            }
        }
    }
}

/// `POST /v1/browser/logout`: revokes the cookie's session (CSRF-checked, RFC 7009
/// semantics) and clears the cookies; 204.
async fn logout<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (presented, known) = checked_cookie(&state, &headers, &client, false).await?;
    if known {
        state.service.revoke_token(presented, &client).await?;
        tracing::info!("browser logout");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    clear_session_cookies(response.headers_mut());
    Ok(response)
}
