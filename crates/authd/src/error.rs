//! HTTP errors: `{error, error_description}` JSON, never a token, never a stack trace.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `WWW-Authenticate` value of every 401 that is about a bad bearer token.
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer realm="authd", error="invalid_token""#;
/// The `WWW-Authenticate` value of a 401 without a bearer token (RFC 6750 section 3.1).
pub const BEARER_CHALLENGE: &str = r#"Bearer realm="authd""#;
/// The `WWW-Authenticate` value of a 403 on an internal endpoint (RFC 6750 section 3.1).
pub const INSUFFICIENT_SCOPE_CHALLENGE: &str = r#"Bearer realm="authd", error="insufficient_scope", error_description="the admin role is required""#;
/// The `WWW-Authenticate` value of a 401 `invalid_client` (RFC 6749 section 5.2).
pub const BASIC_CHALLENGE: &str = r#"Basic realm="authd""#;

/// An error answer of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    description: Cow<'static, str>,
    challenge: Option<&'static str>,
    retry_after: Option<Duration>,
    /// A fresh server nonce for the `DPoP-Nonce` header (RFC 9449 section 8).
    dpop_nonce: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ApiError {
    /// An error with a status, an OAuth-style code and a description.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    /// 400 `invalid_dpop_proof` (or `use_dpop_nonce` with a `DPoP-Nonce` header) for
    /// the `DPoP` header of a token request (RFC 9449 section 5).
    pub fn dpop_refused(refusal: auth_axum::AuthError) -> Self {
        tracing::info!(error = %ErrorChain(&refusal), "DPoP proof refused at a token endpoint");
        match refusal {
            auth_axum::AuthError::UseDpopNonce { nonce, .. } => Self {
                dpop_nonce: Some(nonce),
                ..Self::new(
                    StatusCode::BAD_REQUEST,
                    "use_dpop_nonce",
                    "the DPoP proof must carry the nonce of the DPoP-Nonce header",
                )
            },
            other => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_dpop_proof",
                format!("{}", ErrorChain(&other)),
            ),
        }
    }

    /// 401 `invalid_token` with `WWW-Authenticate: Bearer error="invalid_token"`.
    pub fn invalid_token() -> Self {
        Self {
            challenge: Some(INVALID_TOKEN_CHALLENGE),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid, expired or revoked",
            )
        }
    }

    /// 401 for a request without a bearer token.
    pub fn missing_token() -> Self {
        Self {
            challenge: Some(BEARER_CHALLENGE),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "a bearer access token is required",
            )
        }
    }

    /// 403 `insufficient_scope`: a valid access token that is not an active admin's,
    /// on an internal endpoint.
    pub fn forbidden() -> Self {
        Self {
            challenge: Some(INSUFFICIENT_SCOPE_CHALLENGE),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "this endpoint requires the admin role",
            )
        }
    }

    /// 400 `invalid_grant`: any refused refresh token.
    pub fn invalid_grant() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the refresh token is invalid, expired or revoked",
        )
    }

    /// 401 `invalid_credentials`: wrong email or password, or a disabled account; never which.
    pub fn invalid_credentials() -> Self {
        Self {
            challenge: Some(BEARER_CHALLENGE),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong email or password",
            )
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 401 `invalid_client` with `WWW-Authenticate: Basic` (RFC 6749 section 5.2).
    pub fn invalid_client() -> Self {
        Self {
            challenge: Some(BASIC_CHALLENGE),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    }

    /// 415: the body's content type is not one this endpoint reads.
    pub fn unsupported_media_type(expected: &'static str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            expected,
        )
    }

    /// 405 with the usual JSON body.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this resource does not support the request method",
        )
    }

    /// 413: the body is larger than the limit.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "request body too large",
        )
    }

    /// 404.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry later",
            )
        }
    }

    /// 503 `temporarily_unavailable` with `Retry-After: 1`: the database is out of
    /// reach or the service is shedding load; the same request may succeed shortly.
    pub fn unavailable() -> Self {
        Self {
            retry_after: Some(Duration::from_secs(1)),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the service is temporarily unavailable; retry later",
            )
        }
    }

    /// 500 without details (they go to the log).
    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `error` code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<auth_core::Error> for ApiError {
    fn from(err: auth_core::Error) -> Self {
        use auth_core::Error as E;
        match err {
            E::InvalidToken(rejection) => {
                tracing::debug!(%rejection, "access token refused");
                ApiError::invalid_token()
            }
            E::InvalidGrant(rejection) => {
                tracing::info!(%rejection, "refresh token refused");
                ApiError::invalid_grant()
            }
            E::InvalidCredentials => ApiError::invalid_credentials(),
            E::InvalidInput { field, reason } => {
                ApiError::invalid_request(format!("{field}: {reason}"))
            }
            E::EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "this email is already registered",
            ),
            E::NotFound => ApiError::not_found(),
            E::Forbidden => ApiError::forbidden(),
            E::Overloaded => {
                tracing::info!("login shed: no password-hashing slot free in time");
                ApiError::unavailable()
            }
            unavailable @ E::Unavailable(_) => {
                tracing::warn!(error = %ErrorChain(&unavailable), "storage unavailable");
                ApiError::unavailable()
            }
            other => {
                tracing::error!(error = %ErrorChain(&other), "request failed");
                ApiError::server_error()
            }
        }
    }
}

/// Displays an error with its sources, `a: b: c`.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.code,
            error_description: &self.description,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if let Some(nonce) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert("dpop-nonce", nonce);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
