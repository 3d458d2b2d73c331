//! Users as the library sees them: state, `tokens_valid_after`, credentials.

use std::fmt;
use time::OffsetDateTime;

/// A user's id (the `sub` claim as a decimal string).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for UserId {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(UserId)
    }
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Normalised (trimmed, lower-case) email.
    pub email: String,
    /// PHC string, if the user logs in with a password.
    pub password_hash: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Id.
    pub id: UserId,
    /// Email, if any.
    pub email: Option<String>,
    /// PHC string, if any.
    pub password_hash: Option<String>,
    /// Deactivated users can neither log in, refresh, nor authenticate (UserState and stricter).
    pub is_active: bool,
    /// Admin flag.
    pub is_admin: bool,
    /// Tokens issued before this instant are invalid (logout-all, password change).
    pub tokens_valid_after: Option<OffsetDateTime>,
    /// Last successful login.
    pub last_login: Option<OffsetDateTime>,
    /// The values of the store's configured [`UserClaimColumns`](crate::UserClaimColumns),
    /// by column name, with the JSON type the database gives them (string, number,
    /// boolean, null); empty when none is configured. Each becomes an access-token
    /// claim.
    pub column_claims: serde_json::Map<String, serde_json::Value>,
}

/// What the access-token check needs to know about a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserState {
    /// Whether the user may use tokens at all.
    pub is_active: bool,
    /// Tokens with `iat` before this (whole seconds) are invalid.
    pub tokens_valid_after: Option<OffsetDateTime>,
    /// Whether the user is an admin: its next access token carries the admin role.
    pub is_admin: bool,
}

impl UserState {
    /// Whether a token issued at `iat` (seconds) passes this state.
    pub fn check(&self, iat: i64) -> Result<(), crate::TokenRejection> {
        if !self.is_active {
            return Err(crate::TokenRejection::UserInactive);
        }
        match self.tokens_valid_after {
            Some(tva) if iat < tva.unix_timestamp() => {
                Err(crate::TokenRejection::IssuedBeforeValidAfter)
            }
            _ => Ok(()),
        }
    }
}

/// What a user may read about itself (authd's `/v1/me`), cached beside its
/// [`UserState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    /// Id.
    pub id: UserId,
    /// Email, if any.
    pub email: Option<String>,
}

impl From<&UserRecord> for UserProfile {
    fn from(u: &UserRecord) -> Self {
        UserProfile {
            id: u.id,
            email: u.email.clone(),
        }
    }
}

impl From<&UserRecord> for UserState {
    fn from(u: &UserRecord) -> Self {
        UserState {
            is_active: u.is_active,
            tokens_valid_after: u.tokens_valid_after,
            is_admin: u.is_admin,
        }
    }
}

/// Normalises an email for storage and lookup; refuses what cannot be one.
pub fn normalize_email(email: &str) -> crate::Result<String> {
    let email = email.trim().to_lowercase();
    let bad = |reason| {
        Err(crate::Error::InvalidInput {
            field: "email",
            reason,
        })
    };
    if email.is_empty() || email.len() > 254 {
        return bad("must be 1 to 254 characters");
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control()) => {}
        _ => return bad("is not an email address"),
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in ["", "alice", "@x", "a@", "a@b@c", "a b@c", &"x".repeat(300)] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
