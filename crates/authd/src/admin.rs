//! The internal endpoints under `/v1/admin/`: find users, disable and enable them,
//! list and revoke any user's sessions, read the audit log. Every one requires an
//! access token with the admin role of a user who is still an active admin
//! ([`TokenService::require_admin`]): 401 without a valid token, 403
//! `insufficient_scope` for anyone else.

use auth_core::{
    AuditKind, AuditQuery, AuditRecord, PhoneNumber, SessionId, SessionInfo, TokenStore, UserId,
    UserLookup, UserRecord,
};
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::AppState;
use crate::error::ApiError;
use crate::extract::{Authenticated, ClientContext};

/// The internal routes, as matched (the `route` label of metrics).
pub const ADMIN_ROUTES: [&str; 7] = [
    "/v1/admin/users",
    "/v1/admin/users/{id}",
    "/v1/admin/users/{id}/disable",
    "/v1/admin/users/{id}/enable",
    "/v1/admin/users/{id}/sessions",
    "/v1/admin/users/{id}/sessions/{sid}",
    "/v1/admin/audit",
];

/// The internal routes.
pub(crate) fn routes<S: TokenStore>() -> Router<AppState<S>> {
    Router::new()
        .route("/v1/admin/users", get(find_user::<S>))
        .route("/v1/admin/users/{id}", get(get_user::<S>))
        .route("/v1/admin/users/{id}/disable", post(disable_user::<S>))
        .route("/v1/admin/users/{id}/enable", post(enable_user::<S>))
        .route(
            "/v1/admin/users/{id}/sessions",
            get(list_sessions::<S>).delete(revoke_all_sessions::<S>),
        )
        .route(
            "/v1/admin/users/{id}/sessions/{sid}",
            delete(revoke_session::<S>),
        )
        .route("/v1/admin/audit", get(audit_log::<S>))
}

/// A request by an active admin: its token is valid and its user, read now, is an
/// admin. Rejects with 401 (no or bad token) or 403.
pub(crate) struct Admin(pub(crate) Authenticated);

impl<S: TokenStore> FromRequestParts<AppState<S>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let auth = Authenticated::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        match state.service.require_admin(&auth).await {
            Ok(_) => Ok(Admin(auth)),
            Err(e) => {
                if matches!(e, auth_core::Error::Forbidden) {
                    tracing::info!(user = %auth.user_id, "internal endpoint refused: not an admin");
                }
                Err(ApiError::from(e).into_response())
            }
        }
    }
}

fn query<T: DeserializeOwned + Default>(raw: Option<String>) -> Result<T, ApiError> {
    match raw {
        None => Ok(T::default()),
        Some(q) => serde_urlencoded::from_str(&q)
            .map_err(|e| ApiError::invalid_request(format!("query: {e}"))),
    }
}

fn user_id(id: &str) -> Result<UserId, ApiError> {
    id.parse().map_err(|_| ApiError::not_found())
}

#[derive(Serialize)]
struct UserView {
    id: UserId,
    email: Option<String>,
    is_active: bool,
    is_admin: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    last_login: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    tokens_valid_after: Option<OffsetDateTime>,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email,
            is_active: u.is_active,
            is_admin: u.is_admin,
            last_login: u.last_login,
            tokens_valid_after: u.tokens_valid_after,
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindUser {
    id: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

/// `GET /v1/admin/users?email=…` (or `phone=`, `id=`; exactly one): the user, or 404.
async fn find_user<S: TokenStore>(
    State(state): State<AppState<S>>,
    _admin: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Json<UserView>, ApiError> {
    let q: FindUser = query(raw)?;
    let lookup = match (q.id, q.email, q.phone) {
        (Some(id), None, None) => UserLookup::Id(user_id(&id)?),
        (None, Some(email), None) => UserLookup::Email(email),
        (None, None, Some(phone)) => UserLookup::Phone(PhoneNumber::parse(&phone)?),
        _ => {
            return Err(ApiError::invalid_request(
                "give exactly one of id, email, phone",
            ));
        }
    };
    let user = state.service.find_user_by(&lookup).await?;
    user.map(|u| Json(u.into())).ok_or_else(ApiError::not_found)
}

async fn get_user<S: TokenStore>(
    State(state): State<AppState<S>>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let lookup = UserLookup::Id(user_id(&id)?);
    let user = state.service.find_user_by(&lookup).await?;
    user.map(|u| Json(u.into())).ok_or_else(ApiError::not_found)
}

async fn set_active<S: TokenStore>(
    state: &AppState<S>,
    admin: &Admin,
    id: &str,
    active: bool,
) -> Result<StatusCode, ApiError> {
    let user = user_id(id)?;
    if !state.service.set_user_active(user, active).await? {
        return Err(ApiError::not_found());
    }
    tracing::info!(admin = %admin.0.user_id, %user, active, "user activation changed by an admin");
    Ok(StatusCode::NO_CONTENT)
}

async fn disable_user<S: TokenStore>(
    State(state): State<AppState<S>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_active(&state, &admin, &id, false).await
}

async fn enable_user<S: TokenStore>(
    State(state): State<AppState<S>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_active(&state, &admin, &id, true).await
}

async fn list_sessions<S: TokenStore>(
    State(state): State<AppState<S>>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<SessionInfo>>, ApiError> {
    let user = user_id(&id)?;
    Ok(Json(state.service.list_sessions(user).await?))
}

#[derive(Serialize)]
struct Revoked {
    revoked: u64,
}

/// Revokes every session of the user and invalidates its access tokens.
async fn revoke_all_sessions<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let user = user_id(&id)?;
    let revoked = state.service.logout_all(user, &client).await?;
    tracing::info!(admin = %admin.0.user_id, %user, revoked, "sessions revoked by an admin");
    Ok(Json(Revoked { revoked }))
}

async fn revoke_session<S: TokenStore>(
    State(state): State<AppState<S>>,
    ClientContext(client): ClientContext,
    admin: Admin,
    Path((id, sid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = user_id(&id)?;
    let session: SessionId = sid.parse().map_err(|_| ApiError::not_found())?;
    state.service.revoke_session(user, session, &client).await?;
    tracing::info!(admin = %admin.0.user_id, %user, %session, "session revoked by an admin");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditFilter {
    user: Option<i64>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

fn instant(field: &str, text: Option<String>) -> Result<Option<OffsetDateTime>, ApiError> {
    text.map(|t| {
        OffsetDateTime::parse(&t, &Rfc3339)
            .map_err(|_| ApiError::invalid_request(format!("{field}: not an RFC 3339 time")))
    })
    .transpose()
}

#[derive(Serialize)]
struct AuditView {
    id: i64,
    kind: &'static str,
    user_id: Option<UserId>,
    session_id: Option<SessionId>,
    ip: Option<String>,
    user_agent: Option<String>,
    details: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

impl From<AuditRecord> for AuditView {
    fn from(r: AuditRecord) -> Self {
        let e = r.event;
        Self {
            id: r.id,
            kind: e.kind.as_str(),
            user_id: e.user_id,
            session_id: e.session_id,
            ip: e.ip,
            user_agent: e.user_agent,
            details: e.details,
            at: e.at,
        }
    }
}

#[derive(Serialize)]
struct AuditPageView {
    events: Vec<AuditView>,
    /// The `before` of the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<i64>,
}

/// Default page size of `GET /v1/admin/audit`.
const DEFAULT_AUDIT_LIMIT: u32 = 100;

/// `GET /v1/admin/audit?user=&kind=&since=&until=&before=&limit=`: newest first.
async fn audit_log<S: TokenStore>(
    State(state): State<AppState<S>>,
    _admin: Admin,
    RawQuery(raw): RawQuery,
) -> Result<Json<AuditPageView>, ApiError> {
    let f: AuditFilter = query(raw)?;
    let kind = f
        .kind
        .map(|k| {
            AuditKind::parse(&k.to_ascii_uppercase())
                .ok_or_else(|| ApiError::invalid_request("kind: not an audit event kind"))
        })
        .transpose()?;
    let q = AuditQuery {
        user: f.user.map(UserId),
        kind,
        since: instant("since", f.since)?,
        until: instant("until", f.until)?,
        before_id: f.before,
        limit: f.limit.unwrap_or(DEFAULT_AUDIT_LIMIT),
    };
    let page = state.service.audit_log(&q).await?;
    Ok(Json(AuditPageView {
        events: page.records.into_iter().map(AuditView::from).collect(),
        next_before: page.next_before,
    }))
}
