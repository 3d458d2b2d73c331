//! Refresh: rotation, the idempotent replay of the immediate predecessor, and reuse
//! detection.

use std::collections::BTreeSet;

use serde_json::{Map, json};
use time::{Duration, OffsetDateTime};

use crate::audit::AuditKind;
use crate::error::{Error, RefreshRejection, Result};
use crate::grant::GrantClaims;
use crate::refresh::{RefreshToken, SuccessorSeed, TokenId};
use crate::session::{NewRefreshToken, RefreshTokenRecord, Replay, RevokeReason, Rotation};
use crate::store::TokenStore;
use crate::users::UserId;

use super::config::CONCURRENT_REPLAY;
use super::refresh_stats::RefreshCause;
use super::{ClientInfo, RefreshStats, Subject, TokenPair, TokenService};

/// A replay the service may answer: the live successor and its derived text.
struct ReplayPlan {
    successor: RefreshTokenRecord,
    successor_token: RefreshToken,
    cause: RefreshCause,
    delay: Duration,
}

/// What one attempt of the exchange loop came to.
enum Attempt {
    Issued(TokenPair),
    /// The conditional write matched nothing (a concurrent rotation or replay won):
    /// read again and classify anew.
    LostRace,
}

impl<S: TokenStore> TokenService<S> {
    /// Exchanges a refresh token for a token pair. What happens depends on the row the
    /// presented text hashes to (ARCHITECTURE.md, "Refresh token rotation and retries"):
    ///
    /// - **live** (neither rotated nor revoked): rotated. One conditional update retires
    ///   it and stores a fresh 32-byte `successor_seed` on it; the successor's text is
    ///   `rt_` + base64url(HMAC-SHA256(seed, presented text)), stored only as its hash.
    ///   Of concurrent rotations of one token exactly one writes; the others read again
    ///   and are answered as replays (cause `concurrent`).
    /// - **the immediate predecessor within the retry window** (rotated, its successor
    ///   still live in the same session, less than
    ///   [`retry_window`](super::TokenServiceConfig::retry_window) after the rotation):
    ///   replayed. The successor's text is derived again from the stored seed and the
    ///   presented text, checked against the successor's stored hash, and returned with
    ///   a fresh access token. No second successor is minted and the successor is not
    ///   rotated: a session's chain never forks. Within a second of the rotation (or
    ///   after losing the race in this call) the cause is `concurrent` and spends no
    ///   budget; later it is `retry` and spends one of
    ///   [`max_retry_replays`](super::TokenServiceConfig::max_retry_replays). Each
    ///   replay appends a TOKEN_REFRESHED row (classification `replay`, the cause, the
    ///   delay).
    /// - **the replay budget spent**, **an older generation** (its successor rotated or
    ///   gone), **after the window**, or **any reuse with a zero window** (the strict
    ///   RFC 9700 reading): cause `theft`. The whole session is revoked,
    ///   [`RefreshRejection::Reused`], a TOKEN_REUSE_ATTACK row with the reason.
    /// - **after revocation**: [`RefreshRejection::Revoked`], nothing written.
    /// - **after expiry** (the token's or the session's): [`RefreshRejection::Expired`];
    ///   idle past the idle timeout: [`RefreshRejection::IdleExpired`].
    /// - **from another client** (the session was opened for another OAuth client, or
    ///   for none): [`RefreshRejection::ClientMismatch`], a REFRESH_REFUSED row, the
    ///   session left alone (the holder may be a misconfigured client, not a thief).
    /// - **without its DPoP key** (the session is bound to a key and the request's
    ///   [`ClientInfo::dpop_jkt`] is missing or another key's):
    ///   [`RefreshRejection::DpopKeyMismatch`], a REFRESH_REFUSED row, the session left
    ///   alone. This is checked before rotation and reuse detection, so a stolen token
    ///   without the key can neither refresh nor end the session.
    /// - **a scope beyond the granted one**: [`RefreshRejection::ScopeExceeded`],
    ///   nothing written; an omitted scope means the granted one.
    ///
    /// Why a per-rotation seed, not a server secret nor sealing: the successor's text
    /// must be recomputable by whoever presents the predecessor again, on any instance
    /// and after a restart, without being stored. Under a server secret the whole
    /// future chain would be a pure function of one token's text, so a leaked secret
    /// plus one leaked token would yield every later token of the session; the secret
    /// would also have to reach every instance and survive its own rotation. Sealing
    /// would keep a decryptable live token in the database. A random seed per rotation
    /// leaves the database with seeds and hashes only: a seed is useless without the
    /// predecessor's text, which only its holder has, and no key exists to distribute.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<TokenPair> {
        self.refresh_for(presented, client, &GrantClaims::default())
            .await
    }

    /// [`refresh`](Self::refresh) for an OAuth grant: `grant.client_id` is the client
    /// presenting the token (it must be the one the session was opened for) and
    /// `grant.scope` the requested scope (`None`: the session's granted scope). The new
    /// access token carries the client and the resulting scope.
    pub async fn refresh_for(
        &self,
        presented: &str,
        client: &ClientInfo,
        grant: &GrantClaims,
    ) -> Result<TokenPair> {
        let result = self.exchange(presented, client, grant).await;
        if let Err(Error::InvalidGrant(rejection)) = &result {
            tracing::info!(classification = ?rejection, "refresh refused");
        }
        result
    }

    /// Counts of rotations, replays by cause, theft verdicts, late replays and the
    /// replay delays since the service started.
    pub fn refresh_stats(&self) -> RefreshStats {
        self.inner.refresh_counters.snapshot()
    }

    async fn exchange(
        &self,
        presented: &str,
        client: &ClientInfo,
        grant: &GrantClaims,
    ) -> Result<TokenPair> {
        let token = RefreshToken::parse(presented)?;
        let hash = token.hash();
        let mut lost_race = false;
        for _ in 0..4 {
            let now = self.now();
            let rec = self
                .inner
                .store
                .find_refresh_token(&hash)
                .await?
                .ok_or(RefreshRejection::Unknown)?;
            if let Some(refusal) = rec.refusal_at(now) {
                return Err(refusal.into());
            }
            if rec.token.client_id != grant.client_id {
                return self.refuse_client(&rec, client, grant, now).await;
            }
            if let Some(bound) = &rec.token.device.dpop_jkt
                && client.dpop_jkt.as_ref() != Some(bound)
            {
                return self.refuse_dpop_key(&rec, client, now).await;
            }
            let scope = granted_scope(rec.token.scope.as_deref(), grant.scope.as_deref())?;
            let grant = GrantClaims {
                client_id: grant.client_id.clone(),
                scope,
            };
            let attempt = if rec.rotated_at.is_some() {
                match self.plan_replay(&rec, &token, now, lost_race).await? {
                    Ok(plan) => self.replay(&rec, plan, client, now, &grant).await?,
                    Err(reason) => return self.reuse_detected(&rec, client, now, reason).await,
                }
            } else {
                self.rotate(&rec, &token, client, now, &grant).await?
            };
            match attempt {
                Attempt::Issued(pair) => return Ok(pair),
                Attempt::LostRace => lost_race = true,
            }
        }
        Err(RefreshRejection::Reused.into())
    }

    async fn rotate(
        &self,
        rec: &RefreshTokenRecord,
        presented: &RefreshToken,
        client: &ClientInfo,
        now: OffsetDateTime,
        grant: &GrantClaims,
    ) -> Result<Attempt> {
        let cfg = &self.inner.config;
        let subject = self.active_subject(rec, now).await?;
        let seed = SuccessorSeed::generate();
        let successor_token = seed.successor_of(presented);
        let t = &rec.token;
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
            client_id: t.client_id.clone(),
            scope: t.scope.clone(),
            device: t.device.clone(),
        };
        let audit = self.audit_event(
            AuditKind::TokenRefreshed,
            Some(t.user_id),
            Some(t.session_id),
            client,
            json!({"generation": successor.generation, "classification": "rotation"}),
            now,
        );
        let rotation = Rotation {
            current: t.id,
            successor,
            successor_seed: seed,
            at: now,
            audit,
        };
        if !self.inner.store.rotate_refresh_token(&rotation).await? {
            return Ok(Attempt::LostRace);
        }
        self.inner.refresh_counters.rotated();
        let pair = self
            .issue_pair(
                subject,
                t.session_id,
                successor_token,
                now,
                grant,
                client.dpop_jkt.as_deref(),
            )
            .await?;
        Ok(Attempt::Issued(pair))
    }

    async fn replay(
        &self,
        rec: &RefreshTokenRecord,
        plan: ReplayPlan,
        client: &ClientInfo,
        now: OffsetDateTime,
        grant: &GrantClaims,
    ) -> Result<Attempt> {
        let ReplayPlan {
            successor,
            successor_token,
            cause,
            delay,
        } = plan;
        let subject = self.active_subject(&successor, now).await?;
        let t = &rec.token;
        let delay_ms = i64::try_from(delay.whole_milliseconds()).unwrap_or(i64::MAX);
        let audit = self.audit_event(
            AuditKind::TokenRefreshed,
            Some(t.user_id),
            Some(t.session_id),
            client,
            json!({
                "generation": successor.token.generation,
                "classification": "replay",
                "cause": cause.as_str(),
                "delay_ms": delay_ms,
            }),
            now,
        );
        let replay = Replay {
            predecessor: t.id,
            successor: successor.token.id,
            budget: (cause == RefreshCause::Retry).then_some(self.inner.config.max_retry_replays),
            audit,
        };
        if !self.inner.store.replay_refresh_token(&replay).await? {
            return Ok(Attempt::LostRace);
        }
        self.inner.refresh_counters.cause(cause);
        tracing::info!(user = %t.user_id, session = %t.session_id, cause = cause.as_str(), delay_ms, "refresh token replayed: same successor returned");
        let pair = self
            .issue_pair(
                subject,
                t.session_id,
                successor_token,
                now,
                grant,
                client.dpop_jkt.as_deref(),
            )
            .await?;
        Ok(Attempt::Issued(pair))
    }

    /// The subject of a refresh of `current`, refusing an idle session or an inactive
    /// user.
    pub(super) async fn active_subject(
        &self,
        current: &RefreshTokenRecord,
        now: OffsetDateTime,
    ) -> Result<Subject> {
        if let Some(idle) = self.inner.config.idle_timeout
            && now >= current.token.issued_at + idle
        {
            return Err(RefreshRejection::IdleExpired.into());
        }
        match self.refresh_subject(current.token.user_id, now).await? {
            Some(subject) => Ok(subject),
            None => Err(RefreshRejection::UserInactive.into()),
        }
    }

    /// Who a refresh issues for, `None` if the user is inactive or gone. Without a claims
    /// provider or claim columns the user's state comes from the revocation cache (fresh
    /// within `cache_max_staleness`, like every access-token check), saving a round trip
    /// per refresh; with either, the user is read so the claims are current.
    pub(super) async fn refresh_subject(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<Subject>> {
        if self.claims_need_user() {
            return Ok(match self.inner.store.find_user(user).await? {
                Some(record) if record.is_active => Some(Subject {
                    user_id: record.id,
                    tokens_valid_after: record.tokens_valid_after,
                    is_admin: record.is_admin,
                    claims: self.app_claims(&record),
                }),
                _ => None,
            });
        }
        let cache = &self.inner.cache;
        cache.ensure_fresh(&self.inner.store, now).await?;
        let state = match cache.user_state(user) {
            // A cached admin flag may predate a demotion made outside the service (no
            // user event): an admin's state is read again, so a refresh never issues a
            // role the user has lost (ARCHITECTURE.md, "Admin users").
            Some(state) if !state.is_admin => state,
            _ => self.load_user_state(user).await?,
        };
        Ok(state.is_active.then(|| Subject {
            user_id: user,
            tokens_valid_after: state.tokens_valid_after,
            is_admin: state.is_admin,
            claims: Map::new(),
        }))
    }

    /// For a rotated token: the replay to answer it with, or the reason it is theft.
    async fn plan_replay(
        &self,
        rec: &RefreshTokenRecord,
        presented: &RefreshToken,
        now: OffsetDateTime,
        lost_race: bool,
    ) -> Result<Result<ReplayPlan, &'static str>> {
        let cfg = &self.inner.config;
        let counters = &self.inner.refresh_counters;
        let (Some(rotated_at), Some(successor_id)) = (rec.rotated_at, rec.replaced_by) else {
            return Ok(Err("older_generation"));
        };
        if cfg.retry_window.is_zero() {
            return Ok(Err("strict"));
        }
        let successor = match self.successor_of(rec, successor_id).await? {
            Some(successor) => successor,
            None => return Ok(Err("older_generation")),
        };
        let delay = now - rotated_at;
        counters.replay_delay(delay);
        if delay >= cfg.retry_window {
            counters.late_replay();
            return Ok(Err("outside_window"));
        }
        let cause = if lost_race || delay < CONCURRENT_REPLAY {
            RefreshCause::Concurrent
        } else {
            RefreshCause::Retry
        };
        if cause == RefreshCause::Retry && rec.reuse_count >= cfg.max_retry_replays {
            return Ok(Err("replay_budget_spent"));
        }
        let Some(seed) = rec.successor_seed else {
            return Ok(Err("not_replayable"));
        };
        let successor_token = seed.successor_of(presented);
        if successor_token.hash() != successor.token.hash {
            return Ok(Err("successor_mismatch"));
        }
        Ok(Ok(ReplayPlan {
            successor,
            successor_token,
            cause,
            delay,
        }))
    }

    /// The successor of `rec` if it is live and in the same session.
    async fn successor_of(
        &self,
        rec: &RefreshTokenRecord,
        successor_id: TokenId,
    ) -> Result<Option<RefreshTokenRecord>> {
        let found = self
            .inner
            .store
            .find_refresh_token_by_id(successor_id)
            .await?;
        Ok(found.filter(|s| s.is_live() && s.token.session_id == rec.token.session_id))
    }

    async fn refuse_client(
        &self,
        rec: &RefreshTokenRecord,
        client: &ClientInfo,
        grant: &GrantClaims,
        now: OffsetDateTime,
    ) -> Result<TokenPair> {
        let t = &rec.token;
        tracing::warn!(user = %t.user_id, session = %t.session_id, presented_client = ?grant.client_id, session_client = ?t.client_id, "refresh token presented by another client; refused, session kept");
        self.audit(
            AuditKind::RefreshRefused,
            Some(t.user_id),
            Some(t.session_id),
            client,
            json!({
                "reason": "client_mismatch",
                "presented_client": grant.client_id,
                "session_client": t.client_id,
            }),
            now,
        )
        .await?;
        Err(RefreshRejection::ClientMismatch.into())
    }

    /// A bound session refreshed without a proof by its key: refused and audited, the
    /// session kept.
    async fn refuse_dpop_key(
        &self,
        rec: &RefreshTokenRecord,
        client: &ClientInfo,
        now: OffsetDateTime,
    ) -> Result<TokenPair> {
        let t = &rec.token;
        let reason = if client.dpop_jkt.is_some() {
            "dpop_key_mismatch"
        } else {
            "dpop_proof_missing"
        };
        tracing::warn!(user = %t.user_id, session = %t.session_id, reason, "DPoP-bound refresh token presented without its key's proof; refused, session kept");
        self.audit(
            AuditKind::RefreshRefused,
            Some(t.user_id),
            Some(t.session_id),
            client,
            json!({ "reason": reason }),
            now,
        )
        .await?;
        Err(RefreshRejection::DpopKeyMismatch.into())
    }

    async fn reuse_detected(
        &self,
        rec: &RefreshTokenRecord,
        client: &ClientInfo,
        now: OffsetDateTime,
        reason: &'static str,
    ) -> Result<TokenPair> {
        let t = &rec.token;
        self.revoke_session_rows(t.session_id, t.user_id, RevokeReason::ReuseDetected, now)
            .await?;
        self.inner.refresh_counters.cause(RefreshCause::Theft);
        let cause = RefreshCause::Theft.as_str();
        tracing::warn!(user = %t.user_id, session = %t.session_id, cause, reason, "refresh token reuse detected; session revoked");
        self.audit(
            AuditKind::TokenReuseAttack,
            Some(t.user_id),
            Some(t.session_id),
            client,
            json!({"classification": reason, "cause": cause, "presented_generation": t.generation}),
            now,
        )
        .await?;
        Err(RefreshRejection::Reused.into())
    }
}

/// The scope a refresh grants: the session's when none is requested, else the
/// requested one if every value of it was granted (RFC 6749 section 6).
fn granted_scope(
    session: Option<&str>,
    requested: Option<&str>,
) -> Result<Option<String>, RefreshRejection> {
    let Some(requested) = requested else {
        return Ok(session.map(str::to_owned));
    };
    let granted: BTreeSet<&str> = session
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let wanted: BTreeSet<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    if !wanted.is_subset(&granted) {
        return Err(RefreshRejection::ScopeExceeded);
    }
    let wanted: Vec<&str> = wanted.into_iter().collect();
    Ok((!wanted.is_empty()).then(|| wanted.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::granted_scope;
    use crate::error::RefreshRejection;

    #[test]
    fn a_refresh_narrows_the_scope_but_never_widens_it() {
        assert_eq!(granted_scope(Some("a b"), None), Ok(Some("a b".into())));
        assert_eq!(granted_scope(None, None), Ok(None));
        assert_eq!(granted_scope(Some("a b"), Some("b")), Ok(Some("b".into())));
        assert_eq!(
            granted_scope(Some("a b"), Some("b c")),
            Err(RefreshRejection::ScopeExceeded)
        );
        assert_eq!(
            granted_scope(None, Some("a")),
            Err(RefreshRejection::ScopeExceeded)
        );
    }
}
