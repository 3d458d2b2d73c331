//! The HTTP floor: a bare axum server answering authd's route shape (same methods,
//! paths, JSON bodies parsed, JSON answers of the same size) with no auth, no
//! database, no metrics and no logging. What authd's figures are compared against.

use std::net::SocketAddr;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
struct Credentials {
    #[allow(dead_code)]
    email: String,
    #[allow(dead_code)]
    password: String,
}

/// An answer shaped like authd's token response; the refresh token is echoed back so
/// a refresh loop keeps going.
fn token_response(refresh_token: &str) -> Response {
    let access = "e".repeat(420);
    let mut response = Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 900,
        "refresh_token": refresh_token,
        "session_id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
    }))
    .into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn router() -> Router {
    Router::new()
        .route(
            "/v1/me",
            get(|| async { Json(json!({"user_id": 1, "email": "bench@example.com"})) }),
        )
        .route(
            "/v1/auth/refresh",
            post(
                |Json(body): Json<RefreshBody>| async move { token_response(&body.refresh_token) },
            ),
        )
        .route(
            "/v1/auth/login",
            post(|Json(_): Json<Credentials>| async move {
                token_response("rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            }),
        )
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
}

/// Serves the floor on `bind` until killed (the child process of the driver).
pub(crate) fn serve(bind: SocketAddr) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        axum::serve(
            listener,
            router().into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await?;
        Ok(())
    })
}
