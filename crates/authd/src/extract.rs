//! axum extractors: the client's [`ClientContext`] and [`Body`] (JSON or form,
//! size-limited, 415 for other content types, 400 on anything malformed). Bearer
//! tokens are checked by auth-axum's [`Authenticated`], re-exported here.

use std::net::SocketAddr;

use auth_core::ClientInfo;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

pub use auth_axum::{AuthOutcome, AuthState, Authenticated};

use crate::error::ApiError;

/// Who is calling: the client address and the `User-Agent`. The address is the
/// socket's peer, or, when the peer is a configured trusted proxy, the client its
/// `Forwarded` / `X-Forwarded-For` header names (see `TrustedProxies`).
#[derive(Debug, Clone, Default)]
pub struct ClientContext(pub ClientInfo);

impl<St: Send + Sync> FromRequestParts<St> for ClientContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<crate::deadline::ResolvedClient>() {
            Some(resolved) => Some(resolved.0),
            None => parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_canonical()),
        };
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(ClientContext(ClientInfo {
            ip,
            user_agent,
            ..Default::default()
        }))
    }
}

/// The optional device description a body that opens a session may carry
/// (`device_id`, `device_name`): kept with the session and shown in its sessions
/// list. The core cleans and bounds both (`SessionDevice::clean_field`).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct DeviceFields {
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
}

impl DeviceFields {
    /// `client` with this device description.
    pub(crate) fn describe(self, client: ClientInfo) -> ClientInfo {
        ClientInfo {
            device_id: self.device_id,
            device_name: self.device_name,
            ..client
        }
    }
}

/// Whether a content type is JSON: `application/json` or `application/*+json`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// A request body as JSON, or as `application/x-www-form-urlencoded` when so
/// labelled. Any other content type, or none: 415 (so no page can post a `text/plain`
/// "simple request" to a JSON endpoint without a CORS preflight). Larger than the
/// body limit: 413. Anything that does not parse: 400 `invalid_request`, without
/// echoing the input.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<St: Send + Sync, T: DeserializeOwned> FromRequest<St> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        let form = crate::oauth::is_form(req.headers());
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        if !form && !json {
            return Err(ApiError::unsupported_media_type(
                "the body must be application/json (or application/x-www-form-urlencoded)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::invalid_request("could not read the request body")
            }
        })?;
        let parsed = if form {
            serde_urlencoded::from_bytes(&bytes)
                .map_err(|_| ApiError::invalid_request("malformed form body"))
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                ApiError::invalid_request("the body is not a JSON object with the expected fields")
            })
        };
        parsed.map(Body)
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json(""));
    }
}
