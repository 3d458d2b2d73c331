//! [`Cleanup`]: one batch of one rule is one short statement in its own transaction,
//! walking the rule's key with a keyset cursor.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use auth_core::{
    Cleanup, CleanupBatch, CleanupPolicy, CleanupReport, CleanupRule, DeletedBatch, Result,
};
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

/// The delete of one batch of `rule` (`$1` cutoff, `$2` batch size, `$3` cursor).
fn delete_batch_sql(rule: CleanupRule) -> Option<&'static str> {
    Some(match rule {
        CleanupRule::ExpiredSessions => PgStatements::DELETE_EXPIRED_SESSIONS,
        CleanupRule::RevokedSessions => PgStatements::DELETE_REVOKED_SESSIONS,
        CleanupRule::ExpiredRevocations => PgStatements::DELETE_EXPIRED_REVOCATIONS,
        CleanupRule::ExpiredAccessTokens => PgStatements::DELETE_EXPIRED_ACCESS_TOKENS,
        CleanupRule::SpentOneTimeCodes => PgStatements::DELETE_SPENT_ONE_TIME_CODES,
        // Code requests lock their code rows; there are no lock rows.
        CleanupRule::UnusedCodeLocks => return None,
    })
}

impl Cleanup for PgTokenStore {
    async fn delete_expired_batch(&self, batch: &CleanupBatch) -> Result<DeletedBatch> {
        let Some(sql) = delete_batch_sql(batch.rule) else {
            return Ok(DeletedBatch::default());
        };
        let (deleted, last_key): (i64, Option<OffsetDateTime>) = sqlx::query_as(sql)
            .bind(batch.cutoff)
            .bind(i64::from(batch.limit.max(1)))
            .bind(batch.after.unwrap_or(LOWEST_KEY))
            .fetch_one(self.pool())
            .await
            .map_err(db)?;
        Ok(DeletedBatch {
            deleted: u64::try_from(deleted).unwrap_or(0),
            last_key,
        })
    }
}

/// A store whose batches are timed: core's cleanup loop over it fills the statistics.
struct TimedBatches<'a> {
    store: &'a PgTokenStore,
    stats: Mutex<PgCleanupStats>,
}

impl Cleanup for TimedBatches<'_> {
    async fn delete_expired_batch(&self, batch: &CleanupBatch) -> Result<DeletedBatch> {
        if delete_batch_sql(batch.rule).is_none() {
            return Ok(DeletedBatch::default());
        }
        let started = Instant::now();
        let done = self.store.delete_expired_batch(batch).await?;
        let took = started.elapsed();
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.batches += 1;
        stats.longest_batch = stats.longest_batch.max(took);
        Ok(done)
    }
}

impl PgTokenStore {
    /// [`Cleanup::cleanup`] with per-batch statistics.
    pub async fn cleanup_with_stats(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> Result<(CleanupReport, PgCleanupStats)> {
        let timed = TimedBatches {
            store: self,
            stats: Mutex::default(),
        };
        let report = timed.cleanup(policy, now).await?;
        let stats = timed.stats.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok((report, stats))
    }
}
