//! Revocation push through LISTEN/NOTIFY between two service instances on two pools.
//! Both caches are configured with a maximum staleness of one hour, so nothing but the
//! push (or the listener's cursor sync after a reconnect) can explain a revocation
//! becoming visible.

use std::time::{Duration as StdDuration, Instant};

use auth_conformance::TestDatabase;
use auth_core::{
    ClientInfo, Error, Keyring, KeyringSpec, PasswordPolicy, RevocationMode, SigningAlgorithm,
    TokenRejection, TokenService, TokenServiceConfig,
};
use auth_postgres::TestDb;
use auth_postgres::{PgRevocationListener, PgTokenStore};
use time::Duration;

fn service(store: PgTokenStore, spec: &KeyringSpec) -> TokenService<PgTokenStore> {
    let mut cfg = TokenServiceConfig::new("https://push.test", "push-api");
    cfg.revocation_mode = RevocationMode::Denylist;
    cfg.cache_max_staleness = Duration::hours(1);
    cfg.password = PasswordPolicy {
        pbkdf2_rounds: 1_000,
        ..PasswordPolicy::default()
    };
    TokenService::builder(store, Keyring::from_spec(spec).expect("keyring"), cfg)
        .build()
        .expect("service")
}

struct Instances {
    db: TestDb,
    a: TokenService<PgTokenStore>,
    b: TokenService<PgTokenStore>,
}

/// Instance A on the test database's pool, instance B on a second pool of its own.
async fn instances() -> Instances {
    let db = TestDb::create().await;
    let spec = KeyringSpec::generate("push-1", SigningAlgorithm::HS256).expect("keys");
    let a = service(db.store(), &spec);
    let b = service(db.another_store().await, &spec);
    a.register("push@example.com", "correct horse battery")
        .await
        .expect("register");
    Instances { db, a, b }
}

async fn login(svc: &TokenService<PgTokenStore>) -> auth_core::TokenPair {
    svc.login(
        "push@example.com",
        "correct horse battery",
        &ClientInfo::default(),
    )
    .await
    .expect("login")
}

fn is_rejected(result: auth_core::Result<auth_core::Authenticated>) -> bool {
    matches!(
        result,
        Err(Error::InvalidToken(
            TokenRejection::Revoked | TokenRejection::SessionRevoked
        ))
    )
}

async fn wait_until(
    deadline: StdDuration,
    mut check: impl AsyncFnMut() -> bool,
) -> Option<StdDuration> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_pool_reaches_a_cache_on_another_pool_within_a_second() {
    let Instances { db, a, b } = instances().await;
    let control = login(&a).await;
    let pushed = login(&a).await;
    b.authenticate(&control.access_token)
        .await
        .expect("B accepts the token and has synced its cache");

    // Control: without the listener, B keeps answering from its hour-fresh cache.
    let auth = a
        .authenticate(&control.access_token)
        .await
        .expect("A accepts");
    a.logout(&auth, &ClientInfo::default())
        .await
        .expect("logout");
    assert!(
        is_rejected(a.authenticate(&control.access_token).await),
        "A applied its own revocation"
    );
    tokio::time::sleep(StdDuration::from_millis(300)).await;
    b.authenticate(&control.access_token)
        .await
        .expect("B has not polled: nothing told it yet");

    let listener = PgRevocationListener::start(b.store().pool(), b.clone())
        .await
        .expect("listener");
    // Starting syncs once, which picks up the revocation made before.
    assert!(is_rejected(b.authenticate(&control.access_token).await));
    b.authenticate(&pushed.access_token)
        .await
        .expect("the other session is fine");
    let notifications = listener.notifications();

    let auth = a
        .authenticate(&pushed.access_token)
        .await
        .expect("A accepts");
    a.logout(&auth, &ClientInfo::default())
        .await
        .expect("logout");
    let seen = wait_until(StdDuration::from_secs(1), async || {
        b.revocation_cache().is_session_revoked(&pushed.session_id)
    })
    .await;
    let elapsed = seen.expect("B's cache learned of the revocation within one second, by push");
    assert!(is_rejected(b.authenticate(&pushed.access_token).await));
    assert!(
        listener.notifications() > notifications,
        "it came by NOTIFY"
    );
    eprintln!("revocation visible on the other pool after {elapsed:?}");

    drop(listener);
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_all_and_deactivation_reach_the_other_cache_by_push() {
    let Instances { db, a, b } = instances().await;
    let pair = login(&a).await;
    b.authenticate(&pair.access_token).await.expect("B accepts");
    let _listener = PgRevocationListener::start(b.store().pool(), b.clone())
        .await
        .expect("listener");

    a.set_user_active(pair.user_id, false)
        .await
        .expect("deactivate");
    let seen = wait_until(StdDuration::from_secs(1), async || {
        matches!(
            b.authenticate(&pair.access_token).await,
            Err(Error::InvalidToken(TokenRejection::UserInactive))
        )
    })
    .await;
    assert!(seen.is_some(), "deactivation pushed");

    a.set_user_active(pair.user_id, true)
        .await
        .expect("reactivate");
    let fresh = login(&a).await;
    let seen = wait_until(StdDuration::from_secs(1), async || {
        b.authenticate(&fresh.access_token).await.is_ok()
    })
    .await;
    assert!(
        seen.is_some(),
        "reactivation pushed: {:?}",
        b.authenticate(&fresh.access_token).await
    );

    a.logout_all(pair.user_id, &ClientInfo::default())
        .await
        .expect("logout-all");
    let seen = wait_until(StdDuration::from_secs(1), async || {
        matches!(
            b.authenticate(&fresh.access_token).await,
            Err(Error::InvalidToken(
                TokenRejection::IssuedBeforeValidAfter | TokenRejection::SessionRevoked
            ))
        )
    })
    .await;
    assert!(seen.is_some(), "logout-all pushed");
    db.teardown().await;
}

async fn listener_pid(db: &TestDb) -> Option<i32> {
    let mut admin = TestDb::admin_connection().await;
    sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE datname = $1 AND application_name = 'auth-postgres-revocation-listener'",
    )
    .bind(db.name())
    .fetch_optional(&mut admin)
    .await
    .expect("pg_stat_activity")
}

/// The listening connection is killed and cannot come back for a while; a revocation
/// made meanwhile (its NOTIFY reaches nobody) still reaches B's cache, through the
/// listener's cursor sync once it has reconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_dropped_connection_the_listener_reconnects_and_syncs_from_the_cursor() {
    let Instances { db, a, b } = instances().await;
    let pair = login(&a).await;
    b.authenticate(&pair.access_token).await.expect("B accepts");
    let listener = PgRevocationListener::start(b.store().pool(), b.clone())
        .await
        .expect("listener");
    let pid = listener_pid(&db)
        .await
        .expect("the listener's backend is visible");

    // No new connections to the test database for now; A and B keep the ones they have
    // open, so first make sure they have a few.
    for store in [a.store(), b.store()] {
        let busy = (0..4).map(|_| sqlx::query("SELECT pg_sleep(0.1)").execute(store.pool()));
        for result in futures::future::join_all(busy).await {
            result.expect("warm the pool");
        }
    }
    TestDb::admin_execute(format!(
        r#"ALTER DATABASE "{}" ALLOW_CONNECTIONS false"#,
        db.name()
    ))
    .await;
    let mut admin = TestDb::admin_connection().await;
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(killed);
    let gone = wait_until(StdDuration::from_secs(5), async || {
        listener_pid(&db).await.is_none()
    })
    .await;
    assert!(gone.is_some(), "the listener's connection is down");

    let auth = a.authenticate(&pair.access_token).await.expect("A accepts");
    a.logout(&auth, &ClientInfo::default())
        .await
        .expect("logout while the listener is away");
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    assert!(
        !b.revocation_cache().is_session_revoked(&pair.session_id),
        "nothing could tell B yet"
    );
    let notifications = listener.notifications();

    TestDb::admin_execute(format!(
        r#"ALTER DATABASE "{}" ALLOW_CONNECTIONS true"#,
        db.name()
    ))
    .await;
    let seen = wait_until(StdDuration::from_secs(15), async || {
        b.revocation_cache().is_session_revoked(&pair.session_id)
    })
    .await;
    assert!(
        seen.is_some(),
        "the listener reconnected and synced from the cursor"
    );
    assert!(listener.reconnects() >= 1);
    assert_eq!(
        listener.notifications(),
        notifications,
        "the NOTIFY was lost; the cursor sync found it"
    );
    assert!(listener_pid(&db).await.is_some(), "listening again");

    // And push works again after the reconnect.
    let again = login(&a).await;
    b.authenticate(&again.access_token)
        .await
        .expect("B accepts");
    let auth = a
        .authenticate(&again.access_token)
        .await
        .expect("A accepts");
    a.logout(&auth, &ClientInfo::default())
        .await
        .expect("logout");
    let seen = wait_until(StdDuration::from_secs(1), async || {
        b.revocation_cache().is_session_revoked(&again.session_id)
    })
    .await;
    assert!(seen.is_some(), "pushed after the reconnect");
    drop(listener);
    db.teardown().await;
}
