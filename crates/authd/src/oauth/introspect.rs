//! `POST /oauth/introspect` (RFC 7662), for confidential clients: the same verdict as
//! `authenticate` (signature, claims, the configured revocation mode), or for a
//! refresh token whether it can still be exchanged.

use auth_core::{RefreshToken, TokenStore};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::form::OAuthForm;
use crate::app::AppState;
use crate::error::ApiError;

fn answer(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The introspection endpoint.
pub(crate) async fn introspect<S: TokenStore>(
    State(state): State<AppState<S>>,
    form: OAuthForm,
) -> Result<Response, ApiError> {
    state
        .oauth
        .clients
        .authenticate_confidential(&form.headers, &form.params)?;
    let token = form.require("token")?;
    let inactive = || answer(json!({"active": false}));
    if let Ok(parsed) = RefreshToken::parse(token) {
        let Some(record) = state
            .service
            .store()
            .find_refresh_token(&parsed.hash())
            .await?
        else {
            return Ok(inactive());
        };
        let now = state.service.now();
        let row = &record.token;
        if !record.is_live() || row.expires_at <= now || row.session_expires_at <= now {
            return Ok(inactive());
        }
        return Ok(answer(json!({
            "active": true,
            "token_type": "refresh_token",
            "sub": row.user_id.to_string(),
            "sid": row.session_id.to_string(),
            "iat": row.issued_at.unix_timestamp(),
            "exp": row.expires_at.unix_timestamp(),
            "iss": state.service.config().issuer,
        })));
    }
    match state.service.authenticate(token).await {
        Ok(auth) => {
            let c = &auth.claims;
            let mut body = json!({
                "active": true,
                "token_type": "Bearer",
                "sub": c.sub,
                "iss": c.iss,
                "aud": c.aud,
                "exp": c.exp,
                "iat": c.iat,
                "nbf": c.nbf,
                "jti": c.jti,
                "sid": c.sid.to_string(),
            });
            for name in ["client_id", "scope"] {
                if let Some(value) = auth.claim::<String>(name) {
                    body[name] = value.into();
                }
            }
            Ok(answer(body))
        }
        Err(auth_core::Error::InvalidToken(_)) => Ok(inactive()),
        Err(e) => Err(e.into()),
    }
}
