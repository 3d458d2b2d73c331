//! Rotation and replay at the store: exactly one winner among concurrent rotations, a
//! replay budget never overspent, nothing written by a refused or failed rotation.

use std::sync::Arc;

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{NewRefreshToken, RefreshTokenStore, RevokeReason, TokenId, TokenStore};
use futures::future::join_all;
use tokio::sync::Barrier;

use super::{get, live_in_session, replay, rotation, t0, user};
use crate::database::{Table, TestDatabase};
use crate::fixtures::first_refresh_token;

/// A rotation's outcome in a race: `Ok(won)`, or a transient failure (a deadlock
/// victim whose retries ran out: rolled back, writes nothing, the client retries),
/// which loses the race. Any other error fails the scenario.
fn rotated_or_lost(result: auth_core::Result<bool>) -> bool {
    match result {
        Ok(won) => won,
        Err(e) if e.is_transient() => false,
        Err(e) => panic!("rotation failed: {e:?}"),
    }
}

/// Runs `attempts` concurrently, released together by a barrier; returns the results.
async fn race<T: Send + 'static>(
    attempts: Vec<impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(attempts.len()));
    let tasks = attempts.into_iter().map(|attempt| {
        let barrier = barrier.clone();
        tokio::spawn(async move {
            barrier.wait().await;
            attempt.await
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect()
}

/// t0 -> t1 (t1 live), for a new user.
async fn rotated_pair<S: TokenStore>(store: &S, email: &str) -> (NewRefreshToken, NewRefreshToken) {
    let uid = user(store, email).await;
    let first = first_refresh_token(uid, t0());
    store.insert_refresh_token(&first).await.expect("insert");
    let r = rotation(&first, t0());
    assert!(store.rotate_refresh_token(&r).await.expect("rotate"));
    (first, r.successor)
}

/// 32 callers race for the same live token, three generations in a row: each time
/// exactly one wins, the retired row points at the winner, and the session keeps
/// exactly one live token.
pub async fn concurrent_rotations_have_exactly_one_winner<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "race@example.com").await;
    let mut current = first_refresh_token(uid, t0());
    store.insert_refresh_token(&current).await.expect("insert");
    for generation in 0..3u64 {
        let at = t0() + Duration::seconds(1 + generation as i64);
        let attempts = (0..32)
            .map(|_| {
                let (store, r) = (store.clone(), rotation(&current, at));
                async move {
                    let won = rotated_or_lost(store.rotate_refresh_token(&r).await);
                    (won, r.successor)
                }
            })
            .collect();
        let winners: Vec<NewRefreshToken> = race(attempts)
            .await
            .into_iter()
            .filter_map(|(won, successor)| won.then_some(successor))
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "generation {generation}: exactly one Ok(true)"
        );
        let winner = winners.into_iter().next().expect("one winner");
        let retired = get(&store, current.id).await;
        assert_eq!(retired.replaced_by, Some(winner.id));
        assert!(
            retired.successor_seed.is_some(),
            "the winner's seed is stored"
        );
        assert_eq!(retired.rotated_at, Some(at));
        let live = store
            .live_refresh_token_of_session(current.session_id)
            .await
            .expect("live")
            .expect("the session has a live token");
        assert_eq!(
            (live.token.id, live.token.generation),
            (winner.id, generation as i32 + 1)
        );
        assert_eq!(live_in_session(&store, &winner).await, 1);
        assert_eq!(
            db.count_rows(Table::RefreshTokens).await,
            generation + 2,
            "exactly one successor row per generation"
        );
        current = winner;
    }
    assert_eq!(
        db.count_rows(Table::AuditLogs).await,
        3,
        "one audit row per win"
    );
}

/// 16 concurrent retry replays of one predecessor with a budget of 5: exactly 5 are
/// recorded (budget spent, audit row written), the others write nothing.
pub async fn concurrent_retry_replays_spend_at_most_the_budget<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "replay-race@example.com").await;
    let audit_rows = db.count_rows(Table::AuditLogs).await;
    let attempts = (0..16)
        .map(|_| {
            let (store, r) = (store.clone(), replay(&first, second.id, Some(5)));
            async move { rotated_or_lost(store.replay_refresh_token(&r).await) }
        })
        .collect();
    let recorded = race(attempts).await.into_iter().filter(|won| *won).count();
    assert_eq!(recorded, 5);
    let pred = get(&store, first.id).await;
    assert_eq!((pred.reuse_count, pred.replaced_by), (5, Some(second.id)));
    assert_eq!(db.count_rows(Table::AuditLogs).await, audit_rows + 5);
    assert_eq!(
        db.count_rows(Table::RefreshTokens).await,
        2,
        "no row minted"
    );
    assert!(get(&store, second.id).await.is_live());
}

/// A replay with a budget spends it only while it lasts and only for the predecessor's
/// recorded successor; a budget-free (concurrent) replay only appends its audit row.
pub async fn a_replay_spends_the_budget_only_for_its_successor<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "replay@example.com").await;
    let before = get(&store, first.id).await;
    let audit_rows = db.count_rows(Table::AuditLogs).await;
    assert!(
        !store
            .replay_refresh_token(&replay(&first, second.id, Some(0)))
            .await
            .unwrap(),
        "budget 0"
    );
    assert!(
        !store
            .replay_refresh_token(&replay(&first, TokenId::new(), Some(5)))
            .await
            .unwrap(),
        "not the recorded successor"
    );
    assert_eq!(get(&store, first.id).await, before, "nothing written");
    assert_eq!(db.count_rows(Table::AuditLogs).await, audit_rows);

    for expected in 1..=2 {
        let r = replay(&first, second.id, Some(2));
        assert!(store.replay_refresh_token(&r).await.unwrap());
        assert_eq!(get(&store, first.id).await.reuse_count, expected);
    }
    let spent = replay(&first, second.id, Some(2));
    assert!(!store.replay_refresh_token(&spent).await.unwrap());
    assert!(
        store
            .replay_refresh_token(&replay(&first, second.id, None))
            .await
            .unwrap(),
        "a concurrent replay spends no budget"
    );
    let after = get(&store, first.id).await;
    assert_eq!(
        (after.reuse_count, after.replaced_by, after.successor_seed),
        (2, Some(second.id), before.successor_seed)
    );
    assert!(get(&store, second.id).await.is_live());
    assert_eq!(db.count_rows(Table::AuditLogs).await, audit_rows + 3);
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);
}

/// A rotated, revoked or unknown current token: `Ok(false)` and nothing written.
pub async fn rotating_a_dead_token_writes_nothing<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "dead@example.com").await;
    let audit_rows = db.count_rows(Table::AuditLogs).await;
    // The same (now rotated) token again.
    let again = rotation(&first, t0());
    assert!(!store.rotate_refresh_token(&again).await.unwrap());
    // A revoked token.
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: first.session_id,
            reason: RevokeReason::Logout,
            at: t0(),
            event_expires_at: t0(),
        })
        .await
        .unwrap();
    let revoked = rotation(&second, t0());
    assert!(!store.rotate_refresh_token(&revoked).await.unwrap());
    // An unknown token.
    let mut unknown = rotation(&second, t0());
    unknown.current = TokenId::new();
    assert!(!store.rotate_refresh_token(&unknown).await.unwrap());
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);
    assert_eq!(
        db.count_rows(Table::AuditLogs).await,
        audit_rows,
        "no audit row for a rotation that did not happen"
    );
}

/// Rotations racing a session revocation: at most one rotation wins, the revocation
/// finds a live token, and nothing of the session is live afterwards.
pub async fn a_revocation_racing_rotations_leaves_no_live_token<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "logout-race@example.com").await;
    for round in 0..8 {
        let first = first_refresh_token(uid, t0());
        store.insert_refresh_token(&first).await.expect("insert");
        let rotations = (0..8).map(|_| {
            let (store, r) = (store.clone(), rotation(&first, t0()));
            Box::pin(async move { (store.rotate_refresh_token(&r).await.expect("rotate"), false) })
                as std::pin::Pin<Box<dyn Future<Output = (bool, bool)> + Send>>
        });
        let revoke = {
            let (store, session) = (store.clone(), first.session_id);
            Box::pin(async move {
                let at = t0() + Duration::seconds(1);
                let revoked = store
                    .revoke_session(&auth_core::SessionRevocation {
                        session,
                        reason: RevokeReason::Logout,
                        at,
                        event_expires_at: at + Duration::hours(1),
                    })
                    .await
                    .expect("revoke");
                (revoked, true)
            }) as std::pin::Pin<Box<dyn Future<Output = (bool, bool)> + Send>>
        };
        let results = race(rotations.chain([revoke]).collect()).await;
        let wins = results
            .iter()
            .filter(|(won, is_revoke)| *won && !is_revoke)
            .count();
        assert!(wins <= 1, "round {round}: at most one rotation wins");
        assert!(
            results
                .iter()
                .any(|(revoked, is_revoke)| *revoked && *is_revoke),
            "round {round}: the session had a live token when it was revoked"
        );
        assert_eq!(
            live_in_session(&store, &first).await,
            0,
            "round {round}: nothing of the session is live afterwards"
        );
    }
}

/// A rotation that fails midway (its successor collides with a stored token hash after
/// the current token was retired) writes nothing, and the store goes on working.
pub async fn a_failure_midway_writes_nothing<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "midway@example.com").await;
    let sorted = |mut cells: Vec<Vec<u8>>| {
        cells.sort();
        cells
    };
    let before = sorted(db.dump_cells().await);
    let mut r = rotation(&second, t0());
    r.successor.hash = first.hash;
    assert!(store.rotate_refresh_token(&r).await.is_err());
    assert_eq!(sorted(db.dump_cells().await), before, "nothing written");
    let pred = get(&store, first.id).await;
    assert_eq!((pred.reuse_count, pred.replaced_by), (0, Some(second.id)));
    assert!(get(&store, second.id).await.is_live());
    // The connection that saw the failure is not handed out broken.
    let at: OffsetDateTime = t0() + Duration::seconds(1);
    assert!(
        store
            .rotate_refresh_token(&rotation(&second, at))
            .await
            .expect("rotate")
    );
}
