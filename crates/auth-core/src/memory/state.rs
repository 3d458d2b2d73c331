//! The tables of a [`MemoryStore`](super::MemoryStore) and the operations on them. Each
//! operation runs under the store's lock, checks every constraint first and only then
//! changes anything, so a refused operation leaves the state as it was.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{MemoryCode, MemoryError, MemoryTables, MemoryUser};
use crate::audit::{AuditEvent, AuditQuery, AuditRecord};
use crate::cleanup::{CleanupBatch, CleanupRule, DeletedBatch};
use crate::error::{Error, Result};
use crate::refresh::{TokenHash, TokenId};
use crate::revocation::{AccessTokenEntry, RevocationCursor, RevocationEvent, RevokedItem};
use crate::session::{
    NewRefreshToken, RefreshTokenRecord, Replay, RevokeReason, Rotation, SessionId,
};
use crate::users::{NewUser, UserId, UserRecord};

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) users: Vec<MemoryUser>,
    /// The application's own columns of the users "table" and their defaults, as added.
    pub(super) user_columns: Vec<(String, serde_json::Value)>,
    pub(super) codes: Vec<MemoryCode>,
    refresh_tokens: Vec<RefreshTokenRecord>,
    access_tokens: Vec<AccessTokenEntry>,
    events: Vec<RevocationEvent>,
    audit: Vec<AuditRecord>,
    pub(super) last_user_id: i64,
    last_event_id: i64,
    last_audit_id: i64,
}

impl State {
    pub(super) fn tables(&self) -> MemoryTables {
        MemoryTables {
            users: self.users.clone(),
            refresh_tokens: self.refresh_tokens.clone(),
            access_tokens: self.access_tokens.clone(),
            revocation_events: self.events.clone(),
            audit: self.audit.clone(),
            codes: self.codes.clone(),
        }
    }

    // ------------------------------------------------------------ users

    fn user_mut(&mut self, id: UserId) -> Option<&mut UserRecord> {
        self.users
            .iter_mut()
            .map(|u| &mut u.record)
            .find(|u| u.id == id)
    }

    fn require_user(&self, id: UserId, what: &'static str) -> Result<(), MemoryError> {
        match self.users.iter().any(|u| u.record.id == id) {
            true => Ok(()),
            false => Err(MemoryError::ForeignKeyViolation(what)),
        }
    }

    pub(super) fn create_user(&mut self, new: &NewUser) -> Result<UserId> {
        if self.find_user_by_email(&new.email).is_some() {
            return Err(Error::EmailTaken);
        }
        self.last_user_id += 1;
        let id = UserId(self.last_user_id);
        self.users.push(MemoryUser {
            record: UserRecord {
                id,
                email: Some(new.email.clone()),
                password_hash: new.password_hash.clone(),
                is_active: true,
                is_admin: false,
                tokens_valid_after: None,
                last_login: None,
                column_claims: Default::default(),
            },
            created_at: new.created_at,
            phone_number: None,
            is_verified: false,
            columns: Default::default(),
        });
        Ok(id)
    }

    pub(super) fn find_user_by_email(&self, email: &str) -> Option<&MemoryUser> {
        self.users
            .iter()
            .find(|u| u.record.email.as_deref() == Some(email))
    }

    pub(super) fn find_user(&self, id: UserId) -> Option<&MemoryUser> {
        self.users.iter().find(|u| u.record.id == id)
    }

    pub(super) fn set_password_hash(&mut self, id: UserId, phc: &str) {
        if let Some(user) = self.user_mut(id) {
            user.password_hash = Some(phc.to_owned());
        }
    }

    pub(super) fn record_login(&mut self, id: UserId, at: OffsetDateTime) {
        if let Some(user) = self.user_mut(id) {
            user.last_login = Some(at);
        }
    }

    pub(super) fn set_user_active(
        &mut self,
        id: UserId,
        active: bool,
        at: OffsetDateTime,
        event_expires_at: OffsetDateTime,
    ) -> bool {
        let Some(user) = self.user_mut(id) else {
            return false;
        };
        user.is_active = active;
        self.push_event(id, RevokedItem::User(id), at, event_expires_at);
        true
    }

    pub(super) fn set_user_admin(&mut self, change: &crate::commands::AdminChange) -> bool {
        let Some(user) = self.user_mut(change.user) else {
            return false;
        };
        user.is_admin = change.admin;
        let item = RevokedItem::User(change.user);
        self.push_event(change.user, item, change.at, change.event_expires_at);
        true
    }

    // ------------------------------------------------------------ refresh tokens

    /// The constraints a new refresh-token row must meet: its user exists, its id and
    /// hash are new, and its session has no live token other than `retiring`.
    fn check_new_refresh_token(
        &self,
        token: &NewRefreshToken,
        retiring: Option<TokenId>,
    ) -> Result<(), MemoryError> {
        self.require_user(token.user_id, "refresh token of an unknown user")?;
        for row in &self.refresh_tokens {
            let t = &row.token;
            if t.id == token.id {
                return Err(MemoryError::UniqueViolation("refresh token id"));
            }
            if t.hash == token.hash {
                return Err(MemoryError::UniqueViolation("refresh token hash"));
            }
            if t.session_id == token.session_id && row.is_live() && Some(t.id) != retiring {
                return Err(MemoryError::UniqueViolation(
                    "live refresh token per session",
                ));
            }
        }
        Ok(())
    }

    fn new_record(token: &NewRefreshToken) -> RefreshTokenRecord {
        RefreshTokenRecord {
            token: token.clone(),
            rotated_at: None,
            replaced_by: None,
            successor_seed: None,
            revoked_at: None,
            revoke_reason: None,
            reuse_count: 0,
        }
    }

    pub(super) fn insert_refresh_token(&mut self, token: &NewRefreshToken) -> Result<()> {
        self.check_new_refresh_token(token, None)?;
        self.refresh_tokens.push(Self::new_record(token));
        Ok(())
    }

    fn refresh_index(&self, id: TokenId) -> Option<usize> {
        self.refresh_tokens.iter().position(|r| r.token.id == id)
    }

    pub(super) fn find_refresh_token(&self, hash: &TokenHash) -> Option<RefreshTokenRecord> {
        self.refresh_tokens
            .iter()
            .find(|r| r.token.hash == *hash)
            .cloned()
    }

    pub(super) fn find_refresh_token_by_id(&self, id: TokenId) -> Option<RefreshTokenRecord> {
        self.refresh_index(id)
            .map(|i| self.refresh_tokens[i].clone())
    }

    pub(super) fn rotate_refresh_token(&mut self, rotation: &Rotation) -> Result<bool> {
        let Some(current) = self
            .refresh_index(rotation.current)
            .filter(|&i| self.refresh_tokens[i].is_live())
        else {
            return Ok(false);
        };
        self.check_new_refresh_token(&rotation.successor, Some(rotation.current))?;
        let retired = &mut self.refresh_tokens[current];
        retired.rotated_at = Some(rotation.at);
        retired.replaced_by = Some(rotation.successor.id);
        retired.successor_seed = Some(rotation.successor_seed);
        self.refresh_tokens
            .push(Self::new_record(&rotation.successor));
        self.push_audit(&rotation.audit);
        Ok(true)
    }

    pub(super) fn replay_refresh_token(&mut self, replay: &Replay) -> Result<bool> {
        if let Some(budget) = replay.budget {
            let Some(i) = self.refresh_index(replay.predecessor).filter(|&i| {
                let row = &self.refresh_tokens[i];
                row.reuse_count < budget && row.replaced_by == Some(replay.successor)
            }) else {
                return Ok(false);
            };
            self.refresh_tokens[i].reuse_count += 1;
        }
        self.push_audit(&replay.audit);
        Ok(true)
    }

    pub(super) fn live_refresh_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Vec<RefreshTokenRecord> {
        let mut live: Vec<RefreshTokenRecord> = self
            .refresh_tokens
            .iter()
            .filter(|r| r.token.user_id == user && r.is_live() && r.token.session_expires_at > now)
            .cloned()
            .collect();
        live.sort_by_key(|r| (r.token.session_created_at, r.token.id.0));
        live
    }

    pub(super) fn live_refresh_token_of_session(
        &self,
        session: SessionId,
    ) -> Option<RefreshTokenRecord> {
        self.refresh_tokens
            .iter()
            .filter(|r| r.token.session_id == session && r.is_live())
            .max_by_key(|r| r.token.generation)
            .cloned()
    }

    /// Marks every unrevoked row of the session revoked, disables its allowlisted
    /// access tokens and appends one session event. `None` if no row was unrevoked,
    /// else whether one of them was live.
    fn revoke_one_session(
        &mut self,
        session: SessionId,
        reason: RevokeReason,
        at: OffsetDateTime,
        event_expires_at: OffsetDateTime,
    ) -> Option<bool> {
        let mut owner = None;
        let mut had_live = false;
        for row in self
            .refresh_tokens
            .iter_mut()
            .filter(|r| r.token.session_id == session && r.revoked_at.is_none())
        {
            had_live |= row.rotated_at.is_none();
            owner = Some(row.token.user_id);
            row.revoked_at = Some(at);
            row.revoke_reason = Some(reason.as_str().to_owned());
        }
        let owner = owner?;
        for entry in self
            .access_tokens
            .iter_mut()
            .filter(|e| e.session_id == session)
        {
            entry.disabled = true;
        }
        self.push_event(owner, RevokedItem::Session(session), at, event_expires_at);
        Some(had_live)
    }

    pub(super) fn revoke_session(
        &mut self,
        session: SessionId,
        reason: RevokeReason,
        at: OffsetDateTime,
        event_expires_at: OffsetDateTime,
    ) -> bool {
        self.revoke_one_session(session, reason, at, event_expires_at)
            .unwrap_or(false)
    }

    pub(super) fn revoke_user_sessions(
        &mut self,
        user: UserId,
        reason: RevokeReason,
        at: OffsetDateTime,
        event_expires_at: OffsetDateTime,
        tokens_valid_after: Option<OffsetDateTime>,
    ) -> u64 {
        // One event per session, in a stable order.
        let sessions: BTreeMap<SessionId, ()> = self
            .refresh_tokens
            .iter()
            .filter(|r| r.token.user_id == user && r.revoked_at.is_none())
            .map(|r| (r.token.session_id, ()))
            .collect();
        let mut revoked = 0;
        for session in sessions.into_keys() {
            if self.revoke_one_session(session, reason, at, event_expires_at) == Some(true) {
                revoked += 1;
            }
        }
        if let Some(tva) = tokens_valid_after
            && let Some(record) = self.user_mut(user)
        {
            record.tokens_valid_after = Some(tva);
            self.push_event(user, RevokedItem::User(user), at, event_expires_at);
        }
        revoked
    }

    // ------------------------------------------------------------ access tokens, feed

    pub(super) fn register_access_token(&mut self, entry: &AccessTokenEntry) -> Result<()> {
        self.require_user(entry.user_id, "access token of an unknown user")?;
        if self.access_tokens.iter().any(|e| e.jti == entry.jti) {
            return Err(MemoryError::UniqueViolation("access token jti").into());
        }
        self.access_tokens.push(entry.clone());
        Ok(())
    }

    pub(super) fn find_access_token(&self, jti: &str) -> Option<AccessTokenEntry> {
        self.access_tokens.iter().find(|e| e.jti == jti).cloned()
    }

    pub(super) fn revoke_access_token(
        &mut self,
        jti: &str,
        user: UserId,
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool> {
        let denied = self
            .events
            .iter()
            .any(|e| matches!(&e.item, RevokedItem::Token(j) if j == jti));
        if denied {
            return Ok(false);
        }
        self.require_user(user, "revocation of an unknown user")?;
        if let Some(entry) = self.access_tokens.iter_mut().find(|e| e.jti == jti) {
            entry.disabled = true;
        }
        self.push_event(user, RevokedItem::Token(jti.to_owned()), at, expires_at);
        Ok(true)
    }

    fn push_event(
        &mut self,
        user_id: UserId,
        item: RevokedItem,
        revoked_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) {
        self.last_event_id += 1;
        self.events.push(RevocationEvent {
            id: self.last_event_id,
            user_id,
            item,
            revoked_at,
            expires_at,
        });
    }

    pub(super) fn revocation_events(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> Vec<RevocationEvent> {
        self.events
            .iter()
            .filter(|e| {
                e.id > cursor.after_id || cursor.recheck_since.is_some_and(|s| e.revoked_at >= s)
            })
            .take(limit as usize)
            .cloned()
            .collect()
    }

    // ------------------------------------------------------------ audit

    pub(super) fn push_audit(&mut self, event: &AuditEvent) {
        self.last_audit_id += 1;
        self.audit.push(AuditRecord {
            id: self.last_audit_id,
            event: event.clone(),
        });
    }

    pub(super) fn audit_page(&self, q: &AuditQuery) -> Vec<AuditRecord> {
        self.audit
            .iter()
            .rev()
            .filter(|r| {
                let e = &r.event;
                q.user.is_none_or(|u| e.user_id == Some(u))
                    && q.kind.is_none_or(|k| e.kind == k)
                    && q.since.is_none_or(|t| e.at >= t)
                    && q.until.is_none_or(|t| e.at < t)
                    && q.before_id.is_none_or(|id| r.id < id)
            })
            .take(q.limit as usize)
            .cloned()
            .collect()
    }

    // ------------------------------------------------------------ cleanup

    /// Deletes the first `batch.limit` rows matching `batch.rule` before `batch.cutoff`
    /// (every matching row is at or after the cursor, so it is not needed here).
    pub(super) fn delete_expired_batch(&mut self, batch: &CleanupBatch) -> DeletedBatch {
        let (cutoff, limit) = (batch.cutoff, batch.limit.max(1) as usize);
        let deleted = match batch.rule {
            CleanupRule::ExpiredSessions => delete_first(&mut self.refresh_tokens, limit, |r| {
                r.token.session_expires_at < cutoff
            }),
            CleanupRule::RevokedSessions => delete_first(&mut self.refresh_tokens, limit, |r| {
                r.revoked_at.is_some_and(|at| at < cutoff)
            }),
            CleanupRule::ExpiredRevocations => {
                delete_first(&mut self.events, limit, |e| e.expires_at < cutoff)
            }
            CleanupRule::ExpiredAccessTokens => {
                delete_first(&mut self.access_tokens, limit, |e| e.expires_at < cutoff)
            }
            CleanupRule::SpentOneTimeCodes => delete_first(&mut self.codes, limit, |c| {
                c.code.created_at < cutoff
                    && (c.consumed_at.is_some()
                        || c.revoked_at.is_some()
                        || c.attempts >= c.code.max_attempts
                        || c.code.expires_at < cutoff)
            }),
            CleanupRule::UnusedCodeLocks => 0,
        };
        DeletedBatch {
            deleted,
            last_key: None,
        }
    }
}

/// Removes the first `limit` rows matching `doomed`, keeping the others in order.
fn delete_first<T>(rows: &mut Vec<T>, limit: usize, doomed: impl Fn(&T) -> bool) -> u64 {
    let mut deleted = 0;
    rows.retain(|row| {
        if deleted < limit && doomed(row) {
            deleted += 1;
            false
        } else {
            true
        }
    });
    deleted as u64
}
