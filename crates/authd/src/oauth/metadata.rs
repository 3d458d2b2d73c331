//! RFC 8414 authorization-server metadata and the OpenID discovery document.

use auth_core::TokenStore;
use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::clients::GrantType;
use crate::app::AppState;

/// Paths of the OAuth endpoints, relative to the issuer.
pub(crate) const TOKEN_PATH: &str = "/oauth/token";
pub(crate) const INTROSPECT_PATH: &str = "/oauth/introspect";
pub(crate) const REVOKE_PATH: &str = "/oauth/revoke";
pub(crate) const FEED_PATH: &str = "/oauth/revocations";
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";
pub(crate) const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
pub(crate) const OPENID_PATH: &str = "/.well-known/openid-configuration";

fn document<S: TokenStore>(state: &AppState<S>) -> Value {
    let issuer = state
        .service
        .config()
        .issuer
        .trim_end_matches('/')
        .to_owned();
    let url = |path: &str| format!("{issuer}{path}");
    let jwks = state.service.keys().jwks();
    let mut algorithms: Vec<&str> = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["alg"].as_str())
        .collect();
    algorithms.sort_unstable();
    algorithms.dedup();
    let grants: Vec<&str> = GrantType::supported(state.service.one_time_codes_enabled())
        .map(GrantType::as_str)
        .collect();
    json!({
        "issuer": state.service.config().issuer,
        "jwks_uri": url(JWKS_PATH),
        "token_endpoint": url(TOKEN_PATH),
        "revocation_endpoint": url(REVOKE_PATH),
        "introspection_endpoint": url(INTROSPECT_PATH),
        "revocation_feed_endpoint": url(FEED_PATH),
        "grant_types_supported": grants,
        // No authorization endpoint: no grant authd supports uses one.
        "response_types_supported": [],
        "scopes_supported": state.oauth.clients.scopes(),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "access_token_signing_alg_values_supported": algorithms,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "claims_supported": ["iss", "aud", "sub", "exp", "iat", "nbf", "jti", "sid", "client_id", "scope", "cnf"],
        // RFC 9449 section 5.1.
        "dpop_signing_alg_values_supported": dpop_algorithms(&state.dpop),
    })
}

/// The proof algorithms the DPoP verifier accepts, by their JOSE names.
fn dpop_algorithms(dpop: &auth_axum::DpopCheck) -> Vec<String> {
    dpop.verifier()
        .config()
        .allowed_algorithms
        .iter()
        .map(|alg| format!("{alg:?}"))
        .collect()
}

fn answer(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /.well-known/oauth-authorization-server`.
pub(crate) async fn authorization_server<S: TokenStore>(
    State(state): State<AppState<S>>,
) -> Response {
    answer(document(&state))
}

/// `GET /.well-known/openid-configuration`: the same document (authd issues no ID
/// tokens; the OpenID fields say what its access tokens use).
pub(crate) async fn openid_configuration<S: TokenStore>(
    State(state): State<AppState<S>>,
) -> Response {
    answer(document(&state))
}
