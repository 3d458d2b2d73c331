//! The scenarios, one `pub async fn` each, generic over the backend's [`TestDatabase`].
//!
//! Each builds a [`TokenService`] over a fresh database with a [`ManualClock`], drives it
//! through one rule of the design, and asserts both what the service returns and what
//! the database holds afterwards.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    AccessTokenStore, AuditKind, AuditLog, CleanupPolicy, ClientInfo, Error, Keyring, KeyringSpec,
    ManualClock, PasswordPolicy, RefreshRejection, RefreshToken, RefreshTokenRecord,
    RefreshTokenStore, RevocationCursor, RevocationMode, SigningAlgorithm, TokenPair,
    TokenRejection, TokenService, TokenServiceConfig, TokenStore, UserDirectory, UserId,
};
use serde_json::json;

use crate::database::{Table, TestDatabase};

/// Issuer of every token the scenarios make.
pub const ISSUER: &str = "https://auth.conformance.test";
/// Audience of every token the scenarios make.
pub const AUDIENCE: &str = "conformance-api";
pub(crate) const PASSWORD: &str = "correct horse battery";

/// A clock standing at a whole second, so expiry boundaries are exact.
pub(crate) fn clock() -> ManualClock {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    ManualClock::new(OffsetDateTime::from_unix_timestamp(now).expect("valid time"))
}

pub(crate) fn keyring_spec() -> KeyringSpec {
    KeyringSpec::generate("conformance-1", SigningAlgorithm::HS256).expect("key generation")
}

/// The scenarios' configuration: defaults, the given mode, and fast password hashing
/// (1,000 PBKDF2 rounds: test-only, the library default is 600,000).
pub fn config(mode: RevocationMode) -> TokenServiceConfig {
    let mut cfg = TokenServiceConfig::new(ISSUER, AUDIENCE);
    cfg.revocation_mode = mode;
    cfg.password = PasswordPolicy {
        pbkdf2_rounds: 1_000,
        ..PasswordPolicy::default()
    };
    cfg
}

/// [`config`] with a zero retry window: the strict RFC 9700 reading, any reuse revokes.
pub fn strict_config(mode: RevocationMode) -> TokenServiceConfig {
    let mut cfg = config(mode);
    cfg.retry_window = Duration::ZERO;
    cfg
}

pub(crate) struct Fixture<S: TokenStore> {
    pub(crate) svc: TokenService<S>,
    pub(crate) clock: ManualClock,
    spec: KeyringSpec,
}

pub(crate) fn fixture<S: TokenStore>(store: S, cfg: TokenServiceConfig) -> Fixture<S> {
    let clock = clock();
    let spec = keyring_spec();
    let keys = Keyring::from_spec(&spec).expect("keyring");
    let svc = TokenService::builder(store, keys, cfg)
        .clock(clock.clone())
        .build()
        .expect("service");
    Fixture { svc, clock, spec }
}

impl<S: TokenStore> Fixture<S> {
    /// Another service instance over the same store, keys and clock (another process).
    fn sibling(&self, cfg: TokenServiceConfig) -> TokenService<S> {
        let keys = Keyring::from_spec(&self.spec).expect("keyring");
        TokenService::builder(self.svc.store().clone(), keys, cfg)
            .clock(self.clock.clone())
            .build()
            .expect("service")
    }

    pub(crate) async fn user(&self, email: &str) -> UserId {
        self.svc.register(email, PASSWORD).await.expect("register")
    }

    pub(crate) async fn login(&self, email: &str) -> TokenPair {
        self.svc
            .login(email, PASSWORD, &client())
            .await
            .expect("login")
    }
}

pub(crate) fn client() -> ClientInfo {
    ClientInfo {
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
        user_agent: Some("conformance/1.0".into()),
        ..Default::default()
    }
}

#[track_caller]
fn assert_token_rejected<T: std::fmt::Debug>(
    result: auth_core::Result<T>,
    expected: TokenRejection,
) {
    match result {
        Err(Error::InvalidToken(r)) => assert_eq!(r, expected),
        other => panic!("expected InvalidToken({expected:?}), got {other:?}"),
    }
}

#[track_caller]
pub(crate) fn assert_grant_rejected<T: std::fmt::Debug>(
    result: auth_core::Result<T>,
    expected: RefreshRejection,
) {
    match result {
        Err(Error::InvalidGrant(r)) => assert_eq!(r, expected),
        other => panic!("expected InvalidGrant({expected:?}), got {other:?}"),
    }
}

pub(crate) async fn counts<D: TestDatabase>(db: &D) -> [u64; 5] {
    [
        db.count_rows(Table::Users).await,
        db.count_rows(Table::RefreshTokens).await,
        db.count_rows(Table::RevokedTokens).await,
        db.count_rows(Table::AccessTokens).await,
        db.count_rows(Table::AuditLogs).await,
    ]
}

pub(crate) async fn audit_kinds<S: TokenStore>(store: &S, user: Option<UserId>) -> Vec<AuditKind> {
    let mut rows = store.recent_audit(user, 100).await.expect("audit");
    rows.reverse();
    rows.into_iter().map(|r| r.event.kind).collect()
}

/// Stateless mode: a valid token authenticates on signature and claims alone, even
/// after the user is deactivated; nothing is registered.
pub async fn authenticate_stateless<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Stateless));
    let uid = f.user("stateless@example.com").await;
    let pair = f.login("stateless@example.com").await;
    let auth = f
        .svc
        .authenticate(&pair.access_token)
        .await
        .expect("authenticates");
    assert_eq!(auth.user_id, uid);
    assert_eq!(auth.claims.sid, pair.session_id);
    assert_eq!(auth.claims.iss, ISSUER);
    assert_eq!(auth.claims.exp - auth.claims.iat, 15 * 60);
    assert_eq!(auth.claims.jti.len(), 32);
    assert!(f.svc.set_user_active(uid, false).await.unwrap());
    f.svc
        .authenticate(&pair.access_token)
        .await
        .expect("stateless ignores user state");
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 1);
    assert_eq!(db.count_rows(Table::AccessTokens).await, 0);
}

/// UserState mode: deactivation and `tokens_valid_after` take effect; a token issued
/// right after logout-all (same second) is valid.
pub async fn authenticate_user_state<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::UserState));
    let uid = f.user("state@example.com").await;
    let pair = f.login("state@example.com").await;
    f.svc
        .authenticate(&pair.access_token)
        .await
        .expect("active user");
    f.svc.set_user_active(uid, false).await.unwrap();
    assert_token_rejected(
        f.svc.authenticate(&pair.access_token).await,
        TokenRejection::UserInactive,
    );
    let stored = f.svc.store().find_user(uid).await.unwrap().unwrap();
    assert!(!stored.is_active);
    f.svc.set_user_active(uid, true).await.unwrap();
    f.svc
        .authenticate(&pair.access_token)
        .await
        .expect("reactivated");
    f.clock.advance(Duration::milliseconds(300));
    f.svc.logout_all(uid, &client()).await.unwrap();
    assert_token_rejected(
        f.svc.authenticate(&pair.access_token).await,
        TokenRejection::IssuedBeforeValidAfter,
    );
    let tva = f
        .svc
        .store()
        .find_user(uid)
        .await
        .unwrap()
        .unwrap()
        .tokens_valid_after
        .expect("tva set");
    assert!(tva >= f.clock_now());
    let fresh = f.login("state@example.com").await;
    f.svc
        .authenticate(&fresh.access_token)
        .await
        .expect("token issued after logout-all in the same second");
}

impl<S: TokenStore> Fixture<S> {
    /// The stored row of a pair's refresh token.
    pub(crate) async fn row(&self, pair: &TokenPair) -> RefreshTokenRecord {
        let hash = pair.refresh_token.hash();
        self.svc
            .store()
            .find_refresh_token(&hash)
            .await
            .unwrap()
            .expect("stored row")
    }

    pub(crate) async fn refresh(&self, pair: &TokenPair) -> auth_core::Result<TokenPair> {
        self.svc
            .refresh(pair.refresh_token.expose(), &client())
            .await
    }

    /// The classification in the user's TOKEN_REUSE_ATTACK audit row.
    pub(crate) async fn attack_classification(&self, uid: UserId) -> serde_json::Value {
        let audit = self.svc.store().recent_audit(Some(uid), 20).await.unwrap();
        let attack = audit
            .iter()
            .find(|r| r.event.kind == AuditKind::TokenReuseAttack)
            .expect("TOKEN_REUSE_ATTACK row");
        attack.event.details["classification"].clone()
    }

    pub(crate) fn clock_now(&self) -> OffsetDateTime {
        use auth_core::Clock;
        self.clock.now()
    }
}

/// Denylist mode: a revoked jti and a revoked session are refused; other tokens of the
/// user still work; the revocations are rows of the feed.
pub async fn denylist_by_jti_and_session<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    f.user("deny@example.com").await;
    let pair = f.login("deny@example.com").await;
    let auth = f.svc.authenticate(&pair.access_token).await.unwrap();
    f.svc.revoke_access_token(&auth, &client()).await.unwrap();
    assert_token_rejected(
        f.svc.authenticate(&pair.access_token).await,
        TokenRejection::Revoked,
    );
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 1);
    let inspected = f.svc.verify_signature_and_claims(&pair.access_token);
    assert_eq!(
        inspected
            .expect("signature and claims still fine")
            .claims
            .jti,
        auth.claims.jti
    );
    // Revoking twice writes nothing more.
    f.svc.revoke_access_token(&auth, &client()).await.unwrap();
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 1);

    let next = f.refresh(&pair).await.unwrap();
    f.svc
        .authenticate(&next.access_token)
        .await
        .expect("another token of the session");
    let other = f.login("deny@example.com").await;
    f.svc
        .revoke_session(next.user_id, next.session_id, &client())
        .await
        .unwrap();
    assert_token_rejected(
        f.svc.authenticate(&next.access_token).await,
        TokenRejection::SessionRevoked,
    );
    f.svc
        .authenticate(&other.access_token)
        .await
        .expect("the other session is untouched");
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 2);

    let events = f
        .svc
        .store()
        .revocation_events(&RevocationCursor::default(), 100)
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0].id < events[1].id);
    assert_eq!(
        events[0].item,
        auth_core::RevokedItem::Token(auth.claims.jti.clone())
    );
    assert_eq!(
        events[1].item,
        auth_core::RevokedItem::Session(next.session_id)
    );
    let after = RevocationCursor {
        after_id: events[0].id,
        recheck_since: None,
    };
    assert_eq!(
        f.svc
            .store()
            .revocation_events(&after, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Allowlist mode: issued tokens are registered; an unregistered but validly signed
/// token is refused; a disabled one is refused.
pub async fn allowlist_register_and_disable<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Allowlist));
    let uid = f.user("allow@example.com").await;
    let pair = f.login("allow@example.com").await;
    assert_eq!(db.count_rows(Table::AccessTokens).await, 1);
    let entry = f
        .svc
        .store()
        .find_access_token(&pair.jti)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(entry.user_id, uid);
    assert_eq!(entry.session_id, pair.session_id);
    assert!(!entry.disabled);
    let auth = f
        .svc
        .authenticate(&pair.access_token)
        .await
        .expect("registered token");

    let stateless = f.sibling(config(RevocationMode::Stateless));
    let unregistered = stateless
        .login("allow@example.com", PASSWORD, &client())
        .await
        .unwrap();
    assert_eq!(db.count_rows(Table::AccessTokens).await, 1);
    assert_token_rejected(
        f.svc.authenticate(&unregistered.access_token).await,
        TokenRejection::NotAllowed,
    );

    f.svc.revoke_access_token(&auth, &client()).await.unwrap();
    assert!(
        f.svc
            .store()
            .find_access_token(&pair.jti)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    // Disabled in the allowlist and on the denylist: refused as revoked.
    assert_token_rejected(
        f.svc.authenticate(&pair.access_token).await,
        TokenRejection::Revoked,
    );

    let second = f.login("allow@example.com").await;
    f.svc.authenticate(&second.access_token).await.unwrap();
    f.svc
        .revoke_session(uid, second.session_id, &client())
        .await
        .unwrap();
    assert!(
        f.svc
            .store()
            .find_access_token(&second.jti)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert_token_rejected(
        f.svc.authenticate(&second.access_token).await,
        TokenRejection::SessionRevoked,
    );
}

/// Rotation: each refresh retires the presented token (rotated, replaced_by the
/// successor) and issues generation + 1 in the same session.
pub async fn rotation<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let uid = f.user("rotate@example.com").await;
    let t0 = f.login("rotate@example.com").await;
    f.clock.advance(Duration::seconds(10));
    let t1 = f.refresh(&t0).await.unwrap();
    assert_ne!(t0.refresh_token, t1.refresh_token);
    assert_ne!(t0.access_token, t1.access_token);
    assert_eq!(t1.session_id, t0.session_id);
    assert_eq!(t1.user_id, uid);
    let store = f.svc.store();
    let r0 = f.row(&t0).await;
    let r1 = f.row(&t1).await;
    assert_eq!(r0.rotated_at, Some(f.clock_now()));
    assert_eq!(r0.replaced_by, Some(r1.token.id));
    assert_eq!(r0.revoked_at, None);
    assert!(r1.is_live());
    assert_eq!(r1.token.generation, 1);
    assert_eq!(r1.token.session_created_at, r0.token.session_created_at);
    assert_eq!(r1.token.session_expires_at, r0.token.session_expires_at);
    let t2 = f.refresh(&t1).await.unwrap();
    let r2 = f.row(&t2).await;
    assert_eq!(r2.token.generation, 2);
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 3);
    f.svc.authenticate(&t2.access_token).await.unwrap();
    let kinds = audit_kinds(store, Some(uid)).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuditKind::TokenRefreshed)
            .count(),
        2
    );
}

/// Strict reuse (retry window 0): presenting a rotated token, even at once, revokes the
/// whole session (live refresh token and access tokens) and writes a TOKEN_REUSE_ATTACK
/// row with cause `theft`.
pub async fn strict_reuse_revokes_session<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), strict_config(RevocationMode::Denylist));
    let uid = f.user("reuse@example.com").await;
    let t0 = f.login("reuse@example.com").await;
    let t1 = f.refresh(&t0).await.unwrap();
    assert_grant_rejected(f.refresh(&t0).await, RefreshRejection::Reused);
    assert_grant_rejected(f.refresh(&t1).await, RefreshRejection::Revoked);
    assert_token_rejected(
        f.svc.authenticate(&t1.access_token).await,
        TokenRejection::SessionRevoked,
    );
    let store = f.svc.store();
    for rt in [&t0.refresh_token, &t1.refresh_token] {
        let row = store.find_refresh_token(&rt.hash()).await.unwrap().unwrap();
        assert!(row.revoked_at.is_some());
        assert_eq!(row.revoke_reason.as_deref(), Some("reuse_detected"));
    }
    let audit = store.recent_audit(Some(uid), 10).await.unwrap();
    let attack = audit
        .iter()
        .find(|r| r.event.kind == AuditKind::TokenReuseAttack)
        .expect("audit row");
    assert_eq!(attack.event.session_id, Some(t0.session_id));
    assert_eq!(attack.event.details["classification"], json!("strict"));
    assert_eq!(attack.event.details["cause"], json!("theft"));
    assert_eq!(attack.event.ip.as_deref(), Some("203.0.113.7"));
    assert!(f.svc.list_sessions(uid).await.unwrap().is_empty());
    // A second replay is refused as revoked and does not log another attack.
    assert_grant_rejected(f.refresh(&t0).await, RefreshRejection::Revoked);
    let attacks = audit_kinds(store, Some(uid))
        .await
        .into_iter()
        .filter(|k| *k == AuditKind::TokenReuseAttack);
    assert_eq!(attacks.count(), 1);
}

/// 32 concurrent refreshes of one token at retry window 0: exactly one succeeds and
/// exactly one successor row exists. (The losers present a rotated token, which strict
/// mode treats as reuse: the session ends revoked.)
pub async fn concurrent_refresh_exactly_one_winner<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), strict_config(RevocationMode::Denylist));
    f.user("race@example.com").await;
    let t0 = f.login("race@example.com").await;
    let svc = Arc::new(f.svc.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let svc = svc.clone();
        let barrier = barrier.clone();
        let token = t0.refresh_token.expose().to_owned();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            svc.refresh(&token, &client()).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => wins += 1,
            Err(Error::InvalidGrant(RefreshRejection::Reused | RefreshRejection::Revoked)) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(wins, 1, "exactly one refresh wins");
    assert_eq!(
        db.count_rows(Table::RefreshTokens).await,
        2,
        "exactly one successor row"
    );
}

/// A rotation whose conditions fail midway writes nothing: the session keeps exactly
/// one live token and no successor row appears.
pub async fn failed_rotation_writes_nothing<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    f.user("atomic@example.com").await;
    let t0 = f.login("atomic@example.com").await;
    let t1 = f.refresh(&t0).await.unwrap();
    let store = f.svc.store();
    let r0 = f.row(&t0).await;
    let r1 = f.row(&t1).await;
    let successor = |generation| auth_core::NewRefreshToken {
        id: auth_core::TokenId::new(),
        hash: RefreshToken::generate().hash(),
        generation,
        issued_at: f.clock_now(),
        ..r1.token.clone()
    };
    let before = counts(db).await;
    // The current token is no longer live.
    let stale = auth_core::Rotation {
        current: r0.token.id,
        successor: successor(1),
        successor_seed: auth_core::SuccessorSeed::generate(),
        at: f.clock_now(),
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, f.clock_now()),
    };
    assert!(!store.rotate_refresh_token(&stale).await.unwrap());
    // A retry replay of the predecessor with its budget spent writes nothing either.
    let spent = auth_core::Replay {
        predecessor: r0.token.id,
        successor: r1.token.id,
        budget: Some(0),
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, f.clock_now()),
    };
    assert!(!store.replay_refresh_token(&spent).await.unwrap());
    assert_eq!(counts(db).await, before);
    let r1_after = store
        .find_refresh_token_by_id(r1.token.id)
        .await
        .unwrap()
        .unwrap();
    assert!(r1_after.is_live(), "the current token was not left rotated");
    assert_eq!(
        store
            .find_refresh_token_by_id(r0.token.id)
            .await
            .unwrap()
            .unwrap(),
        r0
    );
    assert_eq!(
        store
            .live_refresh_tokens(t0.user_id, f.clock_now())
            .await
            .unwrap()
            .len(),
        1
    );
    f.refresh(&t1).await.expect("the live token still rotates");
}

/// Access-token expiry at the boundary: accepted until `exp + leeway`, refused from then.
pub async fn access_token_expiry_boundary<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Stateless));
    f.user("exp@example.com").await;
    let pair = f.login("exp@example.com").await;
    // access_ttl 15 min, leeway 5 s.
    f.clock
        .advance(Duration::minutes(15) + Duration::seconds(4));
    f.svc
        .authenticate(&pair.access_token)
        .await
        .expect("inside leeway");
    f.clock.advance(Duration::seconds(1));
    assert_token_rejected(
        f.svc.authenticate(&pair.access_token).await,
        TokenRejection::Expired,
    );
}

/// Refresh-token absolute expiry at the boundary: usable until the session's absolute
/// expiry, refused from that instant, and the refusal writes nothing.
pub async fn refresh_absolute_expiry_boundary<D: TestDatabase>(db: &D) {
    let mut cfg = config(RevocationMode::Denylist);
    cfg.session_ttl = Duration::hours(1);
    cfg.refresh_ttl = Duration::hours(1);
    cfg.idle_timeout = None;
    let f = fixture(db.store(), cfg);
    f.user("abs@example.com").await;
    let t0 = f.login("abs@example.com").await;
    f.clock
        .advance(Duration::hours(1) - Duration::microseconds(1));
    let t1 = f.refresh(&t0).await.expect("one microsecond before expiry");
    let row = f.row(&t1).await;
    assert_eq!(
        row.token.expires_at, row.token.session_expires_at,
        "never past the session's end"
    );
    f.clock.advance(Duration::microseconds(1));
    let before = counts(db).await;
    assert_grant_rejected(f.refresh(&t1).await, RefreshRejection::Expired);
    assert_eq!(counts(db).await, before);
    assert!(f.row(&t1).await.is_live());
}

/// Idle expiry at the boundary: a session unused for `idle_timeout` is refused.
pub async fn refresh_idle_expiry_boundary<D: TestDatabase>(db: &D) {
    let mut cfg = config(RevocationMode::Denylist);
    cfg.idle_timeout = Some(Duration::minutes(10));
    let f = fixture(db.store(), cfg);
    let uid = f.user("idle@example.com").await;
    let t0 = f.login("idle@example.com").await;
    f.clock
        .advance(Duration::minutes(10) - Duration::microseconds(1));
    let t1 = f.refresh(&t0).await.expect("just inside idle timeout");
    f.clock.advance(Duration::minutes(10));
    assert_grant_rejected(f.refresh(&t1).await, RefreshRejection::IdleExpired);
    assert!(
        f.svc.list_sessions(uid).await.unwrap().is_empty(),
        "idle sessions are not listed"
    );
}

/// Logout revokes the session: its access token, its refresh token, its listing.
pub async fn logout<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let uid = f.user("logout@example.com").await;
    let pair = f.login("logout@example.com").await;
    let other = f.login("logout@example.com").await;
    let auth = f.svc.authenticate(&pair.access_token).await.unwrap();
    f.svc.logout(&auth, &client()).await.unwrap();
    assert!(matches!(
        f.svc.authenticate(&pair.access_token).await,
        Err(Error::InvalidToken(_))
    ));
    assert_grant_rejected(f.refresh(&pair).await, RefreshRejection::Revoked);
    let sessions = f.svc.list_sessions(uid).await.unwrap();
    assert_eq!(
        sessions.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![other.session_id]
    );
    f.svc
        .authenticate(&other.access_token)
        .await
        .expect("other session unaffected");
    let row = f.row(&pair).await;
    assert_eq!(row.revoke_reason.as_deref(), Some("logout"));
    assert!(
        audit_kinds(f.svc.store(), Some(uid))
            .await
            .contains(&AuditKind::SessionRevoked)
    );
    // A second service instance (another process) refuses it too once it syncs.
    let sibling = f.sibling(config(RevocationMode::Denylist));
    assert!(matches!(
        sibling.authenticate(&pair.access_token).await,
        Err(Error::InvalidToken(_))
    ));
}

/// Logout-all revokes every session and every access token issued so far; a new login
/// works at once.
pub async fn logout_all<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let uid = f.user("all@example.com").await;
    let other_uid = f.user("bystander@example.com").await;
    let pairs = [
        f.login("all@example.com").await,
        f.login("all@example.com").await,
        f.login("all@example.com").await,
    ];
    let bystander = f.login("bystander@example.com").await;
    assert_eq!(f.svc.logout_all(uid, &client()).await.unwrap(), 3);
    for pair in &pairs {
        assert!(matches!(
            f.svc.authenticate(&pair.access_token).await,
            Err(Error::InvalidToken(_))
        ));
        assert_grant_rejected(f.refresh(pair).await, RefreshRejection::Revoked);
    }
    assert!(f.svc.list_sessions(uid).await.unwrap().is_empty());
    f.svc
        .authenticate(&bystander.access_token)
        .await
        .expect("other users unaffected");
    assert_eq!(f.svc.list_sessions(other_uid).await.unwrap().len(), 1);
    let fresh = f.login("all@example.com").await;
    f.svc
        .authenticate(&fresh.access_token)
        .await
        .expect("new login works at once");
    let audit = f.svc.store().recent_audit(Some(uid), 20).await.unwrap();
    let row = audit
        .iter()
        .find(|r| r.event.kind == AuditKind::LogoutAll)
        .expect("LOGOUT_ALL row");
    assert_eq!(row.event.details["sessions"], json!(3));
    let sibling = f.sibling(config(RevocationMode::UserState));
    assert_token_rejected(
        sibling.authenticate(&pairs[0].access_token).await,
        TokenRejection::IssuedBeforeValidAfter,
    );
}

/// Sessions are listed with their metadata and can be revoked one by one, only by their owner.
pub async fn list_and_revoke_sessions<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let uid = f.user("sessions@example.com").await;
    let mallory = f.user("mallory@example.com").await;
    let phone = ClientInfo {
        ip: Some("2001:db8::1".parse().unwrap()),
        user_agent: Some("phone".into()),
        ..Default::default()
    };
    let s1 = f
        .svc
        .login("sessions@example.com", PASSWORD, &phone)
        .await
        .unwrap();
    f.clock.advance(Duration::seconds(5));
    let s2 = f.login("sessions@example.com").await;
    let listed = f.svc.list_sessions(uid).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, s2.session_id, "newest first");
    let phone_session = listed.iter().find(|s| s.id == s1.session_id).unwrap();
    assert_eq!(phone_session.user_agent.as_deref(), Some("phone"));
    assert_eq!(phone_session.ip.as_deref(), Some("2001:db8::1"));
    f.clock.advance(Duration::seconds(5));
    f.refresh(&s1).await.unwrap();
    let after = f.svc.list_sessions(uid).await.unwrap();
    let phone_session = after.iter().find(|s| s.id == s1.session_id).unwrap();
    assert_eq!(phone_session.last_used_at, f.clock_now());
    assert_eq!(
        phone_session.created_at,
        listed
            .iter()
            .find(|s| s.id == s1.session_id)
            .unwrap()
            .created_at
    );

    assert!(matches!(
        f.svc
            .revoke_session(mallory, s1.session_id, &client())
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        f.svc.list_sessions(uid).await.unwrap().len(),
        2,
        "not revoked by another user"
    );
    f.svc
        .revoke_session(uid, s1.session_id, &client())
        .await
        .unwrap();
    let left = f.svc.list_sessions(uid).await.unwrap();
    assert_eq!(
        left.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![s2.session_id]
    );
    assert!(matches!(
        f.svc.revoke_session(uid, s1.session_id, &client()).await,
        Err(Error::NotFound)
    ));
}

/// Deactivated users cannot log in (a generic error), refresh, or authenticate.
pub async fn user_deactivation<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::UserState));
    let uid = f.user("gone@example.com").await;
    let pair = f.login("gone@example.com").await;
    assert!(f.svc.set_user_active(uid, false).await.unwrap());
    assert!(matches!(
        f.svc.login("gone@example.com", PASSWORD, &client()).await,
        Err(Error::InvalidCredentials)
    ));
    assert_grant_rejected(f.refresh(&pair).await, RefreshRejection::UserInactive);
    assert_token_rejected(
        f.svc.authenticate(&pair.access_token).await,
        TokenRejection::UserInactive,
    );
    assert!(
        !f.svc
            .set_user_active(UserId(i64::MAX / 2), false)
            .await
            .unwrap(),
        "unknown user"
    );
    let audit = f.svc.store().recent_audit(Some(uid), 10).await.unwrap();
    let failed = audit
        .iter()
        .find(|r| r.event.kind == AuditKind::LoginFailed)
        .expect("LOGIN_FAILED row");
    assert_eq!(failed.event.details["reason"], json!("inactive"));
    f.svc.set_user_active(uid, true).await.unwrap();
    f.refresh(&pair).await.expect("reactivated user refreshes");
}

/// Cleanup removes ended sessions past retention, expired denylist and allowlist rows,
/// in batches, reports the counts, and keeps rotated rows of live sessions.
pub async fn cleanup_counts_and_keeps<D: TestDatabase>(db: &D) {
    let mut cfg = strict_config(RevocationMode::Allowlist);
    cfg.session_ttl = Duration::days(1);
    cfg.refresh_ttl = Duration::days(1);
    cfg.idle_timeout = None;
    let f = fixture(db.store(), cfg);
    f.user("clean@example.com").await;
    let _expired = f.login("clean@example.com").await;
    let revoked = f.login("clean@example.com").await;
    let auth = f.svc.authenticate(&revoked.access_token).await.unwrap();
    f.svc.logout(&auth, &client()).await.unwrap();
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 2);
    f.clock.advance(Duration::days(40));
    let live = f.login("clean@example.com").await;
    let live2 = f.refresh(&live).await.unwrap();
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 4);
    assert_eq!(db.count_rows(Table::AccessTokens).await, 4);

    let policy = CleanupPolicy {
        retention: Duration::days(30),
        batch_size: 1,
        ..CleanupPolicy::default()
    };
    let report = f.svc.cleanup(&policy).await.unwrap();
    assert_eq!(report.refresh_tokens, 2);
    assert_eq!(report.revoked_tokens, 2);
    assert_eq!(report.access_tokens, 2);
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);
    assert_eq!(db.count_rows(Table::AccessTokens).await, 2);
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 0);
    let again = f.svc.cleanup(&policy).await.unwrap();
    assert_eq!(again.total(), 0, "nothing left to remove");

    // The rotated row of the live session was kept: replaying it is still caught.
    assert_grant_rejected(f.refresh(&live).await, RefreshRejection::Reused);
    assert_grant_rejected(f.refresh(&live2).await, RefreshRejection::Revoked);
    let audit = f.svc.store().recent_audit(None, 50).await.unwrap();
    let first = audit
        .iter()
        .rev()
        .find(|r| r.event.kind == AuditKind::Cleanup)
        .expect("CLEANUP row");
    assert_eq!(first.event.details["refresh_tokens"], json!(2));
    assert_eq!(first.event.details["revoked_tokens"], json!(2));
}

/// Cleanup keeps a session that ended less than `retention` ago.
pub async fn cleanup_respects_retention<D: TestDatabase>(db: &D) {
    let mut cfg = config(RevocationMode::Denylist);
    cfg.session_ttl = Duration::days(1);
    cfg.refresh_ttl = Duration::days(1);
    cfg.idle_timeout = None;
    let f = fixture(db.store(), cfg);
    f.user("retain@example.com").await;
    let pair = f.login("retain@example.com").await;
    f.refresh(&pair).await.unwrap();
    f.clock.advance(Duration::days(1) + Duration::days(29));
    let report = f.svc.cleanup(&CleanupPolicy::default()).await.unwrap();
    assert_eq!(report.refresh_tokens, 0);
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);
    f.clock.advance(Duration::days(1) + Duration::seconds(1));
    assert_eq!(
        f.svc
            .cleanup(&CleanupPolicy::default())
            .await
            .unwrap()
            .refresh_tokens,
        2
    );
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 0);
}

/// No table ever holds a raw refresh token or access token.
pub async fn raw_tokens_never_stored<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Allowlist));
    f.user("secret@example.com").await;
    let t0 = f.login("secret@example.com").await;
    let t1 = f.refresh(&t0).await.unwrap();
    let _ = f.refresh(&t0).await;
    let t2 = f.login("secret@example.com").await;
    let auth = f.svc.authenticate(&t2.access_token).await.unwrap();
    f.svc.revoke_access_token(&auth, &client()).await.unwrap();
    f.svc
        .revoke_token(t2.refresh_token.expose(), &client())
        .await
        .unwrap();
    let cells = db.dump_cells().await;
    assert!(cells.len() > 20, "the dump has the database's cells");
    let mut secrets: Vec<String> = Vec::new();
    for pair in [&t0, &t1, &t2] {
        let rt = pair.refresh_token.expose();
        secrets.push(rt.to_owned());
        secrets.push(rt["rt_".len()..].to_owned());
        secrets.push(pair.access_token.clone());
        let signature = pair.access_token.rsplit('.').next().unwrap().to_owned();
        secrets.push(signature);
    }
    for cell in &cells {
        let text = String::from_utf8_lossy(cell);
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a table holds a raw token");
        }
    }
    assert!(
        cells
            .iter()
            .any(|c| c.as_slice() == t1.refresh_token.hash().as_bytes()
                || String::from_utf8_lossy(c)
                    .to_lowercase()
                    .contains(&hex(t1.refresh_token.hash().as_bytes()))),
        "the SHA-256 of the refresh token is what is stored"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bad inputs get typed errors and change no row: malformed, oversized, forged and
/// swapped tokens, injection attempts, bad registrations.
pub async fn bad_inputs_change_nothing<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    f.user("victim@example.com").await;
    let pair = f.login("victim@example.com").await;
    let before = counts(db).await;

    let oversized = format!(
        "{}.{}.{}",
        "a".repeat(3000),
        "b".repeat(3000),
        "c".repeat(3000)
    );
    assert_token_rejected(
        f.svc.authenticate(&oversized).await,
        TokenRejection::TooLarge,
    );
    for garbage in [
        "",
        ".",
        "..",
        "a.b.c",
        "not a token",
        "eyJ.eyJ.sig",
        "\u{0}\u{1}",
    ] {
        assert!(
            matches!(
                f.svc.authenticate(garbage).await,
                Err(Error::InvalidToken(_))
            ),
            "{garbage:?}"
        );
    }
    // A refresh token is never an access token, and the reverse.
    assert!(matches!(
        f.svc.authenticate(pair.refresh_token.expose()).await,
        Err(Error::InvalidToken(_))
    ));
    assert_grant_rejected(
        f.svc.refresh(&pair.access_token, &client()).await,
        RefreshRejection::Malformed,
    );
    // alg none, with the real claims.
    let claims_b64 = pair.access_token.split('.').nth(1).unwrap();
    let none = format!(
        "{}.{claims_b64}.",
        b64(r#"{"alg":"none","typ":"at+jwt","kid":"conformance-1"}"#)
    );
    assert!(matches!(
        f.svc.authenticate(&none).await,
        Err(Error::InvalidToken(_))
    ));
    // The real signature under a header naming another key or embedding one.
    let sig = pair.access_token.rsplit('.').next().unwrap();
    for header in [
        r#"{"alg":"HS256","typ":"at+jwt","kid":"someone-else"}"#,
        r#"{"alg":"HS256","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","typ":"at+jwt","kid":"conformance-1","jku":"https://evil.example/jwks"}"#,
        r#"{"alg":"HS256","typ":"at+jwt","kid":"conformance-1","jwk":{"kty":"oct","k":"AAAA"}}"#,
        r#"{"alg":"HS512","typ":"at+jwt","kid":"conformance-1"}"#,
        r#"{"alg":"HS256","typ":"JWT","kid":"conformance-1"}"#,
    ] {
        let forged = format!("{}.{claims_b64}.{sig}", b64(header));
        assert!(
            matches!(
                f.svc.authenticate(&forged).await,
                Err(Error::InvalidToken(_))
            ),
            "{header}"
        );
    }
    // Tampered claims under the real signature.
    let tampered_claims = b64(&format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"1","exp":99999999999,"iat":1,"nbf":1,"jti":"x","sid":"{}"}}"#,
        pair.session_id
    ));
    let tampered = format!(
        "{}.{tampered_claims}.{sig}",
        pair.access_token.split('.').next().unwrap()
    );
    assert_token_rejected(
        f.svc.authenticate(&tampered).await,
        TokenRejection::BadSignature,
    );

    for bad in [
        "rt_' OR '1'='1",
        "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'; DROP TABLE users; --",
        "",
        &"rt_".repeat(5000),
    ] {
        assert_grant_rejected(
            f.svc.refresh(bad, &client()).await,
            RefreshRejection::Malformed,
        );
    }
    assert_grant_rejected(
        f.svc
            .refresh(RefreshToken::generate().expose(), &client())
            .await,
        RefreshRejection::Unknown,
    );
    f.svc
        .revoke_token("garbage", &client())
        .await
        .expect("RFC 7009: unknown tokens are fine");
    f.svc
        .revoke_token(RefreshToken::generate().expose(), &client())
        .await
        .expect("unknown refresh token");
    assert!(matches!(
        f.svc.register("not-an-email", PASSWORD).await,
        Err(Error::InvalidInput { field: "email", .. })
    ));
    assert!(matches!(
        f.svc.register("short@example.com", "short").await,
        Err(Error::InvalidInput {
            field: "password",
            ..
        })
    ));
    assert!(matches!(
        f.svc.register("VICTIM@example.com ", PASSWORD).await,
        Err(Error::EmailTaken)
    ));
    assert!(matches!(
        f.svc
            .revoke_session(pair.user_id, auth_core::SessionId::new(), &client())
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(counts(db).await, before, "no row written or removed");
    f.svc
        .authenticate(&pair.access_token)
        .await
        .expect("the real token still works");
    f.refresh(&pair)
        .await
        .expect("the real refresh token still works");
}

fn b64(text: &str) -> String {
    use std::fmt::Write;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let _ = out.write_char(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Login errors never say whether the account exists.
pub async fn login_errors_do_not_reveal_accounts<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let uid = f.user("known@example.com").await;
    let unknown = f
        .svc
        .login("unknown@example.com", PASSWORD, &client())
        .await
        .unwrap_err();
    let wrong = f
        .svc
        .login("known@example.com", "wrong password", &client())
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::InvalidCredentials));
    assert!(matches!(wrong, Error::InvalidCredentials));
    assert_eq!(unknown.to_string(), wrong.to_string());
    let audit = f.svc.store().recent_audit(None, 10).await.unwrap();
    let failed: Vec<_> = audit
        .iter()
        .filter(|r| r.event.kind == AuditKind::LoginFailed)
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().any(|r| r.event.user_id == Some(uid)));
    assert!(failed.iter().any(|r| r.event.user_id.is_none()));
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 0);
}

/// Outdated password hashes (fewer rounds, argon2id) are accepted and replaced on login.
pub async fn password_rehash_on_login<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let uid = f.user("rehash@example.com").await;
    let weak = PasswordPolicy {
        pbkdf2_rounds: 500,
        ..PasswordPolicy::default()
    }
    .hash(PASSWORD)
    .unwrap();
    let change = auth_core::PasswordChange {
        user: uid,
        password_hash: weak,
        at: f.svc.now(),
    };
    f.svc.store().set_password_hash(&change).await.unwrap();
    f.login("rehash@example.com").await;
    let stored = f.svc.store().find_user(uid).await.unwrap().unwrap();
    let phc = stored.password_hash.expect("hash");
    assert!(phc.starts_with("$pbkdf2-sha256$i=1000,"), "{phc}");
    assert!(stored.last_login.is_some());
}

/// Audit rows carry user, session, IP and user agent for each kind of event.
pub async fn audit_rows<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), strict_config(RevocationMode::Denylist));
    let uid = f.user("audit@example.com").await;
    let _ = f
        .svc
        .login("audit@example.com", "nope nope nope", &client())
        .await;
    let t0 = f.login("audit@example.com").await;
    let t1 = f.refresh(&t0).await.unwrap();
    let auth = f.svc.authenticate(&t1.access_token).await.unwrap();
    f.svc.revoke_access_token(&auth, &client()).await.unwrap();
    let _ = f.refresh(&t0).await;
    f.svc.logout_all(uid, &client()).await.unwrap();
    let kinds = audit_kinds(f.svc.store(), Some(uid)).await;
    assert_eq!(
        kinds,
        vec![
            AuditKind::LoginFailed,
            AuditKind::LoginSucceeded,
            AuditKind::TokenRefreshed,
            AuditKind::AccessTokenRevoked,
            AuditKind::TokenReuseAttack,
            AuditKind::LogoutAll,
        ]
    );
    let rows = f.svc.store().recent_audit(Some(uid), 10).await.unwrap();
    assert!(rows.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let login = rows
        .iter()
        .find(|r| r.event.kind == AuditKind::LoginSucceeded)
        .unwrap();
    assert_eq!(login.event.session_id, Some(t0.session_id));
    assert_eq!(login.event.user_agent.as_deref(), Some("conformance/1.0"));
    assert_eq!(login.event.ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(login.event.at, f.clock_now());
    assert_eq!(db.count_rows(Table::AuditLogs).await, 6);
}

/// A password change replaces the hash and logs the user out everywhere.
pub async fn password_change_logs_out_everywhere<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::UserState));
    let uid = f.user("change@example.com").await;
    let pair = f.login("change@example.com").await;
    f.svc
        .change_password(uid, "a brand new passphrase", &client())
        .await
        .unwrap();
    assert_token_rejected(
        f.svc.authenticate(&pair.access_token).await,
        TokenRejection::IssuedBeforeValidAfter,
    );
    assert_grant_rejected(f.refresh(&pair).await, RefreshRejection::Revoked);
    assert!(matches!(
        f.svc.login("change@example.com", PASSWORD, &client()).await,
        Err(Error::InvalidCredentials)
    ));
    let fresh = f
        .svc
        .login("change@example.com", "a brand new passphrase", &client())
        .await
        .unwrap();
    f.svc.authenticate(&fresh.access_token).await.unwrap();
    assert!(matches!(
        f.svc.change_password(uid, "short", &client()).await,
        Err(Error::InvalidInput {
            field: "password",
            ..
        })
    ));
    f.svc
        .authenticate(&fresh.access_token)
        .await
        .expect("a refused change changes nothing");
}

/// Another instance's cache answers from memory within its maximum staleness and
/// picks up revocations from the feed once that has passed.
pub async fn revocation_cache_staleness_bound<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    f.user("cache@example.com").await;
    let pair = f.login("cache@example.com").await;
    let mut cfg = config(RevocationMode::Denylist);
    cfg.cache_max_staleness = Duration::seconds(5);
    let other = f.sibling(cfg);
    other.authenticate(&pair.access_token).await.expect("warm");
    let auth = f.svc.authenticate(&pair.access_token).await.unwrap();
    f.svc.revoke_access_token(&auth, &client()).await.unwrap();
    assert_token_rejected(
        f.svc.authenticate(&pair.access_token).await,
        TokenRejection::Revoked,
    );
    f.clock.advance(Duration::seconds(4));
    other
        .authenticate(&pair.access_token)
        .await
        .expect("within the stated staleness the cache answers");
    f.clock.advance(Duration::seconds(1));
    assert_token_rejected(
        other.authenticate(&pair.access_token).await,
        TokenRejection::Revoked,
    );
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 1);
}

/// RFC 7009 revocation of either token type.
pub async fn rfc7009_revoke_either_token<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let uid = f.user("rfc7009@example.com").await;
    let a = f.login("rfc7009@example.com").await;
    let b = f.login("rfc7009@example.com").await;
    f.svc
        .revoke_token(&a.access_token, &client())
        .await
        .unwrap();
    assert_token_rejected(
        f.svc.authenticate(&a.access_token).await,
        TokenRejection::Revoked,
    );
    f.refresh(&a)
        .await
        .expect("access revocation leaves the session");
    f.svc
        .revoke_token(b.refresh_token.expose(), &client())
        .await
        .unwrap();
    assert_grant_rejected(f.refresh(&b).await, RefreshRejection::Revoked);
    assert_token_rejected(
        f.svc.authenticate(&b.access_token).await,
        TokenRejection::SessionRevoked,
    );
    assert_eq!(f.svc.list_sessions(uid).await.unwrap().len(), 1);
    f.svc
        .revoke_token(b.refresh_token.expose(), &client())
        .await
        .expect("revoking twice is fine");
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 2);
}

/// Services that authenticate users themselves (SMS codes) open sessions directly;
/// application claims are carried in every token.
pub async fn start_session_with_app_claims<D: TestDatabase>(db: &D) {
    let clock = clock();
    let keys = Keyring::from_spec(&keyring_spec()).unwrap();
    let svc = TokenService::builder(db.store(), keys, config(RevocationMode::UserState))
        .clock(clock)
        .claims(|user| {
            let mut m = serde_json::Map::new();
            m.insert("market".into(), json!("kg"));
            m.insert("sub".into(), json!("spoofed"));
            m.insert("uid".into(), json!(user.id.0));
            m
        })
        .build()
        .unwrap();
    let uid = svc.register("sms@example.com", PASSWORD).await.unwrap();
    let pair = svc.start_session(uid, &client()).await.unwrap();
    let auth = svc.authenticate(&pair.access_token).await.unwrap();
    assert_eq!(auth.claim::<String>("market").as_deref(), Some("kg"));
    assert_eq!(auth.claim::<i64>("uid"), Some(uid.0));
    assert_eq!(
        auth.claims.sub,
        uid.to_string(),
        "reserved claims cannot be overridden"
    );
    let next = svc
        .refresh(pair.refresh_token.expose(), &client())
        .await
        .unwrap();
    let auth = svc.authenticate(&next.access_token).await.unwrap();
    assert_eq!(auth.claim::<String>("market").as_deref(), Some("kg"));
    assert!(matches!(
        svc.start_session(UserId(i64::MAX / 2), &client()).await,
        Err(Error::NotFound)
    ));
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);
}

/// Expands to one `#[tokio::test]` per scenario for a [`TestDatabase`] type, each with a
/// fresh database: `auth_conformance::conformance_tests!(MyTestDb);`
#[macro_export]
macro_rules! conformance_tests {
    ($db:ty) => {
        $crate::conformance_tests!(@each $db; scenarios;
            authenticate_stateless,
            authenticate_user_state,
            denylist_by_jti_and_session,
            allowlist_register_and_disable,
            rotation,
            strict_reuse_revokes_session,
            concurrent_refresh_exactly_one_winner,
            failed_rotation_writes_nothing,
            access_token_expiry_boundary,
            refresh_absolute_expiry_boundary,
            refresh_idle_expiry_boundary,
            logout,
            logout_all,
            list_and_revoke_sessions,
            user_deactivation,
            cleanup_counts_and_keeps,
            cleanup_respects_retention,
            raw_tokens_never_stored,
            bad_inputs_change_nothing,
            login_errors_do_not_reveal_accounts,
            password_rehash_on_login,
            audit_rows,
            revocation_cache_staleness_bound,
            rfc7009_revoke_either_token,
            start_session_with_app_claims,
            password_change_logs_out_everywhere,
        );
        $crate::conformance_tests!(@each $db; replay;
            live_token_rotates_with_a_seed,
            immediate_predecessor_replays_the_same_successor,
            retry_replays_spend_the_budget,
            spent_budget_is_theft,
            older_generation_is_theft,
            after_the_window_is_theft,
            after_revocation_is_refused,
            after_expiry_is_refused,
            another_client_is_refused_and_the_session_kept,
            scope_may_narrow_but_never_widen,
            json_api_session_refreshes_without_a_client,
            concurrent_presentations_get_one_successor_32,
            concurrent_presentations_get_one_successor_50,
        );
        $crate::conformance_tests!(@each $db; contract;
            records_round_trip_exactly,
            email_taken_is_its_own_error,
            audit_is_newest_first_and_filters_by_user,
            concurrent_rotations_have_exactly_one_winner,
            concurrent_retry_replays_spend_at_most_the_budget,
            a_replay_spends_the_budget_only_for_its_successor,
            rotating_a_dead_token_writes_nothing,
            a_revocation_racing_rotations_leaves_no_live_token,
            a_failure_midway_writes_nothing,
            revoke_session_revokes_rows_disables_access_tokens_and_writes_one_event,
            revoke_user_sessions_writes_an_event_per_session_and_moves_tokens_valid_after,
            set_user_active_writes_a_user_event_only_for_known_users,
            revoke_access_token_is_idempotent,
            revocation_events_follow_the_cursor_and_the_recheck_window,
            cleanup_counts_and_keeps_rotated_rows_of_live_sessions,
            cleanup_removes_spent_codes_outside_the_limit_window,
            a_second_live_token_for_a_session_is_refused,
            audit_page_applies_each_filter_and_pages_by_id,
            import_users_inserts_new_users_and_returns_stored_ones,
            a_failed_import_batch_writes_nothing,
            set_user_admin_writes_a_user_event_only_for_known_users,
        );
        $crate::conformance_tests!(@each $db; admin_scenarios;
            admin_tokens_carry_the_admin_role_and_others_none,
            a_demoted_or_disabled_admin_is_refused_at_the_next_request,
            imported_users_log_in_with_their_legacy_hashes,
            audit_log_pages_through_a_filter,
        );
        $crate::conformance_tests!(@each $db; device_scenarios;
            device_metadata_is_stored_copied_and_listed,
            a_proof_at_login_binds_the_session,
            a_bound_session_refuses_a_refresh_without_its_key,
            a_rotated_bound_token_without_its_key_does_not_end_the_session,
            an_unbound_session_stays_unbound,
        );
        $crate::conformance_tests!(@each $db; timestamps;
            every_stored_time_comes_from_the_injected_clock,
        );
        $crate::conformance_tests!(@each $db; user_claims;
            user_columns_become_claims,
            unconfigured_user_columns_give_no_claim,
            invalid_user_column_names_are_refused,
            missing_user_columns_are_refused,
            user_columns_never_override_reserved_claims,
        );
    };
    (@each $db:ty; $module:ident; $($scenario:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $scenario() {
                let db = <$db as $crate::TestDatabase>::create().await;
                $crate::$module::$scenario(&db).await;
                $crate::TestDatabase::teardown(db).await;
            }
        )*
    };
}
