//! The bounded `jti` cache: each (key thumbprint, `jti`) pair is remembered until the
//! proof could no longer be accepted anyway, then forgotten.
//!
//! Full means full of live entries: a new proof is then refused rather than an entry
//! evicted early (fail closed). With capacity `C` and an acceptance window `W`
//! (`max_age + max_clock_skew`) the cache sustains `C / W` proofs per second, e.g.
//! 100 000 / 65 s, about 1 500 proofs per second.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::DpopError;

/// A fixed-size key for (jkt, jti): its SHA-256, so a long `jti` costs no more memory.
type EntryKey = [u8; 32];

fn entry_key(jkt: &str, jti: &str) -> EntryKey {
    let mut h = Sha256::new();
    h.update((jkt.len() as u64).to_be_bytes());
    h.update(jkt.as_bytes());
    h.update(jti.as_bytes());
    h.finalize().into()
}

#[derive(Debug, Default)]
struct Entries {
    /// Live entries and when they may be forgotten (unix seconds).
    expiry: HashMap<EntryKey, i64>,
    /// The same entries ordered by expiry, for purging.
    by_expiry: BinaryHeap<Reverse<(i64, EntryKey)>>,
}

/// Remembers used `jti`s per key, up to `capacity` live entries.
pub(super) struct ReplayCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &self.capacity)
            .field("entries", &self.len())
            .finish()
    }
}

impl ReplayCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Records (jkt, jti) until `forget_after` (unix seconds; gone once `now` passes it).
    /// `Replayed` if the pair is still remembered, `ReplayCacheFull` if there is no room.
    pub(super) fn check_and_insert(
        &self,
        jkt: &str,
        jti: &str,
        forget_after: i64,
        now: i64,
    ) -> Result<(), DpopError> {
        let key = entry_key(jkt, jti);
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if e.expiry.get(&key).is_some_and(|until| *until >= now) {
            return Err(DpopError::Replayed);
        }
        e.purge(now);
        if e.expiry.len() >= self.capacity {
            return Err(DpopError::ReplayCacheFull);
        }
        e.expiry.insert(key, forget_after);
        e.by_expiry.push(Reverse((forget_after, key)));
        Ok(())
    }

    /// Live and not yet purged entries.
    pub(super) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expiry
            .len()
    }
}

impl Entries {
    /// Drops every entry whose time has passed.
    fn purge(&mut self, now: i64) {
        while let Some(Reverse((until, key))) = self.by_expiry.peek().copied() {
            if until >= now {
                break;
            }
            self.by_expiry.pop();
            // Only one heap item per live key exists: a key is inserted again only
            // after its old entry was purged.
            if self.expiry.get(&key) == Some(&until) {
                self.expiry.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_refused_until_its_time_has_passed() {
        let cache = ReplayCache::new(10);
        assert!(cache.check_and_insert("k", "a", 100, 50).is_ok());
        assert!(matches!(
            cache.check_and_insert("k", "a", 120, 60),
            Err(DpopError::Replayed)
        ));
        assert!(matches!(
            cache.check_and_insert("k", "a", 120, 100),
            Err(DpopError::Replayed)
        ));
        // Another key, or another jti, is a different pair.
        assert!(cache.check_and_insert("k2", "a", 100, 60).is_ok());
        assert!(cache.check_and_insert("k", "b", 100, 60).is_ok());
        assert_eq!(cache.len(), 3);
        // After its time the pair is forgotten and may be recorded again.
        assert!(cache.check_and_insert("k", "a", 200, 101).is_ok());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_cache_refuses_until_entries_expire() {
        let cache = ReplayCache::new(2);
        assert!(cache.check_and_insert("k", "1", 100, 0).is_ok());
        assert!(cache.check_and_insert("k", "2", 50, 0).is_ok());
        assert!(matches!(
            cache.check_and_insert("k", "3", 100, 10),
            Err(DpopError::ReplayCacheFull)
        ));
        // A refused pair is not recorded: once there is room it is accepted.
        assert!(cache.check_and_insert("k", "3", 100, 51).is_ok());
        assert!(matches!(
            cache.check_and_insert("k", "4", 100, 52),
            Err(DpopError::ReplayCacheFull)
        ));
        assert!(matches!(
            cache.check_and_insert("k", "1", 100, 52),
            Err(DpopError::Replayed)
        ));
    }

    #[test]
    fn jkt_and_jti_boundaries_do_not_collide() {
        assert_ne!(entry_key("ab", "c"), entry_key("a", "bc"));
    }
}
