//! Revocation: the events backends record, and the in-process cache that answers
//! per-request checks without a database round trip.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use time::{Duration, OffsetDateTime};

use crate::error::Result;
use crate::session::SessionId;
use crate::store::AccessTokenStore;
use crate::users::{UserId, UserState};

/// What a revocation event concerns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RevokedItem {
    /// One access token, by jti.
    Token(String),
    /// Every access token of a session.
    Session(SessionId),
    /// The user's state changed (deactivation, logout-all, password change):
    /// caches must reload it.
    User(UserId),
}

impl RevokedItem {
    /// Which kind of event this is.
    pub fn kind(&self) -> RevocationKind {
        match self {
            RevokedItem::Token(_) => RevocationKind::Token,
            RevokedItem::Session(_) => RevocationKind::Session,
            RevokedItem::User(_) => RevocationKind::User,
        }
    }

    /// The revoked jti, for a token event.
    pub fn jti(&self) -> Option<&str> {
        match self {
            RevokedItem::Token(jti) => Some(jti),
            _ => None,
        }
    }

    /// The revoked session, for a session event.
    pub fn session(&self) -> Option<SessionId> {
        match self {
            RevokedItem::Session(sid) => Some(*sid),
            _ => None,
        }
    }

    /// Rebuilds an item from its stored columns (`kind`, `user_id`, `jti`,
    /// `session_id`); the one place the stored form is read.
    pub fn from_stored(
        kind: &str,
        user: UserId,
        jti: Option<String>,
        session: Option<SessionId>,
    ) -> std::result::Result<Self, StoredRevocationError> {
        match RevocationKind::parse(kind).ok_or(StoredRevocationError::UnknownKind)? {
            RevocationKind::Token => jti
                .map(RevokedItem::Token)
                .ok_or(StoredRevocationError::MissingJti),
            RevocationKind::Session => session
                .map(RevokedItem::Session)
                .ok_or(StoredRevocationError::MissingSession),
            RevocationKind::User => Ok(RevokedItem::User(user)),
        }
    }
}

/// The stored `kind` of a revocation event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationKind {
    /// One access token (`jti` set).
    Token,
    /// A session (`session_id` set).
    Session,
    /// A user's state changed.
    User,
}

impl RevocationKind {
    /// Every kind, in declaration order.
    pub const ALL: [RevocationKind; 3] = [
        RevocationKind::Token,
        RevocationKind::Session,
        RevocationKind::User,
    ];

    /// The stored text: `token`, `session` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationKind::Token => "token",
            RevocationKind::Session => "session",
            RevocationKind::User => "user",
        }
    }

    /// Parses the stored text.
    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == stored)
    }
}

/// Why a stored revocation row does not map to a [`RevokedItem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoredRevocationError {
    /// `kind` is none of `token`, `session`, `user`.
    #[error("unknown revocation kind")]
    UnknownKind,
    /// A `token` row without `jti`.
    #[error("a token revocation without jti")]
    MissingJti,
    /// A `session` row without `session_id`.
    #[error("a session revocation without session_id")]
    MissingSession,
}

impl StoredRevocationError {
    /// The message, as a static string (for backends' corrupt-row errors).
    pub fn as_str(self) -> &'static str {
        match self {
            StoredRevocationError::UnknownKind => "unknown revocation kind",
            StoredRevocationError::MissingJti => "a token revocation without jti",
            StoredRevocationError::MissingSession => "a session revocation without session_id",
        }
    }
}

/// One row of the revocation feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationEvent {
    /// Increasing row id, the feed's cursor.
    pub id: i64,
    /// Owner.
    pub user_id: UserId,
    /// What was revoked.
    pub item: RevokedItem,
    /// When.
    pub revoked_at: OffsetDateTime,
    /// After this no token the event concerns can be valid; cleanup may drop it.
    pub expires_at: OffsetDateTime,
}

/// Where a reader of the feed stands.
///
/// Row ids can become visible out of order under concurrent writers, so a reader asks
/// for `id > after_id` **or** `revoked_at >= recheck_since`; applying an event twice is
/// harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RevocationCursor {
    /// Highest id seen.
    pub after_id: i64,
    /// Also return events revoked at or after this instant.
    pub recheck_since: Option<OffsetDateTime>,
}

/// A registered access token (Allowlist mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenEntry {
    /// Token id.
    pub jti: String,
    /// Owner.
    pub user_id: UserId,
    /// Session.
    pub session_id: SessionId,
    /// Issued at.
    pub issued_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// Disabled by a revocation.
    pub disabled: bool,
}

/// How far back each sync re-reads, to catch ids committed out of order.
const RECHECK_WINDOW: Duration = Duration::seconds(10);
const PAGE: u32 = 1000;
const MAX_ENTRIES: usize = 200_000;

#[derive(Debug, Default)]
struct CacheState {
    jtis: HashMap<String, OffsetDateTime>,
    sessions: HashMap<SessionId, OffsetDateTime>,
    users: HashMap<UserId, UserState>,
    allowed: HashMap<String, AccessTokenEntry>,
}

/// In-process view of revocations, synced incrementally from the store's feed.
///
/// Answers are at most `max_staleness` old: a check finding the last sync older than
/// that syncs first. Push notifications (PostgreSQL LISTEN/NOTIFY) call
/// [`mark_stale`](Self::mark_stale) or [`sync`](Self::sync) to make revocations visible
/// at once.
#[derive(Debug)]
pub struct RevocationCache {
    state: RwLock<CacheState>,
    cursor: tokio::sync::Mutex<RevocationCursor>,
    max_staleness: Duration,
    last_sync_micros: AtomicI64,
    stale: AtomicBool,
    epoch: AtomicU64,
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

impl RevocationCache {
    /// An empty cache; the first check loads every unexpired revocation.
    pub fn new(max_staleness: Duration) -> Self {
        Self {
            state: RwLock::new(CacheState::default()),
            cursor: tokio::sync::Mutex::new(RevocationCursor::default()),
            max_staleness,
            last_sync_micros: AtomicI64::new(i64::MIN),
            stale: AtomicBool::new(true),
            epoch: AtomicU64::new(0),
        }
    }

    /// The configured maximum staleness.
    pub fn max_staleness(&self) -> Duration {
        self.max_staleness
    }

    /// Forces the next check to sync first.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Release);
    }

    fn needs_sync(&self, now: OffsetDateTime) -> bool {
        let last = self.last_sync_micros.load(Ordering::Acquire);
        let fresh_until = last.saturating_add(self.max_staleness.whole_microseconds() as i64);
        self.stale.load(Ordering::Acquire)
            || self.max_staleness.is_zero()
            || micros(now) >= fresh_until
    }

    /// Syncs if the last sync is older than the maximum staleness (or marked stale).
    pub async fn ensure_fresh<S: AccessTokenStore>(
        &self,
        store: &S,
        now: OffsetDateTime,
    ) -> Result<()> {
        if self.needs_sync(now) {
            let mut cursor = self.cursor.lock().await;
            // Another task may have synced while this one waited for the lock.
            if self.needs_sync(now) {
                self.sync_locked(&mut cursor, store, now).await?;
            }
        }
        Ok(())
    }

    /// Reads the feed from the cursor and applies it now; returns how many events it applied.
    pub async fn sync<S: AccessTokenStore>(&self, store: &S, now: OffsetDateTime) -> Result<usize> {
        let mut cursor = self.cursor.lock().await;
        self.sync_locked(&mut cursor, store, now).await
    }

    async fn sync_locked<S: AccessTokenStore>(
        &self,
        cursor: &mut RevocationCursor,
        store: &S,
        now: OffsetDateTime,
    ) -> Result<usize> {
        self.stale.store(false, Ordering::Release);
        let mut applied = 0;
        let mut page_cursor = *cursor;
        loop {
            let events = match store.revocation_events(&page_cursor, PAGE).await {
                Ok(events) => events,
                Err(e) => {
                    self.stale.store(true, Ordering::Release);
                    return Err(e);
                }
            };
            let n = events.len();
            if n > 0 {
                self.apply(&events, now);
                applied += n;
                let max_id = events
                    .iter()
                    .map(|e| e.id)
                    .max()
                    .unwrap_or(page_cursor.after_id);
                cursor.after_id = cursor.after_id.max(max_id);
            }
            if n < PAGE as usize {
                break;
            }
            page_cursor = RevocationCursor {
                after_id: cursor.after_id,
                recheck_since: None,
            };
        }
        cursor.recheck_since = Some(now - RECHECK_WINDOW);
        self.last_sync_micros.store(micros(now), Ordering::Release);
        Ok(applied)
    }

    fn apply(&self, events: &[RevocationEvent], now: OffsetDateTime) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let mut dropped_users = HashSet::new();
        let mut dropped_sessions = HashSet::new();
        for event in events {
            match &event.item {
                RevokedItem::Token(jti) => {
                    state.allowed.remove(jti);
                    if event.expires_at > now {
                        state.jtis.insert(jti.clone(), event.expires_at);
                    }
                }
                RevokedItem::Session(sid) => {
                    dropped_sessions.insert(*sid);
                    if event.expires_at > now {
                        state.sessions.insert(*sid, event.expires_at);
                    }
                }
                RevokedItem::User(uid) => {
                    state.users.remove(uid);
                    dropped_users.insert(*uid);
                }
            }
        }
        if !dropped_users.is_empty() || !dropped_sessions.is_empty() {
            state.allowed.retain(|_, e| {
                !dropped_users.contains(&e.user_id) && !dropped_sessions.contains(&e.session_id)
            });
        }
        state.jtis.retain(|_, exp| *exp > now);
        state.sessions.retain(|_, exp| *exp > now);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the jti was revoked.
    pub fn is_token_revoked(&self, jti: &str) -> bool {
        self.read().jtis.contains_key(jti)
    }

    /// Whether the session was revoked.
    pub fn is_session_revoked(&self, sid: &SessionId) -> bool {
        self.read().sessions.contains_key(sid)
    }

    /// Whether either the jti or the session was revoked (one lock acquisition).
    pub fn is_denied(&self, jti: &str, sid: &SessionId) -> Option<crate::TokenRejection> {
        let state = self.read();
        if state.jtis.contains_key(jti) {
            Some(crate::TokenRejection::Revoked)
        } else if state.sessions.contains_key(sid) {
            Some(crate::TokenRejection::SessionRevoked)
        } else {
            None
        }
    }

    /// One lock acquisition for the per-request check: `None` if the user's state is not
    /// cached yet; otherwise the verdict of the user-state check and, with `deny`, of
    /// the jti and session checks.
    pub fn cached_verdict(
        &self,
        user: UserId,
        iat: i64,
        jti: &str,
        sid: &SessionId,
        deny: bool,
    ) -> Option<Result<(), crate::TokenRejection>> {
        let state = self.read();
        let user_state = state.users.get(&user)?;
        Some(if let Err(r) = user_state.check(iat) {
            Err(r)
        } else if deny && state.jtis.contains_key(jti) {
            Err(crate::TokenRejection::Revoked)
        } else if deny && state.sessions.contains_key(sid) {
            Err(crate::TokenRejection::SessionRevoked)
        } else {
            Ok(())
        })
    }

    /// The cached state of a user, if loaded.
    pub fn user_state(&self, user: UserId) -> Option<UserState> {
        self.read().users.get(&user).copied()
    }

    /// The cached allowlist entry of a token, if loaded.
    pub fn allowed(&self, jti: &str) -> Option<AccessTokenEntry> {
        self.read().allowed.get(jti).cloned()
    }

    /// A token for [`insert_user_state`](Self::insert_user_state) and
    /// [`insert_allowed`](Self::insert_allowed): take it before reading the store, so a
    /// value read before an invalidation is never cached after it.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches a user's state read from the store since `epoch`.
    pub fn insert_user_state(&self, user: UserId, state: UserState, epoch: u64) {
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) == epoch {
            if s.users.len() >= MAX_ENTRIES {
                s.users.clear();
            }
            s.users.insert(user, state);
        }
    }

    /// Caches an allowlist entry read from the store since `epoch`.
    pub fn insert_allowed(&self, entry: AccessTokenEntry, epoch: u64) {
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        if self.epoch.load(Ordering::Acquire) == epoch {
            if s.allowed.len() >= MAX_ENTRIES {
                s.allowed.clear();
            }
            s.allowed.insert(entry.jti.clone(), entry);
        }
    }

    /// Applies a revocation made by this process at once, without waiting for a sync.
    pub fn apply_local(&self, event: RevocationEvent, now: OffsetDateTime) {
        self.apply(std::slice::from_ref(&event), now);
    }
}
