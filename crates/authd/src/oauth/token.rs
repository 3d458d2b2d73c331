//! `POST /oauth/token` (RFC 6749 sections 4.3, 4.5, 5 and 6): the password,
//! refresh_token and phone-code grants for registered clients, with section 5.2
//! errors.

use auth_core::{GrantClaims, TokenPair, TokenStore};
use axum::Json;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, ORIGIN, PRAGMA};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::clients::{Client, GrantType};
use super::form::OAuthForm;
use crate::app::AppState;
use crate::dpop::DpopProof;
use crate::error::ApiError;
use crate::extract::ClientContext;
use crate::metrics::error_label;

fn oauth_error(code: &'static str, description: &'static str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, description)
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    session_id: String,
}

fn token_response(pair: &TokenPair, scope: Option<&str>) -> Response {
    let body = TokenResponse {
        access_token: &pair.access_token,
        token_type: pair.token_type,
        expires_in: pair.expires_in,
        refresh_token: pair.refresh_token.expose(),
        scope,
        session_id: pair.session_id.to_string(),
    };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The requested scope, each value registered for the client; normalised (sorted,
/// deduplicated). `invalid_scope` otherwise.
fn granted_scope(client: &Client, requested: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(requested) = requested else {
        return Ok(None);
    };
    let mut scopes: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    if scopes.iter().any(|s| {
        !client.scopes.contains(*s)
            || !s
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    }) {
        return Err(oauth_error(
            "invalid_scope",
            "the requested scope is invalid, unknown or not allowed for this client",
        ));
    }
    scopes.sort_unstable();
    scopes.dedup();
    Ok((!scopes.is_empty()).then(|| scopes.join(" ")))
}

/// The token endpoint.
pub(crate) async fn token<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client_info): ClientContext,
    proof: DpopProof,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    let client_info = proof.bind(client_info);
    let client = state
        .oauth
        .clients
        .authenticate(&form.headers, &form.params)?;
    if let Some(origin) = form.headers.get(ORIGIN)
        && !client
            .origins
            .iter()
            .any(|o| o.as_bytes() == origin.as_bytes())
    {
        return Err(oauth_error(
            "unauthorized_client",
            "this client may not be used from this origin",
        ));
    }
    let phone_sign_in = state.service.one_time_codes_enabled();
    let grant = GrantType::parse(form.require("grant_type")?)
        .filter(|g| GrantType::supported(phone_sign_in).any(|s| s == *g))
        .ok_or_else(|| {
            oauth_error(
                "unsupported_grant_type",
                "the grant type is not supported (see grant_types_supported in the metadata)",
            )
        })?;
    if !client.grants.contains(&grant) {
        return Err(oauth_error(
            "unauthorized_client",
            "this client may not use this grant type",
        ));
    }
    let scope = granted_scope(client, form.get("scope"))?;
    let claims = GrantClaims {
        client_id: Some(client.id.clone()),
        scope: scope.clone(),
    };
    let pair = match grant {
        GrantType::Password => {
            let username = form.require("username")?;
            let password = form.require("password")?;
            let account = auth_core::normalize_email(username).map_err(|_| {
                state.metrics.login("invalid_request");
                bad_credentials()
            })?;
            if let Err(refused) = state.limits.check_login(client_info.ip, &account) {
                state.metrics.login("rate_limited");
                return Err(state.limited(refused));
            }
            match state
                .service
                .login_for(&account, password, &client_info, &claims)
                .await
            {
                Ok(pair) => {
                    state.metrics.login("success");
                    tracing::info!(user = %pair.user_id, session = %pair.session_id, client = %client.id, "login (password grant)");
                    pair
                }
                Err(e) => {
                    state.metrics.login(error_label(&e));
                    return Err(match e {
                        auth_core::Error::InvalidCredentials => bad_credentials(),
                        other => other.into(),
                    });
                }
            }
        }
        GrantType::RefreshToken => {
            let presented = form.require("refresh_token")?;
            state
                .check_refresh_limits(client_info.ip, presented)
                .await?;
            // The scope asked for, `None` for the session's granted one (RFC 6749 section 6);
            // the answer names the scope the new access token carries.
            match state
                .service
                .refresh_for(presented, &client_info, &claims)
                .await
            {
                Ok(pair) => {
                    state.metrics.refresh("success");
                    return Ok(token_response(&pair, pair.scope.as_deref()));
                }
                Err(e) => {
                    state.metrics.refresh(error_label(&e));
                    return Err(match e {
                        auth_core::Error::InvalidGrant(
                            auth_core::RefreshRejection::ScopeExceeded,
                        ) => oauth_error(
                            "invalid_scope",
                            "the requested scope exceeds the scope granted to this session",
                        ),
                        other => other.into(),
                    });
                }
            }
        }
        GrantType::PhoneCode => {
            let phone = form.require("phone")?;
            let code = form.require("code")?;
            match state
                .service
                .verify_code_for(phone, code, &client_info, &claims)
                .await
            {
                Ok(pair) => {
                    state.metrics.one_time_code("verified");
                    tracing::info!(user = %pair.user_id, session = %pair.session_id, client = %client.id, "phone sign-in (phone-code grant)");
                    pair
                }
                Err(e) => {
                    let refused = matches!(
                        e,
                        auth_core::Error::InvalidCode(_) | auth_core::Error::InvalidCredentials
                    );
                    let answer = crate::otp::otp_error(&state, e);
                    return Err(if refused { bad_code() } else { answer });
                }
            }
        }
    };
    Ok(token_response(&pair, scope.as_deref()))
}

fn bad_credentials() -> ApiError {
    oauth_error(
        "invalid_grant",
        "the resource owner credentials are invalid",
    )
}

fn bad_code() -> ApiError {
    oauth_error(
        "invalid_grant",
        "the code is wrong or expired; request a new one",
    )
}
