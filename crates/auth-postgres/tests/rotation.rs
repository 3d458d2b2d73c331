//! PostgreSQL-specific rotation guarantees of the one-statement CTEs: exactly one winner
//! among concurrent callers, all-or-nothing grace re-exchanges, integrity checks, and
//! serialization conflicts surfacing as errors, never as success.

mod common;

use auth_conformance::fixtures::{first_refresh_token, successor_of};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use auth_conformance::TestDatabase;
use auth_core::{
    GraceReexchange, NewRefreshToken, NewUser, RefreshTokenRecord, RefreshTokenStore, Rotation,
    SessionId, TokenId, UserDirectory, UserId,
};
use auth_postgres::{PgError, PgTokenStore};
use common::PgTestDb;
use futures::future::join_all;
use time::OffsetDateTime;
use tokio::sync::Barrier;

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

fn rotation(current: &NewRefreshToken, grace: Option<(&NewRefreshToken, i32)>) -> Rotation {
    Rotation {
        current: current.id,
        successor: successor_of(current, now()),
        at: now(),
        grace: grace.map(|(p, max_reuse)| GraceReexchange {
            predecessor: p.id,
            max_reuse,
        }),
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

/// 24 callers on two pools race for the same live token, 10 generations in a row: each
/// time exactly one wins, and the session keeps exactly one live token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_have_exactly_one_winner() {
    let db = PgTestDb::create().await;
    let stores = [db.store(), db.another_store().await];
    let uid = user(&stores[0], "race@example.com").await;
    let mut current = first_refresh_token(uid, now());
    stores[0]
        .insert_refresh_token(&current)
        .await
        .expect("insert");
    for generation in 0..10 {
        let barrier = Arc::new(Barrier::new(24));
        let attempts = (0..24).map(|i| {
            let store = stores[i % 2].clone();
            let rotation = rotation(&current, None);
            let barrier = barrier.clone();
            async move {
                barrier.wait().await;
                let won = store
                    .rotate_refresh_token(&rotation)
                    .await
                    .expect("no error at READ COMMITTED");
                (won, rotation.successor)
            }
        });
        let results = join_all(attempts.map(tokio::spawn)).await;
        let winners: Vec<NewRefreshToken> = results
            .into_iter()
            .map(|r| r.expect("task"))
            .filter(|(won, _)| *won)
            .map(|(_, s)| s)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "generation {generation}: exactly one winner"
        );
        let winner = winners.into_iter().next().unwrap();
        let retired = get(&stores[0], current.id).await;
        assert_eq!(retired.replaced_by, Some(winner.id));
        assert!(retired.rotated_at.is_some());
        assert!(get(&stores[1], winner.id).await.is_live());
        assert_eq!(
            session_rows(&stores[0], current.session_id).await,
            (generation + 2, 1)
        );
        current = winner;
    }
    db.teardown().await;
}

/// Concurrent grace re-exchanges of one predecessor: one winner, one unit of budget used.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_grace_reexchanges_have_exactly_one_winner() {
    let db = PgTestDb::create().await;
    let store = db.store();
    let uid = user(&store, "grace-race@example.com").await;
    let t0 = first_refresh_token(uid, now());
    store.insert_refresh_token(&t0).await.expect("insert");
    let first = rotation(&t0, None);
    let t1 = first.successor.clone();
    assert!(store.rotate_refresh_token(&first).await.expect("rotate"));

    let barrier = Arc::new(Barrier::new(16));
    let attempts = (0..16).map(|_| {
        let store = store.clone();
        let rotation = rotation(&t1, Some((&t0, 5)));
        let barrier = barrier.clone();
        tokio::spawn(async move {
            barrier.wait().await;
            (
                store
                    .rotate_refresh_token(&rotation)
                    .await
                    .expect("no error"),
                rotation.successor.id,
            )
        })
    });
    let winners: Vec<TokenId> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|(w, _)| *w)
        .map(|(_, id)| id)
        .collect();
    assert_eq!(winners.len(), 1);
    let pred = get(&store, t0.id).await;
    assert_eq!(pred.reuse_count, 1);
    assert_eq!(pred.replaced_by, Some(winners[0]));
    assert_eq!(get(&store, t1.id).await.replaced_by, Some(winners[0]));
    assert_eq!(session_rows(&store, t0.session_id).await, (3, 1));
    db.teardown().await;
}

/// Strict rotations and grace re-exchanges of the same current token racing: one winner,
/// and the predecessor's budget moves only if a grace re-exchange won.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_strict_and_grace_rotations_stay_all_or_nothing() {
    let db = PgTestDb::create().await;
    let stores = [db.store(), db.another_store().await];
    for round in 0..8 {
        let (t0, t1) = rotated_pair(&stores[0], &format!("mixed{round}@example.com")).await;
        let barrier = Arc::new(Barrier::new(12));
        let attempts = (0..12).map(|i| {
            let store = stores[i % 2].clone();
            let grace = i % 3 != 0;
            let rotation = rotation(&t1, grace.then_some((&t0, 5)));
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                (
                    store
                        .rotate_refresh_token(&rotation)
                        .await
                        .expect("no error"),
                    grace,
                    rotation.successor.id,
                )
            })
        });
        let winners: Vec<(bool, TokenId)> = join_all(attempts)
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .filter(|(won, _, _)| *won)
            .map(|(_, grace, id)| (grace, id))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}");
        let (grace_won, winner) = winners[0];
        let pred = get(&stores[0], t0.id).await;
        if grace_won {
            assert_eq!((pred.reuse_count, pred.replaced_by), (1, Some(winner)));
        } else {
            assert_eq!((pred.reuse_count, pred.replaced_by), (0, Some(t1.id)));
        }
        assert_eq!(get(&stores[1], t1.id).await.replaced_by, Some(winner));
        assert_eq!(session_rows(&stores[0], t0.session_id).await, (3, 1));
    }
    db.teardown().await;
}

/// A logout racing a refresh: whichever commits first, the session ends with no live
/// token (the successor a concurrent rotation inserted is revoked too).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_racing_rotations_leaves_no_live_token() {
    let db = PgTestDb::create().await;
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
                    let r = rotation(&current, None);
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
    let r = rotation(&t0, None);
    assert!(store.rotate_refresh_token(&r).await.expect("rotate"));
    (t0, r.successor)
}

/// The grace UPDATE matching no row (budget spent) must not leave the current token
/// rotated, nor insert the successor.
#[tokio::test]
async fn a_spent_grace_budget_writes_nothing() {
    let db = PgTestDb::create().await;
    let store = db.store();
    let (t0, t1) = rotated_pair(&store, "budget@example.com").await;
    let (before0, before1) = (get(&store, t0.id).await, get(&store, t1.id).await);

    let r = rotation(&t1, Some((&t0, 0)));
    assert!(!store.rotate_refresh_token(&r).await.expect("no error"));

    assert_eq!(get(&store, t0.id).await, before0);
    assert_eq!(
        get(&store, t1.id).await,
        before1,
        "current token left as it was (still live)"
    );
    assert!(
        store
            .find_refresh_token_by_id(r.successor.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(session_rows(&store, t0.session_id).await, (2, 1));

    // With budget, the same re-exchange goes through.
    let r = rotation(&t1, Some((&t0, 1)));
    assert!(store.rotate_refresh_token(&r).await.expect("no error"));
    assert_eq!(get(&store, t0.id).await.reuse_count, 1);
    // And the budget is now spent.
    let again = rotation(&r.successor, Some((&t0, 1)));
    assert!(!store.rotate_refresh_token(&again).await.expect("no error"));
    assert!(get(&store, r.successor.id).await.is_live());
    db.teardown().await;
}

/// The current token no longer live: the predecessor's budget and pointer are untouched.
#[tokio::test]
async fn a_grace_reexchange_of_a_retired_current_writes_nothing() {
    let db = PgTestDb::create().await;
    let store = db.store();
    let (t0, t1) = rotated_pair(&store, "retired@example.com").await;
    let next = rotation(&t1, None);
    assert!(store.rotate_refresh_token(&next).await.expect("rotate"));
    let before0 = get(&store, t0.id).await;

    let r = rotation(&t1, Some((&t0, 5)));
    assert!(!store.rotate_refresh_token(&r).await.expect("no error"));
    assert_eq!(get(&store, t0.id).await, before0, "predecessor untouched");
    assert!(
        store
            .find_refresh_token_by_id(r.successor.id)
            .await
            .unwrap()
            .is_none()
    );

    // Revoked instead of rotated: the same.
    let t2 = next.successor;
    let at = now();
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: t2.session_id,
            reason: auth_core::RevokeReason::Logout,
            at,
            event_expires_at: at,
        })
        .await
        .expect("revoke");
    let r = rotation(&t2, Some((&t1, 5)));
    assert!(!store.rotate_refresh_token(&r).await.expect("no error"));
    assert_eq!(get(&store, t1.id).await.reuse_count, 0);
    db.teardown().await;
}

/// A successor that does not belong to the current token's session or user, or a
/// predecessor of another session, is refused without writing anything.
#[tokio::test]
async fn rotations_across_sessions_write_nothing() {
    let db = PgTestDb::create().await;
    let store = db.store();
    let (t0, t1) = rotated_pair(&store, "one@example.com").await;
    let (u0, _u1) = rotated_pair(&store, "two@example.com").await;
    let before = get(&store, t1.id).await;

    let mut r = rotation(&t1, None);
    r.successor.session_id = SessionId::new();
    assert!(!store.rotate_refresh_token(&r).await.expect("no error"));
    let mut r = rotation(&t1, None);
    r.successor.user_id = u0.user_id;
    assert!(!store.rotate_refresh_token(&r).await.expect("no error"));
    let r = rotation(&t1, Some((&u0, 5)));
    assert!(!store.rotate_refresh_token(&r).await.expect("no error"));

    assert_eq!(get(&store, t1.id).await, before);
    assert_eq!(get(&store, u0.id).await.reuse_count, 0);
    assert_eq!(session_rows(&store, t0.session_id).await, (2, 1));
    db.teardown().await;
}

/// The database itself refuses a second live token in one session.
#[tokio::test]
async fn a_second_live_token_in_a_session_is_refused() {
    let db = PgTestDb::create().await;
    let store = db.store();
    let uid = user(&store, "twice@example.com").await;
    let t0 = first_refresh_token(uid, now());
    store.insert_refresh_token(&t0).await.expect("insert");
    let err = store
        .insert_refresh_token(&successor_of(&t0, now()))
        .await
        .expect_err("second live token");
    assert!(matches!(err, auth_core::Error::Storage(_)), "{err:?}");
    assert_eq!(session_rows(&store, t0.session_id).await, (1, 1));
    db.teardown().await;
}

#[tokio::test]
async fn a_taken_email_is_the_core_error_other_violations_are_storage_errors() {
    let db = PgTestDb::create().await;
    let store = db.store();
    let uid = user(&store, "taken@example.com").await;
    let again = NewUser {
        email: "taken@example.com".into(),
        password_hash: None,
        created_at: now(),
    };
    assert!(matches!(
        store.create_user(&again).await,
        Err(auth_core::Error::EmailTaken)
    ));

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
/// the race get serialization failures: each must be an error (PgError::Conflict), and
/// still exactly one caller succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serialization_failures_are_errors_never_success() {
    let db = PgTestDb::create().await;
    common::admin_execute(format!(
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
            let rotation = rotation(&current, None);
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
            Err(auth_core::Error::Storage(source)) => {
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
