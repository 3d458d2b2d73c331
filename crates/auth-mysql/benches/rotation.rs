//! Refresh-token rotation through `TokenService::refresh` over `MySqlTokenStore`, beside
//! the same SQL through the bare `mysql_async` driver, at 1 and 8 clients, in one run.
//!
//! `cargo bench -p auth-mysql` (3 rounds of 10 s per side, in alternating 250 ms
//! slices); add `-- --quick` for one round of 4 s. Each client rotates its own session
//! in a loop, so the figures are per-rotation cost, not contention on one token.
//! Printed: rotations per second of each side and the ratio service / bare driver
//! (higher is better; 1.0 = no overhead). Without `--bench` (e.g. `cargo test
//! --all-targets`) it does nothing: it is never run as a test or in CI.

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_conformance::harness::{mysql_url, unique_database_name};
use auth_core::time::OffsetDateTime;
use auth_core::{
    ClientInfo, Keyring, KeyringSpec, NewUser, RefreshToken, RevocationMode, SigningAlgorithm,
    TokenHash, TokenService, TokenServiceConfig, UserDirectory,
};
use auth_mysql::{MYSQL_SESSION_SETUP, MySqlOptions, MySqlTokenStore};
use mysql_async::prelude::Queryable;
use mysql_async::{Params, Value};

const CLIENTS: [usize; 2] = [1, 8];
const POOL_SIZE: usize = 16;
/// The two sides alternate in slices this long.
const SLICE: Duration = Duration::from_millis(250);

fn database_url(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}/{name}{query}", &base[..path])
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some([198, 51, 100, 7].into()),
        user_agent: Some("rotation-bench/1.0".into()),
        ..Default::default()
    }
}

fn dt(t: OffsetDateTime) -> Value {
    Value::Date(
        t.year() as u16,
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
    )
}

/// Runs `clients` loops of `op` for `slice`; returns completed operations per second.
async fn measure<F, Fut>(clients: usize, slice: Duration, op: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let deadline = Instant::now() + slice;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                op(c).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("bench task");
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// The service side: one session per client, each refresh exchanging the last token.
struct ServiceSide {
    svc: TokenService<MySqlTokenStore>,
    tokens: Vec<tokio::sync::Mutex<String>>,
}

impl ServiceSide {
    async fn rotate(&self, c: usize) {
        let mut token = self.tokens[c].lock().await;
        let pair = self.svc.refresh(&token, &client()).await.expect("refresh");
        *token = pair.refresh_token.expose().to_owned();
    }
}

/// The bare side: the statements `refresh` runs, through `mysql_async` directly, each
/// client on a connection of its own (no pool checkout at all: the strictest baseline).
struct BareSide {
    pool: mysql_async::Pool,
    user_id: i64,
    clients: Vec<tokio::sync::Mutex<BareClient>>,
}

struct BareClient {
    conn: mysql_async::Conn,
    current: TokenHash,
}

const SELECT_REFRESH: &str = "SELECT token_id, token_hash, user_id, session_id, generation, issued_at, expires_at, \
     session_created_at, session_expires_at, user_agent, ip, rotated_at, replaced_by, revoked_at, revoke_reason, \
     reuse_count FROM auth_user_tokens WHERE token_hash = ? AND token_type = 'refresh' LIMIT 1";
const RETIRE: &str = "UPDATE auth_user_tokens SET rotated_at = ?, replaced_by = ?, last_used_at = ? \
     WHERE token_id = ? AND token_type = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL";
const INSERT_REFRESH: &str = "INSERT INTO auth_user_tokens (token_type, user_id, token_id, token_hash, session_id, \
     generation, issued_at, expires_at, session_created_at, session_expires_at, user_agent, ip) \
     VALUES ('refresh', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const INSERT_AUDIT: &str = "INSERT INTO audit_logs (event_type, user_id, session_id, ip, user_agent, details, \
     created_at) VALUES ('TOKEN_REFRESHED', ?, ?, ?, ?, ?, ?)";

/// The columns of the refresh row the rotation uses.
struct Current {
    token_id: Vec<u8>,
    user_id: i64,
    session_id: Vec<u8>,
    generation: i32,
    session_created_at: Value,
    session_expires_at: Value,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl Current {
    fn from_row(mut row: mysql_async::Row) -> Self {
        fn col<T: mysql_async::prelude::FromValue>(row: &mut mysql_async::Row, i: usize) -> T {
            row.take(i).expect("column")
        }
        Current {
            token_id: col(&mut row, 0),
            user_id: col(&mut row, 2),
            session_id: col(&mut row, 3),
            generation: col(&mut row, 4),
            session_created_at: col(&mut row, 7),
            session_expires_at: col(&mut row, 8),
            user_agent: col(&mut row, 9),
            ip: col(&mut row, 10),
        }
    }
}

impl BareSide {
    async fn open_session(&self) -> TokenHash {
        let now = OffsetDateTime::now_utc();
        let hash = RefreshToken::generate().hash();
        let mut conn = self.pool.get_conn().await.expect("conn");
        conn.exec_drop(
            INSERT_REFRESH,
            Params::Positional(vec![
                self.user_id.into(),
                uuid::Uuid::new_v4().as_bytes().to_vec().into(),
                hash.as_bytes().to_vec().into(),
                uuid::Uuid::new_v4().as_bytes().to_vec().into(),
                0i32.into(),
                dt(now),
                dt(now + auth_core::time::Duration::days(14)),
                dt(now),
                dt(now + auth_core::time::Duration::days(30)),
                "rotation-bench/1.0".into(),
                "198.51.100.7".into(),
            ]),
        )
        .await
        .expect("insert session");
        hash
    }

    async fn rotate(&self, c: usize) {
        let mut client = self.clients[c].lock().await;
        let BareClient { conn, current } = &mut *client;
        let now = OffsetDateTime::now_utc();
        let row = {
            let row: mysql_async::Row = conn
                .exec_first(SELECT_REFRESH, (current.as_bytes().to_vec(),))
                .await
                .expect("select")
                .expect("row");
            Current::from_row(row)
        };
        // The service answers the user-state check from its revocation cache.
        let next = RefreshToken::generate().hash();
        let successor = uuid::Uuid::new_v4();
        {
            let mut tx = conn
                .start_transaction(mysql_async::TxOpts::default())
                .await
                .expect("begin");
            tx.exec_drop(
                RETIRE,
                Params::Positional(vec![
                    dt(now),
                    successor.as_bytes().to_vec().into(),
                    dt(now),
                    row.token_id.clone().into(),
                ]),
            )
            .await
            .expect("retire");
            assert_eq!(tx.affected_rows(), 1, "the bare rotation retired its token");
            tx.exec_drop(
                INSERT_REFRESH,
                Params::Positional(vec![
                    row.user_id.into(),
                    successor.as_bytes().to_vec().into(),
                    next.as_bytes().to_vec().into(),
                    row.session_id.clone().into(),
                    (row.generation + 1).into(),
                    dt(now),
                    dt(now + auth_core::time::Duration::days(14)),
                    row.session_created_at.clone(),
                    row.session_expires_at.clone(),
                    row.user_agent.clone().into(),
                    row.ip.clone().into(),
                ]),
            )
            .await
            .expect("insert successor");
            // The audit row is written in the rotation's transaction.
            tx.exec_drop(
                INSERT_AUDIT,
                Params::Positional(vec![
                    row.user_id.into(),
                    row.session_id.into(),
                    "198.51.100.7".into(),
                    "rotation-bench/1.0".into(),
                    format!(r#"{{"generation":{},"grace":false}}"#, row.generation + 1).into(),
                    dt(now),
                ]),
            )
            .await
            .expect("audit");
            tx.commit().await.expect("commit");
        }
        *current = next;
    }
}

async fn service_side(url: &str, verify_after_idle: Duration, clients: usize) -> Arc<ServiceSide> {
    let mut options = MySqlOptions::new(url);
    options.max_connections = POOL_SIZE;
    options.verify_after_idle = verify_after_idle;
    let store = MySqlTokenStore::connect_with(&options)
        .await
        .expect("store");
    let spec = KeyringSpec::generate("bench-1", SigningAlgorithm::HS256).expect("key");
    let keys = Keyring::from_spec(&spec).expect("keyring");
    let mut cfg = TokenServiceConfig::new("https://bench.test", "bench");
    cfg.revocation_mode = RevocationMode::Denylist;
    let svc = TokenService::builder(store.clone(), keys, cfg)
        .build()
        .expect("service");
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4());
    let user = NewUser {
        email,
        password_hash: None,
        created_at: OffsetDateTime::now_utc(),
    };
    let uid = store.create_user(&user).await.expect("user");
    let mut tokens = Vec::new();
    for _ in 0..clients {
        let pair = svc.start_session(uid, &client()).await.expect("session");
        tokens.push(tokio::sync::Mutex::new(
            pair.refresh_token.expose().to_owned(),
        ));
    }
    Arc::new(ServiceSide { svc, tokens })
}

async fn bare_side(url: &str, clients: usize) -> Arc<BareSide> {
    let opts = mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(url).expect("url"))
        .init(vec![MYSQL_SESSION_SETUP])
        .client_found_rows(true)
        .pool_opts(
            mysql_async::PoolOpts::default()
                .with_constraints(
                    mysql_async::PoolConstraints::new(1, POOL_SIZE).expect("constraints"),
                )
                .with_reset_connection(false),
        );
    let pool = mysql_async::Pool::new(opts);
    let user_id: u64 = {
        let mut conn = pool.get_conn().await.expect("conn");
        conn.exec_drop(
            "INSERT INTO auth_user (email, created_at, updated_at) VALUES (?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
            (format!("bare-{}@example.com", uuid::Uuid::new_v4()).into_bytes(),),
        )
        .await
        .expect("user");
        conn.last_insert_id().expect("id")
    };
    let mut side = BareSide {
        pool,
        user_id: user_id as i64,
        clients: Vec::new(),
    };
    for _ in 0..clients {
        let current = side.open_session().await;
        let conn = side.pool.get_conn().await.expect("conn");
        side.clients
            .push(tokio::sync::Mutex::new(BareClient { conn, current }));
    }
    Arc::new(side)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (secs, rounds) = if quick { (4, 1) } else { (10, 3) };

    let (server, source) = mysql_url().await;
    let name = unique_database_name("auth_bench");
    let mut admin = mysql_async::Conn::from_url(&server)
        .await
        .expect("connect to the MySQL server");
    let version: Option<String> = admin
        .query_first("SELECT VERSION()")
        .await
        .expect("version");
    admin
        .query_drop(format!("CREATE DATABASE `{name}`"))
        .await
        .expect("create database");
    let url = database_url(&server, &name);
    MySqlTokenStore::connect(&url)
        .await
        .expect("store")
        .migrate()
        .await
        .expect("migrations");

    println!(
        "rotation bench: server {} ({source:?}), {secs} s x {rounds} round(s) per figure, pool {POOL_SIZE}",
        version.unwrap_or_default()
    );
    println!(
        "{:>8} {:>22} {:>16} {:>10}",
        "clients", "service (rot/s)", "bare (rot/s)", "ratio"
    );
    let default_idle = MySqlOptions::new(&url).verify_after_idle;
    for (verify, label) in [
        (
            default_idle,
            format!("store pool: SELECT 1 after {default_idle:?} idle (default)"),
        ),
        (
            Duration::ZERO,
            "store pool: SELECT 1 on every checkout".to_owned(),
        ),
    ] {
        println!("{label}");
        for clients in CLIENTS {
            let service = service_side(&url, verify, clients).await;
            let bare = bare_side(&url, clients).await;
            let (mut s, mut b) = (Vec::new(), Vec::new());
            // Warm up both (connections, statement caches), then alternate.
            {
                let service = service.clone();
                measure(clients, SLICE, move |c| {
                    let service = service.clone();
                    async move { service.rotate(c).await }
                })
                .await;
                let bare = bare.clone();
                measure(clients, SLICE, move |c| {
                    let bare = bare.clone();
                    async move { bare.rotate(c).await }
                })
                .await;
            }
            // Each round alternates short slices of the two sides, so a slow
            // moment of the disk (fsync) or a busy core falls on both alike.
            let mut ratios = Vec::new();
            for _ in 0..rounds {
                let (mut s_ops, mut b_ops) = (0.0, 0.0);
                let slices = secs * 1000 / SLICE.as_millis() as u64;
                for _ in 0..slices {
                    let side = service.clone();
                    s_ops += measure(clients, SLICE, move |c| {
                        let side = side.clone();
                        async move { side.rotate(c).await }
                    })
                    .await;
                    let side = bare.clone();
                    b_ops += measure(clients, SLICE, move |c| {
                        let side = side.clone();
                        async move { side.rotate(c).await }
                    })
                    .await;
                }
                s.push(s_ops / slices as f64);
                b.push(b_ops / slices as f64);
                ratios.push(s_ops / b_ops);
            }
            let spread = ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(" ");
            let (s, b) = (median(s), median(b));
            println!(
                "{clients:>8} {s:>22.0} {b:>16.0} {:>9.2}x   (per round: {spread})",
                median(ratios)
            );
            service.svc.store().pool().close();
            let bare = Arc::into_inner(bare).expect("the only reference");
            for client in bare.clients {
                client
                    .into_inner()
                    .conn
                    .disconnect()
                    .await
                    .expect("disconnect");
            }
            bare.pool.disconnect().await.expect("disconnect");
        }
    }
    admin
        .query_drop(format!("DROP DATABASE `{name}`"))
        .await
        .expect("drop database");
    admin.disconnect().await.expect("disconnect");
}
