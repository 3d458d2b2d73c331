//! Following authd's revocation feed (`GET /oauth/revocations`): the wire format, and
//! a background task that long-polls it and keeps the revocations in memory, so a
//! resource server refuses a logged-out token without one request to authd per token.
//!
//! Bound: authd answers a waiting poll within its store-poll interval (250 ms) of the
//! revocation's commit, so a connected follower refuses the token about a second after
//! the logout at most. A follower that has not heard from authd for `max_lag` refuses
//! every token with 503 (fail closed) until it has caught up again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{SessionId, TokenRejection, UserId};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::error::AuthError;
use crate::remote::ClientCredentials;

/// How long a follower asks authd to hold a poll open when nothing is new.
pub const FEED_POLL_WAIT: Duration = Duration::from_secs(10);

/// One revocation, as the feed sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FeedEvent {
    /// One access token (by `jti`); irrelevant after `exp`.
    Token {
        /// The token's `jti`.
        jti: String,
        /// When the event stops mattering (seconds since the epoch).
        exp: i64,
    },
    /// Every access token of a session.
    Session {
        /// The session (`sid` claim).
        sid: SessionId,
        /// When the event stops mattering.
        exp: i64,
    },
    /// The user's current state (deactivation, logout everywhere, password change).
    User {
        /// The user (`sub` claim).
        sub: UserId,
        /// Whether the user may still use tokens at all.
        active: bool,
        /// Tokens issued (`iat`) before this are refused.
        not_before: Option<i64>,
    },
}

/// One answer of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPage {
    /// Pass as `after` on the next poll.
    pub cursor: i64,
    /// Events after the previous cursor (events may repeat; applying one twice is harmless).
    pub events: Vec<FeedEvent>,
    /// More events are waiting: poll again at once.
    pub more: bool,
}

#[derive(Debug, Default)]
struct FeedState {
    jtis: HashMap<String, i64>,
    sessions: HashMap<SessionId, i64>,
    users: HashMap<UserId, (bool, Option<i64>)>,
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Shared {
    state: RwLock<FeedState>,
    last_ok_millis: AtomicI64,
    max_lag: Duration,
}

/// A follower of the revocation feed; the polling task stops when the last clone is
/// dropped.
#[derive(Clone)]
pub struct RevocationFeed {
    shared: Arc<Shared>,
    _task: Arc<AbortOnDrop>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for RevocationFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationFeed")
            .field("max_lag", &self.shared.max_lag)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn apply(&self, events: Vec<FeedEvent>) {
        let now = now_millis() / 1000;
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for event in events {
            match event {
                FeedEvent::Token { jti, exp } if exp > now => {
                    state.jtis.insert(jti, exp);
                }
                FeedEvent::Session { sid, exp } if exp > now => {
                    state.sessions.insert(sid, exp);
                }
                FeedEvent::User {
                    sub,
                    active,
                    not_before,
                } => {
                    state.users.insert(sub, (active, not_before));
                }
                _ => {}
            }
        }
        state.jtis.retain(|_, exp| *exp > now);
        state.sessions.retain(|_, exp| *exp > now);
    }
}

async fn poll(
    http: &reqwest::Client,
    url: &str,
    client: &ClientCredentials,
    after: i64,
    wait: Duration,
) -> Result<FeedPage, AuthError> {
    let response = http
        .get(url)
        .query(&[("after", after), ("wait", wait.as_secs() as i64)])
        .basic_auth(&client.id, Some(&client.secret))
        .timeout(wait + Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| crate::transport::request_failed("polling the revocation feed", e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(AuthError::Unavailable {
            what: "the revocation feed answered an error",
            source: Some(format!("HTTP {status}").into()),
        });
    }
    response
        .json()
        .await
        .map_err(|e| AuthError::unavailable("reading the revocation feed", e))
}

impl RevocationFeed {
    /// Reads the whole feed once (every revocation still relevant), then follows it
    /// in a background task. Tokens are refused with 503 once the feed has not
    /// answered for `max_lag` (at least `FEED_POLL_WAIT` plus 5 s).
    pub async fn follow(
        http: reqwest::Client,
        url: impl Into<String>,
        client: ClientCredentials,
        max_lag: Duration,
    ) -> Result<Self, AuthError> {
        let url = url.into();
        let shared = Arc::new(Shared {
            state: RwLock::new(FeedState::default()),
            last_ok_millis: AtomicI64::new(0),
            max_lag: max_lag.max(FEED_POLL_WAIT + Duration::from_secs(5)),
        });
        let mut cursor = 0;
        loop {
            let page = poll(&http, &url, &client, cursor, Duration::ZERO).await?;
            cursor = page.cursor;
            shared.apply(page.events);
            if !page.more {
                break;
            }
        }
        shared.last_ok_millis.store(now_millis(), Ordering::Release);
        let task_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                match poll(&http, &url, &client, cursor, FEED_POLL_WAIT).await {
                    Ok(page) => {
                        cursor = page.cursor;
                        task_shared.apply(page.events);
                        task_shared
                            .last_ok_millis
                            .store(now_millis(), Ordering::Release);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "revocation feed poll failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Self {
            shared,
            _task: Arc::new(AbortOnDrop(task)),
        })
    }

    /// Whether the feed answered within `max_lag`.
    pub fn is_current(&self) -> bool {
        let last = self.shared.last_ok_millis.load(Ordering::Acquire);
        now_millis().saturating_sub(last) <= self.shared.max_lag.as_millis() as i64
    }

    /// Checks a verified token against the revocations seen so far.
    pub(crate) fn check(&self, token: &auth_core::Authenticated) -> Result<(), AuthError> {
        if !self.is_current() {
            return Err(AuthError::Unavailable {
                what: "the revocation feed is not current",
                source: None,
            });
        }
        let state = self.shared.state.read().unwrap_or_else(|e| e.into_inner());
        let claims = &token.claims;
        if let Some((active, not_before)) = state.users.get(&token.user_id) {
            if !active {
                return Err(TokenRejection::UserInactive.into());
            }
            if not_before.is_some_and(|nb| claims.iat < nb) {
                return Err(TokenRejection::IssuedBeforeValidAfter.into());
            }
        }
        if state.jtis.contains_key(&claims.jti) {
            return Err(TokenRejection::Revoked.into());
        }
        if state.sessions.contains_key(&claims.sid) {
            return Err(TokenRejection::SessionRevoked.into());
        }
        Ok(())
    }
}
