//! `GET /.well-known/jwks.json`: the public keys (signing, standby and retired ones
//! alike), with a strong ETag so caches revalidate with `If-None-Match` for a 304.

use auth_core::TokenStore;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::app::AppState;

/// The ETag of a JWKS body: a quoted digest of its bytes.
pub(crate) fn etag_of(body: &[u8]) -> String {
    format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(&Sha256::digest(body)[..18])
    )
}

/// Whether an `If-None-Match` header matches `etag` (a list, `*`, or weak forms).
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

pub(crate) async fn jwks<S: TokenStore>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
) -> Response {
    let body = state.service.keys().jwks().to_string();
    let etag = etag_of(body.as_bytes());
    let mut response = if matches(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = body.into_response();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    };
    let h = response.headers_mut();
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, value);
    }
    response
}
