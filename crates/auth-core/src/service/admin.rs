//! Account administration: sessions list, activation, password change, cleanup.

use crate::audit::AuditKind;
use crate::cleanup::{CleanupPolicy, CleanupReport};
use crate::commands::{ActivationChange, PasswordChange};
use crate::error::{Error, Result};
use crate::revocation::RevokedItem;
use crate::session::SessionInfo;
use crate::store::TokenStore;
use crate::users::UserId;

use super::{ClientInfo, TokenService};

impl<S: TokenStore> TokenService<S> {
    /// The user's active sessions, newest login first.
    pub async fn list_sessions(&self, user: UserId) -> Result<Vec<SessionInfo>> {
        let now = self.now();
        let idle = self.inner.config.idle_timeout;
        let mut sessions: Vec<SessionInfo> = self
            .inner
            .store
            .live_refresh_tokens(user, now)
            .await?
            .iter()
            .filter(|r| {
                now < r.token.expires_at && idle.is_none_or(|d| now < r.token.issued_at + d)
            })
            .map(SessionInfo::from)
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        Ok(sessions)
    }

    /// Deactivates or reactivates a user. Deactivation stops logins and refreshes, and
    /// access tokens in every mode but `Stateless`. `Ok(false)` if the user is unknown.
    pub async fn set_user_active(&self, user: UserId, active: bool) -> Result<bool> {
        let now = self.now();
        let found = self
            .inner
            .store
            .set_user_active(&ActivationChange {
                user,
                active,
                at: now,
                event_expires_at: self.event_expiry(now),
            })
            .await?;
        if found {
            self.apply_locally(user, RevokedItem::User(user), now, self.event_expiry(now));
        }
        Ok(found)
    }

    /// Sets a new password and logs the user out everywhere.
    pub async fn change_password(
        &self,
        user: UserId,
        new_password: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        self.inner
            .config
            .password
            .check_new_password(new_password)?;
        self.inner
            .store
            .find_user(user)
            .await?
            .ok_or(Error::NotFound)?;
        let hash = self.hash_password(new_password).await?;
        let change = PasswordChange {
            user,
            password_hash: hash,
            at: self.now(),
        };
        self.inner.store.set_password_hash(&change).await?;
        self.logout_all(user, client).await.map(|_| ())
    }

    /// Removes expired rows (see [`Cleanup`](crate::Cleanup)) and records a CLEANUP audit
    /// row. One-time codes are kept at least for the configured limit window.
    pub async fn cleanup(&self, policy: &CleanupPolicy) -> Result<CleanupReport> {
        let now = self.now();
        let mut policy = *policy;
        if let Some(otp) = &self.inner.otp {
            policy.code_retention = policy.code_retention.max(otp.config.limit_window);
        }
        let report = self.inner.store.cleanup(&policy, now).await?;
        let details = serde_json::to_value(report).unwrap_or_default();
        self.audit(
            AuditKind::Cleanup,
            None,
            None,
            &ClientInfo::default(),
            details,
            now,
        )
        .await?;
        Ok(report)
    }
}
