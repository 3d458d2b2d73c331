//! [`Cleanup`] over SQLite: one batch of one rule is one short write transaction.

use auth_core::{Cleanup, CleanupBatch, CleanupRule, DeletedBatch};
use deadpool_sqlite::rusqlite::params;

use crate::convert::micros;
use crate::store::{SqliteTokenStore, write};

/// The delete of one batch of `rule`: `?1` the cutoff, `?2` the batch size. Each takes
/// the first matching rows; deleted rows no longer match, so no cursor is needed.
fn delete_batch_sql(rule: CleanupRule) -> Option<&'static str> {
    Some(match rule {
        CleanupRule::ExpiredSessions => {
            "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens \
             WHERE session_expires_at < ?1 LIMIT ?2)"
        }
        CleanupRule::RevokedSessions => {
            "DELETE FROM refresh_tokens WHERE rowid IN (SELECT rowid FROM refresh_tokens \
             WHERE revoked_at < ?1 LIMIT ?2)"
        }
        CleanupRule::ExpiredRevocations => {
            "DELETE FROM revoked_tokens WHERE id IN (SELECT id FROM revoked_tokens \
             WHERE expires_at < ?1 LIMIT ?2)"
        }
        CleanupRule::ExpiredAccessTokens => {
            "DELETE FROM auth_user_tokens WHERE rowid IN (SELECT rowid FROM auth_user_tokens \
             WHERE expires_at < ?1 LIMIT ?2)"
        }
        CleanupRule::SpentOneTimeCodes => {
            "DELETE FROM one_time_codes WHERE id IN (SELECT id FROM one_time_codes \
             WHERE created_at < ?1 AND (consumed_at IS NOT NULL OR revoked_at IS NOT NULL \
             OR attempts >= max_attempts OR expires_at < ?1) LIMIT ?2)"
        }
        // Code requests are serialised by `BEGIN IMMEDIATE`; there are no lock rows.
        CleanupRule::UnusedCodeLocks => return None,
    })
}

impl Cleanup for SqliteTokenStore {
    async fn delete_expired_batch(&self, batch: &CleanupBatch) -> auth_core::Result<DeletedBatch> {
        let Some(sql) = delete_batch_sql(batch.rule) else {
            return Ok(DeletedBatch::default());
        };
        let (cutoff, limit) = (micros(batch.cutoff), i64::from(batch.limit.max(1)));
        let deleted = write(self.connections(), move |tx| {
            Ok(tx.prepare_cached(sql)?.execute(params![cutoff, limit])?)
        })
        .await?;
        Ok(DeletedBatch {
            deleted: deleted as u64,
            last_key: None,
        })
    }
}
