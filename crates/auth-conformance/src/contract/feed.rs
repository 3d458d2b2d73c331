//! The denylist and the revocation feed: idempotent denial, cursor and re-check window.

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    AccessTokenEntry, AccessTokenStore, RevocationCursor, RevocationEvent, RevokedItem, SessionId,
};

use super::{t0, user};
use crate::database::{Table, TestDatabase};

/// Denying a jti disables its allowlist row and appends one event; denying it again is
/// `Ok(false)` and appends nothing; a jti never registered can still be denied.
pub async fn revoke_access_token_is_idempotent<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "jti@example.com").await;
    let entry = AccessTokenEntry {
        jti: "b".repeat(32),
        user_id: uid,
        session_id: SessionId::new(),
        issued_at: t0(),
        expires_at: t0() + Duration::minutes(15),
        disabled: false,
    };
    store.register_access_token(&entry).await.unwrap();
    assert_eq!(
        store.find_access_token(&entry.jti).await.unwrap(),
        Some(entry.clone())
    );
    for expected in [true, false] {
        let denied_cmd = auth_core::AccessTokenRevocation {
            jti: entry.jti.clone(),
            user: uid,
            at: t0(),
            expires_at: entry.expires_at,
        };
        let denied = store.revoke_access_token(&denied_cmd);
        assert_eq!(denied.await.unwrap(), expected);
    }
    let stored = store.find_access_token(&entry.jti).await.unwrap().unwrap();
    assert!(stored.disabled);
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 1);
    assert!(
        store
            .revoke_access_token(&auth_core::AccessTokenRevocation {
                jti: "c".to_owned(),
                user: uid,
                at: t0(),
                expires_at: t0()
            })
            .await
            .unwrap()
    );
    assert_eq!(store.find_access_token("c").await.unwrap(), None);
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 2);
}

/// The feed returns events oldest first after the cursor, plus (with a re-check
/// instant) every event revoked at or after it even below the cursor, up to the limit.
pub async fn revocation_events_follow_the_cursor_and_the_recheck_window<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "feed@example.com").await;
    let times: Vec<OffsetDateTime> = (0..3).map(|i| t0() + Duration::seconds(i * 10)).collect();
    for (i, at) in times.iter().enumerate() {
        let jti = format!("jti-{i}");
        let denied_cmd = auth_core::AccessTokenRevocation {
            jti: jti.clone(),
            user: uid,
            at: *at,
            expires_at: *at + Duration::hours(1),
        };
        let denied = store.revoke_access_token(&denied_cmd);
        assert!(denied.await.unwrap());
    }
    let all = store
        .revocation_events(&RevocationCursor::default(), 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert_eq!(all[1].item, RevokedItem::Token("jti-1".into()));
    assert_eq!(all[1].revoked_at, times[1]);

    let ids = async |after_id: i64, recheck_since: Option<OffsetDateTime>, limit: u32| {
        let cursor = RevocationCursor {
            after_id,
            recheck_since,
        };
        let events: Vec<RevocationEvent> = store.revocation_events(&cursor, limit).await.unwrap();
        events.into_iter().map(|e| e.id).collect::<Vec<i64>>()
    };
    assert_eq!(ids(all[1].id, None, 100).await, [all[2].id]);
    assert_eq!(ids(all[2].id, None, 100).await, Vec::<i64>::new());
    // The re-check window returns events at or after the instant even below the cursor.
    assert_eq!(
        ids(all[2].id, Some(times[1]), 100).await,
        [all[1].id, all[2].id]
    );
    assert_eq!(
        ids(0, Some(times[2] + Duration::MICROSECOND), 100).await,
        [all[0].id, all[1].id, all[2].id],
        "id > after_id OR revoked_at >= recheck_since"
    );
    assert_eq!(ids(0, None, 2).await, [all[0].id, all[1].id]);
    assert_eq!(ids(0, Some(times[0]), 1).await, [all[0].id]);
}
