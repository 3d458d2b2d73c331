//! The issuer's JWKS, fetched and cached: refreshed when its `max-age` has passed
//! (with `If-None-Match`, so an unchanged set costs a 304), and on an unknown `kid`
//! at most once per `min_refresh_interval`, so tokens with made-up key ids cannot make
//! the resource server hammer the issuer.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, StatusCode, header};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::error::AuthError;

/// How the JWKS is cached.
#[derive(Debug, Clone, Copy)]
pub struct JwksSettings {
    /// Shortest interval between two fetches caused by unknown key ids (default 30 s).
    pub min_refresh_interval: Duration,
    /// Longest time a fetched set is used before it is revalidated, unless the
    /// issuer's `Cache-Control: max-age` is shorter (default 5 min).
    pub max_age: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            min_refresh_interval: Duration::from_secs(30),
            max_age: Duration::from_secs(300),
        }
    }
}

/// A public key from the JWKS, pinned to the algorithm its entry names.
pub(crate) struct RemoteKey {
    pub(crate) alg: Algorithm,
    pub(crate) decoding: DecodingKey,
}

struct Snapshot {
    keys: HashMap<String, Arc<RemoteKey>>,
    etag: Option<HeaderValue>,
    fetched: Instant,
    max_age: Duration,
}

/// A cached JWKS (see the module documentation).
pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    settings: JwksSettings,
    snapshot: RwLock<Arc<Snapshot>>,
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.current().keys.keys().cloned().collect();
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .field("kids", &kids)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Parses a JWKS document: signature keys with a `kid` and an asymmetric `alg`; other
/// entries are skipped.
fn parse_jwks(body: &serde_json::Value) -> HashMap<String, Arc<RemoteKey>> {
    let mut keys = HashMap::new();
    for entry in body["keys"].as_array().into_iter().flatten() {
        let (Some(kid), Some(alg)) = (entry["kid"].as_str(), entry["alg"].as_str()) else {
            continue;
        };
        if entry.get("use").is_some_and(|u| u != "sig") {
            continue;
        }
        let Ok(alg) = Algorithm::from_str(alg) else {
            continue;
        };
        if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            continue;
        }
        let decoding = serde_json::from_value::<Jwk>(entry.clone())
            .ok()
            .and_then(|jwk| DecodingKey::from_jwk(&jwk).ok());
        match decoding {
            Some(decoding) => {
                keys.insert(kid.to_owned(), Arc::new(RemoteKey { alg, decoding }));
            }
            None => tracing::warn!(kid, "skipping a JWKS entry that does not parse"),
        }
    }
    keys
}

fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(header::CACHE_CONTROL)?.to_str().ok()?;
    value
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
}

impl JwksCache {
    /// Fetches the JWKS at `url` once; fails if it cannot be fetched or holds no key.
    pub async fn fetch(
        http: reqwest::Client,
        url: impl Into<String>,
        settings: JwksSettings,
    ) -> Result<Self, AuthError> {
        let cache = Self {
            url: url.into(),
            http,
            settings,
            snapshot: RwLock::new(Arc::new(Snapshot {
                keys: HashMap::new(),
                etag: None,
                fetched: Instant::now(),
                max_age: Duration::ZERO,
            })),
            last_attempt: tokio::sync::Mutex::new(None),
        };
        cache.refresh().await?;
        if cache.current().keys.is_empty() {
            return Err(AuthError::Unavailable {
                what: "the JWKS lists no usable signature key",
                source: None,
            });
        }
        Ok(cache)
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Key ids currently cached.
    pub fn kids(&self) -> Vec<String> {
        self.current().keys.keys().cloned().collect()
    }

    /// Fetches the set now (conditionally, with the last ETag).
    pub async fn refresh(&self) -> Result<(), AuthError> {
        let mut last = self.last_attempt.lock().await;
        self.refresh_locked(&mut last).await
    }

    async fn refresh_locked(&self, last: &mut Option<Instant>) -> Result<(), AuthError> {
        *last = Some(Instant::now());
        let old = self.current();
        let mut request = self.http.get(&self.url);
        if let Some(etag) = &old.etag {
            request = request.header(header::IF_NONE_MATCH, etag.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| crate::transport::request_failed("fetching the JWKS", e))?;
        let ttl = max_age(response.headers())
            .unwrap_or(self.settings.max_age)
            .min(self.settings.max_age);
        let next = match response.status() {
            StatusCode::NOT_MODIFIED => Snapshot {
                keys: old.keys.clone(),
                etag: old.etag.clone(),
                fetched: Instant::now(),
                max_age: ttl,
            },
            StatusCode::OK => {
                let etag = response.headers().get(header::ETAG).cloned();
                let body: serde_json::Value = response
                    .json()
                    .await
                    .map_err(|e| AuthError::unavailable("reading the JWKS", e))?;
                Snapshot {
                    keys: parse_jwks(&body),
                    etag,
                    fetched: Instant::now(),
                    max_age: ttl,
                }
            }
            status => {
                return Err(AuthError::Unavailable {
                    what: "the JWKS endpoint answered an error",
                    source: Some(format!("HTTP {status}").into()),
                });
            }
        };
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }

    /// The key for `kid`: from the cache while it is fresh; an expired set is
    /// revalidated first (kept if the issuer is unreachable), and an unknown kid
    /// triggers a refresh unless one happened within `min_refresh_interval`.
    pub(crate) async fn key(&self, kid: &str) -> Option<Arc<RemoteKey>> {
        let snapshot = self.current();
        let expired = snapshot.fetched.elapsed() >= snapshot.max_age;
        if !expired && let Some(key) = snapshot.keys.get(kid) {
            return Some(key.clone());
        }
        {
            let mut last = self.last_attempt.lock().await;
            let recent = last.is_some_and(|t| t.elapsed() < self.settings.min_refresh_interval);
            // Another task may have refreshed while this one waited for the lock.
            let current = self.current();
            let still_missing = !current.keys.contains_key(kid);
            let still_expired = current.fetched.elapsed() >= current.max_age;
            if (still_expired || still_missing)
                && !recent
                && let Err(e) = self.refresh_locked(&mut last).await
            {
                tracing::warn!(error = %e, "JWKS refresh failed; keeping the cached set");
            }
        }
        self.current().keys.get(kid).cloned()
    }
}
