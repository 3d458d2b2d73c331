//! Request-level guards: a deadline on every request (503 past it) and the client
//! address resolved through the trusted proxies.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::proxy::TrustedProxies;

/// The client address of a request, as [`TrustedProxies`] resolved it; read by
/// [`ClientContext`](crate::ClientContext).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResolvedClient(pub(crate) std::net::IpAddr);

/// Answers 503 `temporarily_unavailable` when `handled` has not finished within
/// `deadline` (a database that stopped answering mid-statement, say). The handler's
/// future is dropped: sqlx rolls an open transaction back, diesel-async's pool drops
/// a connection left inside one.
pub(crate) async fn enforce_deadline(
    deadline: Option<Duration>,
    handled: impl Future<Output = Response>,
) -> Response {
    let Some(deadline) = deadline else {
        return handled.await;
    };
    match tokio::time::timeout(deadline, handled).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                deadline_ms = deadline.as_millis() as u64,
                "request deadline passed"
            );
            ApiError::unavailable().into_response()
        }
    }
}

/// Puts the [`ResolvedClient`] of `req` into its extensions.
pub(crate) fn resolve_client(proxies: &TrustedProxies, req: &mut Request) {
    if let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        let ip = proxies.client_ip(peer.0.ip(), req.headers());
        req.extensions_mut().insert(ResolvedClient(ip));
    }
}
