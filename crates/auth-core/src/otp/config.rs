//! Settings of one-time-code sign-in.

use time::Duration;

use crate::error::{Error, Result};

/// Lengths, lifetimes and limits of one-time codes. [`Default`] gives the values the
/// issue asks for: 6 digits, valid 5 minutes, 5 wrong attempts, one code per phone per
/// 60 s, 5 codes per phone and 20 per IP address per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneTimeCodeConfig {
    /// Digits per code (4 to 10; default 6).
    pub length: usize,
    /// How long a code is valid after it is issued (default 5 min).
    pub ttl: Duration,
    /// Wrong attempts after which a code is burned (default 5).
    pub max_attempts: u32,
    /// A new code for the same phone is refused this long after the last (default 60 s).
    pub resend_interval: Duration,
    /// The window of the hourly limits (default 1 h).
    pub limit_window: Duration,
    /// Codes per phone per window (default 5).
    pub max_per_phone: u32,
    /// Codes requested from one IP address per window (default 20).
    pub max_per_ip: u32,
}

impl Default for OneTimeCodeConfig {
    fn default() -> Self {
        Self {
            length: 6,
            ttl: Duration::minutes(5),
            max_attempts: 5,
            resend_interval: Duration::seconds(60),
            limit_window: Duration::hours(1),
            max_per_phone: 5,
            max_per_ip: 20,
        }
    }
}

impl OneTimeCodeConfig {
    /// Refuses settings that would make codes guessable or unusable.
    pub fn validate(&self) -> Result<()> {
        if !(4..=10).contains(&self.length) {
            return Err(Error::Config("one-time codes must have 4 to 10 digits"));
        }
        if self.ttl <= Duration::ZERO || self.ttl > Duration::hours(1) {
            return Err(Error::Config(
                "one-time-code lifetime must be positive and at most 1 hour",
            ));
        }
        if !(1..=10).contains(&self.max_attempts) {
            return Err(Error::Config("one-time-code attempts must be 1 to 10"));
        }
        if self.resend_interval < Duration::ZERO || self.limit_window <= Duration::ZERO {
            return Err(Error::Config(
                "resend interval must not be negative and the limit window must be positive",
            ));
        }
        if self.max_per_phone == 0 || self.max_per_ip == 0 {
            return Err(Error::Config("one-time-code limits must be at least 1"));
        }
        Ok(())
    }
}
