//! PostgreSQL-specific rotation guarantees of the one-statement CTEs: the READ COMMITTED
//! snapshot gap of a revocation racing rotations on two pools, the CTEs' integrity
//! checks, the crate's error as the storage error's source, and serialization conflicts
//! surfacing as errors, never as success. The shared store contract (one winner,
//! replay budget) runs in the conformance suite.

use auth_conformance::fixtures::{first_refresh_token, successor_of};
use std::time::Duration as StdDuration;

use auth_conformance::TestDatabase;
use auth_core::{
    NewRefreshToken, NewUser, RefreshTokenRecord, RefreshTokenStore, Rotation, SessionId,
    SuccessorSeed, TokenId, UserDirectory, UserId,
};
use auth_postgres::{PgError, PgTokenStore, TestDb};
use futures::future::join_all;
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    OffsetDateTime::from_unix_timestamp_nanos(t.unix_timestamp_nanos() / 1000 * 1000).unwrap()
}

async fn user(store: &PgTokenStore, email: &str) -> UserId {
    store
        .create_user(&NewUser {
            email: email.into(),
            password_hash: None,
            created_at: now(),
        })
        .await
        .expect("create user")
}

fn rotation(current: &NewRefreshToken) -> Rotation {
    Rotation {
        current: current.id,
        successor: successor_of(current, now()),
        successor_seed: SuccessorSeed::generate(),
        at: now(),
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, now()),
    }
}

async fn get(store: &PgTokenStore, id: TokenId) -> RefreshTokenRecord {
    store
        .find_refresh_token_by_id(id)
        .await
        .expect("find")
        .expect("row exists")
}

async fn session_rows(store: &PgTokenStore, session: SessionId) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE rotated_at IS NULL AND revoked_at IS NULL) \
         FROM refresh_tokens WHERE session_id = $1",
    )
    .bind(session.0)
    .fetch_one(store.pool())
    .await
    .expect("count")
}

/// A logout on one pool racing a chain of refreshes on another, staggered to land in
/// the READ COMMITTED snapshot gap: whichever commits first, the session ends with no
/// live token (the successor a concurrent rotation inserted is revoked too).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_racing_rotations_in_the_snapshot_gap_leaves_no_live_token() {
    let db = TestDb::create().await;
    let stores = [db.store(), db.another_store().await];
    let uid = user(&stores[0], "logout-race@example.com").await;
    for round in 0..40 {
        let t0 = first_refresh_token(uid, now());
        stores[0].insert_refresh_token(&t0).await.expect("insert");
        // A chain of rotations on one pool while the other revokes the session.
        let rotator = {
            let store = stores[0].clone();
            let mut current = t0.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    let r = rotation(&current);
                    if !store.rotate_refresh_token(&r).await.expect("rotate") {
                        break;
                    }
                    current = r.successor;
                }
            })
        };
        let revoker = {
            let store = stores[1].clone();
            let session = t0.session_id;
            tokio::spawn(async move {
                tokio::time::sleep(StdDuration::from_micros(200 * (round % 10))).await;
                let at = now();
                store
                    .revoke_session(&auth_core::SessionRevocation {
                        session,
                        reason: auth_core::RevokeReason::Logout,
                        at,
                        event_expires_at: at,
                    })
                    .await
                    .expect("revoke")
            })
        };
        rotator.await.unwrap();
        revoker.await.unwrap();
        assert_eq!(
            session_rows(&stores[0], t0.session_id).await.1,
            0,
            "round {round}: no live token after the logout"
        );
        let unrevoked: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND revoked_at IS NULL",
        )
        .bind(t0.session_id.0)
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
        assert_eq!(
            unrevoked, 0,
            "round {round}: every row of the session revoked"
        );
    }
    db.teardown().await;
}

/// Sets up t0 -> t1 (t1 live) and returns both.
async fn rotated_pair(store: &PgTokenStore, email: &str) -> (NewRefreshToken, NewRefreshToken) {
    let uid = user(store, email).await;
    let t0 = first_refresh_token(uid, now());
    store.insert_refresh_token(&t0).await.expect("insert");
    let r = rotation(&t0);
    assert!(store.rotate_refresh_token(&r).await.expect("rotate"));
    (t0, r.successor)
}

/// A successor that does not belong to the current token's session or user is refused
/// without writing anything.
#[tokio::test]
async fn rotations_across_sessions_write_nothing() {
    let db = TestDb::create().await;
    let store = db.store();
    let (t0, t1) = rotated_pair(&store, "one@example.com").await;
    let (u0, _u1) = rotated_pair(&store, "two@example.com").await;
    let before = get(&store, t1.id).await;

    let mut r = rotation(&t1);
    r.successor.session_id = SessionId::new();
    assert!(!store.rotate_refresh_token(&r).await.expect("no error"));
    let mut r = rotation(&t1);
    r.successor.user_id = u0.user_id;
    assert!(!store.rotate_refresh_token(&r).await.expect("no error"));

    assert_eq!(get(&store, t1.id).await, before);
    assert_eq!(get(&store, u0.id).await.reuse_count, 0);
    assert_eq!(session_rows(&store, t0.session_id).await, (2, 1));
    db.teardown().await;
}

/// A broken constraint is a storage error whose source is the crate's own error.
#[tokio::test]
async fn a_constraint_violation_has_the_crate_error_as_its_source() {
    let db = TestDb::create().await;
    let store = db.store();
    let uid = user(&store, "taken@example.com").await;
    let t0 = first_refresh_token(uid, now());
    store.insert_refresh_token(&t0).await.expect("insert");
    let mut dup = first_refresh_token(uid, now());
    dup.hash = t0.hash;
    match store.insert_refresh_token(&dup).await {
        Err(auth_core::Error::Storage(source)) => {
            let pg = source
                .downcast_ref::<PgError>()
                .expect("the source is the crate's error");
            assert!(matches!(pg, PgError::Query(_)), "{pg:?}");
        }
        other => panic!("expected a storage error, got {other:?}"),
    }
    db.teardown().await;
}

/// With the database's default isolation raised to REPEATABLE READ, callers that lose
/// the race get serialization failures: each must be a transient error
/// (`auth_core::Error::Unavailable` over PgError::Conflict), and
/// still exactly one caller succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serialization_failures_are_errors_never_success() {
    let db = TestDb::create().await;
    TestDb::admin_execute(format!(
        r#"ALTER DATABASE "{}" SET default_transaction_isolation = 'repeatable read'"#,
        db.name()
    ))
    .await;
    // A new pool, so its sessions pick up the database default.
    let store = db.another_store().await;
    let isolation: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(isolation, "repeatable read");
    let uid = user(&store, "conflict@example.com").await;
    let current = first_refresh_token(uid, now());
    store.insert_refresh_token(&current).await.expect("insert");

    // Hold the row so every caller takes its snapshot before the winner commits.
    let mut blocker = store.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM refresh_tokens WHERE id = $1 FOR UPDATE")
        .bind(current.id.0)
        .execute(&mut *blocker)
        .await
        .unwrap();
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            let rotation = rotation(&current);
            tokio::spawn(async move { store.rotate_refresh_token(&rotation).await })
        })
        .collect();
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    blocker.commit().await.unwrap();

    let (mut wins, mut conflicts) = (0, 0);
    for attempt in join_all(attempts).await {
        match attempt.unwrap() {
            Ok(true) => wins += 1,
            Ok(false) => {}
            Err(auth_core::Error::Unavailable(source)) => {
                let pg = source.downcast_ref::<PgError>().expect("the crate's error");
                assert!(pg.is_conflict(), "{pg:?}");
                conflicts += 1;
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert!(conflicts >= 1, "the losers saw serialization failures");
    assert_eq!(session_rows(&store, current.session_id).await, (2, 1));
    db.teardown().await;
}
