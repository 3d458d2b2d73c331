//! The embedded migrations against a real PostgreSQL: up on an empty database, down to
//! zero and up again, re-running up changes nothing, and the seed-003 cleanup function.

use auth_conformance::TestDatabase;
use auth_core::{Cleanup, CleanupPolicy, RefreshTokenStore, UserDirectory};
use auth_postgres::TestDb;
use auth_postgres::{MIGRATOR, PgTokenStore};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};

const TABLES: [&str; 7] = [
    "audit_logs",
    "auth_schema_adoptions",
    "auth_user_tokens",
    "one_time_codes",
    "refresh_tokens",
    "revoked_tokens",
    "users",
];

/// Every schema object of `public` except sqlx's bookkeeping table, with its definition,
/// so two snapshots differ if anything was created, dropped or changed.
async fn schema(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT kind || ' ' || name || ' ' || coalesce(def, '') FROM ( \
             SELECT 'column' AS kind, table_name || '.' || column_name AS name, \
                    data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') \
                    || ' ' || coalesce(generation_expression, '') AS def \
             FROM information_schema.columns WHERE table_schema = 'public' \
               AND table_name <> '_sqlx_migrations' \
             UNION ALL \
             SELECT 'index', indexname, indexdef FROM pg_indexes \
             WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations' \
             UNION ALL \
             SELECT 'constraint', conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
               AND conrelid::regclass::text <> '_sqlx_migrations' \
             UNION ALL \
             SELECT 'function', p.oid::regprocedure::text, md5(p.prosrc) FROM pg_proc p \
             WHERE p.pronamespace = 'public'::regnamespace \
             UNION ALL \
             SELECT 'trigger', tgrelid::regclass::text || '.' || tgname, pg_get_triggerdef(oid) \
             FROM pg_trigger WHERE NOT tgisinternal \
         ) objects ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("read the schema")
}

async fn public_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("list tables")
}

async fn applied_versions(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .expect("read _sqlx_migrations")
}

#[tokio::test]
async fn up_on_an_empty_database_creates_the_schema() {
    let db = TestDb::create_unmigrated().await;
    let pool = db.store().pool().clone();
    assert!(public_tables(&pool).await.is_empty());

    MIGRATOR.run(&pool).await.expect("migrate up");

    assert_eq!(public_tables(&pool).await, TABLES);
    let all: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    assert_eq!(applied_versions(&pool).await, all);
    assert!(all.len() >= 4, "every migration is embedded: {all:?}");
    let schema = schema(&pool).await;
    for expected in [
        "index refresh_tokens_token_hash_key",
        "index refresh_tokens_live_session_key",
        "index refresh_tokens_session_expires_at_idx",
        "index revoked_tokens_jti_key",
        "index users_email_key",
        "index users_phone_number_key",
        "index audit_logs_user_id_created_at_idx",
        "index audit_logs_event_type_created_at_idx",
        "function cleanup_expired_refresh_tokens(integer)",
        "trigger revoked_tokens.revoked_tokens_notify",
        "column refresh_tokens.revoked boolean",
    ] {
        assert!(
            schema.iter().any(|o| o.starts_with(expected)),
            "missing {expected}"
        );
    }
    db.teardown().await;
}

#[tokio::test]
async fn down_to_zero_removes_everything_and_up_again_restores_it() {
    let db = TestDb::create().await;
    let pool = db.store().pool().clone();
    let migrated = schema(&pool).await;
    // Some data, so the downs are tested against a database in use.
    let user = db
        .store()
        .create_user(&new_user("a@example.com"))
        .await
        .expect("create user");
    db.store()
        .insert_refresh_token(&token(user, OffsetDateTime::now_utc()))
        .await
        .expect("insert");

    MIGRATOR.undo(&pool, 0).await.expect("migrate down to zero");

    assert!(
        public_tables(&pool).await.is_empty(),
        "tables left: {:?}",
        public_tables(&pool).await
    );
    assert!(
        schema(&pool).await.is_empty(),
        "objects left: {:?}",
        schema(&pool).await
    );
    assert!(applied_versions(&pool).await.is_empty());

    MIGRATOR.run(&pool).await.expect("migrate up again");
    assert_eq!(schema(&pool).await, migrated);
    db.teardown().await;
}

#[tokio::test]
async fn each_down_reverts_only_its_own_up() {
    let db = TestDb::create().await;
    let pool = db.store().pool().clone();
    let ups: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    let mut snapshots = Vec::new();
    for (i, _) in ups.iter().enumerate().rev() {
        snapshots.push(schema(&pool).await);
        let target = if i == 0 { 0 } else { ups[i - 1] };
        MIGRATOR.undo(&pool, target).await.expect("one step down");
        assert_eq!(applied_versions(&pool).await, ups[..i]);
    }
    assert!(schema(&pool).await.is_empty());
    for (i, version) in ups.iter().enumerate() {
        MIGRATOR.run_to(*version, &pool).await.expect("one step up");
        assert_eq!(applied_versions(&pool).await, ups[..=i]);
    }
    assert_eq!(schema(&pool).await, snapshots[0]);
    db.teardown().await;
}

#[tokio::test]
async fn rerunning_up_changes_nothing() {
    let db = TestDb::create().await;
    let pool = db.store().pool().clone();
    let user = db
        .store()
        .create_user(&new_user("b@example.com"))
        .await
        .expect("create user");
    let before = (schema(&pool).await, applied_versions(&pool).await);

    MIGRATOR.run(&pool).await.expect("second run");
    db.store().migrate().await.expect("third run");

    assert_eq!((schema(&pool).await, applied_versions(&pool).await), before);
    assert!(
        db.store().find_user(user).await.expect("find").is_some(),
        "data survives"
    );

    // The SQL files themselves are idempotent too (IF NOT EXISTS / OR REPLACE), as the
    // seed's guide promises for running them by hand a second time.
    for migration in MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        sqlx::raw_sql(sqlx::AssertSqlSafe(migration.sql.as_str().to_owned()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("re-running {} by hand: {e}", migration.description));
    }
    assert_eq!(schema(&pool).await, before.0);
    db.teardown().await;
}

fn new_user(email: &str) -> auth_core::NewUser {
    auth_core::NewUser {
        email: email.into(),
        password_hash: None,
        created_at: OffsetDateTime::now_utc(),
    }
}

fn token(
    user: auth_core::UserId,
    session_expires_at: OffsetDateTime,
) -> auth_core::NewRefreshToken {
    let now = OffsetDateTime::now_utc();
    auth_core::NewRefreshToken {
        id: auth_core::TokenId::new(),
        hash: auth_core::RefreshToken::generate().hash(),
        user_id: user,
        session_id: auth_core::SessionId::new(),
        generation: 0,
        issued_at: now - Duration::days(400),
        expires_at: session_expires_at.min(now + Duration::days(14)),
        session_created_at: now - Duration::days(400),
        session_expires_at,
        user_agent: Some("test".into()),
        ip: Some("127.0.0.1".into()),
        client_id: None,
        scope: None,
        device: Default::default(),
    }
}

/// Rows of every kind around the 30-day cutoff; returns how many must go.
async fn seed_cleanup_rows(store: &PgTokenStore) -> i64 {
    let user = store
        .create_user(&new_user("c@example.com"))
        .await
        .expect("create user");
    let now = OffsetDateTime::now_utc();
    let mut doomed = 0;
    // Sessions that expired long ago (gone), recently (kept), or are alive (kept).
    for days in [-90, -45, -31] {
        store
            .insert_refresh_token(&token(user, now + Duration::days(days)))
            .await
            .expect("insert");
        doomed += 1;
    }
    for days in [-29, -1, 10] {
        store
            .insert_refresh_token(&token(user, now + Duration::days(days)))
            .await
            .expect("insert");
    }
    // A live session whose token was rotated: both rows kept (reuse detection).
    let first = token(user, now + Duration::days(10));
    store.insert_refresh_token(&first).await.expect("insert");
    let mut next = token(user, first.session_expires_at);
    next.session_id = first.session_id;
    next.generation = 1;
    let rotation = auth_core::Rotation {
        current: first.id,
        successor: next,
        at: now,
        successor_seed: auth_core::SuccessorSeed::generate(),
        audit: auth_core::AuditEvent::new(auth_core::AuditKind::TokenRefreshed, now),
    };
    assert!(store.rotate_refresh_token(&rotation).await.expect("rotate"));
    // Sessions revoked 40 days ago (gone) and 5 days ago (kept).
    for (days, goes) in [(-40, true), (-5, false)] {
        let t = token(user, now + Duration::days(10));
        store.insert_refresh_token(&t).await.expect("insert");
        let at = now + Duration::days(days);
        store
            .revoke_session(&auth_core::SessionRevocation {
                session: t.session_id,
                reason: auth_core::RevokeReason::Logout,
                at,
                event_expires_at: at,
            })
            .await
            .expect("revoke");
        doomed += i64::from(goes);
    }
    doomed
}

#[tokio::test]
async fn the_seed_cleanup_function_returns_the_number_of_rows_removed() {
    let db = TestDb::create().await;
    let pool = db.store().pool().clone();
    assert_eq!(
        sqlx::query_scalar::<_, i32>("SELECT cleanup_expired_refresh_tokens(30)")
            .fetch_one(&pool)
            .await
            .unwrap(),
        0
    );

    let doomed = seed_cleanup_rows(&db.store()).await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();

    let removed: i32 = sqlx::query_scalar("SELECT cleanup_expired_refresh_tokens(30)")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(i64::from(removed), doomed);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, before - doomed);
    assert_eq!(
        sqlx::query_scalar::<_, i32>("SELECT cleanup_expired_refresh_tokens(30)")
            .fetch_one(&pool)
            .await
            .unwrap(),
        0
    );
    // Seed 003's monitoring query works against the schema as written there.
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refresh_tokens WHERE revoked = false AND expires_at > NOW()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(live > 0);
    assert!(
        sqlx::query("SELECT cleanup_expired_refresh_tokens(-1)")
            .execute(&pool)
            .await
            .is_err()
    );
    db.teardown().await;
}

#[tokio::test]
async fn the_function_and_the_batched_store_cleanup_remove_the_same_rows() {
    let a = TestDb::create().await;
    let b = TestDb::create().await;
    let doomed_a = seed_cleanup_rows(&a.store()).await;
    let doomed_b = seed_cleanup_rows(&b.store()).await;
    assert_eq!(doomed_a, doomed_b);

    let by_function: i32 = sqlx::query_scalar("SELECT cleanup_expired_refresh_tokens(30)")
        .fetch_one(a.store().pool())
        .await
        .unwrap();
    let policy = CleanupPolicy {
        retention: Duration::days(30),
        batch_size: 2,
        ..CleanupPolicy::default()
    };
    let report = b
        .store()
        .cleanup(&policy, OffsetDateTime::now_utc())
        .await
        .expect("cleanup");

    assert_eq!(i64::from(by_function), doomed_a);
    assert_eq!(report.refresh_tokens as i64, doomed_b);
    let remaining = |db: &TestDb| {
        let pool = db.store().pool().clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT generation || ' ' || session_expires_at::date || ' ' || coalesce(revoke_reason, '-') \
                 FROM refresh_tokens ORDER BY 1",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(remaining(&a).await.len(), remaining(&b).await.len());
    a.teardown().await;
    b.teardown().await;
}
