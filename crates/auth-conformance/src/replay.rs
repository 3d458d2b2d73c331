//! Every presentation of a refresh token, as specified on
//! [`TokenService::refresh`](auth_core::TokenService::refresh) and in ARCHITECTURE.md
//! ("Refresh token rotation and retries"): one `pub async fn` per case, driven by the
//! [`ManualClock`](auth_core::ManualClock), with the default retry window (30 s) and
//! replay budget (2).

use std::sync::Arc;

use auth_core::time::Duration;
use auth_core::{
    AuditKind, AuditRecord, Error, GrantClaims, RefreshRejection, RefreshTokenStore,
    RevocationMode, TokenPair, TokenStore, UserId,
};
use serde_json::json;

use crate::database::{Table, TestDatabase};
use crate::scenarios::{Fixture, PASSWORD, assert_grant_rejected, client, config, counts, fixture};

fn replay_fixture<S: TokenStore>(store: S) -> Fixture<S> {
    let cfg = config(RevocationMode::Denylist);
    assert_eq!(cfg.retry_window, auth_core::DEFAULT_RETRY_WINDOW);
    assert_eq!(cfg.max_retry_replays, 2);
    fixture(store, cfg)
}

fn grant(client_id: Option<&str>, scope: Option<&str>) -> GrantClaims {
    GrantClaims {
        client_id: client_id.map(str::to_owned),
        scope: scope.map(str::to_owned),
    }
}

async fn audit<S: TokenStore>(f: &Fixture<S>, uid: UserId) -> Vec<AuditRecord> {
    f.svc.store().recent_audit(Some(uid), 200).await.unwrap()
}

/// The TOKEN_REFRESHED rows of the user with the given classification.
async fn refreshed<S: TokenStore>(
    f: &Fixture<S>,
    uid: UserId,
    classification: &str,
) -> Vec<AuditRecord> {
    audit(f, uid)
        .await
        .into_iter()
        .filter(|r| {
            r.event.kind == AuditKind::TokenRefreshed
                && r.event.details["classification"] == json!(classification)
        })
        .collect()
}

async fn attacks<S: TokenStore>(f: &Fixture<S>, uid: UserId) -> usize {
    audit(f, uid)
        .await
        .iter()
        .filter(|r| r.event.kind == AuditKind::TokenReuseAttack)
        .count()
}

/// A session of a new user, rotated once: (user, t0, t1).
async fn rotated_once<S: TokenStore>(
    f: &Fixture<S>,
    email: &str,
) -> (UserId, TokenPair, TokenPair) {
    let uid = f.user(email).await;
    let t0 = f.login(email).await;
    let t1 = f.refresh(&t0).await.expect("rotation");
    (uid, t0, t1)
}

/// Live: rotated into a successor whose text derives from the stored seed and the
/// presented text; the successor row copies the session's client and scope.
pub async fn live_token_rotates_with_a_seed<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (uid, t0, t1) = rotated_once(&f, "live@example.com").await;
    let r0 = f.row(&t0).await;
    let r1 = f.row(&t1).await;
    let seed = r0.successor_seed.expect("seed stored with the rotation");
    assert_eq!(seed.successor_of(&t0.refresh_token), t1.refresh_token);
    assert_eq!(r0.replaced_by, Some(r1.token.id));
    assert!(r1.is_live() && r1.successor_seed.is_none());
    assert_eq!(r1.token.generation, 1);
    assert_eq!(refreshed(&f, uid, "rotation").await.len(), 1);
    assert_eq!(f.svc.refresh_stats().rotated, 1);
}

/// The immediate predecessor within the window: the same successor refresh token and a
/// fresh access token, no row minted, the successor still live; at once it is
/// `concurrent` (no budget spent), later a `retry` (one unit spent).
pub async fn immediate_predecessor_replays_the_same_successor<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (uid, t0, t1) = rotated_once(&f, "replay@example.com").await;
    f.clock.advance(Duration::milliseconds(400));
    let again = f.refresh(&t0).await.expect("concurrent replay");
    assert_eq!(again.refresh_token, t1.refresh_token, "the same successor");
    assert_ne!(again.jti, t1.jti, "a fresh access token");
    f.svc.authenticate(&again.access_token).await.unwrap();
    assert_eq!(
        f.row(&t0).await.reuse_count,
        0,
        "concurrent spends no budget"
    );

    f.clock.advance(Duration::seconds(5));
    let retried = f.refresh(&t0).await.expect("retry replay");
    assert_eq!(retried.refresh_token, t1.refresh_token);
    assert_eq!(f.row(&t0).await.reuse_count, 1);
    assert!(
        f.row(&t1).await.is_live(),
        "the successor is never rotated by a replay"
    );
    assert_eq!(
        db.count_rows(Table::RefreshTokens).await,
        2,
        "no second successor"
    );

    let replays = refreshed(&f, uid, "replay").await;
    let causes: Vec<_> = replays
        .iter()
        .map(|r| r.event.details["cause"].clone())
        .collect();
    assert_eq!(
        causes,
        [json!("retry"), json!("concurrent")],
        "newest first"
    );
    assert_eq!(replays[0].event.details["delay_ms"], json!(5_400));
    let stats = f.svc.refresh_stats();
    assert_eq!(
        (stats.replayed_concurrent, stats.replayed_retry, stats.theft),
        (1, 1, 0)
    );
    assert_eq!(stats.replay_delay_count, 2);

    let t2 = f
        .refresh(&t1)
        .await
        .expect("the chain goes on from the successor");
    assert_ne!(t2.refresh_token, t1.refresh_token);
    assert_eq!(f.svc.list_sessions(uid).await.unwrap().len(), 1);
    assert_eq!(attacks(&f, uid).await, 0);
}

/// Retries spend the budget, concurrent replays do not: five presentations within the
/// first second and two later ones all get the successor.
pub async fn retry_replays_spend_the_budget<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (_, t0, t1) = rotated_once(&f, "budget@example.com").await;
    for _ in 0..5 {
        let again = f.refresh(&t0).await.expect("concurrent replay");
        assert_eq!(again.refresh_token, t1.refresh_token);
    }
    assert_eq!(f.row(&t0).await.reuse_count, 0);
    f.clock.advance(Duration::seconds(2));
    for spent in 1..=2 {
        let again = f.refresh(&t0).await.expect("retry within the budget");
        assert_eq!(again.refresh_token, t1.refresh_token);
        assert_eq!(f.row(&t0).await.reuse_count, spent);
    }
}

/// The budget spent: the next retry is theft, the session revoked.
pub async fn spent_budget_is_theft<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (uid, t0, t1) = rotated_once(&f, "spent@example.com").await;
    f.clock.advance(Duration::seconds(2));
    f.refresh(&t0).await.expect("first retry");
    f.refresh(&t0).await.expect("second retry");
    assert_grant_rejected(f.refresh(&t0).await, RefreshRejection::Reused);
    assert_eq!(
        f.attack_classification(uid).await,
        json!("replay_budget_spent")
    );
    assert_grant_rejected(f.refresh(&t1).await, RefreshRejection::Revoked);
    assert_eq!(
        f.row(&t1).await.revoke_reason.as_deref(),
        Some("reuse_detected")
    );
    assert_eq!(f.svc.refresh_stats().theft, 1);
}

/// An older generation (its successor already rotated), even within the window: theft.
pub async fn older_generation_is_theft<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (uid, t0, t1) = rotated_once(&f, "older@example.com").await;
    let t2 = f.refresh(&t1).await.unwrap();
    assert_grant_rejected(f.refresh(&t0).await, RefreshRejection::Reused);
    assert_eq!(
        f.attack_classification(uid).await,
        json!("older_generation")
    );
    assert_grant_rejected(f.refresh(&t2).await, RefreshRejection::Revoked);
    assert_eq!(
        f.svc.refresh_stats().late_replays,
        0,
        "not an immediate predecessor"
    );
}

/// After the window: theft, counted as a late replay (what a longer window would have
/// replayed).
pub async fn after_the_window_is_theft<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (uid, t0, t1) = rotated_once(&f, "late@example.com").await;
    f.clock.advance(Duration::seconds(30));
    assert_grant_rejected(f.refresh(&t0).await, RefreshRejection::Reused);
    let attack = audit(&f, uid)
        .await
        .into_iter()
        .find(|r| r.event.kind == AuditKind::TokenReuseAttack)
        .expect("TOKEN_REUSE_ATTACK row");
    assert_eq!(
        attack.event.details["classification"],
        json!("outside_window")
    );
    assert_eq!(attack.event.details["cause"], json!("theft"));
    assert_grant_rejected(f.refresh(&t1).await, RefreshRejection::Revoked);
    let stats = f.svc.refresh_stats();
    assert_eq!((stats.late_replays, stats.theft), (1, 1));
}

/// After revocation: refused as revoked, for the predecessor and the successor alike,
/// with no attack row.
pub async fn after_revocation_is_refused<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (uid, t0, t1) = rotated_once(&f, "revoked@example.com").await;
    f.svc
        .revoke_session(uid, t1.session_id, &client())
        .await
        .unwrap();
    let before = counts(db).await;
    assert_grant_rejected(f.refresh(&t0).await, RefreshRejection::Revoked);
    assert_grant_rejected(f.refresh(&t1).await, RefreshRejection::Revoked);
    assert_eq!(counts(db).await, before, "nothing written");
    assert_eq!(attacks(&f, uid).await, 0);
}

/// After expiry (the session's absolute end): refused as expired, nothing written.
pub async fn after_expiry_is_refused<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (uid, t0, t1) = rotated_once(&f, "expired@example.com").await;
    f.clock.advance(Duration::days(30));
    let before = counts(db).await;
    assert_grant_rejected(f.refresh(&t0).await, RefreshRejection::Expired);
    assert_grant_rejected(f.refresh(&t1).await, RefreshRejection::Expired);
    assert_eq!(counts(db).await, before);
    assert_eq!(attacks(&f, uid).await, 0);
}

/// From another client (another registered client, or none): refused, a REFRESH_REFUSED
/// row, the session left alone; the bound client refreshes on, its replay included.
pub async fn another_client_is_refused_and_the_session_kept<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let uid = f.user("client@example.com").await;
    let app = grant(Some("app"), None);
    let t0 = f
        .svc
        .login_for(
            "client@example.com",
            PASSWORD,
            &client(),
            &grant(Some("app"), Some("read")),
        )
        .await
        .unwrap();
    assert_eq!(f.row(&t0).await.token.client_id.as_deref(), Some("app"));
    let t1 = f
        .svc
        .refresh_for(t0.refresh_token.expose(), &client(), &app)
        .await
        .unwrap();
    for other in [grant(Some("other"), None), GrantClaims::default()] {
        for presented in [&t1, &t0] {
            let refused = f
                .svc
                .refresh_for(presented.refresh_token.expose(), &client(), &other)
                .await;
            assert_grant_rejected(refused, RefreshRejection::ClientMismatch);
        }
    }
    let refusals: Vec<_> = audit(&f, uid)
        .await
        .into_iter()
        .filter(|r| r.event.kind == AuditKind::RefreshRefused)
        .collect();
    assert_eq!(refusals.len(), 4);
    assert_eq!(
        refusals[0].event.details["reason"],
        json!("client_mismatch")
    );
    assert_eq!(refusals[0].event.details["session_client"], json!("app"));
    assert!(f.row(&t1).await.is_live(), "the session is kept");
    assert_eq!(attacks(&f, uid).await, 0);
    let again = f
        .svc
        .refresh_for(t0.refresh_token.expose(), &client(), &app)
        .await
        .expect("the bound client's replay");
    assert_eq!(again.refresh_token, t1.refresh_token);
    let t2 = f
        .svc
        .refresh_for(t1.refresh_token.expose(), &client(), &app)
        .await
        .unwrap();
    let r2 = f.row(&t2).await;
    assert_eq!(
        (r2.token.client_id.as_deref(), r2.token.scope.as_deref()),
        (Some("app"), Some("read"))
    );
}

/// A different scope: a refresh may narrow the granted scope for its access token, never
/// widen it (refused, nothing written); an omitted scope is the granted one, and the
/// session keeps its granted scope either way.
pub async fn scope_may_narrow_but_never_widen<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    f.user("scope@example.com").await;
    let t0 = f
        .svc
        .login_for(
            "scope@example.com",
            PASSWORD,
            &client(),
            &grant(Some("app"), Some("read write")),
        )
        .await
        .unwrap();
    let before = counts(db).await;
    let wider = f
        .svc
        .refresh_for(
            t0.refresh_token.expose(),
            &client(),
            &grant(Some("app"), Some("read admin")),
        )
        .await;
    assert_grant_rejected(wider, RefreshRejection::ScopeExceeded);
    assert_eq!(counts(db).await, before, "nothing written");
    assert!(f.row(&t0).await.is_live());

    let narrow = f
        .svc
        .refresh_for(
            t0.refresh_token.expose(),
            &client(),
            &grant(Some("app"), Some("read")),
        )
        .await
        .unwrap();
    assert_eq!(narrow.scope.as_deref(), Some("read"));
    let auth = f.svc.authenticate(&narrow.access_token).await.unwrap();
    assert_eq!(auth.claim::<String>("scope").as_deref(), Some("read"));
    assert_eq!(
        f.row(&narrow).await.token.scope.as_deref(),
        Some("read write")
    );

    let omitted = f
        .svc
        .refresh_for(
            narrow.refresh_token.expose(),
            &client(),
            &grant(Some("app"), None),
        )
        .await
        .unwrap();
    assert_eq!(omitted.scope.as_deref(), Some("read write"));
}

/// A session opened without a client (the JSON API) refreshes without one, and no
/// OAuth client may take it over.
pub async fn json_api_session_refreshes_without_a_client<D: TestDatabase>(db: &D) {
    let f = replay_fixture(db.store());
    let (_, _, t1) = rotated_once(&f, "json@example.com").await;
    let r1 = f.row(&t1).await;
    assert_eq!((r1.token.client_id, r1.token.scope), (None, None));
    let taken = f
        .svc
        .refresh_for(
            t1.refresh_token.expose(),
            &client(),
            &grant(Some("app"), None),
        )
        .await;
    assert_grant_rejected(taken, RefreshRejection::ClientMismatch);
    let t2 = f.refresh(&t1).await.expect("refresh without a client");
    assert_eq!(t2.scope, None);
}

/// `n` presentations of one live token at once: every one gets the same successor,
/// exactly one rotation row is written, the others are concurrent replays. A transient
/// storage failure (a deadlock victim past its retries) is retried, as a client would,
/// and must get the same successor too.
async fn concurrent_presentations<D: TestDatabase>(db: &D, n: usize) {
    let f = replay_fixture(db.store());
    let email = format!("race{n}@example.com");
    let uid = f.user(&email).await;
    let t0 = f.login(&email).await;
    let svc = Arc::new(f.svc.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (svc, barrier) = (svc.clone(), barrier.clone());
            let token = t0.refresh_token.expose().to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut attempt = 0;
                loop {
                    match svc.refresh(&token, &client()).await {
                        Err(e) if e.is_transient() && attempt < 3 => attempt += 1,
                        other => break other,
                    }
                }
            })
        })
        .collect();
    let mut successors = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(pair) => successors.push(pair.refresh_token),
            Err(Error::InvalidGrant(r)) => panic!("a presentation was refused: {r:?}"),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(successors.len(), n);
    assert!(
        successors.iter().all(|s| *s == successors[0]),
        "every task got the same successor"
    );
    assert_eq!(
        db.count_rows(Table::RefreshTokens).await,
        2,
        "one successor row"
    );
    assert_eq!(
        refreshed(&f, uid, "rotation").await.len(),
        1,
        "one rotation"
    );
    let replays = refreshed(&f, uid, "replay").await;
    assert_eq!(replays.len(), n - 1);
    assert!(
        replays
            .iter()
            .all(|r| r.event.details["cause"] == json!("concurrent"))
    );
    assert_eq!(attacks(&f, uid).await, 0);
    let store = f.svc.store();
    let r0 = store
        .find_refresh_token(&t0.refresh_token.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r0.reuse_count, 0);
    let live = store
        .find_refresh_token(&successors[0].hash())
        .await
        .unwrap()
        .expect("the successor row");
    assert!(live.is_live());
}

/// 32 presentations of one token at once get one successor.
pub async fn concurrent_presentations_get_one_successor_32<D: TestDatabase>(db: &D) {
    concurrent_presentations(db, 32).await;
}

/// 50 presentations of one token at once get one successor.
pub async fn concurrent_presentations_get_one_successor_50<D: TestDatabase>(db: &D) {
    concurrent_presentations(db, 50).await;
}
