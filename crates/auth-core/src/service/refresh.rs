//! Refresh: rotation, the grace re-exchange and reuse detection.

use serde_json::{Map, json};
use time::OffsetDateTime;

use crate::audit::AuditKind;
use crate::error::{Error, RefreshRejection, Result};
use crate::refresh::{RefreshToken, TokenId};
use crate::session::{
    GraceReexchange, NewRefreshToken, RefreshTokenRecord, RevokeReason, Rotation,
};
use crate::store::TokenStore;
use crate::users::UserId;

use super::{ClientInfo, Subject, TokenPair, TokenService};

impl<S: TokenStore> TokenService<S> {
    /// Exchanges a refresh token for a new pair, rotating it atomically. A rotated
    /// token presented again revokes the whole session unless it is the immediate
    /// predecessor inside the grace window and within its re-exchange budget.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<TokenPair> {
        let result = self.rotate(presented, client).await;
        if let Err(Error::InvalidGrant(rejection)) = &result {
            tracing::info!(classification = ?rejection, "refresh refused");
        }
        result
    }

    pub(super) async fn rotate(&self, presented: &str, client: &ClientInfo) -> Result<TokenPair> {
        let token = RefreshToken::parse(presented)?;
        let hash = token.hash();
        let cfg = &self.inner.config;
        let store = &self.inner.store;
        for _ in 0..4 {
            let now = self.now();
            let rec = store
                .find_refresh_token(&hash)
                .await?
                .ok_or(RefreshRejection::Unknown)?;
            if rec.revoked_at.is_some() {
                return Err(RefreshRejection::Revoked.into());
            }
            if now >= rec.token.session_expires_at || now >= rec.token.expires_at {
                return Err(RefreshRejection::Expired.into());
            }
            let (current, grace) = if rec.rotated_at.is_some() {
                match self.grace_successor(&rec, now).await? {
                    Ok(live) => {
                        let grace = GraceReexchange {
                            predecessor: rec.token.id,
                            max_reuse: cfg.max_grace_reuse,
                        };
                        (live, Some(grace))
                    }
                    Err(reason) => return self.reuse_detected(&rec, client, now, reason).await,
                }
            } else {
                (rec, None)
            };
            if let Some(idle) = cfg.idle_timeout
                && now >= current.token.issued_at + idle
            {
                return Err(RefreshRejection::IdleExpired.into());
            }
            let subject = match self.refresh_subject(current.token.user_id, now).await? {
                Some(subject) => subject,
                None => return Err(RefreshRejection::UserInactive.into()),
            };
            let successor_token = RefreshToken::generate();
            let t = &current.token;
            let successor = NewRefreshToken {
                id: TokenId::new(),
                hash: successor_token.hash(),
                user_id: t.user_id,
                session_id: t.session_id,
                generation: t.generation + 1,
                issued_at: now,
                expires_at: (now + cfg.refresh_ttl).min(t.session_expires_at),
                session_created_at: t.session_created_at,
                session_expires_at: t.session_expires_at,
                user_agent: t.user_agent.clone(),
                ip: t.ip.clone(),
            };
            let audit = self.audit_event(
                AuditKind::TokenRefreshed,
                Some(t.user_id),
                Some(t.session_id),
                client,
                json!({
                    "generation": successor.generation,
                    "grace": grace.is_some(),
                    "classification": if grace.is_some() { "grace_reexchange" } else { "rotation" },
                }),
                now,
            );
            let rotation = Rotation {
                current: t.id,
                successor,
                at: now,
                grace,
                audit,
            };
            if !store.rotate_refresh_token(&rotation).await? {
                // Lost a race or the grace budget: read again and classify anew.
                continue;
            }
            let pair = self
                .issue_pair(subject, t.session_id, successor_token, now)
                .await?;
            return Ok(pair);
        }
        Err(RefreshRejection::Reused.into())
    }

    /// Who a refresh issues for, `None` if the user is inactive or gone. Without a claims
    /// provider the user's state comes from the revocation cache (fresh within
    /// `cache_max_staleness`, like every access-token check), saving a round trip per
    /// refresh; with one, the user is read so the claims are current.
    pub(super) async fn refresh_subject(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<Subject>> {
        if self.inner.claims.is_some() {
            return Ok(match self.inner.store.find_user(user).await? {
                Some(record) if record.is_active => Some(Subject {
                    user_id: record.id,
                    tokens_valid_after: record.tokens_valid_after,
                    claims: self.app_claims(&record),
                }),
                _ => None,
            });
        }
        let cache = &self.inner.cache;
        cache.ensure_fresh(&self.inner.store, now).await?;
        let state = match cache.user_state(user) {
            Some(state) => state,
            None => self.load_user_state(user).await?,
        };
        Ok(state.is_active.then(|| Subject {
            user_id: user,
            tokens_valid_after: state.tokens_valid_after,
            claims: Map::new(),
        }))
    }

    /// For a rotated token: its live successor if a grace re-exchange is allowed,
    /// otherwise why not (the reuse classification).
    pub(super) async fn grace_successor(
        &self,
        rec: &RefreshTokenRecord,
        now: OffsetDateTime,
    ) -> Result<Result<RefreshTokenRecord, &'static str>> {
        let cfg = &self.inner.config;
        let Some(rotated_at) = rec.rotated_at else {
            return Ok(Err("not_rotated"));
        };
        if cfg.reuse_grace.is_zero() {
            return Ok(Err("strict"));
        }
        if now >= rotated_at + cfg.reuse_grace {
            return Ok(Err("outside_grace_window"));
        }
        if rec.reuse_count >= cfg.max_grace_reuse {
            return Ok(Err("grace_reuse_exhausted"));
        }
        let Some(successor_id) = rec.replaced_by else {
            return Ok(Err("older_generation"));
        };
        match self
            .inner
            .store
            .find_refresh_token_by_id(successor_id)
            .await?
        {
            Some(s) if s.is_live() && s.token.session_id == rec.token.session_id => Ok(Ok(s)),
            _ => Ok(Err("older_generation")),
        }
    }

    pub(super) async fn reuse_detected(
        &self,
        rec: &RefreshTokenRecord,
        client: &ClientInfo,
        now: OffsetDateTime,
        reason: &'static str,
    ) -> Result<TokenPair> {
        let t = &rec.token;
        self.revoke_session_rows(t.session_id, t.user_id, RevokeReason::ReuseDetected, now)
            .await?;
        tracing::warn!(user = %t.user_id, session = %t.session_id, reason, "refresh token reuse detected; session revoked");
        self.audit(
            AuditKind::TokenReuseAttack,
            Some(t.user_id),
            Some(t.session_id),
            client,
            json!({"classification": reason, "presented_generation": t.generation}),
            now,
        )
        .await?;
        Err(RefreshRejection::Reused.into())
    }
}
