//! Rotation at the store: exactly one winner among concurrent callers, all-or-nothing
//! grace re-exchanges, nothing written by a refused or failed rotation.

use std::sync::Arc;

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{NewRefreshToken, RefreshTokenStore, RevokeReason, TokenId, TokenStore};
use futures::future::join_all;
use tokio::sync::Barrier;

use super::{get, grace, live_in_session, rotation, t0, user};
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
    let r = rotation(&first, t0(), None);
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
                let (store, r) = (store.clone(), rotation(&current, at, None));
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

/// Concurrent grace re-exchanges of one predecessor: one winner, one unit of budget.
pub async fn concurrent_grace_reexchanges_have_exactly_one_winner<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "grace-race@example.com").await;
    let attempts = (0..16)
        .map(|_| {
            let (store, r) = (store.clone(), rotation(&second, t0(), grace(&first, 5)));
            async move {
                let won = rotated_or_lost(store.rotate_refresh_token(&r).await);
                (won, r.successor.id)
            }
        })
        .collect();
    let winners: Vec<TokenId> = race(attempts)
        .await
        .into_iter()
        .filter_map(|(won, id)| won.then_some(id))
        .collect();
    assert_eq!(winners.len(), 1);
    let pred = get(&store, first.id).await;
    assert_eq!((pred.reuse_count, pred.replaced_by), (1, Some(winners[0])));
    assert_eq!(get(&store, second.id).await.replaced_by, Some(winners[0]));
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 3);
    assert_eq!(live_in_session(&store, &first).await, 1);
}

/// Strict rotations and grace re-exchanges of the same current token racing: one
/// winner, and the predecessor's budget moves only if a grace re-exchange won.
pub async fn mixed_strict_and_grace_rotations_stay_all_or_nothing<D: TestDatabase>(db: &D) {
    let store = db.store();
    for round in 0..6 {
        let (first, second) = rotated_pair(&store, &format!("mixed{round}@example.com")).await;
        let attempts = (0..12)
            .map(|i| {
                let with_grace = i % 3 != 0;
                let g = if with_grace { grace(&first, 5) } else { None };
                let (store, r) = (store.clone(), rotation(&second, t0(), g));
                async move {
                    let won = rotated_or_lost(store.rotate_refresh_token(&r).await);
                    (won, with_grace, r.successor.id)
                }
            })
            .collect();
        let winners: Vec<(bool, TokenId)> = race(attempts)
            .await
            .into_iter()
            .filter_map(|(won, with_grace, id)| won.then_some((with_grace, id)))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}");
        let (grace_won, winner) = winners[0];
        let pred = get(&store, first.id).await;
        if grace_won {
            assert_eq!((pred.reuse_count, pred.replaced_by), (1, Some(winner)));
        } else {
            assert_eq!((pred.reuse_count, pred.replaced_by), (0, Some(second.id)));
        }
        assert_eq!(get(&store, second.id).await.replaced_by, Some(winner));
        assert_eq!(live_in_session(&store, &first).await, 1, "round {round}");
    }
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 6 * 3);
}

/// A rotated, revoked or unknown current token: `Ok(false)` and nothing written.
pub async fn rotating_a_dead_token_writes_nothing<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "dead@example.com").await;
    let audit_rows = db.count_rows(Table::AuditLogs).await;
    // The same (now rotated) token again.
    let again = rotation(&first, t0(), None);
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
    let revoked = rotation(&second, t0(), None);
    assert!(!store.rotate_refresh_token(&revoked).await.unwrap());
    // An unknown token.
    let mut unknown = rotation(&second, t0(), None);
    unknown.current = TokenId::new();
    assert!(!store.rotate_refresh_token(&unknown).await.unwrap());
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);
    assert_eq!(
        db.count_rows(Table::AuditLogs).await,
        audit_rows,
        "no audit row for a rotation that did not happen"
    );
}

/// The predecessor presented again within its budget: each re-exchange rotates the live
/// token and moves the predecessor's `replaced_by` forward; once the budget is spent
/// (or when it is 0) nothing is written and the live token stays live.
pub async fn grace_reexchange_spends_the_predecessor_budget<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "grace@example.com").await;
    let before = (get(&store, first.id).await, get(&store, second.id).await);
    let zero = rotation(&second, t0(), grace(&first, 0));
    assert!(
        !store.rotate_refresh_token(&zero).await.unwrap(),
        "budget 0"
    );
    assert_eq!(
        (get(&store, first.id).await, get(&store, second.id).await),
        before,
        "budget 0 writes nothing"
    );

    let mut live = second;
    for expected_count in 1..=2 {
        let r = rotation(&live, t0(), grace(&first, 2));
        assert!(store.rotate_refresh_token(&r).await.unwrap());
        let pred = get(&store, first.id).await;
        assert_eq!(
            (pred.reuse_count, pred.replaced_by),
            (expected_count, Some(r.successor.id))
        );
        live = r.successor;
    }

    let refused = rotation(&live, t0(), grace(&first, 2));
    assert!(!store.rotate_refresh_token(&refused).await.unwrap());
    assert!(
        get(&store, live.id).await.is_live(),
        "rolled back: the current token was not retired"
    );
    assert_eq!(
        store
            .find_refresh_token_by_id(refused.successor.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(get(&store, first.id).await.reuse_count, 2);
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 4);
    assert_eq!(live_in_session(&store, &first).await, 1);
}

/// A grace re-exchange whose current token is no longer live (rotated, or revoked):
/// the predecessor's budget and pointer are untouched, no successor is written.
pub async fn a_grace_reexchange_of_a_retired_current_writes_nothing<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "retired@example.com").await;
    let next = rotation(&second, t0(), None);
    assert!(store.rotate_refresh_token(&next).await.unwrap());
    let before = get(&store, first.id).await;

    let r = rotation(&second, t0(), grace(&first, 5));
    assert!(!store.rotate_refresh_token(&r).await.unwrap());
    assert_eq!(get(&store, first.id).await, before, "predecessor untouched");
    assert_eq!(
        store
            .find_refresh_token_by_id(r.successor.id)
            .await
            .unwrap(),
        None
    );

    // Revoked instead of rotated: the same.
    let third = next.successor;
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: third.session_id,
            reason: RevokeReason::Logout,
            at: t0(),
            event_expires_at: t0(),
        })
        .await
        .unwrap();
    let r = rotation(&third, t0(), grace(&second, 5));
    assert!(!store.rotate_refresh_token(&r).await.unwrap());
    assert_eq!(get(&store, second.id).await.reuse_count, 0);
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 3);
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
            let (store, r) = (store.clone(), rotation(&first, t0(), None));
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
/// the predecessor and current updates) writes nothing, and the store goes on working.
pub async fn a_failure_midway_writes_nothing<D: TestDatabase>(db: &D) {
    let store = db.store();
    let (first, second) = rotated_pair(&store, "midway@example.com").await;
    let sorted = |mut cells: Vec<Vec<u8>>| {
        cells.sort();
        cells
    };
    let before = sorted(db.dump_cells().await);
    let mut r = rotation(&second, t0(), grace(&first, 5));
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
            .rotate_refresh_token(&rotation(&second, at, None))
            .await
            .expect("rotate")
    );
}
