//! The batched cleanup against a real PostgreSQL: keyset batches across equal keys,
//! every rule at once, and the per-batch durability setting staying inside its batch.

use auth_conformance::TestDatabase;
use auth_core::{
    AccessTokenEntry, AccessTokenStore, CleanupPolicy, NewUser, SessionId, UserDirectory,
};
use auth_postgres::PgTokenStore;
use auth_postgres::TestDb;
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    OffsetDateTime::from_unix_timestamp(t.unix_timestamp()).unwrap()
}

/// `n` refresh-token rows (one session each) of `user`, all with the same session expiry.
async fn sessions_expiring_at(store: &PgTokenStore, user: i64, n: i64, at: OffsetDateTime) {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, issued_at, expires_at, \
             session_created_at, session_expires_at) \
         SELECT gen_random_uuid(), $1, gen_random_uuid(), 0, sha256(convert_to(gen_random_uuid()::text, 'UTF8')), \
             $2 - interval '30 days', $2, $2 - interval '30 days', $2 \
         FROM generate_series(1, $3)",
    )
    .bind(user)
    .bind(at)
    .bind(n)
    .execute(store.pool())
    .await
    .expect("insert rows");
}

async fn count(store: &PgTokenStore, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn batches_walk_every_rule_across_equal_keys() {
    let db = TestDb::create().await;
    let store = db.store();
    let user = store
        .create_user(&NewUser {
            email: "cleanup@example.com".into(),
            password_hash: None,
            created_at: now(),
        })
        .await
        .expect("user");
    let t = now();
    // 2500 rows sharing one expiry (ties across batch boundaries), 700 sharing another,
    // 300 just inside retention, 400 alive.
    sessions_expiring_at(&store, user.0, 2500, t - Duration::days(90)).await;
    sessions_expiring_at(&store, user.0, 700, t - Duration::days(31)).await;
    sessions_expiring_at(&store, user.0, 300, t - Duration::days(29)).await;
    sessions_expiring_at(&store, user.0, 400, t + Duration::days(10)).await;
    // 150 of the alive ones were revoked 40 days ago, 50 five days ago.
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1, revoke_reason = 'logout' WHERE id IN \
         (SELECT id FROM refresh_tokens WHERE session_expires_at > now() AND revoked_at IS NULL LIMIT 150)",
    )
    .bind(t - Duration::days(40))
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1, revoke_reason = 'logout' WHERE id IN \
         (SELECT id FROM refresh_tokens WHERE session_expires_at > now() AND revoked_at IS NULL LIMIT 50)",
    )
    .bind(t - Duration::days(5))
    .execute(store.pool())
    .await
    .unwrap();
    // Allowlist and denylist rows, half expired.
    for i in 0..30 {
        let expires_at = if i % 2 == 0 {
            t - Duration::minutes(1)
        } else {
            t + Duration::minutes(10)
        };
        let entry = AccessTokenEntry {
            jti: format!("jti-{i}"),
            user_id: user,
            session_id: SessionId::new(),
            issued_at: t - Duration::minutes(20),
            expires_at,
            disabled: false,
        };
        store.register_access_token(&entry).await.expect("register");
        store
            .revoke_access_token(&auth_core::AccessTokenRevocation {
                jti: entry.jti.clone(),
                user,
                at: t - Duration::minutes(20),
                expires_at,
            })
            .await
            .expect("revoke");
    }

    let policy = CleanupPolicy {
        retention: Duration::days(30),
        batch_size: 1000,
        ..CleanupPolicy::default()
    };
    let (report, stats) = store.cleanup_with_stats(&policy, t).await.expect("cleanup");

    assert_eq!(report.refresh_tokens, 2500 + 700 + 150);
    assert_eq!(report.access_tokens, 15);
    assert_eq!(report.revoked_tokens, 15);
    assert!(
        stats.batches >= 7,
        "4 + 1 + 1 + 1 batches at least: {stats:?}"
    );
    assert_eq!(
        count(&store, "SELECT count(*) FROM refresh_tokens").await,
        300 + 400 - 150
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NOT NULL"
        )
        .await,
        50,
        "recently revoked sessions are kept"
    );
    // A second run finds nothing.
    let (again, _) = store.cleanup_with_stats(&policy, t).await.expect("cleanup");
    assert_eq!(again.total(), 0);
    // And a batch size of 1 walks the same rows.
    sessions_expiring_at(&store, user.0, 5, t - Duration::days(60)).await;
    let one = CleanupPolicy {
        retention: Duration::days(30),
        batch_size: 1,
        ..CleanupPolicy::default()
    };
    let (report, stats) = store.cleanup_with_stats(&one, t).await.expect("cleanup");
    assert_eq!(report.refresh_tokens, 5);
    assert!(stats.batches >= 6);
    db.teardown().await;
}

/// Cleanup switches off the WAL-flush wait for its own batches only: the pooled
/// connections it used still commit synchronously afterwards.
#[tokio::test]
async fn the_durability_setting_never_leaks_to_pooled_connections() {
    let db = TestDb::create().await;
    let one_connection = PgTokenStore::from_pool(
        PgTokenStore::pool_options()
            .max_connections(1)
            .connect_with(db.options())
            .await
            .expect("pool"),
    );
    let user = one_connection
        .create_user(&NewUser {
            email: "leak@example.com".into(),
            password_hash: None,
            created_at: now(),
        })
        .await
        .expect("user");
    sessions_expiring_at(&one_connection, user.0, 10, now() - Duration::days(60)).await;
    let policy = CleanupPolicy {
        retention: Duration::days(30),
        batch_size: 3,
        ..CleanupPolicy::default()
    };
    let report = auth_core::Cleanup::cleanup(&one_connection, &policy, now())
        .await
        .expect("cleanup");
    assert_eq!(report.refresh_tokens, 10);
    let setting: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(one_connection.pool())
        .await
        .expect("show");
    assert_eq!(setting, "on");
    db.teardown().await;
}
