//! Rotation under InnoDB, at the store: a deadlock victim's rotation is rolled back and
//! run again, and a deadlock is never reported as a rotation that did not happen. The
//! shared store contract (one winner, racing revocations, a failure midway) runs in
//! the conformance suite.

use auth_conformance::fixtures::{first_refresh_token, successor_of};
use std::time::Duration as StdDuration;

use auth_conformance::TestDatabase;
use auth_core::time::OffsetDateTime;
use auth_core::{
    NewRefreshToken, NewUser, RefreshTokenStore, Rotation, SessionId, SuccessorSeed, UserDirectory,
    UserId,
};
use auth_mysql::MySqlTokenStore;
use auth_mysql::TestDb;
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

fn rotation(current: &NewRefreshToken) -> Rotation {
    Rotation {
        current: current.id,
        successor: successor_of(current, now()),
        successor_seed: SuccessorSeed::generate(),
        at: now(),
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, now()),
    }
}

async fn live_rows(db: &TestDb, session: SessionId) -> u64 {
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

/// Inside one transaction on a plain connection, gap-locks the successor's hash, then,
/// once the store's rotation holds S and waits for that gap, updates S; `weight` extra
/// rows make this transaction the heavier one, so InnoDB picks the rotation as the
/// deadlock victim.
async fn deadlock_against_rotation(weight: usize) -> (bool, bool, TestDb, NewRefreshToken) {
    let db = TestDb::create().await;
    let store = db.store();
    let uid = user(&store).await;
    // P rotated into S.
    let p = first_refresh_token(uid, now());
    store.insert_refresh_token(&p).await.expect("insert");
    let to_s = rotation(&p);
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
    // Rotating S locks S, then inserts the successor: A's gap lock on the successor's
    // hash makes that insert wait while S is held.
    let rot = rotation(&s);
    let _: Vec<u32> = a
        .exec(
            "SELECT id FROM auth_user_tokens WHERE token_hash = ? FOR UPDATE",
            (rot.successor.hash.as_bytes().to_vec(),),
        )
        .await
        .expect("gap lock on the successor's hash");
    let rotating = {
        let store = store.clone();
        tokio::spawn(async move { store.rotate_refresh_token(&rot).await })
    };
    // Wait until the rotation holds S and waits for the gap.
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
            "the rotation never waited for the gap"
        );
        // InnoDB refreshes its INFORMATION_SCHEMA transaction cache only after 100 ms unread.
        tokio::time::sleep(StdDuration::from_millis(150)).await;
    }
    probe.disconnect().await.expect("disconnect");
    let a_second = a
        .exec_drop(
            "UPDATE auth_user_tokens SET revoked_at = UTC_TIMESTAMP(6), revoke_reason = 'test' WHERE token_id = ?",
            (s.id.0.as_bytes().to_vec(),),
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
