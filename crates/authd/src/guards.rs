//! The one middleware in front of every route: metrics and the request log, CORS,
//! the client address, the request deadline and the body limit, outermost first.
//! Each is a plain function wrapping the next step, composed in one future, so a
//! request pays for one boxed service and future rather than one per concern.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::ROUTES;
use crate::body_limit::limit_body;
use crate::cors::{CorsPolicy, cors};
use crate::deadline::{enforce_deadline, resolve_client};
use crate::metrics::Metrics;
use crate::oauth::OAUTH_ROUTES;
use crate::proxy::TrustedProxies;

/// What the middleware needs, fixed when the router is built.
#[derive(Debug)]
pub(crate) struct RequestGuards {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) cors: Arc<CorsPolicy>,
    pub(crate) proxies: Arc<TrustedProxies>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) body_limit: usize,
}

/// Runs `req` through every guard to the route's handler.
pub(crate) async fn guard_request(
    State(guards): State<Arc<RequestGuards>>,
    req: Request,
    next: Next,
) -> Response {
    observe(&guards.metrics, req, |req| {
        cors(&guards.cors, req, |mut req| {
            resolve_client(&guards.proxies, &mut req);
            enforce_deadline(
                guards.deadline,
                limit_body(guards.body_limit, req, |req| next.run(req)),
            )
        })
    })
    .await
}

fn static_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Records latency and status per route, and logs each request: at `info` when it was
/// refused or failed (status >= 400), at `debug` otherwise (never a header or body).
async fn observe<F: Future<Output = Response>>(
    metrics: &Metrics,
    req: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    let start = Instant::now();
    let method = static_method(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| {
            ROUTES
                .iter()
                .chain(OAUTH_ROUTES.iter())
                .chain(&crate::otp::OTP_ROUTES)
                .chain(&crate::admin::ADMIN_ROUTES)
                .chain(&crate::browser::BROWSER_ROUTES)
                .copied()
                .find(|r| *r == m.as_str())
        })
        .unwrap_or("unmatched");
    let response = next(req).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    metrics.request(method, route, status, elapsed.as_secs_f64());
    let latency_us = elapsed.as_micros() as u64;
    // Every request is counted in the metrics; a refused or failed one is also logged at
    // `info`, a successful one at `debug` (formatting and writing a line per request
    // would be a sizeable share of a cheap request's cost).
    if status >= 400 {
        tracing::info!(method, route, status, latency_us, "request");
    } else {
        tracing::debug!(method, route, status, latency_us, "request");
    }
    response
}
