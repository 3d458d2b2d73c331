//! [`Cleanup`] over SQLite: expired rows deleted in short batches.

use auth_core::time::OffsetDateTime;
use auth_core::{Cleanup, CleanupPolicy, CleanupReport};
use deadpool_sqlite::rusqlite::params;

use crate::convert::micros;
use crate::error::SqliteError;
use crate::store::{SqliteTokenStore, write};
use crate::writer::QueuedPool;

/// Deletes rows matching `sql` (which takes the cutoff and the batch size) in batches,
/// each its own short write transaction; returns the total.
async fn delete_in_batches(
    pool: &QueuedPool,
    sql: &'static str,
    cutoff: i64,
    batch: i64,
) -> Result<u64, SqliteError> {
    let mut total = 0u64;
    loop {
        let n = write(pool, move |tx| {
            Ok(tx.prepare_cached(sql)?.execute(params![cutoff, batch])?)
        })
        .await?;
        total += n as u64;
        if (n as i64) < batch {
            return Ok(total);
        }
    }
}

impl Cleanup for SqliteTokenStore {
    async fn cleanup(
        &self,
        policy: &CleanupPolicy,
        now: OffsetDateTime,
    ) -> auth_core::Result<CleanupReport> {
        let batch = i64::from(policy.batch_size.max(1));
        let cutoff = micros(now - policy.retention);
        let now = micros(now);
        // Rows of sessions that ended before the cutoff: past their absolute expiry, or
        // revoked (revocation marks every row of the session). Rotated rows of a live
        // session match neither and are kept for reuse detection.
        let refresh_tokens = delete_in_batches(
            self.writers(),
            "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens \
             WHERE session_expires_at < ?1 OR (revoked_at IS NOT NULL AND revoked_at < ?1) LIMIT ?2)",
            cutoff,
            batch,
        )
        .await?;
        let revoked_tokens = delete_in_batches(
            self.writers(),
            "DELETE FROM revoked_tokens WHERE id IN (SELECT id FROM revoked_tokens WHERE expires_at < ?1 LIMIT ?2)",
            now,
            batch,
        )
        .await?;
        let access_tokens = delete_in_batches(
            self.writers(),
            "DELETE FROM auth_user_tokens WHERE rowid IN (SELECT rowid FROM auth_user_tokens \
             WHERE expires_at < ?1 LIMIT ?2)",
            now,
            batch,
        )
        .await?;
        Ok(CleanupReport {
            refresh_tokens,
            revoked_tokens,
            access_tokens,
        })
    }
}
