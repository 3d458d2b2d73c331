//! Session, user and state revocations at the store: rows marked, allowlisted access
//! tokens disabled, one feed event per thing revoked, all in one transaction.

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    AccessTokenEntry, AccessTokenStore, NewRefreshToken, RefreshTokenStore, RevocationCursor,
    RevokeReason, RevokedItem, SessionId, TokenStore, UserDirectory, UserId,
};

use super::{get, rotation, t0, user};
use crate::database::{Table, TestDatabase};
use crate::fixtures::first_refresh_token;

async fn feed<S: TokenStore>(store: &S) -> Vec<auth_core::RevocationEvent> {
    store
        .revocation_events(&RevocationCursor::default(), 100)
        .await
        .expect("feed")
}

/// Revoking a session marks each of its rows with the time and reason, disables its
/// allowlisted access tokens and appends one session event; again, or for an unknown
/// session, it reports no live token and appends nothing.
pub async fn revoke_session_revokes_rows_disables_access_tokens_and_writes_one_event<
    D: TestDatabase,
>(
    db: &D,
) {
    let store = db.store();
    let uid = user(&store, "revoke@example.com").await;
    let first = first_refresh_token(uid, t0());
    let sid = first.session_id;
    store.insert_refresh_token(&first).await.unwrap();
    let r = rotation(&first, t0());
    assert!(store.rotate_refresh_token(&r).await.unwrap());
    let entry = AccessTokenEntry {
        jti: "a".repeat(32),
        user_id: uid,
        session_id: sid,
        issued_at: t0(),
        expires_at: t0() + Duration::minutes(15),
        disabled: false,
    };
    store.register_access_token(&entry).await.unwrap();

    let at = t0() + Duration::seconds(5);
    let exp = at + Duration::hours(1);
    assert!(
        store
            .revoke_session(&auth_core::SessionRevocation {
                session: sid,
                reason: RevokeReason::Logout,
                at,
                event_expires_at: exp
            })
            .await
            .unwrap()
    );
    for id in [first.id, r.successor.id] {
        let row = get(&store, id).await;
        assert_eq!(
            (row.revoked_at, row.revoke_reason.as_deref()),
            (Some(at), Some(RevokeReason::Logout.as_str()))
        );
    }
    let access = store.find_access_token(&entry.jti).await.unwrap().unwrap();
    assert!(access.disabled);
    assert_eq!(
        store.live_refresh_token_of_session(sid).await.unwrap(),
        None
    );

    let events = feed(&store).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].user_id, &events[0].item),
        (uid, &RevokedItem::Session(sid))
    );
    assert_eq!((events[0].revoked_at, events[0].expires_at), (at, exp));

    for session in [sid, SessionId::new()] {
        let again_cmd = auth_core::SessionRevocation {
            session,
            reason: RevokeReason::Logout,
            at,
            event_expires_at: exp,
        };
        let again = store.revoke_session(&again_cmd);
        assert!(!again.await.unwrap());
    }
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 1);
}

/// Revoking every session of a user: one event per session that was not yet revoked,
/// then (with `tokens_valid_after`) the user's new bound and a user event; other
/// users untouched; an unknown user gets nothing.
pub async fn revoke_user_sessions_writes_an_event_per_session_and_moves_tokens_valid_after<
    D: TestDatabase,
>(
    db: &D,
) {
    let store = db.store();
    let uid = user(&store, "all@example.com").await;
    let other = user(&store, "other@example.com").await;
    let sessions: Vec<NewRefreshToken> = (0..3).map(|_| first_refresh_token(uid, t0())).collect();
    for t in &sessions {
        store.insert_refresh_token(t).await.unwrap();
    }
    let bystander = first_refresh_token(other, t0());
    store.insert_refresh_token(&bystander).await.unwrap();
    // One session already revoked: it gets no second event.
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: sessions[2].session_id,
            reason: RevokeReason::Logout,
            at: t0(),
            event_expires_at: t0(),
        })
        .await
        .unwrap();
    let first_event = feed(&store).await[0].id;

    let at = t0() + Duration::seconds(1);
    let tva = OffsetDateTime::from_unix_timestamp(at.unix_timestamp() + 1).unwrap();
    let n = store
        .revoke_user_sessions(&auth_core::UserRevocation {
            user: uid,
            reason: RevokeReason::LogoutAll,
            at,
            event_expires_at: at + Duration::hours(1),
            tokens_valid_after: Some(tva),
        })
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert!(store.live_refresh_tokens(uid, at).await.unwrap().is_empty());
    assert_eq!(
        store.live_refresh_tokens(other, at).await.unwrap().len(),
        1,
        "other users are untouched"
    );
    let record = store.find_user(uid).await.unwrap().unwrap();
    assert_eq!(record.tokens_valid_after, Some(tva));

    let cursor = RevocationCursor {
        after_id: first_event,
        recheck_since: None,
    };
    let events = store.revocation_events(&cursor, 10).await.unwrap();
    let mut items: Vec<RevokedItem> = events.into_iter().map(|e| e.item).collect();
    let mut expected: Vec<RevokedItem> = sessions[..2]
        .iter()
        .map(|t| RevokedItem::Session(t.session_id))
        .chain([RevokedItem::User(uid)])
        .collect();
    expected.sort_by_key(|i| format!("{i:?}"));
    items.sort_by_key(|i| format!("{i:?}"));
    assert_eq!(items, expected);
    let reasons: Vec<Option<String>> = {
        let mut reasons = Vec::new();
        for t in &sessions {
            reasons.push(get(&store, t.id).await.revoke_reason);
        }
        reasons
    };
    let logout_all = Some(RevokeReason::LogoutAll.as_str().to_owned());
    let logout = Some(RevokeReason::Logout.as_str().to_owned());
    assert_eq!(reasons, [logout_all.clone(), logout_all, logout]);

    // Without tokens_valid_after: session events only. Unknown user: nothing at all.
    let before = db.count_rows(Table::RevokedTokens).await;
    let revoked_cmd = auth_core::UserRevocation {
        user: other,
        reason: RevokeReason::UserDisabled,
        at,
        event_expires_at: at,
        tokens_valid_after: None,
    };
    let revoked = store.revoke_user_sessions(&revoked_cmd);
    assert_eq!(revoked.await.unwrap(), 1);
    assert_eq!(db.count_rows(Table::RevokedTokens).await, before + 1);
    let record = store.find_user(other).await.unwrap().unwrap();
    assert_eq!(record.tokens_valid_after, None);
    let unknown_cmd = auth_core::UserRevocation {
        user: UserId(999),
        reason: RevokeReason::LogoutAll,
        at,
        event_expires_at: at,
        tokens_valid_after: Some(tva),
    };
    let unknown = store.revoke_user_sessions(&unknown_cmd);
    assert_eq!(unknown.await.unwrap(), 0);
    assert_eq!(db.count_rows(Table::RevokedTokens).await, before + 1);
}

/// Activating or deactivating a user appends a user event; an unknown user is
/// `Ok(false)` with no event.
pub async fn set_user_active_writes_a_user_event_only_for_known_users<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "active@example.com").await;
    let exp = t0() + Duration::hours(1);
    assert!(
        store
            .set_user_active(&auth_core::ActivationChange {
                user: uid,
                active: false,
                at: t0(),
                event_expires_at: exp
            })
            .await
            .unwrap()
    );
    assert!(!store.find_user(uid).await.unwrap().unwrap().is_active);
    assert!(
        store
            .set_user_active(&auth_core::ActivationChange {
                user: uid,
                active: true,
                at: t0(),
                event_expires_at: exp
            })
            .await
            .unwrap()
    );
    assert!(store.find_user(uid).await.unwrap().unwrap().is_active);
    let unknown_cmd = auth_core::ActivationChange {
        user: UserId(777),
        active: false,
        at: t0(),
        event_expires_at: t0(),
    };
    let unknown = store.set_user_active(&unknown_cmd);
    assert!(!unknown.await.unwrap());
    let items: Vec<RevokedItem> = feed(&store).await.into_iter().map(|e| e.item).collect();
    assert_eq!(items, [RevokedItem::User(uid), RevokedItem::User(uid)]);
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 2);
}
