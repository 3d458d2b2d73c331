//! [`Cleanup`] over MySQL: one batch of one rule is one `DELETE ... LIMIT` statement,
//! and so its own short transaction.

use auth_core::{Cleanup, CleanupBatch, CleanupRule, DeletedBatch};
use diesel::sql_types::{BigInt, Datetime, Unsigned};
use diesel_async::RunQueryDsl;

use crate::error::MySqlError;
use crate::otp::DELETE_UNUSED_LOCKS;
use crate::store::{MySqlTokenStore, with_conn};

/// The delete of one batch of `rule` and how many `?` for the cutoff precede the one
/// for the batch size. Each takes the first matching rows; deleted rows no longer
/// match, so no cursor is needed.
fn delete_batch_sql(rule: CleanupRule) -> (&'static str, usize) {
    match rule {
        CleanupRule::ExpiredSessions => (
            "DELETE FROM auth_user_tokens WHERE token_type = 'refresh' AND session_expires_at < ? LIMIT ?",
            1,
        ),
        CleanupRule::RevokedSessions => (
            "DELETE FROM auth_user_tokens WHERE token_type = 'refresh' AND revoked_at < ? LIMIT ?",
            1,
        ),
        CleanupRule::ExpiredRevocations => {
            ("DELETE FROM revoked_tokens WHERE expires_at < ? LIMIT ?", 1)
        }
        CleanupRule::ExpiredAccessTokens => (
            "DELETE FROM auth_user_tokens WHERE token_type = 'access' AND expires_at < ? LIMIT ?",
            1,
        ),
        CleanupRule::SpentOneTimeCodes => (
            "DELETE FROM one_time_codes WHERE created_at < ? AND (consumed_at IS NOT NULL \
             OR revoked_at IS NOT NULL OR attempts >= max_attempts OR expires_at < ?) LIMIT ?",
            2,
        ),
        CleanupRule::UnusedCodeLocks => (DELETE_UNUSED_LOCKS, 0),
    }
}

impl MySqlTokenStore {
    async fn delete_batch(&self, batch: &CleanupBatch) -> Result<u64, MySqlError> {
        let (sql, cutoffs) = delete_batch_sql(batch.rule);
        let mut query = diesel::sql_query(sql).into_boxed();
        for _ in 0..cutoffs {
            query = query.bind::<Datetime, _>(batch.cutoff);
        }
        let query = query.bind::<Unsigned<BigInt>, _>(u64::from(batch.limit.max(1)));
        Ok(with_conn!(self, |conn| query.execute(conn).await)? as u64)
    }
}

impl Cleanup for MySqlTokenStore {
    async fn delete_expired_batch(&self, batch: &CleanupBatch) -> auth_core::Result<DeletedBatch> {
        Ok(DeletedBatch {
            deleted: self.delete_batch(batch).await?,
            last_key: None,
        })
    }
}
