//! What the internal (admin) surface needs from a store: the filtered audit page, the
//! phone lookup, the admin flag with its user event, and the batch import, one
//! transaction per batch.

use auth_core::time::Duration;
use auth_core::{
    AccessTokenStore, AdminChange, AuditEvent, AuditKind, AuditLog, AuditQuery, ImportUser,
    ImportedUser, PhoneNumber, RevocationCursor, RevokedItem, UserAdmin, UserDirectory, UserId,
    UserImport,
};

use super::{t0, user};
use crate::database::{Table, TestDatabase};

fn event(kind: AuditKind, user: Option<UserId>, minute: i64) -> AuditEvent {
    AuditEvent {
        user_id: user,
        ..AuditEvent::new(kind, t0() + Duration::minutes(minute))
    }
}

fn ids(records: &[auth_core::AuditRecord]) -> Vec<i64> {
    records.iter().map(|r| r.id).collect()
}

/// Each filter of an [`AuditQuery`] applies on its own and together with the others:
/// user, kind, the time range (`since` inclusive, `until` exclusive), and paging by id,
/// always newest first.
pub async fn audit_page_applies_each_filter_and_pages_by_id<D: TestDatabase>(db: &D) {
    let store = db.store();
    let alice = user(&store, "alice@example.com").await;
    let bob = user(&store, "bob@example.com").await;
    let rows = [
        event(AuditKind::LoginSucceeded, Some(alice), 0),
        event(AuditKind::LoginFailed, Some(bob), 1),
        event(AuditKind::TokenRefreshed, Some(alice), 2),
        event(AuditKind::LoginFailed, None, 3),
        event(AuditKind::LoginFailed, Some(alice), 4),
        event(AuditKind::LogoutAll, Some(alice), 5),
    ];
    for e in &rows {
        store.append_audit(e).await.expect("append");
    }
    let page = |q: AuditQuery| {
        let store = store.clone();
        async move { store.audit_page(&q).await.expect("audit page") }
    };
    let all = page(AuditQuery::recent(None, 100)).await;
    assert_eq!(all.len(), 6);
    let id = |minute: usize| all[5 - minute].id;
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[0].event, rows[5]);

    let of_alice = page(AuditQuery::recent(Some(alice), 100)).await;
    assert_eq!(ids(&of_alice), [id(5), id(4), id(2), id(0)]);
    let failed = AuditQuery {
        kind: Some(AuditKind::LoginFailed),
        limit: 100,
        ..AuditQuery::default()
    };
    assert_eq!(ids(&page(failed.clone()).await), [id(4), id(3), id(1)]);
    let window = AuditQuery {
        since: Some(t0() + Duration::minutes(1)),
        until: Some(t0() + Duration::minutes(4)),
        limit: 100,
        ..AuditQuery::default()
    };
    assert_eq!(ids(&page(window.clone()).await), [id(3), id(2), id(1)]);
    let everything = AuditQuery {
        user: Some(alice),
        kind: Some(AuditKind::LoginFailed),
        ..window
    };
    assert!(
        page(everything.clone()).await.is_empty(),
        "alice failed at minute 4, outside"
    );
    let wider = AuditQuery {
        until: Some(t0() + Duration::minutes(5)),
        ..everything
    };
    assert_eq!(ids(&page(wider).await), [id(4)]);

    let first = page(AuditQuery {
        limit: 2,
        ..failed.clone()
    })
    .await;
    assert_eq!(ids(&first), [id(4), id(3)]);
    let next = AuditQuery {
        before_id: Some(first[1].id),
        limit: 2,
        ..failed
    };
    assert_eq!(ids(&page(next).await), [id(1)]);
    assert!(
        page(AuditQuery::recent(Some(UserId(999)), 10))
            .await
            .is_empty()
    );
}

fn import_row(email: Option<&str>, phone: Option<&str>, admin: bool) -> ImportUser {
    ImportUser::new(
        email,
        phone,
        Some("pbkdf2_sha256$1000$J7h2BEA5jwwed7Jgrwlqk3$+2BpeNgRUJXwhuW1BCFWmkM1uUcX/fJk5ynKEQdKOgs="),
        !admin,
        admin,
    )
    .expect("a valid row")
}

/// A batch inserts each new user with its email, phone, hash and flags and returns its
/// id; a user already stored (by email, else by phone, also one inserted earlier in the
/// same batch) comes back as stored and is not touched.
pub async fn import_users_inserts_new_users_and_returns_stored_ones<D: TestDatabase>(db: &D) {
    let store = db.store();
    let existing = user(&store, "old@example.com").await;
    let batch = UserImport {
        users: vec![
            import_row(Some("new@example.com"), None, true),
            import_row(None, Some("+13128050001"), false),
            import_row(Some("old@example.com"), Some("+13128050002"), false),
            import_row(Some("other@example.com"), Some("+13128050001"), false),
        ],
        at: t0(),
    };
    let outcome = store.import_users(&batch).await.expect("import");
    let [
        ImportedUser::Created(admin),
        ImportedUser::Created(phone_only),
        ImportedUser::Existing(old),
        ImportedUser::Existing(same_phone),
    ] = outcome.as_slice()
    else {
        panic!("unexpected outcome {outcome:?}");
    };
    assert_eq!(old.id, existing);
    assert_eq!(
        old.password_hash.as_deref(),
        Some("$pbkdf2-sha256$x"),
        "left as stored"
    );
    assert_eq!(same_phone.id, *phone_only);
    let stored = store.find_user(*admin).await.unwrap().expect("created");
    assert_eq!(stored.email.as_deref(), Some("new@example.com"));
    assert_eq!(stored.password_hash, batch.users[0].password_hash);
    assert!(stored.is_admin && !stored.is_active);
    let phone = PhoneNumber::parse("+13128050001").unwrap();
    let by_phone = store
        .find_user_by_phone(&phone)
        .await
        .unwrap()
        .expect("by phone");
    assert_eq!(by_phone.id, *phone_only);
    assert_eq!(by_phone.email, None);
    assert!(by_phone.is_active && !by_phone.is_admin);
    assert_eq!(db.count_rows(Table::Users).await, 3);

    let again = store.import_users(&batch).await.expect("import again");
    assert!(again.iter().all(|o| matches!(o, ImportedUser::Existing(_))));
    assert_eq!(
        db.count_rows(Table::Users).await,
        3,
        "a second run inserts nothing"
    );
    let unknown = PhoneNumber::parse("+13128059999").unwrap();
    assert_eq!(store.find_user_by_phone(&unknown).await.unwrap(), None);
}

/// A batch that fails on one row (a phone longer than the column holds) leaves none of
/// its rows behind, including those before the failing one.
pub async fn a_failed_import_batch_writes_nothing<D: TestDatabase>(db: &D) {
    let store = db.store();
    let mut too_long = import_row(Some("late@example.com"), None, false);
    too_long.phone = Some(PhoneNumber::from_stored("+123456789012345678901".into()));
    let batch = UserImport {
        users: vec![import_row(Some("first@example.com"), None, false), too_long],
        at: t0(),
    };
    assert!(store.import_users(&batch).await.is_err());
    assert_eq!(db.count_rows(Table::Users).await, 0);
    assert_eq!(
        store.find_user_by_email("first@example.com").await.unwrap(),
        None
    );
}

/// The admin flag changes with a user event (so caches read the user again); an
/// unknown user changes nothing.
pub async fn set_user_admin_writes_a_user_event_only_for_known_users<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "boss@example.com").await;
    let change = |user, admin| AdminChange {
        user,
        admin,
        at: t0(),
        event_expires_at: t0() + Duration::hours(1),
    };
    assert!(!store.find_user(uid).await.unwrap().unwrap().is_admin);
    assert!(store.set_user_admin(&change(uid, true)).await.unwrap());
    assert!(store.find_user(uid).await.unwrap().unwrap().is_admin);
    assert!(store.set_user_admin(&change(uid, false)).await.unwrap());
    assert!(!store.find_user(uid).await.unwrap().unwrap().is_admin);
    assert!(
        !store
            .set_user_admin(&change(UserId(777), true))
            .await
            .unwrap()
    );
    let feed = store
        .revocation_events(&RevocationCursor::default(), 100)
        .await
        .unwrap();
    let items: Vec<RevokedItem> = feed.into_iter().map(|e| e.item).collect();
    assert_eq!(items, [RevokedItem::User(uid), RevokedItem::User(uid)]);
}
