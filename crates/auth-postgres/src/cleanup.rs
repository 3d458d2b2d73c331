//! [`Cleanup`]: batched deletes, each batch its own short statement and transaction.

use std::time::{Duration, Instant};

use auth_core::{Cleanup, CleanupPolicy, CleanupReport, Result};
use time::OffsetDateTime;

use crate::error::db;
use crate::statements::PgStatements;
use crate::store::PgTokenStore;

/// How a cleanup run went, batch by batch (for monitoring lock times).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PgCleanupStats {
    /// Delete statements run (each one batch, one transaction).
    pub batches: u64,
    /// The longest single batch, i.e. the longest any row lock taken by cleanup was held.
    pub longest_batch: Duration,
}

/// Below every stored timestamp: where each keyset scan starts.
const LOWEST_KEY: OffsetDateTime = time::macros::datetime!(1000-01-01 0:00 UTC);

impl PgTokenStore {
    /// [`Cleanup::cleanup`] with per-batch statistics.
    pub async fn cleanup_with_stats(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> Result<(CleanupReport, PgCleanupStats)> {
        let cutoff = now - policy.retention;
        let batch = policy.batch_size;
        let mut stats = PgCleanupStats::default();
        // A session ended when it expired or was revoked; a row matching either rule is
        // a row of an ended session. Rotated rows of live sessions match neither.
        let refresh_tokens = self
            .delete_in_batches(
                PgStatements::DELETE_EXPIRED_SESSIONS,
                cutoff,
                batch,
                &mut stats,
            )
            .await?
            + self
                .delete_in_batches(
                    PgStatements::DELETE_REVOKED_SESSIONS,
                    cutoff,
                    batch,
                    &mut stats,
                )
                .await?;
        let revoked_tokens = self
            .delete_in_batches(
                PgStatements::DELETE_EXPIRED_REVOCATIONS,
                now,
                batch,
                &mut stats,
            )
            .await?;
        let access_tokens = self
            .delete_in_batches(
                PgStatements::DELETE_EXPIRED_ACCESS_TOKENS,
                now,
                batch,
                &mut stats,
            )
            .await?;
        Ok((
            CleanupReport {
                refresh_tokens,
                revoked_tokens,
                access_tokens,
            },
            stats,
        ))
    }

    /// Runs one batched delete to completion: statements of at most `batch` rows, each
    /// in its own implicit transaction, until a statement deletes fewer than `batch`.
    async fn delete_in_batches(
        &self,
        sql: &'static str,
        cutoff: OffsetDateTime,
        batch: u32,
        stats: &mut PgCleanupStats,
    ) -> Result<u64> {
        let batch = batch.max(1);
        let mut total = 0;
        // Keyset cursor: each batch starts at the previous batch's highest key.
        let mut from = LOWEST_KEY;
        loop {
            let started = Instant::now();
            let (deleted, last): (i64, Option<OffsetDateTime>) = sqlx::query_as(sql)
                .bind(cutoff)
                .bind(i64::from(batch))
                .bind(from)
                .fetch_one(self.pool())
                .await
                .map_err(db)?;
            let deleted = u64::try_from(deleted).unwrap_or(0);
            stats.batches += 1;
            stats.longest_batch = stats.longest_batch.max(started.elapsed());
            total += deleted;
            match last {
                Some(last) if deleted >= u64::from(batch) => from = last,
                _ => return Ok(total),
            }
        }
    }
}

impl Cleanup for PgTokenStore {
    async fn cleanup(&self, policy: &CleanupPolicy, now: OffsetDateTime) -> Result<CleanupReport> {
        self.cleanup_with_stats(policy, now)
            .await
            .map(|(report, _)| report)
    }
}
