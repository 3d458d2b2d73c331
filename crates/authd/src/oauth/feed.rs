//! `GET /oauth/revocations?after=CURSOR&wait=SECONDS`: the revocation feed for
//! resource servers (confidential clients), so they learn of logouts without one
//! introspection per request (auth-axum's `RevocationFeed` follows it).
//!
//! A poll with nothing new is held open up to `wait` seconds (at most 30), checking
//! the store every [`STORE_POLL`]: a committed revocation reaches a waiting follower
//! within that interval. Events are re-sent from a short re-check window (ids can
//! commit out of order under concurrent writers); applying one twice is harmless.

use std::collections::HashMap;
use std::time::Duration;

use auth_axum::{FeedEvent, FeedPage};
use auth_core::{RevocationCursor, RevokedItem, TokenStore, UserId};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use crate::app::AppState;
use crate::error::ApiError;

/// How often a held poll re-reads the store.
const STORE_POLL: Duration = Duration::from_millis(250);
const MAX_WAIT: Duration = Duration::from_secs(30);
const PAGE: u32 = 1000;
const RECHECK: time::Duration = time::Duration::seconds(10);

#[derive(Deserialize)]
pub(crate) struct FeedQuery {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    wait: u64,
}

/// The feed endpoint.
pub(crate) async fn revocations<S: TokenStore>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Query(query): Query<FeedQuery>,
) -> Result<Json<FeedPage>, ApiError> {
    state
        .oauth
        .clients
        .authenticate_confidential(&headers, &HashMap::new())?;
    let wait = Duration::from_secs(query.wait).min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let store = state.service.store();
    loop {
        let now = state.service.now();
        let cursor = RevocationCursor {
            after_id: query.after.max(0),
            recheck_since: (query.after > 0).then(|| now - RECHECK),
        };
        let events = store.revocation_events(&cursor, PAGE).await?;
        let fresh = events.iter().any(|e| e.id > query.after);
        if fresh || tokio::time::Instant::now() >= deadline {
            let more = events.len() >= PAGE as usize;
            let cursor = events
                .iter()
                .map(|e| e.id)
                .max()
                .unwrap_or(query.after)
                .max(query.after);
            let mut out = Vec::with_capacity(events.len());
            let mut users: HashMap<UserId, ()> = HashMap::new();
            for event in events {
                match event.item {
                    RevokedItem::Token(jti) => out.push(FeedEvent::Token {
                        jti,
                        exp: event.expires_at.unix_timestamp(),
                    }),
                    RevokedItem::Session(sid) => out.push(FeedEvent::Session {
                        sid,
                        exp: event.expires_at.unix_timestamp(),
                    }),
                    RevokedItem::User(uid) => {
                        if users.insert(uid, ()).is_none() {
                            let user = store.find_user(uid).await?;
                            out.push(FeedEvent::User {
                                sub: uid,
                                active: user.as_ref().is_some_and(|u| u.is_active),
                                not_before: user
                                    .and_then(|u| u.tokens_valid_after)
                                    .map(|t| t.unix_timestamp()),
                            });
                        }
                    }
                }
            }
            return Ok(Json(FeedPage {
                cursor,
                events: out,
                more,
            }));
        }
        tokio::time::sleep(STORE_POLL).await;
    }
}
