//! Per-IP and per-account rate limits of login, refresh and registration (governor).

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use auth_core::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitSettings;

/// One keyed limiter, or none when its limit is 0.
struct Limiter<K: Hash + Eq + Clone> {
    name: &'static str,
    inner: Option<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(name: &'static str, per_minute: u32) -> Self {
        let inner = NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        Self { name, inner }
    }

    fn check(&self, key: &K) -> Result<(), RateLimited> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| RateLimited {
            limiter: self.name,
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })
    }

    fn prune(&self) {
        if let Some(limiter) = &self.inner {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// A request refused by a limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// Which limiter (`login_ip`, `login_account`, ...).
    pub limiter: &'static str,
    /// How long until a request would be allowed.
    pub retry_after: Duration,
}

/// The limiters of one authd instance. Keys are client IPs, normalised emails and user ids.
pub struct RateLimits {
    login_ip: Limiter<IpAddr>,
    login_account: Limiter<String>,
    refresh_ip: Limiter<IpAddr>,
    refresh_account: Limiter<UserId>,
    register_ip: Limiter<IpAddr>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

fn check_ip(limiter: &Limiter<IpAddr>, ip: Option<IpAddr>) -> Result<(), RateLimited> {
    match ip {
        Some(ip) => limiter.check(&ip),
        None => Ok(()),
    }
}

impl RateLimits {
    /// Limiters with the given per-minute quotas (each also the burst size).
    pub fn new(s: &RateLimitSettings) -> Self {
        Self {
            login_ip: Limiter::new("login_ip", s.login_per_ip),
            login_account: Limiter::new("login_account", s.login_per_account),
            refresh_ip: Limiter::new("refresh_ip", s.refresh_per_ip),
            refresh_account: Limiter::new("refresh_account", s.refresh_per_account),
            register_ip: Limiter::new("register_ip", s.register_per_ip),
        }
    }

    /// A login attempt from `ip` for the (normalised) email `account`.
    pub fn check_login(&self, ip: Option<IpAddr>, account: &str) -> Result<(), RateLimited> {
        check_ip(&self.login_ip, ip)?;
        self.login_account.check(&account.to_owned())
    }

    /// A refresh from `ip`, before the token is looked up.
    pub fn check_refresh_ip(&self, ip: Option<IpAddr>) -> Result<(), RateLimited> {
        check_ip(&self.refresh_ip, ip)
    }

    /// A refresh of a token of `user`.
    pub fn check_refresh_account(&self, user: UserId) -> Result<(), RateLimited> {
        self.refresh_account.check(&user)
    }

    /// Whether the per-account refresh limit is on (it costs a lookup).
    pub fn limits_refresh_accounts(&self) -> bool {
        self.refresh_account.inner.is_some()
    }

    /// A registration from `ip`.
    pub fn check_register(&self, ip: Option<IpAddr>) -> Result<(), RateLimited> {
        check_ip(&self.register_ip, ip)
    }

    /// Forgets keys whose limits have fully replenished, bounding memory.
    pub fn prune(&self) {
        self.login_ip.prune();
        self.login_account.prune();
        self.refresh_ip.prune();
        self.refresh_account.prune();
        self.register_ip.prune();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_with_retry_after() {
        let limits = RateLimits::new(&RateLimitSettings {
            login_per_account: 3,
            ..RateLimitSettings::disabled()
        });
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        for _ in 0..3 {
            limits.check_login(ip, "a@example.com").unwrap();
        }
        let refused = limits.check_login(ip, "a@example.com").unwrap_err();
        assert_eq!(refused.limiter, "login_account");
        assert!(
            refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(20)
        );
        limits.check_login(ip, "b@example.com").unwrap();
        limits.prune();
    }
}
