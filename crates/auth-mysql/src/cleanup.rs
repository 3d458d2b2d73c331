//! [`Cleanup`] over MySQL: expired rows deleted in short batches.

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{Cleanup, CleanupPolicy, CleanupReport};

use crate::error::MySqlError;
use crate::store::MySqlTokenStore;

impl MySqlTokenStore {
    async fn cleanup_inner(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> Result<CleanupReport, MySqlError> {
        let cutoff = now - policy.retention.max(Duration::ZERO);
        let batch = policy.batch_size;
        // Sessions that ended (absolute expiry, or revocation) before the cutoff: every
        // row of such a session matches one of the two rules. Rotated rows of live
        // sessions match neither and stay for reuse detection.
        let expired = self
            .delete_in_batches(
                "DELETE FROM auth_user_tokens WHERE token_type = 'refresh' AND session_expires_at < ? LIMIT ?",
                cutoff,
                batch,
            )
            .await?;
        let revoked = self
            .delete_in_batches(
                "DELETE FROM auth_user_tokens WHERE token_type = 'refresh' AND revoked_at < ? LIMIT ?",
                cutoff,
                batch,
            )
            .await?;
        let revoked_tokens = self
            .delete_in_batches(
                "DELETE FROM revoked_tokens WHERE expires_at < ? LIMIT ?",
                now,
                batch,
            )
            .await?;
        let access_tokens = self
            .delete_in_batches(
                "DELETE FROM auth_user_tokens WHERE token_type = 'access' AND expires_at < ? LIMIT ?",
                now,
                batch,
            )
            .await?;
        Ok(CleanupReport {
            refresh_tokens: expired + revoked,
            revoked_tokens,
            access_tokens,
        })
    }
}

impl Cleanup for MySqlTokenStore {
    async fn cleanup(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> auth_core::Result<CleanupReport> {
        Ok(self.cleanup_inner(policy, now).await?)
    }
}
