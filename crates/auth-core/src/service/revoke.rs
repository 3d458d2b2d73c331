//! Logout and revocation of sessions and access tokens.

use serde_json::json;
use time::OffsetDateTime;

use crate::audit::AuditKind;
use crate::claims::{Authenticated, verify_access_token};
use crate::commands::{AccessTokenRevocation, SessionRevocation, UserRevocation};
use crate::error::{Error, Result};
use crate::refresh::RefreshToken;
use crate::revocation::{RevocationEvent, RevokedItem};
use crate::session::{RevokeReason, SessionId};
use crate::store::TokenStore;
use crate::users::UserId;

use super::{ClientInfo, TokenService, from_seconds, next_whole_second};

impl<S: TokenStore> TokenService<S> {
    pub(super) async fn revoke_session_rows(
        &self,
        session: SessionId,
        user: UserId,
        reason: RevokeReason,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let expires_at = self.event_expiry(now);
        let revoked = self
            .inner
            .store
            .revoke_session(&SessionRevocation {
                session,
                reason,
                at: now,
                event_expires_at: expires_at,
            })
            .await?;
        self.apply_locally(user, RevokedItem::Session(session), now, expires_at);
        Ok(revoked)
    }

    /// Applies a revocation this process just made to its own cache at once.
    pub(super) fn apply_locally(
        &self,
        user: UserId,
        item: RevokedItem,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) {
        let event = RevocationEvent {
            id: 0,
            user_id: user,
            item,
            revoked_at: now,
            expires_at,
        };
        self.inner.cache.apply_local(event, now);
    }

    /// Logs out: revokes the token's session and the token itself.
    pub async fn logout(&self, token: &Authenticated, client: &ClientInfo) -> Result<()> {
        let now = self.now();
        let sid = token.claims.sid;
        self.revoke_session_rows(sid, token.user_id, RevokeReason::Logout, now)
            .await?;
        self.deny_token(token, now).await?;
        self.audit(
            AuditKind::SessionRevoked,
            Some(token.user_id),
            Some(sid),
            client,
            json!({"reason": "logout"}),
            now,
        )
        .await
    }

    pub(super) async fn deny_token(
        &self,
        token: &Authenticated,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let expires_at = from_seconds(token.claims.exp) + self.inner.config.leeway;
        let jti = &token.claims.jti;
        let revoked = self
            .inner
            .store
            .revoke_access_token(&AccessTokenRevocation {
                jti: jti.clone(),
                user: token.user_id,
                at: now,
                expires_at,
            })
            .await?;
        self.apply_locally(
            token.user_id,
            RevokedItem::Token(jti.clone()),
            now,
            expires_at,
        );
        Ok(revoked)
    }

    /// Revokes one access token by its jti (the session stays).
    pub async fn revoke_access_token(
        &self,
        token: &Authenticated,
        client: &ClientInfo,
    ) -> Result<()> {
        let now = self.now();
        if self.deny_token(token, now).await? {
            self.audit(
                AuditKind::AccessTokenRevoked,
                Some(token.user_id),
                Some(token.claims.sid),
                client,
                json!({"jti": token.claims.jti}),
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// Logs out everywhere: revokes every session of the user and moves
    /// `tokens_valid_after`, so every access token issued so far stops working.
    /// Returns the number of sessions revoked.
    pub async fn logout_all(&self, user: UserId, client: &ClientInfo) -> Result<u64> {
        let now = self.now();
        let tva = next_whole_second(now);
        let n = self
            .inner
            .store
            .revoke_user_sessions(&UserRevocation {
                user,
                reason: RevokeReason::LogoutAll,
                at: now,
                event_expires_at: self.event_expiry(now),
                tokens_valid_after: Some(tva),
            })
            .await?;
        self.apply_locally(user, RevokedItem::User(user), now, self.event_expiry(now));
        self.inner.cache.mark_stale();
        self.audit(
            AuditKind::LogoutAll,
            Some(user),
            None,
            client,
            json!({"sessions": n}),
            now,
        )
        .await?;
        Ok(n)
    }

    /// Revokes one session of the user; [`Error::NotFound`] if it is not theirs or not live.
    pub async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        client: &ClientInfo,
    ) -> Result<()> {
        match self
            .inner
            .store
            .live_refresh_token_of_session(session)
            .await?
        {
            Some(live) if live.token.user_id == user => {}
            _ => return Err(Error::NotFound),
        }
        let now = self.now();
        self.revoke_session_rows(session, user, RevokeReason::Revoked, now)
            .await?;
        self.audit(
            AuditKind::SessionRevoked,
            Some(user),
            Some(session),
            client,
            json!({"reason": "revoked"}),
            now,
        )
        .await
    }

    /// RFC 7009 revocation of either token type. Unknown, invalid or expired tokens
    /// are not an error: there is nothing to revoke.
    pub async fn revoke_token(&self, token: &str, client: &ClientInfo) -> Result<()> {
        if let Ok(refresh) = RefreshToken::parse(token) {
            if let Some(rec) = self.inner.store.find_refresh_token(&refresh.hash()).await?
                && rec.revoked_at.is_none()
            {
                let now = self.now();
                let t = &rec.token;
                if self
                    .revoke_session_rows(t.session_id, t.user_id, RevokeReason::Revoked, now)
                    .await?
                {
                    self.audit(
                        AuditKind::SessionRevoked,
                        Some(t.user_id),
                        Some(t.session_id),
                        client,
                        json!({"reason": "rfc7009"}),
                        now,
                    )
                    .await?;
                }
            }
            return Ok(());
        }
        let now = self.now();
        match verify_access_token(
            token,
            &self.inner.keys,
            &self.inner.rules,
            now.unix_timestamp(),
        ) {
            Ok(verified) => self.revoke_access_token(&verified, client).await,
            Err(_) => Ok(()),
        }
    }
}
