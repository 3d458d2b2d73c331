//! Cleanup at the store: what each rule removes and keeps, in batches of one.

use auth_core::time::Duration;
use auth_core::{
    AccessTokenEntry, AccessTokenStore, Cleanup, CleanupPolicy, RefreshTokenStore, RevokeReason,
};

use super::{rotation, t0, user};
use crate::database::{Table, TestDatabase};
use crate::fixtures::first_refresh_token;

/// Sessions that ended (expired or revoked) beyond the retention lose every row; those
/// within it, and the rotated rows of live sessions, are kept; expired denylist and
/// allowlist rows go. Batches of one row give the same counts; a second run removes
/// nothing.
pub async fn cleanup_counts_and_keeps_rotated_rows_of_live_sessions<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "cleanup@example.com").await;
    let now = t0() + Duration::days(100);
    let retention = Duration::days(30);

    // A live session that started long ago: its rotated first token is kept.
    let mut live0 = first_refresh_token(uid, now - Duration::days(40));
    live0.session_expires_at = now + Duration::days(10);
    store.insert_refresh_token(&live0).await.unwrap();
    let r = rotation(&live0, now - Duration::days(39));
    assert!(store.rotate_refresh_token(&r).await.unwrap());
    // Expired beyond retention (2 rows): removed. Expired within retention: kept.
    let mut old0 = first_refresh_token(uid, now - Duration::days(90));
    old0.session_expires_at = now - retention - Duration::MICROSECOND;
    store.insert_refresh_token(&old0).await.unwrap();
    let r = rotation(&old0, now - Duration::days(80));
    assert!(store.rotate_refresh_token(&r).await.unwrap());
    let mut recent = first_refresh_token(uid, now - Duration::days(50));
    recent.session_expires_at = now - retention + Duration::MICROSECOND;
    store.insert_refresh_token(&recent).await.unwrap();
    // Revoked beyond retention: removed (1 row). Revoked within retention: kept.
    let revoked_old = first_refresh_token(uid, now - Duration::days(35));
    store.insert_refresh_token(&revoked_old).await.unwrap();
    let (at, exp) = (now - Duration::days(31), now - Duration::seconds(1));
    let sid = revoked_old.session_id;
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: sid,
            reason: RevokeReason::Logout,
            at,
            event_expires_at: exp,
        })
        .await
        .unwrap();
    let revoked_new = first_refresh_token(uid, now - Duration::days(2));
    store.insert_refresh_token(&revoked_new).await.unwrap();
    let (at, exp) = (now - Duration::days(1), now + Duration::seconds(1));
    let sid = revoked_new.session_id;
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: sid,
            reason: RevokeReason::Logout,
            at,
            event_expires_at: exp,
        })
        .await
        .unwrap();
    // Allowlist: one expired, one not.
    for (jti, exp) in [("expired", now - Duration::MICROSECOND), ("valid", now)] {
        let entry = AccessTokenEntry {
            jti: jti.into(),
            user_id: uid,
            session_id: live0.session_id,
            issued_at: exp - Duration::minutes(15),
            expires_at: exp,
            disabled: false,
        };
        store.register_access_token(&entry).await.unwrap();
    }
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 7);

    let policy = CleanupPolicy {
        retention,
        batch_size: 1,
    };
    let report = store.cleanup(&policy, now).await.unwrap();
    assert_eq!(
        (
            report.refresh_tokens,
            report.revoked_tokens,
            report.access_tokens
        ),
        (3, 1, 1)
    );
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 4);
    for (kept, token) in [
        (true, &live0),
        (true, &recent),
        (true, &revoked_new),
        (false, &old0),
        (false, &revoked_old),
    ] {
        let found = store.find_refresh_token_by_id(token.id).await.unwrap();
        assert_eq!(found.is_some(), kept, "{token:?}");
    }
    assert!(store.find_access_token("valid").await.unwrap().is_some());
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 1);
    assert_eq!(db.count_rows(Table::AccessTokens).await, 1);

    // Nothing more to do; a larger batch gives the same answer.
    let policy = CleanupPolicy {
        retention,
        batch_size: 1000,
    };
    assert_eq!(store.cleanup(&policy, now).await.unwrap().total(), 0);
}
