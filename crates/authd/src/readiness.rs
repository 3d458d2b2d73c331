//! `/readyz`: whether the database answers, for load balancers and orchestrators
//! (`/healthz` stays liveness: the process serves HTTP).

use std::time::Duration;

use auth_core::{TokenStore, UserId};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ErrorChain;

/// Longest a readiness probe waits for the database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 `{"status":"ready"}` when a primary-key lookup in the users table answers
/// within [`PROBE_TIMEOUT`] (connection, schema and pool all work); else 503
/// `{"status":"unavailable"}` with `Retry-After`.
pub(crate) async fn readyz<S: TokenStore>(State(state): State<AppState<S>>) -> Response {
    let probe =
        tokio::time::timeout(PROBE_TIMEOUT, state.service.store().find_user(UserId(0))).await;
    let (status, body) = match probe {
        Ok(Ok(_)) => (StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %ErrorChain(&e), "readiness probe failed");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        Err(_) => {
            tracing::warn!("readiness probe timed out");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let mut response = (status, Json(serde_json::json!({ "status": body }))).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status != StatusCode::OK {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}
