//! Rows as stored and read back: exact round trips, unique values, the audit log.

use auth_core::time::Duration;
use auth_core::{
    AuditEvent, AuditKind, AuditLog, Error, NewUser, RefreshTokenStore, SessionId, TokenHash,
    UserDirectory,
};
use serde_json::json;

use super::{t0, user};
use crate::database::{Table, TestDatabase};
use crate::fixtures::first_refresh_token;

/// A refresh token and a user read back exactly as written (microseconds included),
/// by hash and by id; unknown hashes find nothing.
pub async fn records_round_trip_exactly<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "round@example.com").await;
    let t = first_refresh_token(uid, t0());
    store.insert_refresh_token(&t).await.unwrap();
    let by_hash = store
        .find_refresh_token(&t.hash)
        .await
        .unwrap()
        .expect("found by hash");
    assert_eq!(by_hash.token, t);
    assert_eq!(by_hash.token.issued_at.microsecond(), 123_456);
    assert!(by_hash.is_live() && by_hash.reuse_count == 0 && by_hash.replaced_by.is_none());
    assert_eq!(
        store.find_refresh_token_by_id(t.id).await.unwrap(),
        Some(by_hash)
    );
    assert_eq!(
        store.find_refresh_token(&TokenHash([7; 32])).await.unwrap(),
        None
    );

    let u = store.find_user(uid).await.unwrap().unwrap();
    assert_eq!(
        store.find_user_by_email("round@example.com").await.unwrap(),
        Some(u.clone())
    );
    assert!(u.is_active && !u.is_admin && u.tokens_valid_after.is_none() && u.last_login.is_none());
    let login = auth_core::LoginRecord {
        user: uid,
        at: t0(),
    };
    store.record_login(&login).await.unwrap();
    store
        .set_password_hash(&auth_core::PasswordChange {
            user: uid,
            password_hash: "$pbkdf2-sha256$new".to_owned(),
            at: t0(),
        })
        .await
        .unwrap();
    let u = store.find_user(uid).await.unwrap().unwrap();
    assert_eq!(
        (u.last_login, u.password_hash.as_deref()),
        (Some(t0()), Some("$pbkdf2-sha256$new"))
    );
}

/// A taken email is [`Error::EmailTaken`] and writes nothing; any other constraint a
/// write breaks (a duplicate token hash) is a storage error.
pub async fn email_taken_is_its_own_error<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "taken@example.com").await;
    let again = NewUser {
        email: "taken@example.com".into(),
        password_hash: None,
        created_at: t0(),
    };
    assert!(matches!(
        store.create_user(&again).await,
        Err(Error::EmailTaken)
    ));
    assert_eq!(db.count_rows(Table::Users).await, 1);
    user(&store, "other@example.com").await;

    let first = first_refresh_token(uid, t0());
    store.insert_refresh_token(&first).await.unwrap();
    let mut duplicate = first_refresh_token(uid, t0());
    duplicate.hash = first.hash;
    match store.insert_refresh_token(&duplicate).await {
        Err(Error::Storage(_)) => {}
        other => panic!("expected a storage error, got {other:?}"),
    }
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 1);
}

/// The audit log reads newest first, filters by user, and keeps session, details and
/// time exactly; the kind is stored in core's form (e.g. `LOGIN_SUCCEEDED`).
pub async fn audit_is_newest_first_and_filters_by_user<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "audit@example.com").await;
    let sid = SessionId::new();
    let kinds = [
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::TokenRefreshed,
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        let event = AuditEvent {
            kind,
            user_id: (i != 1).then_some(uid),
            session_id: (i == 2).then_some(sid),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("ua".into()),
            details: json!({"i": i, "nested": {"ok": true}}),
            at: t0() + Duration::microseconds(i as i64),
        };
        store.append_audit(&event).await.unwrap();
    }
    let all = store.recent_audit(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.event.kind).collect::<Vec<_>>(),
        [
            AuditKind::TokenRefreshed,
            AuditKind::LoginFailed,
            AuditKind::LoginSucceeded
        ]
    );
    assert_eq!(all[0].event.session_id, Some(sid));
    assert_eq!(
        all[0].event.details,
        json!({"i": 2, "nested": {"ok": true}})
    );
    assert_eq!(all[0].event.at, t0() + Duration::microseconds(2));
    let mine = store.recent_audit(Some(uid), 10).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        store.recent_audit(Some(uid), 1).await.unwrap()[0].id,
        all[0].id
    );
    let cells = db.dump_cells().await;
    assert!(
        cells
            .iter()
            .any(|c| c == AuditKind::LoginSucceeded.as_str().as_bytes()),
        "the kind is stored in core's form"
    );
}
