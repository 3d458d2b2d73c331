//! Removal of what no longer matters: the rules, their cutoffs, the batch loop and the
//! counting. A backend supplies one primitive,
//! [`Cleanup::delete_expired_batch`](crate::Cleanup::delete_expired_batch): delete one
//! bounded batch of one rule after a keyset cursor.

use time::{Duration, OffsetDateTime};

use crate::otp::config::OneTimeCodeConfig;
use crate::store::Cleanup;

/// What cleanup removes and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// Refresh-token rows of a session are kept this long after the session ended
    /// (expired or revoked), so a late replay is still recognised as reuse. Default 30 days.
    pub retention: Duration,
    /// Rows deleted per statement (default 1,000: deleting 1M expired rows on a
    /// PostgreSQL 15 server of its own, a 1,000-row batch held its locks at most 14 ms
    /// and the whole took 2.38x one plain DELETE; 500-row batches 10 ms and 3.40x).
    pub batch_size: u32,
    /// One-time-code rows are kept at least this long after they were created, so the
    /// rate limits still count them. Default: the default limit window (1 hour); the
    /// service never uses less than its configured window.
    pub code_retention: Duration,
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        Self {
            retention: Duration::days(30),
            batch_size: 1_000,
            code_retention: OneTimeCodeConfig::default().limit_window,
        }
    }
}

/// One cleanup rule: a set of rows that no longer matter, with the stored instant
/// (the rule's key) that is compared to the cutoff and orders the batches. Exhaustive
/// on purpose: a new rule does not compile until every backend translates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CleanupRule {
    /// Refresh-token rows whose session's absolute expiry is before the cutoff
    /// (`now - retention`). Key: the session's absolute expiry.
    ExpiredSessions,
    /// Refresh-token rows revoked before the cutoff (`now - retention`); revocation marks
    /// every row of a session, so these are the rows of revoked sessions. Key: the
    /// revocation time.
    RevokedSessions,
    /// Revocation events (denylist rows) whose `expires_at` is before the cutoff (`now`):
    /// no token they concern can still be valid. Key: `expires_at`.
    ExpiredRevocations,
    /// Allowlist rows whose token expired before the cutoff (`now`). Key: `expires_at`.
    ExpiredAccessTokens,
    /// One-time-code rows created before the cutoff (`now - code_retention`, outside
    /// every limit window) that can no longer be redeemed: consumed, revoked, out of
    /// attempts, or expired before the cutoff. Key: `created_at`.
    SpentOneTimeCodes,
    /// Rows a backend keeps only to serialise the code requests of one phone or IP
    /// (MySQL's `one_time_code_locks`) whose phone or IP has no code row left, so no
    /// limit counts them. Not keyed by time; a backend without such rows deletes none.
    UnusedCodeLocks,
}

impl CleanupRule {
    /// Every rule, in the order cleanup applies them (code rows before the locks they
    /// free).
    pub const ALL: [CleanupRule; 6] = [
        CleanupRule::ExpiredSessions,
        CleanupRule::RevokedSessions,
        CleanupRule::ExpiredRevocations,
        CleanupRule::ExpiredAccessTokens,
        CleanupRule::SpentOneTimeCodes,
        CleanupRule::UnusedCodeLocks,
    ];

    /// The cutoff of this rule under `policy` at `now`.
    pub fn cutoff(self, policy: &CleanupPolicy, now: OffsetDateTime) -> OffsetDateTime {
        match self {
            CleanupRule::ExpiredSessions | CleanupRule::RevokedSessions => {
                now - policy.retention.max(Duration::ZERO)
            }
            CleanupRule::ExpiredRevocations
            | CleanupRule::ExpiredAccessTokens
            | CleanupRule::UnusedCodeLocks => now,
            CleanupRule::SpentOneTimeCodes => now - policy.code_retention.max(Duration::ZERO),
        }
    }
}

/// One bounded batch of one rule, for [`Cleanup::delete_expired_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupBatch {
    /// Which rows.
    pub rule: CleanupRule,
    /// Rows whose key is before this instant match the rule.
    pub cutoff: OffsetDateTime,
    /// Keyset cursor: only rows whose key is at or after this instant (the previous
    /// batch's [`DeletedBatch::last_key`]); `None` from the lowest key. Every matching
    /// row below it has been deleted, so a backend whose delete takes the lowest
    /// matching rows anyway may ignore it.
    pub after: Option<OffsetDateTime>,
    /// At most this many rows (at least 1).
    pub limit: u32,
}

/// What one [`CleanupBatch`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeletedBatch {
    /// Rows deleted.
    pub deleted: u64,
    /// The highest key among them, if the backend tracks it: the next batch's cursor.
    pub last_key: Option<OffsetDateTime>,
}

/// How many rows cleanup removed, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanupReport {
    /// Refresh-token rows of sessions that ended more than `retention` ago.
    pub refresh_tokens: u64,
    /// Denylist rows whose token can no longer be valid anyway.
    pub revoked_tokens: u64,
    /// Allowlist rows of expired access tokens.
    pub access_tokens: u64,
    /// One-time-code rows that are spent and outside every limit window.
    pub one_time_codes: u64,
    /// Code-request lock rows no limit needs any more (MySQL only).
    pub code_locks: u64,
}

impl CleanupReport {
    /// Sum over all tables.
    pub fn total(&self) -> u64 {
        self.refresh_tokens
            + self.revoked_tokens
            + self.access_tokens
            + self.one_time_codes
            + self.code_locks
    }

    /// Adds another run's counts to these.
    pub fn add(&mut self, other: &CleanupReport) {
        self.refresh_tokens += other.refresh_tokens;
        self.revoked_tokens += other.revoked_tokens;
        self.access_tokens += other.access_tokens;
        self.one_time_codes += other.one_time_codes;
        self.code_locks += other.code_locks;
    }

    fn count_of(&mut self, rule: CleanupRule) -> &mut u64 {
        match rule {
            CleanupRule::ExpiredSessions | CleanupRule::RevokedSessions => &mut self.refresh_tokens,
            CleanupRule::ExpiredRevocations => &mut self.revoked_tokens,
            CleanupRule::ExpiredAccessTokens => &mut self.access_tokens,
            CleanupRule::SpentOneTimeCodes => &mut self.one_time_codes,
            CleanupRule::UnusedCodeLocks => &mut self.code_locks,
        }
    }
}

/// Applies every rule at `now`: batches of `policy.batch_size`, each its own call of
/// the primitive (one short transaction on a database), until a batch comes back short.
pub(crate) async fn run_cleanup<C: Cleanup + ?Sized>(
    store: &C,
    policy: &CleanupPolicy,
    now: OffsetDateTime,
) -> crate::Result<CleanupReport> {
    let limit = policy.batch_size.max(1);
    let mut report = CleanupReport::default();
    for rule in CleanupRule::ALL {
        let mut batch = CleanupBatch {
            rule,
            cutoff: rule.cutoff(policy, now),
            after: None,
            limit,
        };
        loop {
            let done = store.delete_expired_batch(&batch).await?;
            *report.count_of(rule) += done.deleted;
            if done.deleted < u64::from(limit) {
                break;
            }
            batch.after = done.last_key.or(batch.after);
        }
    }
    Ok(report)
}
