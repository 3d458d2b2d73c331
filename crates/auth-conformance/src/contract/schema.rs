//! The schema's own constraints, tested by writing rows past the store's code.

use auth_core::time::Duration;
use auth_core::{RefreshTokenStore, RevokeReason, SessionRevocation};

use super::{rotation, t0, user};
use crate::database::{Table, TestDatabase};
use crate::fixtures::{first_refresh_token, successor_of};

/// The database refuses a second live refresh token for a session, whether the first
/// is the session's first token or a rotation's successor; rotated and revoked rows do
/// not count, and other sessions are not affected.
pub async fn a_second_live_token_for_a_session_is_refused<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "one-live@example.com").await;
    let first = first_refresh_token(uid, t0());
    store.insert_refresh_token(&first).await.unwrap();

    let rival = successor_of(&first, t0() + Duration::seconds(1));
    let refused = db.insert_refresh_token_row(&rival).await;
    assert!(refused.is_err(), "a second live row was accepted");
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 1);

    // After a rotation the successor is the live row: another is refused again.
    let r = rotation(&first, t0() + Duration::seconds(2));
    assert!(store.rotate_refresh_token(&r).await.unwrap());
    let rival = successor_of(&r.successor, t0() + Duration::seconds(3));
    assert!(db.insert_refresh_token_row(&rival).await.is_err());
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);

    // Another session's live row is accepted.
    let other = first_refresh_token(uid, t0());
    db.insert_refresh_token_row(&other).await.unwrap();

    // Once the session is revoked it has no live row, so one may be written again.
    let revocation = SessionRevocation {
        session: first.session_id,
        reason: RevokeReason::Logout,
        at: t0() + Duration::seconds(4),
        event_expires_at: t0() + Duration::hours(1),
    };
    assert!(store.revoke_session(&revocation).await.unwrap());
    let after = successor_of(&r.successor, t0() + Duration::seconds(5));
    db.insert_refresh_token_row(&after).await.unwrap();
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 4);
}
