//! Why a request was not authenticated, and the HTTP answer for it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The `WWW-Authenticate` value of every 401 about a bad bearer token (RFC 6750 section 3).
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer realm="authd", error="invalid_token""#;
/// The `WWW-Authenticate` value of a 401 without a bearer token (RFC 6750 section 3.1).
pub const BEARER_CHALLENGE: &str = r#"Bearer realm="authd""#;
/// The `WWW-Authenticate` value of a 401 for a DPoP-bound token sent without its
/// proof, or with a bad one (RFC 9449 section 7.1).
pub const DPOP_PROOF_CHALLENGE: &str = r#"DPoP realm="authd", error="invalid_dpop_proof""#;
/// The `WWW-Authenticate` value of a 401 asking for a proof with a server nonce
/// (RFC 9449 section 9), sent with a `DPoP-Nonce` header.
pub const DPOP_NONCE_CHALLENGE: &str = r#"DPoP realm="authd", error="use_dpop_nonce""#;
/// The `WWW-Authenticate` value of a 401 for a DPoP-bound token sent as a bearer token.
pub const DPOP_TOKEN_CHALLENGE: &str = r#"DPoP realm="authd", error="invalid_token""#;

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
    /// The token is DPoP-bound (`cnf.jkt`) and was sent as a bearer token (401; no
    /// downgrade).
    #[error("DPoP-bound access token sent without DPoP")]
    DpopRequired,
    /// The token is not DPoP-bound and was sent with the `DPoP` scheme (401).
    #[error("access token is not DPoP-bound")]
    NotDpopBound,
    /// The `DPoP` scheme was used without a `DPoP` proof header (401).
    #[error("DPoP proof missing")]
    MissingDpopProof,
    /// The `DPoP` proof was refused (401 `invalid_dpop_proof`).
    #[error("DPoP proof refused")]
    InvalidDpopProof(#[source] auth_core::DpopError),
    /// The proof lacks a valid server nonce (401 `use_dpop_nonce`, with this nonce in
    /// a `DPoP-Nonce` header).
    #[error("DPoP proof needs a server nonce")]
    UseDpopNonce {
        /// The nonce to use.
        nonce: String,
        /// Why the proof's nonce was refused.
        #[source]
        source: auth_core::DpopError,
    },
    /// The proof is valid but by another key than the token's `cnf.jkt` (401).
    #[error("DPoP proof by another key than the token is bound to")]
    DpopKeyMismatch,
    /// A DPoP-bound token reached a verifier without DPoP settings (401; configure a
    /// `DpopCheck` on the state).
    #[error("DPoP-bound access token, but DPoP is not configured here")]
    DpopUnsupported,
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
            AuthError::Missing
            | AuthError::MalformedHeader
            | AuthError::Rejected(_)
            | AuthError::DpopRequired
            | AuthError::NotDpopBound
            | AuthError::MissingDpopProof
            | AuthError::InvalidDpopProof(_)
            | AuthError::UseDpopNonce { .. }
            | AuthError::DpopKeyMismatch
            | AuthError::DpopUnsupported => StatusCode::UNAUTHORIZED,
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
            AuthError::DpopRequired => (
                "invalid_token",
                "this access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof",
                Some(DPOP_TOKEN_CHALLENGE),
            ),
            AuthError::MissingDpopProof
            | AuthError::InvalidDpopProof(_)
            | AuthError::DpopKeyMismatch => {
                tracing::debug!(error = %ErrorChain(&self), "DPoP proof refused");
                (
                    "invalid_dpop_proof",
                    "the DPoP proof is missing, invalid, replayed or by another key",
                    Some(DPOP_PROOF_CHALLENGE),
                )
            }
            AuthError::UseDpopNonce { .. } => (
                "use_dpop_nonce",
                "the DPoP proof must carry the nonce of the DPoP-Nonce header",
                Some(DPOP_NONCE_CHALLENGE),
            ),
            AuthError::DpopUnsupported => {
                tracing::warn!("DPoP-bound access token refused: no DpopCheck configured");
                (
                    "invalid_token",
                    "DPoP-bound access tokens are not accepted here",
                    Some(INVALID_TOKEN_CHALLENGE),
                )
            }
            AuthError::MalformedHeader | AuthError::Rejected(_) | AuthError::NotDpopBound => {
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
        if let AuthError::UseDpopNonce { nonce, .. } = &self
            && let Ok(nonce) = HeaderValue::from_str(nonce)
        {
            headers.insert("dpop-nonce", nonce);
        }
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
