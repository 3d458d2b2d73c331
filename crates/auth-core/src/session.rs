//! Sessions (rotation families) and the refresh-token rows that make them up.

use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::error::RefreshRejection;
use crate::refresh::{SuccessorSeed, TokenHash, TokenId};
use crate::users::UserId;

/// Identifier of a session: one login on one device, the family of its refresh tokens.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl SessionId {
    /// A new random session id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for SessionId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// A refresh token row to insert: the first of a session, or a rotation successor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// Row id, chosen by the library.
    pub id: TokenId,
    /// SHA-256 of the token text.
    pub hash: TokenHash,
    /// Owner.
    pub user_id: UserId,
    /// The session (rotation family).
    pub session_id: SessionId,
    /// 0 for the login token, predecessor's + 1 after each rotation.
    pub generation: i32,
    /// When this token was issued; also the session's last use.
    pub issued_at: OffsetDateTime,
    /// When this token stops being accepted.
    pub expires_at: OffsetDateTime,
    /// When the session started (login).
    pub session_created_at: OffsetDateTime,
    /// The session's absolute expiry.
    pub session_expires_at: OffsetDateTime,
    /// Client user agent at login, truncated to 512 characters.
    pub user_agent: Option<String>,
    /// Client IP at login.
    pub ip: Option<String>,
    /// The OAuth client the session was opened for (`None`: the JSON API, no client);
    /// only that client may refresh it.
    pub client_id: Option<String>,
    /// The scope granted when the session was opened, space-separated; a refresh may
    /// narrow it, never widen it.
    pub scope: Option<String>,
    /// The device the session was opened on and the DPoP key it is bound to, copied by
    /// every rotation.
    pub device: SessionDevice,
}

/// Longest device id or device name a session keeps, in characters.
pub const DEVICE_FIELD_MAX_CHARS: usize = 128;

/// The device a session was opened on, as its client described it, and the DPoP key
/// (RFC 9449) its refresh tokens are bound to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDevice {
    /// Client-chosen device id (at most [`DEVICE_FIELD_MAX_CHARS`], no control
    /// characters).
    pub device_id: Option<String>,
    /// Client-chosen device name shown in session lists (same bounds).
    pub device_name: Option<String>,
    /// RFC 7638 SHA-256 thumbprint of the DPoP public key the session is bound to: a
    /// refresh needs a valid proof by that key. `None`: an unbound (bearer) session.
    pub dpop_jkt: Option<String>,
}

impl SessionDevice {
    /// A device id or name as stored: control characters dropped, surrounding
    /// whitespace trimmed, cut to [`DEVICE_FIELD_MAX_CHARS`]; `None` when nothing is
    /// left.
    pub fn clean_field(raw: Option<&str>) -> Option<String> {
        let cleaned: String = raw?
            .chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .chars()
            .take(DEVICE_FIELD_MAX_CHARS)
            .collect();
        let cleaned = cleaned.trim_end().to_owned();
        (!cleaned.is_empty()).then_some(cleaned)
    }
}

/// A stored refresh token row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// The row as inserted.
    pub token: NewRefreshToken,
    /// When it was exchanged for a successor.
    pub rotated_at: Option<OffsetDateTime>,
    /// The successor's row id.
    pub replaced_by: Option<TokenId>,
    /// The seed the successor's text was derived from (set with `replaced_by`).
    pub successor_seed: Option<SuccessorSeed>,
    /// When its session was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Why (see [`RevokeReason`]).
    pub revoke_reason: Option<String>,
    /// How many retry replays this token has had (the replay budget spent).
    pub reuse_count: i32,
}

impl RefreshTokenRecord {
    /// Neither rotated nor revoked.
    pub fn is_live(&self) -> bool {
        self.rotated_at.is_none() && self.revoked_at.is_none()
    }

    /// Why the row itself refuses a refresh at `now`: its session was revoked, or it or
    /// its session has expired.
    pub(crate) fn refusal_at(&self, now: OffsetDateTime) -> Option<RefreshRejection> {
        if self.revoked_at.is_some() {
            Some(RefreshRejection::Revoked)
        } else if now >= self.token.session_expires_at || now >= self.token.expires_at {
            Some(RefreshRejection::Expired)
        } else {
            None
        }
    }
}

/// One active session as shown to its user or an admin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SessionInfo {
    /// Session id.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Login time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last refresh (or login).
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
    /// Absolute expiry.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// User agent at login.
    pub user_agent: Option<String>,
    /// IP at login.
    pub ip: Option<String>,
    /// Client-chosen device id.
    pub device_id: Option<String>,
    /// Client-chosen device name.
    pub device_name: Option<String>,
    /// Whether the session's refresh tokens are bound to a DPoP key.
    pub dpop_bound: bool,
}

impl From<&RefreshTokenRecord> for SessionInfo {
    fn from(r: &RefreshTokenRecord) -> Self {
        let t = &r.token;
        SessionInfo {
            id: t.session_id,
            user_id: t.user_id,
            created_at: t.session_created_at,
            last_used_at: t.issued_at,
            expires_at: t.session_expires_at,
            user_agent: t.user_agent.clone(),
            ip: t.ip.clone(),
            device_id: t.device.device_id.clone(),
            device_name: t.device.device_name.clone(),
            dpop_bound: t.device.dpop_jkt.is_some(),
        }
    }
}

/// An atomic rotation: retire `current`, insert `successor`, in one transaction or statement.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The live token being exchanged; must still be live or nothing is written.
    pub current: TokenId,
    /// The new live token of the session.
    pub successor: NewRefreshToken,
    /// Stored on `current` with `replaced_by`: the successor's text is derived from it
    /// and the presented text of `current`, so a replay can hand it out again.
    pub successor_seed: SuccessorSeed,
    /// Time of the rotation.
    pub at: OffsetDateTime,
    /// The TOKEN_REFRESHED audit row, written in the same transaction (or statement) as
    /// the rotation, and only if the rotation is written.
    pub audit: AuditEvent,
}

/// A replay: the rotated `predecessor` was presented again and is answered with its
/// existing successor. Nothing but the budget counter and the audit row is written.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The rotated token presented again.
    pub predecessor: TokenId,
    /// Its successor, which the replay hands out again.
    pub successor: TokenId,
    /// For a retry: the predecessor's `reuse_count` goes up by one, only while it is
    /// below this bound and `replaced_by` is still `successor`; otherwise nothing is
    /// written. `None` (a concurrent replay) spends no budget.
    pub budget: Option<i32>,
    /// The audit row, written with the budget update and only if it is written.
    pub audit: AuditEvent,
}

/// Why a session was revoked; stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeReason {
    /// The user logged out.
    Logout,
    /// The user logged out everywhere (or changed password).
    LogoutAll,
    /// A rotated token was presented again.
    ReuseDetected,
    /// The user or an admin revoked this one session.
    Revoked,
    /// The user was deactivated.
    UserDisabled,
}

impl RevokeReason {
    /// Every reason, in declaration order.
    pub const ALL: [RevokeReason; 5] = [
        RevokeReason::Logout,
        RevokeReason::LogoutAll,
        RevokeReason::ReuseDetected,
        RevokeReason::Revoked,
        RevokeReason::UserDisabled,
    ];

    /// Parses the stored text.
    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == stored)
    }

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::LogoutAll => "logout_all",
            RevokeReason::ReuseDetected => "reuse_detected",
            RevokeReason::Revoked => "revoked",
            RevokeReason::UserDisabled => "user_disabled",
        }
    }
}
