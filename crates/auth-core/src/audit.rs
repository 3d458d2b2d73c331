//! The append-only audit log: what happened, to whom, from where. Never a raw token.

use time::OffsetDateTime;

use crate::session::SessionId;
use crate::users::UserId;

/// Kinds of audit events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditKind {
    /// Correct credentials; a session was created.
    LoginSucceeded,
    /// Wrong credentials (the user may not exist).
    LoginFailed,
    /// A refresh token was exchanged: rotated, or replayed (details: the classification
    /// and, for a replay, its cause and delay).
    TokenRefreshed,
    /// A rotated refresh token was presented again; the session was revoked.
    TokenReuseAttack,
    /// A session was revoked (logout, user or admin action).
    SessionRevoked,
    /// All sessions of a user were revoked.
    LogoutAll,
    /// One access token was revoked by jti.
    AccessTokenRevoked,
    /// Cleanup ran (details carry the counts).
    Cleanup,
    /// A one-time code was delivered (details: the phone; never the code).
    OtpSent,
    /// A one-time code was redeemed and its user signed in.
    OtpVerified,
    /// A one-time code was refused (details: the phone and the reason).
    OtpFailed,
    /// A refresh was refused without revoking the session (details: the reason, e.g.
    /// `client_mismatch`).
    RefreshRefused,
}

impl AuditKind {
    /// Every kind, in declaration order.
    pub const ALL: [AuditKind; 12] = [
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::TokenRefreshed,
        AuditKind::TokenReuseAttack,
        AuditKind::SessionRevoked,
        AuditKind::LogoutAll,
        AuditKind::AccessTokenRevoked,
        AuditKind::Cleanup,
        AuditKind::OtpSent,
        AuditKind::OtpVerified,
        AuditKind::OtpFailed,
        AuditKind::RefreshRefused,
    ];

    /// The stored name, e.g. `TOKEN_REUSE_ATTACK`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginSucceeded => "LOGIN_SUCCEEDED",
            AuditKind::LoginFailed => "LOGIN_FAILED",
            AuditKind::TokenRefreshed => "TOKEN_REFRESHED",
            AuditKind::TokenReuseAttack => "TOKEN_REUSE_ATTACK",
            AuditKind::SessionRevoked => "SESSION_REVOKED",
            AuditKind::LogoutAll => "LOGOUT_ALL",
            AuditKind::AccessTokenRevoked => "ACCESS_TOKEN_REVOKED",
            AuditKind::Cleanup => "CLEANUP",
            AuditKind::OtpSent => "OTP_SENT",
            AuditKind::OtpVerified => "OTP_VERIFIED",
            AuditKind::OtpFailed => "OTP_FAILED",
            AuditKind::RefreshRefused => "REFRESH_REFUSED",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One audit event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// What happened.
    pub kind: AuditKind,
    /// The user concerned, when known.
    pub user_id: Option<UserId>,
    /// The session concerned, when known.
    pub session_id: Option<SessionId>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Structured details (classification, counts); never a token.
    pub details: serde_json::Value,
    /// When.
    pub at: OffsetDateTime,
}

impl AuditEvent {
    /// An event of `kind` at `at` with no user, session, client or details.
    pub fn new(kind: AuditKind, at: OffsetDateTime) -> Self {
        Self {
            kind,
            user_id: None,
            session_id: None,
            ip: None,
            user_agent: None,
            details: serde_json::Value::Object(Default::default()),
            at,
        }
    }
}

/// A stored audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Row id, increasing.
    pub id: i64,
    /// The event.
    pub event: AuditEvent,
}

/// The most rows one [`AuditQuery`] returns.
pub const MAX_AUDIT_PAGE: u32 = 500;

/// A filtered page of the audit log, newest first. Every filter is optional; set ones
/// all apply. Built in core (the service clamps `limit`); a backend translates it into
/// one query (see [`AuditLog::audit_page`](crate::AuditLog::audit_page)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events of this user.
    pub user: Option<UserId>,
    /// Only events of this kind.
    pub kind: Option<AuditKind>,
    /// Only events at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Only events before this instant.
    pub until: Option<OffsetDateTime>,
    /// Paging: only rows whose id is below this one (the `next_before` of the previous
    /// page).
    pub before_id: Option<i64>,
    /// At most this many rows.
    pub limit: u32,
}

impl AuditQuery {
    /// The newest `limit` events, optionally of one user only.
    pub fn recent(user: Option<UserId>, limit: u32) -> Self {
        Self {
            user,
            limit,
            ..Self::default()
        }
    }
}

/// One page of an [`AuditQuery`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    /// The events, newest first.
    pub records: Vec<AuditRecord>,
    /// The `before_id` of the next page; `None` when this page is the last.
    pub next_before: Option<i64>,
}
