//! `cargo bench -p auth-postgres`: PostgreSQL figures as ratios against baselines run in
//! the same process on the same server (ARCHITECTURE.md, "Benchmarks").
//!
//! 1. Refresh rotation through `TokenService::refresh` at 1 and 8 concurrent clients,
//!    beside (a) the same SQL statements through bare sqlx and (b) pgbench TPC-B
//!    (`pgbench -i -s 8` on a scratch database, then `pgbench -c N -T secs`): scale 8,
//!    at least the largest client count, so clients do not all queue on one branch row.
//! 2. Cleanup of expired refresh-token rows in batches (`PgTokenStore::cleanup`) beside
//!    one plain `DELETE`, with the longest batch.
//!
//! Knobs (environment): `AUTH_BENCH_SECONDS` per measurement (default 10),
//! `AUTH_BENCH_CLEANUP_ROWS` (default 1000000), `AUTH_BENCH_BATCH` (default: the library default),
//! `PGBENCH` (default `pgbench`), `AUTH_BENCH_ONLY` (`refresh` or `cleanup`),
//! `AUTH_BENCH_CLEANUP_SERVER` (`own`, the default: the cleanup runs on a PostgreSQL 15
//! cluster the bench starts on a free port; `shared`: on the refresh bench's server).
//! The refresh bench's server is the test harness's (`AUTH_TEST_POSTGRES_URL`, else the
//! local default). Scratch databases and the own cluster are dropped at the end. Runs only under `cargo bench` (which passes `--bench`).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};

use auth_conformance::harness::{postgres_url, unique_database_name};
use auth_conformance::throwaway::ThrowawayPostgres;
use auth_core::{
    CleanupPolicy, ClientInfo, Keyring, KeyringSpec, PasswordPolicy, RefreshToken,
    SigningAlgorithm, SuccessorSeed, TokenId, TokenService, TokenServiceConfig, UserDirectory,
};
use auth_postgres::{PgStatements, PgTokenStore};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use time::{Duration, OffsetDateTime};

/// A number unique to each call, for unique emails across repeated runs.
fn next_run() -> u64 {
    static RUN: AtomicU64 = AtomicU64::new(0);
    RUN.fetch_add(1, Ordering::Relaxed)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn admin(url: &str, sql: String) {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("connect to the PostgreSQL server");
    sqlx::query(AssertSqlSafe(sql.clone()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// The server URL with another database name.
fn url_for(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

async fn scratch_store(url: &str, name: &str) -> PgTokenStore {
    admin(url, format!(r#"CREATE DATABASE "{name}""#)).await;
    let options: PgConnectOptions = url.parse().expect("URL");
    let pool = PgTokenStore::pool_options()
        .max_connections(16)
        .connect_with(options.database(name))
        .await
        .unwrap();
    let store = PgTokenStore::from_pool(pool);
    store.migrate().await.expect("migrate");
    store
}

/// Runs `clients` loops of `op` for `secs`; returns operations per second.
async fn throughput<F, Fut>(clients: usize, secs: u64, op: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let op = Arc::new(op);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (stop, count, op) = (stop.clone(), count.clone(), op.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    op(client).await;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(StdDuration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client task");
    }
    count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn service(store: PgTokenStore) -> TokenService<PgTokenStore> {
    let mut cfg = TokenServiceConfig::new("https://bench.test", "bench-api");
    cfg.password = PasswordPolicy {
        pbkdf2_rounds: 1_000,
        ..PasswordPolicy::default()
    };
    let spec = KeyringSpec::generate("bench-1", SigningAlgorithm::HS256).expect("keys");
    TokenService::builder(store, Keyring::from_spec(&spec).expect("keyring"), cfg)
        .build()
        .expect("service")
}

/// Refresh through the service: each client rotates its own session's token.
async fn refresh_via_service(svc: &TokenService<PgTokenStore>, clients: usize, secs: u64) -> f64 {
    let mut tokens = Vec::new();
    for i in 0..clients {
        let email = format!("svc{}-{i}@bench.test", next_run());
        let user = auth_core::NewUser {
            email,
            password_hash: None,
            created_at: OffsetDateTime::now_utc(),
        };
        let uid = svc.store().create_user(&user).await.expect("user");
        let pair = svc
            .start_session(uid, &ClientInfo::default())
            .await
            .expect("session");
        tokens.push(tokio::sync::Mutex::new(
            pair.refresh_token.expose().to_owned(),
        ));
    }
    let tokens = Arc::new(tokens);
    let svc = svc.clone();
    throughput(clients, secs, move |client| {
        let (svc, tokens) = (svc.clone(), tokens.clone());
        async move {
            let mut token = tokens[client].lock().await;
            let pair = svc
                .refresh(&token, &ClientInfo::default())
                .await
                .expect("refresh");
            *token = pair.refresh_token.expose().to_owned();
        }
    })
    .await
}

/// The statements `TokenService::refresh` runs on the strict path, through bare sqlx:
/// find the token by hash, read the user, rotate (one CTE statement), append the audit row.
async fn refresh_via_bare_sqlx(pool: &PgPool, clients: usize, secs: u64) -> f64 {
    let mut tokens = Vec::new();
    for i in 0..clients {
        let uid: i64 = sqlx::query_scalar("INSERT INTO users (email) VALUES ($1) RETURNING id")
            .bind(format!("bare{}-{i}@bench.test", next_run()))
            .fetch_one(pool)
            .await
            .unwrap();
        let token = RefreshToken::generate();
        let now = OffsetDateTime::now_utc();
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, issued_at, expires_at, \
             session_created_at, session_expires_at) VALUES ($1, $2, $3, 0, $4, $5, $6, $5, $6)",
        )
        .bind(TokenId::new().0)
        .bind(uid)
        .bind(uuid::Uuid::new_v4())
        .bind(token.hash().as_bytes().as_slice())
        .bind(now)
        .bind(now + Duration::days(30))
        .execute(pool)
        .await
        .unwrap();
        tokens.push(tokio::sync::Mutex::new(token));
    }
    let tokens = Arc::new(tokens);
    let pool = pool.clone();
    throughput(clients, secs, move |client| {
        let (pool, tokens) = (pool.clone(), tokens.clone());
        async move {
            let mut token = tokens[client].lock().await;
            let row = sqlx::query(PgStatements::FIND_REFRESH_TOKEN)
                .bind(token.hash().as_bytes().as_slice())
                .fetch_one(&pool)
                .await
                .expect("find");
            let id: uuid::Uuid = row.get("id");
            let user_id: i64 = row.get("user_id");
            let session_id: uuid::Uuid = row.get("session_id");
            let generation: i32 = row.get("generation");
            let session_created_at: OffsetDateTime = row.get("session_created_at");
            let session_expires_at: OffsetDateTime = row.get("session_expires_at");
            let user_agent: Option<String> = row.get("user_agent");
            let ip: Option<String> = row.get("ip");
            // The service answers the user-state check from its revocation cache.
            let next = RefreshToken::generate();
            let now = OffsetDateTime::now_utc();
            let rotated: i64 = sqlx::query_scalar(PgStatements::ROTATE)
                .bind(id)
                .bind(now)
                .bind(uuid::Uuid::new_v4())
                .bind(user_id)
                .bind(session_id)
                .bind(generation + 1)
                .bind(next.hash().as_bytes().as_slice())
                .bind(now)
                .bind((now + Duration::days(14)).min(session_expires_at))
                .bind(session_created_at)
                .bind(session_expires_at)
                .bind(user_agent)
                .bind(ip)
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(SuccessorSeed::generate().as_bytes().as_slice())
                .bind("TOKEN_REFRESHED")
                .bind(Some(user_id))
                .bind(Some(session_id))
                .bind(None::<String>)
                .bind(None::<String>)
                .bind(sqlx::types::Json(serde_json::json!({
                    "generation": generation + 1,
                    "classification": "rotation",
                })))
                .bind(now)
                .fetch_one(&pool)
                .await
                .expect("rotate");
            assert_eq!(rotated, 1);
            *token = next;
        }
    })
    .await
}

fn pgbench(args: &[&str]) -> String {
    let program = std::env::var("PGBENCH").unwrap_or_else(|_| "pgbench".into());
    let out = Command::new(&program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

fn pgbench_tps(url: &str, clients: usize, secs: u64) -> f64 {
    let text = pgbench(&[
        "-n",
        "-c",
        &clients.to_string(),
        "-j",
        "1",
        "-T",
        &secs.to_string(),
        url,
    ]);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("no tps line in pgbench output:\n{text}"))
}

async fn fill_expired(pool: &PgPool, user: i64, rows: u64) {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, issued_at, expires_at, \
             session_created_at, session_expires_at, rotated_at) \
         SELECT gen_random_uuid(), $1, gen_random_uuid(), 0, sha256(int8send(i)), \
             now() - interval '90 days', now() - interval '60 days', now() - interval '90 days', \
             now() - interval '60 days' + i * interval '1 millisecond', NULL \
         FROM generate_series(1, $2) AS i",
    )
    .bind(user)
    .bind(rows as i64)
    .execute(pool)
    .await
    .expect("fill");
    sqlx::query("VACUUM ANALYZE refresh_tokens")
        .execute(pool)
        .await
        .expect("vacuum");
    // The fill's dirty pages are written now, not by a checkpoint during the timing.
    sqlx::query("CHECKPOINT")
        .execute(pool)
        .await
        .expect("checkpoint");
}

/// The store's batch statement with the rows addressed by primary key instead of ctid
/// (the form the issue suggested), run the same way, to show what ctid saves.
async fn cleanup_by_id(pool: &PgPool, batch: u32) -> (u64, u64, StdDuration) {
    let sql = PgStatements::DELETE_EXPIRED_SESSIONS.replace("ctid", "id");
    let (mut total, mut batches, mut longest) = (0, 0, StdDuration::ZERO);
    let cutoff = OffsetDateTime::now_utc() - Duration::days(30);
    let mut from = OffsetDateTime::UNIX_EPOCH - Duration::days(365 * 100);
    loop {
        let started = Instant::now();
        let (deleted, last): (i64, Option<OffsetDateTime>) =
            sqlx::query_as(AssertSqlSafe(sql.clone()))
                .bind(cutoff)
                .bind(i64::from(batch))
                .bind(from)
                .fetch_one(pool)
                .await
                .unwrap();
        longest = longest.max(started.elapsed());
        batches += 1;
        total += deleted as u64;
        match last {
            Some(last) if deleted >= i64::from(batch) => from = last,
            _ => return (total, batches, longest),
        }
    }
}

async fn cleanup_bench(store: &PgTokenStore, rows: u64, batch: u32) {
    let pool = store.pool();
    let user: i64 =
        sqlx::query_scalar("INSERT INTO users (email) VALUES ('cleanup@bench.test') RETURNING id")
            .fetch_one(pool)
            .await
            .unwrap();

    fill_expired(pool, user, rows).await;
    let started = Instant::now();
    let deleted = sqlx::query(
        "DELETE FROM refresh_tokens WHERE session_expires_at < now() - interval '30 days'",
    )
    .execute(pool)
    .await
    .unwrap()
    .rows_affected();
    let plain = started.elapsed();
    assert_eq!(deleted, rows);

    fill_expired(pool, user, rows).await;
    let policy = CleanupPolicy {
        retention: Duration::days(30),
        batch_size: batch,
        ..CleanupPolicy::default()
    };
    let started = Instant::now();
    let (report, stats) = store
        .cleanup_with_stats(&policy, OffsetDateTime::now_utc())
        .await
        .expect("cleanup");
    let batched = started.elapsed();
    assert_eq!(report.refresh_tokens, rows);

    fill_expired(pool, user, rows).await;
    let started = Instant::now();
    let (by_id_rows, by_id_batches, by_id_longest) = cleanup_by_id(pool, batch).await;
    let by_id = started.elapsed();
    assert_eq!(by_id_rows, rows);

    let ms = |d: StdDuration| d.as_secs_f64() * 1e3;
    println!("cleanup of {rows} expired refresh-token rows, batches of {batch}:");
    println!(
        "  one plain DELETE                {:>8.3} s",
        plain.as_secs_f64()
    );
    println!(
        "  PgTokenStore::cleanup (ctid)    {:>8.3} s  {:>5.2}x plain; {} batches, longest {:.1} ms",
        batched.as_secs_f64(),
        batched.as_secs_f64() / plain.as_secs_f64(),
        stats.batches,
        ms(stats.longest_batch)
    );
    println!(
        "  same batches by primary key     {:>8.3} s  {:>5.2}x plain; {} batches, longest {:.1} ms",
        by_id.as_secs_f64(),
        by_id.as_secs_f64() / plain.as_secs_f64(),
        by_id_batches,
        ms(by_id_longest)
    );
}

/// Settings of the cleanup bench's own server: WAL room for a whole run, so no
/// checkpoint is forced by WAL volume in the middle of a measurement.
const CLEANUP_SERVER_SETTINGS: &[&str] = &[
    "shared_buffers=256MB",
    "max_wal_size=8GB",
    "checkpoint_timeout=30min",
    "max_connections=40",
];

/// The cleanup bench on a PostgreSQL cluster of its own (`AUTH_BENCH_CLEANUP_SERVER=own`,
/// the default: no other client's load or checkpoints in the batch times) or on the
/// harness's server (`shared`).
async fn cleanup_bench_on_its_server(shared_url: &str, rows: u64, batch: u32) {
    let own = match std::env::var("AUTH_BENCH_CLEANUP_SERVER").as_deref() {
        Ok("shared") => None,
        Ok("own") | Err(_) => Some(
            tokio::task::spawn_blocking(|| ThrowawayPostgres::start_with(CLEANUP_SERVER_SETTINGS))
                .await
                .expect("start the bench's own PostgreSQL"),
        ),
        Ok(other) => panic!("AUTH_BENCH_CLEANUP_SERVER={other}: expected own or shared"),
    };
    let url = own
        .as_ref()
        .map_or_else(|| shared_url.to_owned(), ThrowawayPostgres::url);
    println!(
        "cleanup server: {}",
        match &own {
            Some(_) => format!("its own cluster ({})", CLEANUP_SERVER_SETTINGS.join(", ")),
            None => "the harness's server".to_owned(),
        }
    );
    let clean_db = unique_database_name("auth_bench_cleanup");
    let clean = scratch_store(&url, &clean_db).await;
    cleanup_bench(&clean, rows, batch).await;
    clean.pool().close().await;
    admin(
        &url,
        format!(r#"DROP DATABASE IF EXISTS "{clean_db}" WITH (FORCE)"#),
    )
    .await;
}

/// pgbench's TPC-B scale: the largest client count of the refresh bench.
const PGBENCH_SCALE: usize = 8;

async fn refresh_bench(url: &str, secs: u64) {
    let svc_db = unique_database_name("auth_bench_svc");
    let bare_db = unique_database_name("auth_bench_bare");
    let pgb_db = unique_database_name("auth_bench_pgbench");
    let svc = service(scratch_store(url, &svc_db).await);
    let bare = scratch_store(url, &bare_db).await;
    admin(url, format!(r#"CREATE DATABASE "{pgb_db}""#)).await;
    let pgb_url = url_for(url, &pgb_db);
    // Scale >= the most clients below, so pgbench's clients do not queue on one branch row.
    pgbench(&["-i", "-q", "-s", &PGBENCH_SCALE.to_string(), &pgb_url]);

    println!("refresh rotation (ops/s; pgbench: TPC-B transactions/s, scale {PGBENCH_SCALE}):");
    println!("  clients   service   bare sqlx   pgbench TPC-B   service/bare   service/pgbench");
    for clients in [1usize, 8] {
        // A-B-C-C-B-A, half the time each, so drift in the machine's load (it is shared)
        // weighs on all three alike.
        let half = secs.div_ceil(2);
        let mut service_ops = refresh_via_service(&svc, clients, half).await;
        let mut bare_ops = refresh_via_bare_sqlx(bare.pool(), clients, half).await;
        let mut tps = pgbench_tps(&pgb_url, clients, half);
        tps = (tps + pgbench_tps(&pgb_url, clients, half)) / 2.0;
        bare_ops = (bare_ops + refresh_via_bare_sqlx(bare.pool(), clients, half).await) / 2.0;
        service_ops = (service_ops + refresh_via_service(&svc, clients, half).await) / 2.0;
        println!(
            "  {clients:>7} {service_ops:>9.0} {bare_ops:>11.0} {tps:>15.0} {:>13.2}x {:>16.2}x",
            service_ops / bare_ops,
            service_ops / tps
        );
    }
    svc.store().pool().close().await;
    bare.pool().close().await;
    for db in [svc_db, bare_db, pgb_db] {
        admin(
            url,
            format!(r#"DROP DATABASE IF EXISTS "{db}" WITH (FORCE)"#),
        )
        .await;
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // Built by `cargo test --all-targets`; measures only under `cargo bench`.
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let secs: u64 = env_or("AUTH_BENCH_SECONDS", 10);
        let rows: u64 = env_or("AUTH_BENCH_CLEANUP_ROWS", 1_000_000);
        let batch: u32 = env_or(
            "AUTH_BENCH_BATCH",
            auth_core::CleanupPolicy::default().batch_size,
        );
        let (url, source) = postgres_url().await;
        println!("PostgreSQL server: {source:?}; {secs} s per measurement");

        let only = std::env::var("AUTH_BENCH_ONLY").unwrap_or_default();
        if only.is_empty() || only == "refresh" {
            refresh_bench(&url, secs).await;
        }
        if only.is_empty() || only == "cleanup" {
            cleanup_bench_on_its_server(&url, rows, batch).await;
        }
    });
}
