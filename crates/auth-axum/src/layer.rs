//! [`RequireAuth`]: a tower layer that verifies the bearer token before the handler
//! runs, with the route's own [`Revocation`] checking and, optionally, a scope.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::error::AuthError;
use crate::extract::{AuthState, Authenticated, authenticate};
use crate::verifier::Revocation;

/// Verifies every request's bearer token with `state`'s verifier and the given
/// [`Revocation`]; accepted requests carry [`Authenticated`] (handlers extract it
/// without checking again), refused ones get the [`AuthError`] answer.
///
/// ```
/// # use auth_axum::{RequireAuth, Revocation, Authenticated, AuthState};
/// # fn routes<St: AuthState + Clone + 'static>(state: St) -> axum::Router {
/// use axum::routing::{get, post};
/// axum::Router::new()
///     // Reads may use a token for up to its cache's staleness after a logout...
///     .route("/profile", get(|a: Authenticated| async move { a.user_id.to_string() })
///         .layer(RequireAuth::new(state.clone(), Revocation::Cached)))
///     // ...a payment asks the source of truth, and needs a scope.
///     .route("/pay", post(|| async { "paid" })
///         .layer(RequireAuth::new(state.clone(), Revocation::Strict).scope("payments")))
///     .with_state(state)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RequireAuth<St> {
    state: St,
    revocation: Revocation,
    scope: Option<&'static str>,
}

impl<St> RequireAuth<St> {
    /// A layer verifying with `state` and `revocation`.
    pub fn new(state: St, revocation: Revocation) -> Self {
        Self {
            state,
            revocation,
            scope: None,
        }
    }

    /// Also require `scope` in the token's `scope` claim (403 `insufficient_scope`).
    pub fn scope(mut self, scope: &'static str) -> Self {
        self.scope = Some(scope);
        self
    }
}

impl<St: Clone, Inner> Layer<Inner> for RequireAuth<St> {
    type Service = RequireAuthService<St, Inner>;
    fn layer(&self, inner: Inner) -> Self::Service {
        RequireAuthService {
            config: self.clone(),
            inner,
        }
    }
}

/// The service [`RequireAuth`] wraps around a route.
#[derive(Debug, Clone)]
pub struct RequireAuthService<St, Inner> {
    config: RequireAuth<St>,
    inner: Inner,
}

impl<St, Inner> Service<Request> for RequireAuthService<St, Inner>
where
    St: AuthState + Clone + 'static,
    Inner: Service<Request, Response = Response> + Clone + Send + 'static,
    Inner::Future: Send + 'static,
{
    type Response = Response;
    type Error = Inner::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Inner::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone that was polled ready is the one that serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let auth: Authenticated =
                match authenticate(&parts, &config.state, config.revocation).await {
                    Ok(auth) => auth,
                    Err(e) => return Ok(e.into_response()),
                };
            if let Some(scope) = config.scope
                && !auth.has_scope(scope)
            {
                return Ok(AuthError::InsufficientScope(scope).into_response());
            }
            parts.extensions.insert(auth);
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}
