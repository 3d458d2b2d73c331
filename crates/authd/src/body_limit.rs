//! The request body limit. A body over the limit is answered 413 only after the rest
//! of it (up to a bound) has been read and dropped: a server that answers while the
//! client is still sending, and then closes, makes the kernel reset the connection,
//! so the client sees a broken pipe instead of the 413.

use std::future::Future;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use http_body::Body as _;

use crate::error::ApiError;

/// How much of an oversized body is read and dropped before the 413 (past it the
/// connection is closed as it is).
const DRAIN_BOUND: usize = 1 << 20;

/// Buffers the body up to `limit` bytes and hands the request to `next`; a longer body
/// is drained up to [`DRAIN_BOUND`] more bytes and answered 413. A request without a
/// body is handed on as it is.
pub(crate) async fn limit_body<F: Future<Output = Response>>(
    limit: usize,
    req: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    if req.body().is_end_stream() {
        return next(req).await;
    }
    let (parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return ApiError::invalid_request("the request body could not be read").into_response();
        };
        seen += chunk.len();
        if seen <= limit {
            kept.extend_from_slice(&chunk);
        } else if seen > limit + DRAIN_BOUND {
            break;
        }
    }
    if seen > limit {
        return ApiError::payload_too_large().into_response();
    }
    next(Request::from_parts(parts, Body::from(kept))).await
}
