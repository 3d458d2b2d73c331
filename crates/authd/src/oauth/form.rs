//! The form body of the OAuth endpoints (RFC 6749 appendix B): each parameter at most
//! once, `application/x-www-form-urlencoded` only.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};

use crate::error::ApiError;

/// The request's headers and its form parameters.
#[derive(Debug)]
pub(crate) struct OAuthForm {
    pub(crate) headers: HeaderMap,
    pub(crate) params: HashMap<String, String>,
}

impl OAuthForm {
    /// A parameter, `None` when absent or empty (RFC 6749 section 3.1: empty values
    /// are treated as omitted).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required parameter, or `invalid_request`.
    pub(crate) fn require(&self, name: &'static str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::invalid_request(format!("`{name}` is required")))
    }
}

pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

impl<St: Send + Sync> FromRequest<St> for OAuthForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &St) -> Result<Self, Self::Rejection> {
        if !is_form(req.headers()) {
            return Err(ApiError::unsupported_media_type(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::invalid_request("could not read the request body")
            }
        })?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| ApiError::invalid_request("malformed form body"))?;
        let mut params = HashMap::with_capacity(pairs.len());
        for (name, value) in pairs {
            if params.insert(name, value).is_some() {
                return Err(ApiError::invalid_request(
                    "a parameter appears more than once",
                ));
            }
        }
        Ok(Self { headers, params })
    }
}
