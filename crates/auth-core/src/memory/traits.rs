//! The store traits over [`MemoryStore`]: each call takes the lock once and runs one
//! operation of [`State`](super::state::State).

use time::OffsetDateTime;

use super::MemoryStore;
use crate::audit::{AuditEvent, AuditQuery, AuditRecord};
use crate::cleanup::{CleanupBatch, DeletedBatch};
use crate::commands::{
    AccessTokenRevocation, ActivationChange, LoginRecord, PasswordChange, SessionRevocation,
    UserRevocation,
};
use crate::error::Result;
use crate::refresh::{TokenHash, TokenId};
use crate::revocation::{AccessTokenEntry, RevocationCursor, RevocationEvent};
use crate::session::{NewRefreshToken, RefreshTokenRecord, Replay, Rotation, SessionId};
use crate::store::{AccessTokenStore, AuditLog, Cleanup, RefreshTokenStore, UserDirectory};
use crate::user_columns::UserClaimColumns;
use crate::users::{NewUser, UserId, UserRecord};

impl UserDirectory for MemoryStore {
    async fn create_user(&self, user: &NewUser) -> Result<UserId> {
        self.lock().create_user(user)
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let state = self.lock();
        Ok(state
            .find_user_by_email(email)
            .map(|u| self.read_user(&state, u)))
    }

    async fn find_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        let state = self.lock();
        Ok(state.find_user(id).map(|u| self.read_user(&state, u)))
    }

    async fn set_password_hash(&self, change: &PasswordChange) -> Result<()> {
        self.lock()
            .set_password_hash(change.user, &change.password_hash);
        Ok(())
    }

    async fn record_login(&self, login: &LoginRecord) -> Result<()> {
        self.lock().record_login(login.user, login.at);
        Ok(())
    }

    async fn set_user_active(&self, change: &ActivationChange) -> Result<bool> {
        Ok(self.lock().set_user_active(
            change.user,
            change.active,
            change.at,
            change.event_expires_at,
        ))
    }

    fn user_claim_columns(&self) -> &UserClaimColumns {
        &self.claim_columns
    }
}

impl RefreshTokenStore for MemoryStore {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> Result<()> {
        self.lock().insert_refresh_token(token)
    }

    async fn find_refresh_token(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>> {
        Ok(self.lock().find_refresh_token(hash))
    }

    async fn find_refresh_token_by_id(&self, id: TokenId) -> Result<Option<RefreshTokenRecord>> {
        Ok(self.lock().find_refresh_token_by_id(id))
    }

    async fn rotate_refresh_token(&self, rotation: &Rotation) -> Result<bool> {
        self.lock().rotate_refresh_token(rotation)
    }

    async fn replay_refresh_token(&self, replay: &Replay) -> Result<bool> {
        self.lock().replay_refresh_token(replay)
    }

    async fn live_refresh_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshTokenRecord>> {
        Ok(self.lock().live_refresh_tokens(user, now))
    }

    async fn live_refresh_token_of_session(
        &self,
        session: SessionId,
    ) -> Result<Option<RefreshTokenRecord>> {
        Ok(self.lock().live_refresh_token_of_session(session))
    }

    async fn revoke_session(&self, revocation: &SessionRevocation) -> Result<bool> {
        Ok(self.lock().revoke_session(
            revocation.session,
            revocation.reason,
            revocation.at,
            revocation.event_expires_at,
        ))
    }

    async fn revoke_user_sessions(&self, revocation: &UserRevocation) -> Result<u64> {
        Ok(self.lock().revoke_user_sessions(
            revocation.user,
            revocation.reason,
            revocation.at,
            revocation.event_expires_at,
            revocation.tokens_valid_after,
        ))
    }
}

impl AccessTokenStore for MemoryStore {
    async fn register_access_token(&self, entry: &AccessTokenEntry) -> Result<()> {
        self.lock().register_access_token(entry)
    }

    async fn find_access_token(&self, jti: &str) -> Result<Option<AccessTokenEntry>> {
        Ok(self.lock().find_access_token(jti))
    }

    async fn revoke_access_token(&self, revocation: &AccessTokenRevocation) -> Result<bool> {
        self.lock().revoke_access_token(
            &revocation.jti,
            revocation.user,
            revocation.at,
            revocation.expires_at,
        )
    }

    async fn revocation_events(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> Result<Vec<RevocationEvent>> {
        Ok(self.lock().revocation_events(cursor, limit))
    }
}

impl AuditLog for MemoryStore {
    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        self.lock().push_audit(event);
        Ok(())
    }

    async fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        Ok(self.lock().audit_page(query))
    }
}

impl Cleanup for MemoryStore {
    /// Each batch takes the lock on its own, as each database batch is its own
    /// transaction.
    async fn delete_expired_batch(&self, batch: &CleanupBatch) -> Result<DeletedBatch> {
        Ok(self.lock().delete_expired_batch(batch))
    }
}
