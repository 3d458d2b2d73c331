//! Strictness: every pooled connection runs in strict `sql_mode` and UTC, values longer
//! than their column are refused before they reach the database (and change nothing),
//! values that just fit round-trip exactly, lookups compare bytes.

use auth_conformance::TestDatabase;
use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    AccessTokenEntry, AccessTokenStore, AuditEvent, AuditKind, AuditLog, Error, NewRefreshToken,
    NewUser, RefreshToken, RefreshTokenStore, Rotation, SessionId, TokenId, UserDirectory, UserId,
};
use auth_mysql::TestDb;
use auth_mysql::{MySqlOptions, MySqlTokenStore};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use mysql_async::prelude::Queryable;

#[derive(QueryableByName)]
struct Session {
    #[diesel(sql_type = Text)]
    sql_mode: String,
    #[diesel(sql_type = Text)]
    time_zone: String,
}

async fn session_of(conn: &mut auth_mysql::MySqlConnection) -> Session {
    diesel::sql_query("SELECT @@SESSION.sql_mode AS sql_mode, @@SESSION.time_zone AS time_zone")
        .get_result(conn)
        .await
        .expect("session variables")
}

fn assert_strict(s: &Session) {
    for mode in [
        "STRICT_ALL_TABLES",
        "NO_ZERO_DATE",
        "NO_ZERO_IN_DATE",
        "ERROR_FOR_DIVISION_BY_ZERO",
        "NO_ENGINE_SUBSTITUTION",
    ] {
        assert!(
            s.sql_mode.split(',').any(|m| m == mode),
            "{mode} missing from {}",
            s.sql_mode
        );
    }
    assert_eq!(s.time_zone, "+00:00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pooled_connection_is_strict_and_utc() {
    let db = TestDb::create().await;
    let mut options = MySqlOptions::new(db.url());
    options.max_connections = 4;
    let store = MySqlTokenStore::connect_with(&options)
        .await
        .expect("store");
    for _round in 0..3 {
        // Hold all four at once so the pool opens (then reuses) four distinct connections.
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(store.pool().get().await.expect("pooled connection"));
        }
        for conn in &mut held {
            assert_strict(&session_of(conn).await);
        }
    }
    assert_eq!(store.pool().status().size, 4);
    assert_strict(
        &session_of(&mut auth_mysql::establish(db.url()).await.expect("establish")).await,
    );

    // The same over-long INSERT: truncated with a warning in the server's lax mode,
    // refused on the store's connections.
    let mut raw = db.raw().await;
    raw.query_drop("CREATE TABLE strict_probe (v VARCHAR(4)); SET SESSION sql_mode = ''")
        .await
        .expect("probe");
    raw.query_drop("INSERT INTO strict_probe VALUES ('truncated')")
        .await
        .expect("lax mode truncates");
    let stored: Option<String> = raw
        .query_first("SELECT v FROM strict_probe")
        .await
        .expect("probe");
    assert_eq!(stored.as_deref(), Some("trun"));
    let mut pooled = store.pool().get().await.expect("pooled connection");
    let refused = diesel::sql_query("INSERT INTO strict_probe VALUES ('truncated')")
        .execute(&mut pooled)
        .await;
    assert!(
        refused.is_err(),
        "strict mode refuses what lax mode truncates"
    );
    let refused = diesel::sql_query("INSERT INTO strict_probe VALUES (1 / 0)")
        .execute(&mut pooled)
        .await;
    assert!(refused.is_err(), "division by zero is an error");
    drop(pooled);
    raw.disconnect().await.expect("disconnect");
    store.pool().close();
    db.teardown().await;
}

fn now() -> OffsetDateTime {
    // Microseconds, as the store keeps them.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .expect("time")
}

fn refresh_row(user: UserId, user_agent: Option<String>, ip: Option<String>) -> NewRefreshToken {
    let at = now();
    NewRefreshToken {
        id: TokenId::new(),
        hash: RefreshToken::generate().hash(),
        user_id: user,
        session_id: SessionId::new(),
        generation: 0,
        issued_at: at,
        expires_at: at + Duration::days(14),
        session_created_at: at,
        session_expires_at: at + Duration::days(30),
        user_agent,
        ip,
        client_id: None,
        scope: None,
        device: Default::default(),
    }
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: auth_core::Result<T>, field: &str) {
    match result {
        Err(Error::InvalidInput { field: f, reason }) => {
            assert_eq!(f, field);
            assert!(reason.starts_with("must be at most"), "{reason}");
        }
        other => panic!("expected InvalidInput for {field}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_long_values_are_refused_and_change_nothing() {
    let db = TestDb::create().await;
    let store = db.store();
    let at = now();
    let uid = store
        .create_user(&NewUser {
            email: "long@example.com".into(),
            password_hash: None,
            created_at: at,
        })
        .await
        .expect("user");
    let live = refresh_row(uid, None, None);
    store.insert_refresh_token(&live).await.expect("live token");
    let before = db.dump_cells().await;

    let long_email = format!("{}@example.com", "a".repeat(243));
    assert_eq!(long_email.len(), 255);
    assert_refused(
        store
            .create_user(&NewUser {
                email: long_email.clone(),
                password_hash: None,
                created_at: at,
            })
            .await,
        "email",
    );
    assert_refused(
        store
            .create_user(&NewUser {
                email: "phc@example.com".into(),
                password_hash: Some("$".repeat(256)),
                created_at: at,
            })
            .await,
        "password_hash",
    );
    assert_refused(
        store
            .set_password_hash(&auth_core::PasswordChange {
                user: uid,
                password_hash: "x".repeat(256),
                at,
            })
            .await,
        "password_hash",
    );
    assert_refused(
        store
            .insert_refresh_token(&refresh_row(uid, Some("é".repeat(513)), None))
            .await,
        "user_agent",
    );
    assert_refused(
        store
            .insert_refresh_token(&refresh_row(uid, None, Some("1".repeat(46))))
            .await,
        "ip",
    );
    let mut long_device = refresh_row(uid, None, None);
    long_device.device.device_name = Some("é".repeat(129));
    assert_refused(
        store.insert_refresh_token(&long_device).await,
        "device_name",
    );
    let mut wide_jkt = refresh_row(uid, None, None);
    wide_jkt.device.dpop_jkt = Some("ｊ".into());
    assert_refused(store.insert_refresh_token(&wide_jkt).await, "dpop_jkt");
    assert_refused(
        store
            .insert_refresh_token(&refresh_row(uid, None, Some("１.２.３.４".into())))
            .await,
        "ip",
    );
    let rotation = Rotation {
        current: live.id,
        successor: NewRefreshToken {
            generation: 1,
            ..refresh_row(uid, Some("u".repeat(600)), None)
        },
        successor_seed: auth_core::SuccessorSeed::generate(),
        at,
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, at),
    };
    assert_refused(store.rotate_refresh_token(&rotation).await, "user_agent");
    let entry = AccessTokenEntry {
        jti: "j".repeat(65),
        user_id: uid,
        session_id: live.session_id,
        issued_at: at,
        expires_at: at + Duration::minutes(15),
        disabled: false,
    };
    assert_refused(store.register_access_token(&entry).await, "jti");
    assert_refused(
        store
            .revoke_access_token(&auth_core::AccessTokenRevocation {
                jti: entry.jti.clone(),
                user: uid,
                at,
                expires_at: at,
            })
            .await,
        "jti",
    );
    let event = AuditEvent {
        kind: AuditKind::LoginFailed,
        user_id: None,
        session_id: None,
        ip: None,
        user_agent: Some("a".repeat(513)),
        details: serde_json::json!({}),
        at,
    };
    assert_refused(store.append_audit(&event).await, "user_agent");
    // Lookups of values that cannot be stored find nothing, without an error.
    assert!(
        store
            .find_user_by_email(&long_email)
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        store
            .find_access_token(&entry.jti)
            .await
            .expect("lookup")
            .is_none()
    );

    assert_eq!(db.dump_cells().await, before, "no row changed");
    let still = store
        .find_refresh_token_by_id(live.id)
        .await
        .expect("find")
        .expect("row");
    assert!(still.is_live(), "the refused rotation left the token live");
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_that_just_fit_round_trip_exactly() {
    let db = TestDb::create().await;
    let store = db.store();
    let at = now();
    // 254 bytes of email, 255 characters of PHC string.
    let email = format!("{}@example.com", "b".repeat(242));
    assert_eq!(email.len(), 254);
    let phc = "p".repeat(255);
    let uid = store
        .create_user(&NewUser {
            email: email.clone(),
            password_hash: Some(phc.clone()),
            created_at: at,
        })
        .await
        .expect("user");
    let user = store
        .find_user_by_email(&email)
        .await
        .expect("find")
        .expect("user");
    assert_eq!(
        (
            user.id,
            user.email.as_deref(),
            user.password_hash.as_deref()
        ),
        (uid, Some(email.as_str()), Some(phc.as_str()))
    );
    // 512 characters of four-byte UTF-8, a 45-character IPv6 text, microsecond times.
    let ua = "𝄞".repeat(512);
    let ip = "0000:0000:0000:0000:0000:ffff:192.168.100.228".to_owned();
    assert_eq!(ip.len(), 45);
    let mut row = refresh_row(uid, Some(ua), Some(ip));
    row.issued_at =
        OffsetDateTime::from_unix_timestamp_nanos(1_767_225_600_123_456_000).expect("time");
    store.insert_refresh_token(&row).await.expect("insert");
    let found = store
        .find_refresh_token(&row.hash)
        .await
        .expect("find")
        .expect("row");
    assert_eq!(found.token, row);
    let jti = "é".repeat(32);
    assert_eq!(jti.len(), 64);
    let entry = AccessTokenEntry {
        jti: jti.clone(),
        user_id: uid,
        session_id: row.session_id,
        issued_at: at,
        expires_at: at + Duration::minutes(15),
        disabled: false,
    };
    store.register_access_token(&entry).await.expect("register");
    assert_eq!(
        store.find_access_token(&jti).await.expect("find"),
        Some(entry)
    );
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_compare_bytes_not_collations() {
    let db = TestDb::create().await;
    let store = db.store();
    let at = now();
    let uid = store
        .create_user(&NewUser {
            email: "case@example.com".into(),
            password_hash: None,
            created_at: at,
        })
        .await
        .expect("user");
    // A case-insensitive or space-padding collation would match these.
    for other in ["CASE@example.com", "case@example.com ", "case@exämple.com"] {
        assert!(
            store
                .find_user_by_email(other)
                .await
                .expect("lookup")
                .is_none(),
            "{other:?}"
        );
    }
    store
        .create_user(&NewUser {
            email: "CASE@example.com".into(),
            password_hash: None,
            created_at: at,
        })
        .await
        .expect(
            "a differently cased email is another email to the store (auth-core normalises first)",
        );
    assert!(matches!(
        store
            .create_user(&NewUser {
                email: "case@example.com".into(),
                password_hash: None,
                created_at: at
            })
            .await,
        Err(Error::EmailTaken)
    ));
    let entry = AccessTokenEntry {
        jti: "abcdef".into(),
        user_id: uid,
        session_id: SessionId::new(),
        issued_at: at,
        expires_at: at + Duration::minutes(15),
        disabled: false,
    };
    store.register_access_token(&entry).await.expect("register");
    for other in ["ABCDEF", "abcdef ", "abcdé"] {
        assert!(
            store
                .find_access_token(other)
                .await
                .expect("lookup")
                .is_none(),
            "{other:?}"
        );
    }
    assert!(
        store
            .find_access_token("abcdef")
            .await
            .expect("lookup")
            .is_some()
    );
    db.teardown().await;
}
