//! CORS from an allowlist (settings `cors_origins` and each client's `origins`):
//! listed origins get their preflights answered and responses readable with
//! credentials; any origin may read the public documents (JWKS, metadata) without
//! credentials; other origins get no `Access-Control-*` header at all.

use std::collections::HashSet;
use std::future::Future;

use axum::extract::Request;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// The allowed origins.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: HashSet<String>,
}

const PUBLIC_PATHS: [&str; 3] = [
    "/.well-known/jwks.json",
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
];

impl CorsPolicy {
    /// A policy allowing `origins` (each `scheme://host[:port]`).
    pub fn new<'a>(origins: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            origins: origins.into_iter().map(str::to_owned).collect(),
        }
    }

    fn listed<'h>(&self, headers: &'h HeaderMap) -> (Option<&'h HeaderValue>, bool) {
        let origin = headers.get(ORIGIN);
        let listed = origin
            .and_then(|o| o.to_str().ok())
            .is_some_and(|o| self.origins.contains(o));
        (origin, listed)
    }
}

fn allow(headers: &mut HeaderMap, origin: Option<&HeaderValue>, listed: bool, public: bool) {
    match origin {
        Some(origin) if listed => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        Some(_) if public => {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        _ => {}
    }
}

/// Answers a preflight `req` itself; otherwise hands it to `next` and adds the CORS
/// headers to the response.
pub(crate) async fn cors<F: Future<Output = Response>>(
    policy: &CorsPolicy,
    req: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    let (origin, listed) = policy.listed(req.headers());
    let origin = origin.cloned();
    let public = PUBLIC_PATHS.contains(&req.uri().path());
    let preflight = req.method() == Method::OPTIONS
        && origin.is_some()
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if listed || public {
            let h = r.headers_mut();
            h.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, DELETE"),
            );
            h.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type, if-none-match, dpop"),
            );
            h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
        r
    } else {
        let mut r = next(req).await;
        if listed || public {
            r.headers_mut().insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("www-authenticate, retry-after, etag, dpop-nonce"),
            );
        }
        r
    };
    let h = response.headers_mut();
    allow(h, origin.as_ref(), listed, public);
    h.append(VARY, HeaderValue::from_static("origin"));
    response
}
