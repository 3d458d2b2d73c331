//! Rotation under InnoDB, at the store: one winner among concurrent rotations, no live
//! token left after a racing session revocation, deadlocks never reported as success,
//! a failure midway writes nothing.

mod common;

use auth_conformance::fixtures::{first_refresh_token, successor_of};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use auth_conformance::TestDatabase;
use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    GraceReexchange, NewRefreshToken, NewUser, RefreshTokenStore, RevokeReason, Rotation,
    SessionId, UserDirectory, UserId,
};
use auth_mysql::MySqlTokenStore;
use common::MySqlTestDb;
use mysql_async::prelude::Queryable;

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .expect("time")
}

async fn user(store: &MySqlTokenStore) -> UserId {
    let email = format!("{}@example.com", uuid::Uuid::new_v4());
    store
        .create_user(&NewUser {
            email,
            password_hash: None,
            created_at: now(),
        })
        .await
        .expect("user")
}

fn rotation(current: &NewRefreshToken, grace: Option<GraceReexchange>) -> Rotation {
    Rotation {
        current: current.id,
        successor: successor_of(current, now()),
        at: now(),
        grace,
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, now()),
    }
}

async fn live_rows(db: &MySqlTestDb, session: SessionId) -> u64 {
    let mut conn = db.raw().await;
    let n: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM auth_user_tokens WHERE session_id = ? AND token_type = 'refresh' \
             AND rotated_at IS NULL AND revoked_at IS NULL",
            (session.0.as_bytes().to_vec(),),
        )
        .await
        .expect("count");
    conn.disconnect().await.expect("disconnect");
    n.expect("row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_of_one_token_have_one_winner() {
    let db = MySqlTestDb::create().await;
    let store = db.store();
    let uid = user(&store).await;
    let t0 = first_refresh_token(uid, now());
    store.insert_refresh_token(&t0).await.expect("insert");
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (store, barrier, rot) = (store.clone(), barrier.clone(), rotation(&t0, None));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let won = store
                .rotate_refresh_token(&rot)
                .await
                .expect("rotation never errors here");
            (won, rot.successor.id)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (won, id) = task.await.expect("task");
        if won {
            winners.push(id);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    assert_eq!(
        db.count_rows(auth_conformance::Table::RefreshTokens).await,
        2
    );
    let retired = store
        .find_refresh_token_by_id(t0.id)
        .await
        .expect("find")
        .expect("row");
    assert_eq!(retired.replaced_by, Some(winners[0]));
    assert_eq!(live_rows(&db, t0.session_id).await, 1);
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_racing_session_revocation_leaves_no_live_token() {
    let db = MySqlTestDb::create().await;
    let store = db.store();
    let uid = user(&store).await;
    for _ in 0..10 {
        let t0 = first_refresh_token(uid, now());
        store.insert_refresh_token(&t0).await.expect("insert");
        let barrier = Arc::new(tokio::sync::Barrier::new(9));
        let mut rotations = Vec::new();
        for _ in 0..8 {
            let (store, barrier, rot) = (store.clone(), barrier.clone(), rotation(&t0, None));
            rotations.push(tokio::spawn(async move {
                barrier.wait().await;
                store.rotate_refresh_token(&rot).await.expect("rotation")
            }));
        }
        let revoke = {
            let (store, barrier, sid) = (store.clone(), barrier.clone(), t0.session_id);
            tokio::spawn(async move {
                barrier.wait().await;
                let at = now();
                store
                    .revoke_session(&auth_core::SessionRevocation {
                        session: sid,
                        reason: RevokeReason::Logout,
                        at,
                        event_expires_at: at + Duration::hours(1),
                    })
                    .await
                    .expect("revoke")
            })
        };
        let mut wins = 0;
        for r in rotations {
            wins += usize::from(r.await.expect("task"));
        }
        assert!(wins <= 1, "at most one rotation wins");
        assert!(
            revoke.await.expect("task"),
            "the session had a live token when it was revoked"
        );
        assert_eq!(
            live_rows(&db, t0.session_id).await,
            0,
            "nothing of the session is live afterwards"
        );
    }
    db.teardown().await;
}

/// Locks `first` then, once the store's rotation is waiting, `second`, inside one
/// transaction on a plain connection; `weight` extra rows make this transaction the
/// heavier one, so InnoDB picks the rotation as the deadlock victim.
async fn deadlock_against_rotation(weight: usize) -> (bool, bool, MySqlTestDb, NewRefreshToken) {
    let db = MySqlTestDb::create().await;
    let store = db.store();
    let uid = user(&store).await;
    // P rotated into S; a grace re-exchange of P locks P, then S.
    let p = first_refresh_token(uid, now());
    store.insert_refresh_token(&p).await.expect("insert");
    let to_s = rotation(&p, None);
    let s = to_s.successor.clone();
    assert!(store.rotate_refresh_token(&to_s).await.expect("rotate"));

    let mut a = db.raw().await;
    a.query_drop("SET SESSION innodb_lock_wait_timeout = 30")
        .await
        .expect("timeout");
    a.query_drop("START TRANSACTION").await.expect("begin");
    for i in 0..weight {
        a.exec_drop(
            "INSERT INTO audit_logs (event_type, details, created_at) VALUES ('CLEANUP', ?, UTC_TIMESTAMP(6))",
            (format!("{{\"n\":{i}}}"),),
        )
        .await
        .expect("weight");
    }
    a.exec_drop(
        "UPDATE auth_user_tokens SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = 'test' WHERE token_id = ?",
        (s.id.0.as_bytes().to_vec(),),
    )
    .await
    .expect("lock S");
    let grace = Some(GraceReexchange {
        predecessor: p.id,
        max_reuse: 5,
    });
    let rot = rotation(&s, grace);
    let rotating = {
        let store = store.clone();
        tokio::spawn(async move { store.rotate_refresh_token(&rot).await })
    };
    // Wait until the rotation holds P and waits for S.
    let mut probe = db.raw().await;
    let deadline = std::time::Instant::now() + StdDuration::from_secs(20);
    loop {
        let ours: Vec<u64> = probe
            .query("SELECT id FROM information_schema.processlist WHERE db = DATABASE()")
            .await
            .expect("processlist");
        let waiting: Vec<u64> = probe
            .query("SELECT trx_mysql_thread_id FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'")
            .await
            .expect("innodb_trx");
        if waiting.iter().any(|id| ours.contains(id)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rotation never waited for S"
        );
        // InnoDB refreshes its INFORMATION_SCHEMA transaction cache only after 100 ms unread.
        tokio::time::sleep(StdDuration::from_millis(150)).await;
    }
    probe.disconnect().await.expect("disconnect");
    let a_second = a
        .exec_drop(
            "UPDATE auth_user_tokens SET revoke_reason = 'test' WHERE token_id = ?",
            (p.id.0.as_bytes().to_vec(),),
        )
        .await;
    let a_won = a_second.is_ok();
    if a_won {
        a.query_drop("COMMIT").await.expect("commit");
    } else {
        let message = a_second.unwrap_err().to_string();
        assert!(message.contains("Deadlock"), "{message}");
        a.query_drop("ROLLBACK").await.expect("rollback");
    }
    a.disconnect().await.expect("disconnect");
    let rotated = rotating
        .await
        .expect("task")
        .expect("the deadlock victim's rotation was run again, not failed");
    (a_won, rotated, db, s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deadlock_victim_rotation_is_rolled_back_and_run_again() {
    let (a_won, rotated, db, s) = deadlock_against_rotation(50).await;
    assert!(
        a_won,
        "the lighter transaction (the rotation) was the victim"
    );
    assert!(
        !rotated,
        "run again after the rollback, the rotation sees the session revoked"
    );
    let s_row = db
        .store()
        .find_refresh_token_by_id(s.id)
        .await
        .expect("find")
        .expect("row");
    assert!(s_row.revoked_at.is_some() && s_row.rotated_at.is_none());
    assert_eq!(live_rows(&db, s.session_id).await, 0);
    assert_eq!(
        db.count_rows(auth_conformance::Table::RefreshTokens).await,
        2,
        "no successor was written"
    );
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deadlock_never_reports_a_rotation_that_did_not_happen() {
    let (a_won, rotated, db, s) = deadlock_against_rotation(0).await;
    // Whichever transaction InnoDB rolled back, the outcome is consistent.
    assert_eq!(rotated, !a_won);
    let s_row = db
        .store()
        .find_refresh_token_by_id(s.id)
        .await
        .expect("find")
        .expect("row");
    assert_eq!(s_row.rotated_at.is_some(), rotated);
    assert_eq!(s_row.revoked_at.is_some(), a_won);
    assert_eq!(
        db.count_rows(auth_conformance::Table::RefreshTokens).await,
        if rotated { 3 } else { 2 }
    );
    assert_eq!(live_rows(&db, s.session_id).await, u64::from(rotated));
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_midway_writes_nothing() {
    let db = MySqlTestDb::create().await;
    let store = db.store();
    let uid = user(&store).await;
    let p = first_refresh_token(uid, now());
    store.insert_refresh_token(&p).await.expect("insert");
    let to_s = rotation(&p, None);
    let s = to_s.successor.clone();
    assert!(store.rotate_refresh_token(&to_s).await.expect("rotate"));
    let before = db.dump_cells().await;
    // A grace re-exchange whose successor collides with an existing token hash: the
    // predecessor and current updates run, the insert fails, everything rolls back.
    let mut rot = rotation(
        &s,
        Some(GraceReexchange {
            predecessor: p.id,
            max_reuse: 5,
        }),
    );
    rot.successor.hash = p.hash;
    assert!(store.rotate_refresh_token(&rot).await.is_err());
    assert_eq!(db.dump_cells().await, before, "nothing written");
    let p_row = store
        .find_refresh_token_by_id(p.id)
        .await
        .expect("find")
        .expect("row");
    assert_eq!((p_row.reuse_count, p_row.replaced_by), (0, Some(s.id)));
    assert!(
        store
            .find_refresh_token_by_id(s.id)
            .await
            .expect("find")
            .expect("row")
            .is_live()
    );
    // The connection that saw the failure is not handed out broken: the store goes on.
    assert!(
        store
            .rotate_refresh_token(&rotation(&s, None))
            .await
            .expect("rotate")
    );
    db.teardown().await;
}
