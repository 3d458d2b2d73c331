//! A bounded cache of access tokens whose asymmetric signature (EdDSA, ES256, RS256)
//! already verified, so a repeat check skips the signature but never the time rules,
//! the key's presence in the keyring, or (in the caller) the revocation checks.
//!
//! Keyed by the SHA-256 of the whole token text: a token differing in any byte, the
//! signature included, is another key and goes through full verification. HMAC tokens
//! are never cached (their check costs less than the lookup).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::claims::{Authenticated, ValidationRules, check_times, verify_access_token_with_key};
use crate::error::TokenRejection;
use crate::keys::{Keyring, SigningAlgorithm};

/// How much the verified-token cache may hold; either limit reached evicts the least
/// recently used half of a shard. `max_entries == 0` turns the cache off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedCacheLimits {
    /// Most tokens held (default 10,000).
    pub max_entries: usize,
    /// Most bytes held, counting each entry's claims, payload and bookkeeping
    /// (default 8 MiB).
    pub max_bytes: usize,
}

impl Default for VerifiedCacheLimits {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_bytes: 8 << 20,
        }
    }
}

/// Hits and misses since the cache was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifiedCacheStats {
    /// Checks answered without verifying a signature.
    pub hits: u64,
    /// Checks that verified the signature.
    pub misses: u64,
    /// Tokens held now.
    pub entries: usize,
    /// Bytes held now (as counted against [`VerifiedCacheLimits::max_bytes`]).
    pub bytes: usize,
}

type Digest = [u8; 32];

struct Entry {
    verified: Authenticated,
    kid: Box<str>,
    alg: SigningAlgorithm,
    bytes: usize,
}

/// One generation of a shard: a map and what it holds in bytes.
#[derive(Default)]
struct Generation {
    map: HashMap<Digest, Entry>,
    bytes: usize,
}

impl Generation {
    fn remove(&mut self, digest: &Digest) -> Option<Entry> {
        let entry = self.map.remove(digest)?;
        self.bytes -= entry.bytes;
        Some(entry)
    }
}

/// Two generations: new and refreshed entries go to `young`; when `young` is full it
/// becomes `old` and the previous `old` is dropped. A hit in `old` moves the entry back
/// to `young`, so what is dropped is what went unused for a whole generation.
#[derive(Default)]
struct Shard {
    young: Generation,
    old: Generation,
}

impl Shard {
    fn insert(&mut self, digest: Digest, entry: Entry, max_entries: usize, max_bytes: usize) {
        self.old.remove(&digest);
        self.young.remove(&digest);
        if self.young.map.len() + 1 > max_entries || self.young.bytes + entry.bytes > max_bytes {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.bytes += entry.bytes;
        self.young.map.insert(digest, entry);
    }

    fn entries(&self) -> usize {
        self.young.map.len() + self.old.map.len()
    }

    fn bytes(&self) -> usize {
        self.young.bytes + self.old.bytes
    }
}

/// The verified-token cache of one [`TokenService`](crate::TokenService).
pub(crate) struct VerifiedCache {
    shards: Box<[Mutex<Shard>]>,
    /// Per shard and generation.
    generation_entries: usize,
    /// Per shard and generation.
    generation_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn is_asymmetric(alg: SigningAlgorithm) -> bool {
    matches!(
        alg,
        SigningAlgorithm::EdDSA | SigningAlgorithm::ES256 | SigningAlgorithm::RS256
    )
}

fn digest(token: &str) -> Digest {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// What one entry is counted as: its heap text, the payload and fixed bookkeeping.
fn entry_bytes(verified: &Authenticated, kid: &str) -> usize {
    let c = &verified.claims;
    std::mem::size_of::<Entry>()
        + std::mem::size_of::<Digest>()
        + c.iss.len()
        + c.aud.len()
        + c.sub.len()
        + c.jti.len()
        + verified.payload_len()
        + kid.len()
        // hash-table slot and control bytes
        + 16
}

impl VerifiedCache {
    /// A cache within `limits`. Small caches (64 entries or fewer) have one shard, so
    /// their eviction order is exact; larger ones up to 16, for concurrency.
    pub(crate) fn new(limits: VerifiedCacheLimits) -> Self {
        let shards = (limits.max_entries / 64)
            .clamp(1, 16)
            .next_power_of_two()
            .min(16);
        let per_shard_entries = limits.max_entries / shards;
        let per_shard_bytes = limits.max_bytes / shards;
        Self {
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            generation_entries: (per_shard_entries / 2).max(1),
            generation_bytes: per_shard_bytes / 2,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
        .disabled_if(limits.max_entries == 0 || limits.max_bytes == 0)
    }

    fn disabled_if(mut self, off: bool) -> Self {
        if off {
            self.shards = Box::new([]);
        }
        self
    }

    fn shard(&self, digest: &Digest) -> Option<&Mutex<Shard>> {
        if self.shards.is_empty() {
            return None;
        }
        let i = usize::from(digest[0]) % self.shards.len();
        Some(&self.shards[i])
    }

    /// Verifies `token` at `now` (seconds) like
    /// [`verify_access_token`](crate::claims::verify_access_token), skipping the
    /// signature for a token verified before whose key is still in `keys` with the
    /// same algorithm. A cached token failing a time rule is dropped and verified in
    /// full, so every rejection is the one full verification gives.
    pub(crate) fn verify(
        &self,
        token: &str,
        keys: &Keyring,
        rules: &ValidationRules,
        now: i64,
    ) -> Result<Authenticated, TokenRejection> {
        let Some(shard) = (token.len() <= rules.max_token_bytes)
            .then(|| digest(token))
            .and_then(|d| self.shard(&d).map(|s| (d, s)))
        else {
            return verify_access_token_with_key(token, keys, rules, now).map(|(v, _)| v);
        };
        let (digest, shard) = shard;
        if let Some(hit) = self.lookup(shard, &digest, keys, rules, now) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (verified, key) = verify_access_token_with_key(token, keys, rules, now)?;
        if is_asymmetric(key.alg) {
            let entry = Entry {
                bytes: entry_bytes(&verified, &key.kid),
                verified: verified.clone(),
                kid: key.kid.as_str().into(),
                alg: key.alg,
            };
            if entry.bytes <= self.generation_bytes {
                lock(shard).insert(
                    digest,
                    entry,
                    self.generation_entries,
                    self.generation_bytes,
                );
            }
        }
        Ok(verified)
    }

    fn lookup(
        &self,
        shard: &Mutex<Shard>,
        digest: &Digest,
        keys: &Keyring,
        rules: &ValidationRules,
        now: i64,
    ) -> Option<Authenticated> {
        let mut shard = lock(shard);
        let still_good = |e: &Entry| {
            let c = &e.verified.claims;
            keys.key(&e.kid).is_some_and(|k| k.alg == e.alg)
                && check_times(c.exp, c.nbf, c.iat, rules, now).is_ok()
        };
        if let Some(entry) = shard.young.map.get(digest) {
            if still_good(entry) {
                return Some(entry.verified.clone());
            }
            shard.young.remove(digest);
            return None;
        }
        let entry = shard.old.remove(digest)?;
        if !still_good(&entry) {
            return None;
        }
        let verified = entry.verified.clone();
        shard.insert(
            *digest,
            entry,
            self.generation_entries,
            self.generation_bytes,
        );
        Some(verified)
    }

    /// Hits, misses and what the cache holds now.
    pub(crate) fn stats(&self) -> VerifiedCacheStats {
        let (entries, bytes) = self.shards.iter().fold((0, 0), |(n, b), s| {
            let s = lock(s);
            (n + s.entries(), b + s.bytes())
        });
        VerifiedCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }
}

fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyMaterial, KeySpec, KeyringSpec};
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use time::Duration;

    const NOW: i64 = 1_800_000_000;
    const ED_PEM: &str = include_str!("../tests/fixtures/ed25519-private.pem");
    const P256_PEM: &str = include_str!("../tests/fixtures/p256-private.pem");
    const SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn spec(kid: &str, alg: SigningAlgorithm, material: KeyMaterial) -> KeySpec {
        KeySpec {
            kid: kid.into(),
            alg,
            material,
        }
    }

    fn ed(kid: &str) -> KeySpec {
        spec(
            kid,
            SigningAlgorithm::EdDSA,
            KeyMaterial::PrivatePem(ED_PEM.into()),
        )
    }

    fn keyring(keys: Vec<KeySpec>) -> Keyring {
        Keyring::from_spec(&KeyringSpec {
            active: keys[0].kid.clone(),
            keys,
        })
        .unwrap()
    }

    fn rules() -> ValidationRules {
        ValidationRules {
            issuer: "iss-1".into(),
            audience: "aud-1".into(),
            leeway: Duration::seconds(5),
            max_lifetime: Duration::hours(1),
            max_token_bytes: 8192,
        }
    }

    /// A token signed with the PEM of `kid`'s algorithm, expiring at NOW + 900.
    fn token(kid: &str, alg: jsonwebtoken::Algorithm, jti: u32) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        header.typ = Some("at+jwt".into());
        let claims = json!({"iss": "iss-1", "aud": "aud-1", "sub": "42", "exp": NOW + 900,
            "iat": NOW, "nbf": NOW, "jti": format!("{jti:032x}"),
            "sid": "6f9619ff-8b86-d011-b42d-00cf4fc964ff"});
        let key = match alg {
            jsonwebtoken::Algorithm::EdDSA => EncodingKey::from_ed_pem(ED_PEM.as_bytes()),
            jsonwebtoken::Algorithm::ES256 => EncodingKey::from_ec_pem(P256_PEM.as_bytes()),
            _ => EncodingKey::from_base64_secret(SECRET),
        }
        .unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    fn ed_token(jti: u32) -> String {
        token("ed", jsonwebtoken::Algorithm::EdDSA, jti)
    }

    fn limits(max_entries: usize) -> VerifiedCacheLimits {
        VerifiedCacheLimits {
            max_entries,
            max_bytes: 1 << 20,
        }
    }

    #[test]
    fn a_repeat_check_is_answered_from_the_cache() {
        let keys = keyring(vec![ed("ed")]);
        let cache = VerifiedCache::new(limits(100));
        let t = ed_token(1);
        let first = cache.verify(&t, &keys, &rules(), NOW).unwrap();
        let again = cache.verify(&t, &keys, &rules(), NOW + 10).unwrap();
        assert_eq!(first.claims, again.claims);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 1, 1));
        assert!(stats.bytes > t.len() / 2, "{stats:?}");
    }

    #[test]
    fn es256_is_cached_and_hmac_never() {
        let p256 = spec(
            "ec",
            SigningAlgorithm::ES256,
            KeyMaterial::PrivatePem(P256_PEM.into()),
        );
        let hs = spec(
            "hs",
            SigningAlgorithm::HS256,
            KeyMaterial::HmacSecretB64(SECRET.into()),
        );
        let keys = keyring(vec![p256, hs]);
        let cache = VerifiedCache::new(limits(100));
        let ec = token("ec", jsonwebtoken::Algorithm::ES256, 1);
        let hmac = token("hs", jsonwebtoken::Algorithm::HS256, 2);
        for _ in 0..3 {
            cache.verify(&ec, &keys, &rules(), NOW).unwrap();
            cache.verify(&hmac, &keys, &rules(), NOW).unwrap();
        }
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (2, 4, 1));
    }

    #[test]
    fn expiry_and_not_before_are_checked_on_every_hit() {
        let keys = keyring(vec![ed("ed")]);
        let cache = VerifiedCache::new(limits(100));
        let t = ed_token(1);
        cache.verify(&t, &keys, &rules(), NOW).unwrap();
        // exp = NOW + 900, leeway 5 s.
        assert!(cache.verify(&t, &keys, &rules(), NOW + 904).is_ok());
        assert_eq!(
            cache.verify(&t, &keys, &rules(), NOW + 905).unwrap_err(),
            TokenRejection::Expired
        );
        // The expired entry is gone; a clock set back verifies in full again.
        assert_eq!(cache.stats().entries, 0);
        cache.verify(&t, &keys, &rules(), NOW).unwrap();
        assert_eq!(
            cache.verify(&t, &keys, &rules(), NOW - 6).unwrap_err(),
            TokenRejection::NotYetValid
        );
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.entries), (1, 0));
    }

    #[test]
    fn a_retired_key_is_never_answered_from_the_cache() {
        let cache = VerifiedCache::new(limits(100));
        let t = ed_token(1);
        cache
            .verify(&t, &keyring(vec![ed("ed")]), &rules(), NOW)
            .unwrap();
        // The same text, checked against a keyring without `ed`.
        let retired = keyring(vec![ed("next")]);
        assert_eq!(
            cache.verify(&t, &retired, &rules(), NOW).unwrap_err(),
            TokenRejection::UnknownKey
        );
        // The same kid now naming an HMAC key: the cached EdDSA verdict does not apply.
        let replaced = keyring(vec![spec(
            "ed",
            SigningAlgorithm::HS256,
            KeyMaterial::HmacSecretB64(SECRET.into()),
        )]);
        assert_eq!(
            cache.verify(&t, &replaced, &rules(), NOW).unwrap_err(),
            TokenRejection::AlgorithmNotAllowed
        );
        assert_eq!(cache.stats().hits, 0);
    }

    #[test]
    fn any_changed_byte_is_another_token() {
        let keys = keyring(vec![ed("ed")]);
        let cache = VerifiedCache::new(limits(100));
        let t = ed_token(1);
        cache.verify(&t, &keys, &rules(), NOW).unwrap();
        let mut forged = t.clone().into_bytes();
        let last = forged.len() - 2;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(
            cache.verify(&forged, &keys, &rules(), NOW).unwrap_err(),
            TokenRejection::BadSignature
        );
        assert_eq!(cache.stats().hits, 0);
    }

    #[test]
    fn entries_are_bounded_and_the_unused_are_evicted_first() {
        let keys = keyring(vec![ed("ed")]);
        // One shard, two generations of two.
        let cache = VerifiedCache::new(limits(4));
        let tokens: Vec<String> = (0..6).map(ed_token).collect();
        for t in &tokens[..4] {
            cache.verify(t, &keys, &rules(), NOW).unwrap();
        }
        assert_eq!(cache.stats().entries, 4);
        // Token 0 (old generation) is used again: moved to the young one, which
        // pushes 2 and 3 into the old one and drops 0's old neighbour 1.
        cache.verify(&tokens[0], &keys, &rules(), NOW).unwrap();
        cache.verify(&tokens[4], &keys, &rules(), NOW).unwrap();
        assert!(cache.stats().entries <= 4);
        let hits = cache.stats().hits;
        cache.verify(&tokens[0], &keys, &rules(), NOW).unwrap();
        assert_eq!(cache.stats().hits, hits + 1, "a recently used token stays");
        cache.verify(&tokens[1], &keys, &rules(), NOW).unwrap();
        assert_eq!(cache.stats().hits, hits + 1, "the least recently used went");
        for t in &tokens {
            cache.verify(t, &keys, &rules(), NOW).unwrap();
            assert!(cache.stats().entries <= 4);
        }
    }

    #[test]
    fn bytes_are_bounded() {
        let keys = keyring(vec![ed("ed")]);
        let one = {
            let cache = VerifiedCache::new(limits(100));
            cache.verify(&ed_token(0), &keys, &rules(), NOW).unwrap();
            cache.stats().bytes
        };
        // Room for about three entries in bytes, though 100 in count.
        let cache = VerifiedCache::new(VerifiedCacheLimits {
            max_entries: 100,
            max_bytes: one * 3,
        });
        for i in 0..20 {
            cache.verify(&ed_token(i), &keys, &rules(), NOW).unwrap();
            assert!(cache.stats().bytes <= one * 3, "{:?}", cache.stats());
        }
        assert!(cache.stats().entries >= 1);
        // Smaller than one entry: nothing is cached, everything still verifies.
        let tiny = VerifiedCache::new(VerifiedCacheLimits {
            max_entries: 100,
            max_bytes: one,
        });
        tiny.verify(&ed_token(0), &keys, &rules(), NOW).unwrap();
        assert_eq!(tiny.stats().entries, 0);
    }

    #[test]
    fn a_zero_limit_turns_the_cache_off() {
        let keys = keyring(vec![ed("ed")]);
        let cache = VerifiedCache::new(limits(0));
        let t = ed_token(1);
        cache.verify(&t, &keys, &rules(), NOW).unwrap();
        cache.verify(&t, &keys, &rules(), NOW).unwrap();
        assert_eq!(cache.stats(), VerifiedCacheStats::default());
    }

    #[test]
    fn concurrent_checks_agree() {
        let keys = keyring(vec![ed("ed")]);
        let cache = VerifiedCache::new(limits(256));
        let tokens: Vec<String> = (0..32).map(ed_token).collect();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..5 {
                        for (i, t) in tokens.iter().enumerate() {
                            let v = cache.verify(t, &keys, &rules(), NOW).unwrap();
                            assert_eq!(v.claims.jti, format!("{i:032x}"));
                        }
                    }
                });
            }
        });
        let stats = cache.stats();
        assert_eq!(stats.hits + stats.misses, 4 * 5 * 32);
        assert_eq!(stats.entries, 32);
    }
}
