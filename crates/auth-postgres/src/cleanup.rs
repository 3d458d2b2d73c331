//! [`Cleanup`]: batched deletes, each batch its own short statement and transaction.

use auth_core::{Cleanup, CleanupPolicy, CleanupReport, Result};
use time::OffsetDateTime;

use crate::error::db;
use crate::statements::PgStatements;
use crate::store::PgTokenStore;

impl PgTokenStore {
    /// Runs one batched delete to completion: statements of at most `batch` rows, each
    /// in its own implicit transaction, until a statement deletes fewer than `batch`.
    async fn delete_in_batches(
        &self,
        sql: &'static str,
        cutoff: OffsetDateTime,
        batch: u32,
    ) -> Result<u64> {
        let batch = batch.max(1);
        let mut total = 0;
        loop {
            let deleted = sqlx::query(sql)
                .bind(cutoff)
                .bind(i64::from(batch))
                .execute(self.pool())
                .await
                .map_err(db)?
                .rows_affected();
            total += deleted;
            if deleted < u64::from(batch) {
                return Ok(total);
            }
        }
    }
}

impl Cleanup for PgTokenStore {
    async fn cleanup(&self, policy: &CleanupPolicy, now: OffsetDateTime) -> Result<CleanupReport> {
        let cutoff = now - policy.retention;
        let batch = policy.batch_size;
        // A session ended when it expired or was revoked; a row matching either rule is
        // a row of an ended session. Rotated rows of live sessions match neither.
        let refresh_tokens = self
            .delete_in_batches(PgStatements::DELETE_EXPIRED_SESSIONS, cutoff, batch)
            .await?
            + self
                .delete_in_batches(PgStatements::DELETE_REVOKED_SESSIONS, cutoff, batch)
                .await?;
        let revoked_tokens = self
            .delete_in_batches(PgStatements::DELETE_EXPIRED_REVOCATIONS, now, batch)
            .await?;
        let access_tokens = self
            .delete_in_batches(PgStatements::DELETE_EXPIRED_ACCESS_TOKENS, now, batch)
            .await?;
        Ok(CleanupReport {
            refresh_tokens,
            revoked_tokens,
            access_tokens,
        })
    }
}
