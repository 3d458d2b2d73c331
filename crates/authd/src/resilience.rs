//! Settings for riding out outages and floods: database time limits, the request
//! deadline, the bound on concurrent password hashes, and the trusted proxies.

use std::time::Duration;

use crate::proxy::TrustedProxies;

/// Time limits on every database call, passed to the backend's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseTimeouts {
    /// Longest wait for a pooled connection, opening one included.
    pub acquire: Duration,
    /// Server-side statement timeout (SQLite: the busy timeout); `None` leaves the
    /// database's own setting.
    pub statement: Option<Duration>,
}

impl Default for DatabaseTimeouts {
    fn default() -> Self {
        Self {
            acquire: Duration::from_secs(2),
            statement: Some(Duration::from_secs(5)),
        }
    }
}

/// How authd degrades instead of hanging: see ARCHITECTURE.md, "Outages and floods".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResilienceSettings {
    /// Database time limits.
    pub database: DatabaseTimeouts,
    /// Longest time one request may take before it is answered 503 (`None`: no limit).
    pub request_timeout: Option<Duration>,
    /// Most password hashes (login, register) computed at once.
    pub hash_slots: usize,
    /// How long a login or registration waits for a hashing slot before its 503.
    pub hash_wait: Duration,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers name the client.
    pub trusted_proxies: TrustedProxies,
}

impl Default for ResilienceSettings {
    fn default() -> Self {
        Self {
            database: DatabaseTimeouts::default(),
            request_timeout: Some(Duration::from_secs(10)),
            hash_slots: default_hash_slots(),
            hash_wait: Duration::from_secs(1),
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// One hashing slot per core: hashing is CPU-bound, more at once only queues on the
/// blocking pool and starves everything else.
pub fn default_hash_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
