//! Why a request was not authenticated, and the HTTP answer for it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The `WWW-Authenticate` value of every 401 about a bad bearer token (RFC 6750 section 3).
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer realm="authd", error="invalid_token""#;
/// The `WWW-Authenticate` value of a 401 without a bearer token (RFC 6750 section 3.1).
pub const BEARER_CHALLENGE: &str = r#"Bearer realm="authd""#;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a bearer token was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carried no bearer token (401).
    #[error("no bearer token")]
    Missing,
    /// The `Authorization` header is malformed or repeated (401).
    #[error("malformed Authorization header")]
    MalformedHeader,
    /// The token was refused: signature, claims or revocation (401).
    #[error("access token refused: {0}")]
    Rejected(#[from] auth_core::TokenRejection),
    /// The token lacks a scope the route requires (403 `insufficient_scope`).
    #[error("scope `{0}` required")]
    InsufficientScope(&'static str),
    /// What the check needs is unreachable or too stale to trust: JWKS, revocation
    /// feed or introspection endpoint (503; transient, the request may be retried).
    #[error("token check unavailable: {what}")]
    Unavailable {
        /// What failed.
        what: &'static str,
        /// The underlying error, if any.
        #[source]
        source: Option<Source>,
    },
    /// The in-process token service failed (its store, typically).
    #[error("token service failed")]
    Service(#[source] auth_core::Error),
    /// The issuer's server presented a certificate that is not trusted (unknown CA,
    /// wrong name, expired): a configuration problem, not retried (503).
    #[error("the server certificate was refused while {what}")]
    UntrustedCertificate {
        /// What was being fetched.
        what: &'static str,
        /// The TLS failure.
        #[source]
        source: Source,
    },
    /// The issuer or an endpoint its metadata names is not an https URL, and
    /// [`allow_http`](crate::RemoteVerifierBuilder::allow_http) was not set.
    #[error("the {what} `{url}` must be an https URL (allow_http() permits http in development)")]
    InsecureUrl {
        /// Which URL: the issuer, or a metadata field.
        what: &'static str,
        /// The URL.
        url: String,
    },
    /// The verifier's settings are unusable (a root certificate that is not PEM,
    /// root certificates with a caller's HTTP client).
    #[error("invalid verifier settings: {what}")]
    Settings {
        /// What is wrong.
        what: &'static str,
        /// The underlying error, if any.
        #[source]
        source: Option<Source>,
    },
}

impl AuthError {
    pub(crate) fn unavailable(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        AuthError::Unavailable {
            what,
            source: Some(Box::new(source)),
        }
    }

    /// Whether retrying later may succeed (the failure was not about the token).
    pub fn is_transient(&self) -> bool {
        matches!(self, AuthError::Unavailable { .. } | AuthError::Service(_))
    }

    /// The HTTP status of this answer.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Missing | AuthError::MalformedHeader | AuthError::Rejected(_) => {
                StatusCode::UNAUTHORIZED
            }
            AuthError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            AuthError::Unavailable { .. } | AuthError::UntrustedCertificate { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AuthError::Service(_) | AuthError::InsecureUrl { .. } | AuthError::Settings { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl From<auth_core::Error> for AuthError {
    fn from(err: auth_core::Error) -> Self {
        match err {
            auth_core::Error::InvalidToken(r) => AuthError::Rejected(r),
            other => AuthError::Service(other),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let (code, description, challenge) = match &self {
            AuthError::Missing => (
                "invalid_token",
                "a bearer access token is required",
                Some(BEARER_CHALLENGE),
            ),
            AuthError::MalformedHeader | AuthError::Rejected(_) => {
                tracing::debug!(error = %self, "access token refused");
                (
                    "invalid_token",
                    "the access token is invalid, expired or revoked",
                    Some(INVALID_TOKEN_CHALLENGE),
                )
            }
            AuthError::InsufficientScope(_) => (
                "insufficient_scope",
                "the access token lacks a required scope",
                Some(r#"Bearer realm="authd", error="insufficient_scope""#),
            ),
            AuthError::Unavailable { .. } | AuthError::UntrustedCertificate { .. } => {
                tracing::warn!(error = %ErrorChain(&self), "token check unavailable");
                (
                    "temporarily_unavailable",
                    "the token could not be checked; retry later",
                    None,
                )
            }
            AuthError::Service(_) | AuthError::InsecureUrl { .. } | AuthError::Settings { .. } => {
                tracing::error!(error = %ErrorChain(&self), "token check failed");
                ("server_error", "internal error", None)
            }
        };
        let body = serde_json::json!({"error": code, "error_description": description});
        let mut response = (self.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Displays an error with its sources, `a: b: c`.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

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
