//! An injectable clock, so every expiry path can be tested without sleeping.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// Source of the current time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current UTC time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock standing at `start` (truncated to whole microseconds, as databases store it).
    pub fn new(start: OffsetDateTime) -> Self {
        let micros = start.unix_timestamp_nanos() / 1_000 * 1_000;
        let start = OffsetDateTime::from_unix_timestamp_nanos(micros).unwrap_or(start);
        Self(Arc::new(Mutex::new(start)))
    }

    /// A clock standing at the current system time.
    pub fn starting_now() -> Self {
        Self::new(OffsetDateTime::now_utc())
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
