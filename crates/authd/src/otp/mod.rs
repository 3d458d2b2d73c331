//! Phone sign-in over HTTP: `POST /v1/auth/otp/request {phone}` -> 202 and
//! `POST /v1/auth/otp/verify {phone, code}` -> 200 with the usual token pair.

mod senders;
mod settings;

pub use senders::{
    DevelopmentSender, DevelopmentTarget, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender,
};
pub use settings::{OtpSettings, SenderSettings};

use auth_core::{Error, TokenStore};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::app::{AppState, token_response};
use crate::dpop::DpopProof;
use crate::error::ApiError;
use crate::extract::{Body, ClientContext, DeviceFields};

/// The routes, as matched (metrics labels).
pub(crate) const OTP_ROUTES: [&str; 2] = ["/v1/auth/otp/request", "/v1/auth/otp/verify"];

/// The phone sign-in routes over the app state.
pub(crate) fn routes<S: TokenStore>() -> Router<AppState<S>> {
    Router::new()
        .route(OTP_ROUTES[0], post(request_code::<S>))
        .route(OTP_ROUTES[1], post(verify_code::<S>))
}

#[derive(Deserialize)]
struct CodeRequest {
    phone: String,
}

#[derive(Deserialize)]
struct CodeVerification {
    phone: String,
    code: String,
    #[serde(flatten)]
    device: DeviceFields,
}

/// The answer to a refused code request or verification, counted in the metrics.
pub(crate) fn otp_error<S>(state: &AppState<S>, err: Error) -> ApiError {
    let metrics = &state.metrics;
    match err {
        Error::CodeRateLimited { limit, retry_after } => {
            let label = match limit {
                auth_core::CodeLimit::Resend => "otp_resend",
                auth_core::CodeLimit::Phone => "otp_phone",
                _ => "otp_ip",
            };
            metrics.one_time_code(label);
            metrics.rate_limited(label);
            let secs = u64::try_from(retry_after.whole_seconds())
                .unwrap_or(1)
                .max(1);
            ApiError::rate_limited(std::time::Duration::from_secs(secs))
        }
        Error::InvalidCode(reason) => {
            metrics.one_time_code(match reason {
                auth_core::CodeRejection::NoLiveCode => "failed_no_live_code",
                auth_core::CodeRejection::Mismatch => "failed_mismatch",
                auth_core::CodeRejection::AttemptsExhausted => "failed_attempts_exhausted",
                _ => "failed_already_redeemed",
            });
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                "the code is wrong or expired; request a new one",
            )
        }
        Error::CodeDelivery(e) => {
            metrics.one_time_code("delivery_failed");
            tracing::warn!(error = %e, "code delivery failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "delivery_failed",
                "the code could not be sent; try again later",
            )
        }
        Error::InvalidInput { .. } => {
            metrics.one_time_code("invalid_request");
            err.into()
        }
        other => other.into(),
    }
}

fn enabled<S: TokenStore>(state: &AppState<S>) -> Result<(), ApiError> {
    if state.service.one_time_codes_enabled() {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

async fn request_code<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    Body(body): Body<CodeRequest>,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    match state.service.request_code(&body.phone, &client).await {
        Ok(sent) => {
            state.metrics.one_time_code("sent");
            let body =
                serde_json::json!({"expires_in": sent.expires_in, "resend_in": sent.resend_in});
            Ok((StatusCode::ACCEPTED, Json(body)).into_response())
        }
        Err(e) => Err(otp_error(&state, e)),
    }
}

async fn verify_code<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    proof: DpopProof,
    Body(body): Body<CodeVerification>,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    let client = proof.bind(body.device.describe(client));
    match state
        .service
        .verify_code(&body.phone, &body.code, &client)
        .await
    {
        Ok(pair) => {
            state.metrics.one_time_code("verified");
            tracing::info!(user = %pair.user_id, session = %pair.session_id, "phone sign-in");
            Ok(token_response(&pair))
        }
        Err(e) => Err(otp_error(&state, e)),
    }
}
