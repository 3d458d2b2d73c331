//! Counters of refresh outcomes and replay delays, kept by the service so an
//! operator can see what the retry window does and tune it.

use std::sync::atomic::{AtomicU64, Ordering};

use time::Duration;

/// Why a rotated refresh token was presented again, as classified by the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefreshCause {
    /// Within a second of the rotation, or after losing the rotation race in the same
    /// call: two tabs, a double submit. Replayed, no budget spent.
    Concurrent,
    /// Later within the retry window: a client whose answer was lost tries again.
    /// Replayed, one unit of the replay budget spent.
    Retry,
    /// Everything that revokes the session: strict window, after the window, an older
    /// generation, the replay budget spent.
    Theft,
}

impl RefreshCause {
    /// The label in audit rows, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshCause::Concurrent => "concurrent",
            RefreshCause::Retry => "retry",
            RefreshCause::Theft => "theft",
        }
    }
}

/// Upper bounds (seconds) of the replay-delay histogram buckets.
pub const REPLAY_DELAY_BUCKETS: [f64; 10] =
    [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0];

/// A snapshot of [`TokenService::refresh_stats`](super::TokenService::refresh_stats).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshStats {
    /// Live tokens rotated.
    pub rotated: u64,
    /// Immediate predecessors replayed as concurrent presentations.
    pub replayed_concurrent: u64,
    /// Immediate predecessors replayed as retries.
    pub replayed_retry: u64,
    /// Reuse verdicts that revoked a session.
    pub theft: u64,
    /// Theft verdicts on an immediate predecessor whose successor was still live,
    /// presented after the window: what a longer window would have replayed. The
    /// false-positive-prone events.
    pub late_replays: u64,
    /// Delays from rotation to the presentation of an immediate predecessor whose
    /// successor was live (replays and late replays), cumulative per bucket of
    /// [`REPLAY_DELAY_BUCKETS`].
    pub replay_delay_buckets: [u64; REPLAY_DELAY_BUCKETS.len()],
    /// Number of delays observed.
    pub replay_delay_count: u64,
    /// Sum of the delays observed, in seconds.
    pub replay_delay_seconds: f64,
}

/// The live counters behind [`RefreshStats`].
#[derive(Debug, Default)]
pub(crate) struct RefreshCounters {
    rotated: AtomicU64,
    replayed_concurrent: AtomicU64,
    replayed_retry: AtomicU64,
    theft: AtomicU64,
    late_replays: AtomicU64,
    delay_buckets: [AtomicU64; REPLAY_DELAY_BUCKETS.len()],
    delay_count: AtomicU64,
    delay_micros: AtomicU64,
}

impl RefreshCounters {
    pub(crate) fn rotated(&self) {
        self.rotated.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cause(&self, cause: RefreshCause) {
        let counter = match cause {
            RefreshCause::Concurrent => &self.replayed_concurrent,
            RefreshCause::Retry => &self.replayed_retry,
            RefreshCause::Theft => &self.theft,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn late_replay(&self) {
        self.late_replays.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn replay_delay(&self, delay: Duration) {
        let seconds = delay.as_seconds_f64().max(0.0);
        for (bound, bucket) in REPLAY_DELAY_BUCKETS.iter().zip(&self.delay_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.delay_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(delay.whole_microseconds()).unwrap_or(0);
        self.delay_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RefreshStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RefreshStats {
            rotated: load(&self.rotated),
            replayed_concurrent: load(&self.replayed_concurrent),
            replayed_retry: load(&self.replayed_retry),
            theft: load(&self.theft),
            late_replays: load(&self.late_replays),
            replay_delay_buckets: std::array::from_fn(|i| load(&self.delay_buckets[i])),
            replay_delay_count: load(&self.delay_count),
            replay_delay_seconds: load(&self.delay_micros) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_fill_cumulative_buckets() {
        let c = RefreshCounters::default();
        c.replay_delay(Duration::milliseconds(300));
        c.replay_delay(Duration::seconds(40));
        c.cause(RefreshCause::Retry);
        c.late_replay();
        let s = c.snapshot();
        assert_eq!(s.replay_delay_count, 2);
        assert_eq!(s.replay_delay_buckets[0], 0);
        assert_eq!(s.replay_delay_buckets[1], 1);
        assert_eq!(s.replay_delay_buckets[7], 2);
        assert!((s.replay_delay_seconds - 40.3).abs() < 1e-6);
        assert_eq!((s.replayed_retry, s.late_replays, s.theft), (1, 1, 0));
    }
}
