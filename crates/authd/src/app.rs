//! The HTTP API (ARCHITECTURE.md, "authd"): state, router and handlers.

use std::sync::Arc;
use std::time::Duration;

use auth_axum::DpopCheck;
use auth_core::{
    ClientInfo, DpopConfig, DpopVerifier, RefreshToken, SessionId, TokenPair, TokenService,
    TokenStore, UserId,
};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cors::CorsPolicy;
use crate::dpop::DpopProof;
use crate::error::ApiError;
use crate::extract::{AuthOutcome, AuthState, Authenticated, Body, ClientContext, DeviceFields};
use crate::guards::{RequestGuards, guard_request};
use crate::metrics::{Metrics, error_label, rejection_label};
use crate::oauth::OAuth;
use crate::proxy::TrustedProxies;
use crate::ratelimit::{RateLimited, RateLimits};
use crate::readiness::readyz;
use crate::resilience::{ResilienceSettings, default_hash_slots};
use crate::shedding::HashSlots;

/// Every route of the API but the OAuth ones (see `oauth`), as matched (used as the
/// `route` label of metrics).
pub const ROUTES: [&str; 12] = [
    "/v1/auth/register",
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/v1/auth/logout",
    "/v1/auth/logout-all",
    "/v1/auth/sessions",
    "/v1/auth/sessions/{id}",
    "/v1/auth/revoke",
    "/v1/me",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// What every handler shares: the token service, rate limiters and metrics (its
/// fields are [`SharedState`]'s). One reference count to clone: axum clones the state
/// for every request, some handlers more than once.
pub struct AppState<S>(Arc<SharedState<S>>);

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<S> std::ops::Deref for AppState<S> {
    type Target = SharedState<S>;

    fn deref(&self) -> &SharedState<S> {
        &self.0
    }
}

/// The parts of an [`AppState`], read through it (`state.service`).
pub struct SharedState<S> {
    /// The token service.
    pub service: TokenService<S>,
    /// The rate limiters.
    pub limits: Arc<RateLimits>,
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// Registered clients and the OAuth endpoints' settings.
    pub oauth: Arc<OAuth>,
    /// The CORS allowlist.
    pub cors: Arc<CorsPolicy>,
    /// The bound on concurrent password hashes (login, register).
    pub hash_slots: HashSlots,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Deadline of every request (`None`: none).
    pub request_timeout: Option<Duration>,
    /// DPoP proof checks: the token endpoints' proofs and DPoP-bound access tokens.
    pub dpop: Arc<DpopCheck>,
}

impl<S> Clone for SharedState<S> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            limits: self.limits.clone(),
            metrics: self.metrics.clone(),
            oauth: self.oauth.clone(),
            cors: self.cors.clone(),
            hash_slots: self.hash_slots.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            request_timeout: self.request_timeout,
            dpop: self.dpop.clone(),
        }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for AppState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AppState").field(&self.0).finish()
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for SharedState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedState")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<S: TokenStore> AuthState for AppState<S> {
    type Verifier = TokenService<S>;

    fn verifier(&self) -> &TokenService<S> {
        &self.service
    }

    fn observe_authentication(&self, outcome: AuthOutcome<'_>) {
        use auth_axum::AuthError as A;
        let label = match outcome {
            AuthOutcome::Accepted => "success",
            AuthOutcome::Missing => "missing",
            AuthOutcome::Refused(A::Rejected(r)) => rejection_label(r),
            AuthOutcome::Refused(A::MalformedHeader) => "malformed",
            AuthOutcome::Refused(A::Service(e)) => error_label(e),
            AuthOutcome::Refused(_) => "error",
        };
        self.metrics.authentication(label);
    }

    fn dpop(&self) -> Option<&DpopCheck> {
        Some(&self.dpop)
    }
}

impl<S: TokenStore> AppState<S> {
    /// State over a service, with limiters, fresh metrics and the default
    /// [`ResilienceSettings`] (see [`with_resilience`](Self::with_resilience)).
    pub fn new(service: TokenService<S>, limits: RateLimits) -> Self {
        let verifier = DpopVerifier::new(DpopConfig::default())
            .expect("the default DPoP configuration is valid");
        let dpop = Arc::new(DpopCheck::new(verifier, service.config().issuer.clone()));
        Self(Arc::new(SharedState {
            dpop,
            service,
            limits: Arc::new(limits),
            metrics: Arc::new(Metrics::default()),
            oauth: Arc::new(OAuth::default()),
            cors: Arc::new(CorsPolicy::default()),
            hash_slots: HashSlots::new(default_hash_slots(), Duration::from_secs(1)),
            trusted_proxies: Arc::new(TrustedProxies::default()),
            request_timeout: None,
        }))
    }

    /// The same state checking DPoP proofs with `verifier` (nonces, window, algorithms);
    /// `htu` is still the issuer plus the request path.
    pub fn with_dpop(mut self, verifier: DpopVerifier) -> Self {
        let origin = self.service.config().issuer.clone();
        self.parts_mut().dpop = Arc::new(DpopCheck::new(verifier, origin));
        self
    }

    /// The parts to change while the state is being built (copied first if it is shared).
    fn parts_mut(&mut self) -> &mut SharedState<S> {
        Arc::make_mut(&mut self.0)
    }

    /// The same state with registered clients and a CORS allowlist.
    pub fn with_oauth(mut self, oauth: OAuth, cors: CorsPolicy) -> Self {
        let parts = self.parts_mut();
        parts.oauth = Arc::new(oauth);
        parts.cors = Arc::new(cors);
        self
    }

    /// The refresh rate limits: per client IP, then per account (the presented
    /// token's owner) when that limit is on.
    pub(crate) async fn check_refresh_limits(
        &self,
        ip: Option<std::net::IpAddr>,
        presented: &str,
    ) -> Result<(), ApiError> {
        if let Err(refused) = self.limits.check_refresh_ip(ip) {
            self.metrics.refresh("rate_limited");
            return Err(self.limited(refused));
        }
        if self.limits.limits_refresh_accounts()
            && let Ok(token) = RefreshToken::parse(presented)
        {
            let owner = self
                .service
                .store()
                .find_refresh_token(&token.hash())
                .await
                .map_err(|e| {
                    self.metrics.refresh("error");
                    ApiError::from(e)
                })?;
            if let Some(record) = owner
                && let Err(refused) = self.limits.check_refresh_account(record.token.user_id)
            {
                self.metrics.refresh("rate_limited");
                return Err(self.limited(refused));
            }
        }
        Ok(())
    }

    /// The hashing bound, trusted proxies and request deadline of `settings`.
    pub fn with_resilience(mut self, settings: &ResilienceSettings) -> Self {
        let parts = self.parts_mut();
        parts.hash_slots = HashSlots::new(settings.hash_slots, settings.hash_wait);
        parts.trusted_proxies = Arc::new(settings.trusted_proxies.clone());
        parts.request_timeout = settings.request_timeout;
        self
    }

    pub(crate) fn limited(&self, refused: RateLimited) -> ApiError {
        self.metrics.rate_limited(refused.limiter);
        tracing::info!(
            limiter = refused.limiter,
            retry_after_ms = refused.retry_after.as_millis() as u64,
            "rate limited"
        );
        ApiError::rate_limited(refused.retry_after)
    }
}

/// The router of the API over `state`, with a body limit of `body_limit` bytes.
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so rate limits
/// and sessions see client addresses.
pub fn router<S: TokenStore>(state: AppState<S>, body_limit: usize) -> Router {
    let guards = Arc::new(RequestGuards {
        metrics: state.metrics.clone(),
        cors: state.cors.clone(),
        proxies: state.trusted_proxies.clone(),
        deadline: state.request_timeout,
        body_limit,
    });
    Router::new()
        .route("/v1/auth/register", post(register::<S>))
        .route("/v1/auth/login", post(login::<S>))
        .route("/v1/auth/refresh", post(refresh::<S>))
        .route("/v1/auth/logout", post(logout::<S>))
        .route("/v1/auth/logout-all", post(logout_all::<S>))
        .route("/v1/auth/sessions", get(list_sessions::<S>))
        .route("/v1/auth/sessions/{id}", delete(revoke_session::<S>))
        .route("/v1/auth/revoke", post(revoke::<S>))
        .route("/v1/me", get(me::<S>))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>))
        .route("/metrics", get(render_metrics::<S>))
        .merge(crate::oauth::routes::<S, _, _>(revoke::<S>))
        .merge(crate::otp::routes::<S>())
        .merge(crate::admin::routes::<S>())
        .merge(crate::browser::routes::<S>())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(guards, guard_request))
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    #[serde(flatten)]
    device: DeviceFields,
}

#[derive(Serialize)]
struct Registered {
    user_id: UserId,
}

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: &'a str,
    session_id: SessionId,
}

/// A token answer, never cached (RFC 6749 section 5.1).
pub(crate) fn token_response(pair: &TokenPair) -> Response {
    let body = TokenResponse {
        access_token: &pair.access_token,
        token_type: pair.token_type,
        expires_in: pair.expires_in,
        refresh_token: pair.refresh_token.expose(),
        session_id: pair.session_id,
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn register<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    Body(body): Body<Credentials>,
) -> Result<Response, ApiError> {
    if let Err(refused) = state.limits.check_register(client.ip) {
        state.metrics.registration("rate_limited");
        return Err(state.limited(refused));
    }
    let registered = state
        .hash_slots
        .run(state.service.register(&body.email, &body.password));
    match registered.await {
        Ok(user_id) => {
            state.metrics.registration("success");
            tracing::info!(user = %user_id, "user registered");
            Ok((StatusCode::CREATED, Json(Registered { user_id })).into_response())
        }
        Err(e) => {
            state.metrics.registration(error_label(&e));
            Err(e.into())
        }
    }
}

async fn login<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    proof: DpopProof,
    Body(body): Body<LoginBody>,
) -> Result<Response, ApiError> {
    let client = proof.bind(body.device.describe(client));
    let pair = state
        .password_login(&body.email, &body.password, &client)
        .await?;
    Ok(token_response(&pair))
}

impl<S: TokenStore> AppState<S> {
    /// A password login as `POST /v1/auth/login` does it: the email normalized, the
    /// login rate limits, a password-hashing slot, metrics and logs.
    pub(crate) async fn password_login(
        &self,
        email: &str,
        password: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair, ApiError> {
        let account = match auth_core::normalize_email(email) {
            Ok(email) => email,
            Err(e) => {
                self.metrics.login("invalid_request");
                return Err(e.into());
            }
        };
        if let Err(refused) = self.limits.check_login(client.ip, &account) {
            self.metrics.login("rate_limited");
            return Err(self.limited(refused));
        }
        let logged_in = self
            .hash_slots
            .run(self.service.login(&account, password, client));
        match logged_in.await {
            Ok(pair) => {
                self.metrics.login("success");
                tracing::info!(user = %pair.user_id, session = %pair.session_id, "login");
                Ok(pair)
            }
            Err(e) => {
                self.metrics.login(error_label(&e));
                if matches!(e, auth_core::Error::InvalidCredentials) {
                    tracing::info!(ip = ?client.ip, "login failed");
                }
                Err(e.into())
            }
        }
    }
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    proof: DpopProof,
    Body(body): Body<RefreshBody>,
) -> Result<Response, ApiError> {
    let client = proof.bind(client);
    state
        .check_refresh_limits(client.ip, &body.refresh_token)
        .await?;
    match state.service.refresh(&body.refresh_token, &client).await {
        Ok(pair) => {
            state.metrics.refresh("success");
            Ok(token_response(&pair))
        }
        Err(e) => {
            state.metrics.refresh(error_label(&e));
            Err(e.into())
        }
    }
}

async fn logout<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    state.service.logout(&auth, &client).await?;
    tracing::info!(user = %auth.user_id, session = %auth.claims.sid, "logout");
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_all<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    let sessions = state.service.logout_all(auth.user_id, &client).await?;
    tracing::info!(user = %auth.user_id, sessions, "logout everywhere");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct SessionView {
    id: SessionId,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_used_at: OffsetDateTime,
    user_agent: Option<String>,
    ip: Option<String>,
    device_id: Option<String>,
    device_name: Option<String>,
    dpop_bound: bool,
    current: bool,
}

async fn list_sessions<S: TokenStore>(
    State(state): State<AppState<S>>,
    auth: Authenticated,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    let sessions = state.service.list_sessions(auth.user_id).await?;
    let current = auth.claims.sid;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionView {
                id: s.id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                user_agent: s.user_agent,
                ip: s.ip,
                device_id: s.device_id,
                device_name: s.device_name,
                dpop_bound: s.dpop_bound,
                current: s.id == current,
            })
            .collect(),
    ))
}

async fn revoke_session<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let session: SessionId = id.parse().map_err(|_| ApiError::not_found())?;
    state
        .service
        .revoke_session(auth.user_id, session, &client)
        .await?;
    tracing::info!(user = %auth.user_id, session = %session, "session revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `token_type_hint` may be sent; it is not needed (the two token kinds cannot be
/// confused) and, as serde ignores unknown fields, is not read.
#[derive(Deserialize)]
struct RevokeBody {
    token: String,
}

/// RFC 7009: 200 whether or not the token was valid, known or already revoked.
async fn revoke<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    Body(body): Body<RevokeBody>,
) -> Result<StatusCode, ApiError> {
    state.service.revoke_token(&body.token, &client).await?;
    Ok(StatusCode::OK)
}

#[derive(Serialize)]
struct Me {
    user_id: UserId,
    email: Option<String>,
}

async fn me<S: TokenStore>(
    State(state): State<AppState<S>>,
    auth: Authenticated,
) -> Result<Json<Me>, ApiError> {
    let user = state
        .service
        .user_profile(auth.user_id)
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    Ok(Json(Me {
        user_id: user.id,
        email: user.email,
    }))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn render_metrics<S: TokenStore>(State(state): State<AppState<S>>) -> Response {
    let mut text = state.metrics.render();
    text.push_str(&crate::metrics::render_refresh_stats(
        &state.service.refresh_stats(),
    ));
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
