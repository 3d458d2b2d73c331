//! Direct tests of the trickiest store contract points against a temporary database file.

use std::sync::Arc;

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    AccessTokenEntry, AccessTokenStore, AuditEvent, AuditKind, AuditLog, Cleanup, CleanupPolicy,
    Error, GraceReexchange, NewRefreshToken, NewUser, RefreshTokenStore, RevocationCursor,
    RevokeReason, RevokedItem, Rotation, SessionId, TokenHash, TokenId, UserDirectory, UserId,
};
use auth_sqlite::SqliteTokenStore;
use auth_sqlite::deadpool_sqlite::rusqlite::{self, Connection};
use serde_json::json;
use tempfile::TempDir;

async fn temp_store() -> (TempDir, SqliteTokenStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteTokenStore::open(dir.path().join("auth.db"))
        .await
        .expect("open");
    (dir, store)
}

async fn query<R: Send + 'static>(
    store: &SqliteTokenStore,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
) -> R {
    let conn = store.pool().get().await.expect("connection");
    conn.interact(f).await.expect("task").expect("query")
}

async fn count(store: &SqliteTokenStore, sql: &'static str) -> i64 {
    query(store, move |c| c.query_row(sql, [], |r| r.get(0))).await
}

/// A fixed instant with a non-zero microsecond part.
fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_123_456_000).unwrap()
}

async fn user(store: &SqliteTokenStore, email: &str) -> UserId {
    let new = NewUser {
        email: email.into(),
        password_hash: Some("$pbkdf2-sha256$x".into()),
        created_at: t0(),
    };
    store.create_user(&new).await.expect("create user")
}

fn token(user: UserId, session: SessionId, generation: i32, at: OffsetDateTime) -> NewRefreshToken {
    let id = TokenId::new();
    NewRefreshToken {
        id,
        hash: TokenHash::of(id.0.as_bytes()),
        user_id: user,
        session_id: session,
        generation,
        issued_at: at,
        expires_at: at + Duration::days(14),
        session_created_at: at,
        session_expires_at: at + Duration::days(30),
        user_agent: Some("test-agent/1".into()),
        ip: Some("2001:db8::1".into()),
    }
}

fn successor_of(prev: &NewRefreshToken, at: OffsetDateTime) -> NewRefreshToken {
    let id = TokenId::new();
    NewRefreshToken {
        id,
        hash: TokenHash::of(id.0.as_bytes()),
        generation: prev.generation + 1,
        issued_at: at,
        ..prev.clone()
    }
}

#[tokio::test]
async fn records_round_trip_exactly() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "round@example.com").await;
    let t = token(uid, SessionId::new(), 0, t0());
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
    store.record_login(uid, t0()).await.unwrap();
    store
        .set_password_hash(&auth_core::PasswordChange {
            user: uid,
            password_hash: "$pbkdf2-sha256$new".into(),
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

#[tokio::test]
async fn email_taken_is_its_own_error() {
    let (_dir, store) = temp_store().await;
    user(&store, "taken@example.com").await;
    let again = NewUser {
        email: "taken@example.com".into(),
        password_hash: None,
        created_at: t0(),
    };
    assert!(matches!(
        store.create_user(&again).await,
        Err(Error::EmailTaken)
    ));
    assert_eq!(count(&store, "SELECT count(*) FROM users").await, 1);
    user(&store, "other@example.com").await;
}

#[tokio::test]
async fn foreign_keys_are_enforced() {
    let (_dir, store) = temp_store().await;
    let orphan = token(UserId(42), SessionId::new(), 0, t0());
    assert!(matches!(
        store.insert_refresh_token(&orphan).await,
        Err(Error::Storage(_))
    ));
    assert_eq!(
        count(&store, "SELECT count(*) FROM refresh_tokens").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_have_exactly_one_winner() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "race@example.com").await;
    let first = token(uid, SessionId::new(), 0, t0());
    store.insert_refresh_token(&first).await.unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let rotation = Rotation {
                current: first.id,
                successor: successor_of(&first, t0() + Duration::milliseconds(i)),
                at: t0() + Duration::seconds(1),
                grace: None,
                audit: auth_core::AuditEvent::new(
                    auth_core::AuditKind::TokenRefreshed,
                    t0() + Duration::seconds(1),
                ),
            };
            tokio::spawn(async move {
                barrier.wait().await;
                (
                    rotation.successor.id,
                    store.rotate_refresh_token(&rotation).await,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (id, result) = task.await.unwrap();
        if result.expect("no call fails") {
            winners.push(id);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one Ok(true)");
    assert_eq!(
        count(&store, "SELECT count(*) FROM refresh_tokens").await,
        2,
        "exactly one successor row"
    );
    let retired = store
        .find_refresh_token_by_id(first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retired.replaced_by, Some(winners[0]));
    assert_eq!(retired.rotated_at, Some(t0() + Duration::seconds(1)));
    let live = store
        .live_refresh_token_of_session(first.session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((live.token.id, live.token.generation), (winners[0], 1));
}

#[tokio::test]
async fn rotating_a_dead_token_writes_nothing() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "dead@example.com").await;
    let first = token(uid, SessionId::new(), 0, t0());
    store.insert_refresh_token(&first).await.unwrap();
    let second = successor_of(&first, t0());
    let rotation = Rotation {
        current: first.id,
        successor: second.clone(),
        at: t0(),
        grace: None,
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, t0()),
    };
    assert!(store.rotate_refresh_token(&rotation).await.unwrap());
    // Rotating the same (now rotated) token again.
    let again = Rotation {
        successor: successor_of(&first, t0()),
        ..rotation.clone()
    };
    assert!(!store.rotate_refresh_token(&again).await.unwrap());
    // Rotating a revoked token.
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: first.session_id,
            reason: RevokeReason::Logout,
            at: t0(),
            event_expires_at: t0(),
        })
        .await
        .unwrap();
    let revoked = Rotation {
        current: second.id,
        successor: successor_of(&second, t0()),
        at: t0(),
        grace: None,
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, t0()),
    };
    assert!(!store.rotate_refresh_token(&revoked).await.unwrap());
    // Unknown token.
    let unknown = Rotation {
        current: TokenId::new(),
        ..revoked.clone()
    };
    assert!(!store.rotate_refresh_token(&unknown).await.unwrap());
    assert_eq!(
        count(&store, "SELECT count(*) FROM refresh_tokens").await,
        2
    );
}

#[tokio::test]
async fn grace_reexchange_spends_the_predecessor_budget() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "grace@example.com").await;
    let t_0 = token(uid, SessionId::new(), 0, t0());
    store.insert_refresh_token(&t_0).await.unwrap();
    let t_1 = successor_of(&t_0, t0());
    assert!(
        store
            .rotate_refresh_token(&Rotation {
                current: t_0.id,
                successor: t_1.clone(),
                at: t0(),
                grace: None,
                audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, t0()),
            })
            .await
            .unwrap()
    );

    // t_0 presented again twice within budget 2: each time the live token is rotated
    // and t_0's replaced_by follows the new successor.
    let grace = Some(GraceReexchange {
        predecessor: t_0.id,
        max_reuse: 2,
    });
    let mut live = t_1;
    for expected_count in 1..=2 {
        let next = successor_of(&live, t0());
        let rotation = Rotation {
            current: live.id,
            successor: next.clone(),
            at: t0(),
            grace,
            audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, t0()),
        };
        assert!(store.rotate_refresh_token(&rotation).await.unwrap());
        let pred = store
            .find_refresh_token_by_id(t_0.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (pred.reuse_count, pred.replaced_by),
            (expected_count, Some(next.id))
        );
        live = next;
    }

    // The budget is spent: nothing is written, the live token stays live.
    let refused = Rotation {
        current: live.id,
        successor: successor_of(&live, t0()),
        at: t0(),
        grace,
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, t0()),
    };
    assert!(!store.rotate_refresh_token(&refused).await.unwrap());
    let still = store
        .find_refresh_token_by_id(live.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        still.is_live(),
        "rolled back: the current token was not retired"
    );
    assert_eq!(
        store
            .find_refresh_token_by_id(refused.successor.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .find_refresh_token_by_id(t_0.id)
            .await
            .unwrap()
            .unwrap()
            .reuse_count,
        2
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM refresh_tokens").await,
        4
    );
}

#[tokio::test]
async fn revoke_session_revokes_rows_disables_access_tokens_and_writes_one_event() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "revoke@example.com").await;
    let first = token(uid, SessionId::new(), 0, t0());
    let sid = first.session_id;
    store.insert_refresh_token(&first).await.unwrap();
    let second = successor_of(&first, t0());
    store
        .rotate_refresh_token(&Rotation {
            current: first.id,
            successor: second,
            at: t0(),
            grace: None,
            audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, t0()),
        })
        .await
        .unwrap();
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
    let rows: Vec<(Option<i64>, Option<String>)> = query(&store, |c| {
        c.prepare("SELECT revoked_at, revoke_reason FROM refresh_tokens")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    })
    .await;
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|(at, reason)| at.is_some() && reason.as_deref() == Some("logout"))
    );
    assert!(
        store
            .find_access_token(&entry.jti)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert_eq!(
        store.live_refresh_token_of_session(sid).await.unwrap(),
        None
    );

    let events = store
        .revocation_events(&RevocationCursor::default(), 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].user_id, &events[0].item),
        (uid, &RevokedItem::Session(sid))
    );
    assert_eq!((events[0].revoked_at, events[0].expires_at), (at, exp));

    // Again: nothing left to revoke, no new event. Unknown session: the same.
    assert!(
        !store
            .revoke_session(&auth_core::SessionRevocation {
                session: sid,
                reason: RevokeReason::Logout,
                at,
                event_expires_at: exp
            })
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_session(&auth_core::SessionRevocation {
                session: SessionId::new(),
                reason: RevokeReason::Logout,
                at,
                event_expires_at: exp
            })
            .await
            .unwrap()
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM revoked_tokens").await,
        1
    );
}

#[tokio::test]
async fn revoke_user_sessions_writes_an_event_per_session_and_moves_tokens_valid_after() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "all@example.com").await;
    let other = user(&store, "other@example.com").await;
    let sessions: Vec<NewRefreshToken> = (0..3)
        .map(|_| token(uid, SessionId::new(), 0, t0()))
        .collect();
    for t in &sessions {
        store.insert_refresh_token(t).await.unwrap();
    }
    let bystander = token(other, SessionId::new(), 0, t0());
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
    assert_eq!(
        store
            .find_user(uid)
            .await
            .unwrap()
            .unwrap()
            .tokens_valid_after,
        Some(tva)
    );

    let events = store
        .revocation_events(
            &RevocationCursor {
                after_id: 1,
                recheck_since: None,
            },
            10,
        )
        .await
        .unwrap();
    let mut items: Vec<RevokedItem> = events.into_iter().map(|e| e.item).collect();
    let user_event = items.pop().unwrap();
    assert_eq!(
        user_event,
        RevokedItem::User(uid),
        "the user event comes last"
    );
    let mut expected: Vec<RevokedItem> = sessions[..2]
        .iter()
        .map(|t| RevokedItem::Session(t.session_id))
        .collect();
    expected.sort_by_key(|i| format!("{i:?}"));
    items.sort_by_key(|i| format!("{i:?}"));
    assert_eq!(items, expected);
    let reasons: Vec<String> = query(&store, |c| {
        c.prepare("SELECT DISTINCT revoke_reason FROM refresh_tokens WHERE user_id = 1 ORDER BY 1")?
            .query_map([], |r| r.get(0))?
            .collect()
    })
    .await;
    assert_eq!(reasons, ["logout", "logout_all"]);

    // Without tokens_valid_after: session events only. Unknown user: nothing at all.
    let before = count(&store, "SELECT count(*) FROM revoked_tokens").await;
    assert_eq!(
        store
            .revoke_user_sessions(&auth_core::UserRevocation {
                user: other,
                reason: RevokeReason::UserDisabled,
                at,
                event_expires_at: at,
                tokens_valid_after: None
            })
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM revoked_tokens").await,
        before + 1
    );
    assert_eq!(
        store
            .find_user(other)
            .await
            .unwrap()
            .unwrap()
            .tokens_valid_after,
        None
    );
    assert_eq!(
        store
            .revoke_user_sessions(&auth_core::UserRevocation {
                user: UserId(999),
                reason: RevokeReason::LogoutAll,
                at,
                event_expires_at: at,
                tokens_valid_after: Some(tva)
            })
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM revoked_tokens").await,
        before + 1
    );
}

#[tokio::test]
async fn set_user_active_writes_a_user_event_only_for_known_users() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "active@example.com").await;
    assert!(
        store
            .set_user_active(&auth_core::ActivationChange {
                user: uid,
                active: false,
                at: t0(),
                event_expires_at: t0() + Duration::hours(1)
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
                event_expires_at: t0() + Duration::hours(1)
            })
            .await
            .unwrap()
    );
    assert!(store.find_user(uid).await.unwrap().unwrap().is_active);
    assert!(
        !store
            .set_user_active(&auth_core::ActivationChange {
                user: UserId(777),
                active: false,
                at: t0(),
                event_expires_at: t0()
            })
            .await
            .unwrap()
    );
    let events = store
        .revocation_events(&RevocationCursor::default(), 10)
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.item.clone()).collect::<Vec<_>>(),
        [RevokedItem::User(uid), RevokedItem::User(uid)]
    );
}

#[tokio::test]
async fn revoke_access_token_is_idempotent() {
    let (_dir, store) = temp_store().await;
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
    assert!(
        store
            .revoke_access_token(&auth_core::AccessTokenRevocation {
                jti: entry.jti.clone(),
                user: uid,
                at: t0(),
                expires_at: entry.expires_at
            })
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_access_token(&auth_core::AccessTokenRevocation {
                jti: entry.jti.clone(),
                user: uid,
                at: t0(),
                expires_at: entry.expires_at
            })
            .await
            .unwrap()
    );
    assert!(
        store
            .find_access_token(&entry.jti)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM revoked_tokens").await,
        1
    );
    // A jti that was never registered can still be denied.
    assert!(
        store
            .revoke_access_token(&auth_core::AccessTokenRevocation {
                jti: "c".to_string(),
                user: uid,
                at: t0(),
                expires_at: t0()
            })
            .await
            .unwrap()
    );
    assert_eq!(store.find_access_token("c").await.unwrap(), None);
}

#[tokio::test]
async fn revocation_events_follow_the_cursor_and_the_recheck_window() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "feed@example.com").await;
    let times: Vec<OffsetDateTime> = (0..3).map(|i| t0() + Duration::seconds(i * 10)).collect();
    for (i, at) in times.iter().enumerate() {
        store
            .revoke_access_token(&auth_core::AccessTokenRevocation {
                jti: format!("jti-{i}"),
                user: uid,
                at: *at,
                expires_at: *at + Duration::hours(1),
            })
            .await
            .unwrap();
    }
    let all = store
        .revocation_events(&RevocationCursor::default(), 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert_eq!(all[1].item, RevokedItem::Token("jti-1".into()));
    assert_eq!(all[1].revoked_at, times[1]);

    let after = |after_id, recheck_since| RevocationCursor {
        after_id,
        recheck_since,
    };
    let ids = |events: Vec<auth_core::RevocationEvent>| {
        events.into_iter().map(|e| e.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store
            .revocation_events(&after(all[1].id, None), 100)
            .await
            .unwrap()),
        [all[2].id]
    );
    assert_eq!(
        ids(store
            .revocation_events(&after(all[2].id, None), 100)
            .await
            .unwrap()),
        Vec::<i64>::new()
    );
    // The re-check window returns events at or after the instant even below the cursor.
    assert_eq!(
        ids(store
            .revocation_events(&after(all[2].id, Some(times[1])), 100)
            .await
            .unwrap()),
        [all[1].id, all[2].id]
    );
    assert_eq!(
        ids(store
            .revocation_events(&after(0, Some(times[2] + Duration::MICROSECOND)), 100)
            .await
            .unwrap()),
        [all[0].id, all[1].id, all[2].id],
        "id > after_id OR revoked_at >= recheck_since"
    );
    assert_eq!(
        ids(store.revocation_events(&after(0, None), 2).await.unwrap()),
        [all[0].id, all[1].id]
    );
    assert_eq!(
        ids(store
            .revocation_events(&after(0, Some(times[0])), 1)
            .await
            .unwrap()),
        [all[0].id]
    );
}

#[tokio::test]
async fn audit_is_newest_first_and_filters_by_user() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "audit@example.com").await;
    let sid = SessionId::new();
    for (i, kind) in [
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::TokenRefreshed,
    ]
    .into_iter()
    .enumerate()
    {
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
    let stored: String = query(&store, |c| {
        c.query_row("SELECT event_type FROM audit_logs WHERE id = 1", [], |r| {
            r.get(0)
        })
    })
    .await;
    assert_eq!(stored, "LOGIN_SUCCEEDED");
}

#[tokio::test]
async fn cleanup_counts_and_keeps_rotated_rows_of_live_sessions() {
    let (_dir, store) = temp_store().await;
    let uid = user(&store, "cleanup@example.com").await;
    let now = t0() + Duration::days(100);
    let retention = Duration::days(30);

    // A live session that started long ago: its rotated first token is kept.
    let mut live0 = token(uid, SessionId::new(), 0, now - Duration::days(40));
    live0.session_expires_at = now + Duration::days(10);
    store.insert_refresh_token(&live0).await.unwrap();
    let live1 = successor_of(&live0, now - Duration::days(39));
    store
        .rotate_refresh_token(&Rotation {
            current: live0.id,
            successor: live1,
            at: now - Duration::days(39),
            grace: None,
            audit: auth_core::AuditEvent::new(
                auth_core::AuditKind::TokenRefreshed,
                now - Duration::days(39),
            ),
        })
        .await
        .unwrap();
    // Expired beyond retention (2 rows): removed. Expired within retention: kept.
    let mut old0 = token(uid, SessionId::new(), 0, now - Duration::days(90));
    old0.session_expires_at = now - retention - Duration::MICROSECOND;
    store.insert_refresh_token(&old0).await.unwrap();
    let old1 = successor_of(&old0, now - Duration::days(80));
    store
        .rotate_refresh_token(&Rotation {
            current: old0.id,
            successor: old1,
            at: now - Duration::days(80),
            grace: None,
            audit: auth_core::AuditEvent::new(
                auth_core::AuditKind::TokenRefreshed,
                now - Duration::days(80),
            ),
        })
        .await
        .unwrap();
    let mut recent = token(uid, SessionId::new(), 0, now - Duration::days(50));
    recent.session_expires_at = now - retention + Duration::MICROSECOND;
    store.insert_refresh_token(&recent).await.unwrap();
    // Revoked beyond retention: removed (1 row). Revoked within retention: kept.
    let revoked_old = token(uid, SessionId::new(), 0, now - Duration::days(35));
    store.insert_refresh_token(&revoked_old).await.unwrap();
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: revoked_old.session_id,
            reason: RevokeReason::Logout,
            at: now - Duration::days(31),
            event_expires_at: now - Duration::seconds(1),
        })
        .await
        .unwrap();
    let revoked_new = token(uid, SessionId::new(), 0, now - Duration::days(2));
    store.insert_refresh_token(&revoked_new).await.unwrap();
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: revoked_new.session_id,
            reason: RevokeReason::Logout,
            at: now - Duration::days(1),
            event_expires_at: now + Duration::seconds(1),
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
    assert_eq!(
        count(&store, "SELECT count(*) FROM refresh_tokens").await,
        7
    );

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
    let kept: Vec<Vec<u8>> = query(&store, |c| {
        c.prepare("SELECT id FROM refresh_tokens ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect()
    })
    .await;
    assert_eq!(kept.len(), 4);
    assert!(
        store
            .find_refresh_token_by_id(live0.id)
            .await
            .unwrap()
            .is_some(),
        "rotated row of a live session kept"
    );
    assert!(
        store
            .find_refresh_token_by_id(recent.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_refresh_token_by_id(revoked_new.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_refresh_token_by_id(old0.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_refresh_token_by_id(revoked_old.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.find_access_token("valid").await.unwrap().is_some());
    assert_eq!(
        count(&store, "SELECT count(*) FROM revoked_tokens").await,
        1
    );

    // Nothing more to do; a larger batch gives the same answer.
    assert_eq!(
        store
            .cleanup(
                &CleanupPolicy {
                    retention,
                    batch_size: 1000
                },
                now
            )
            .await
            .unwrap()
            .total(),
        0
    );
}
