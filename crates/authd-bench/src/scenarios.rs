//! One database's run: authd and the floor started, then `me`, `refresh` and `login`,
//! each alternated with its baseline A-B-A-B, and the memory figures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use auth_core::{TokenService, UserId};
use authd::Backend;

use crate::baselines;
use crate::client::{
    Conn, NextRequest, Response, Window, get, http_worker, json_field, post_json, run_window,
};
use crate::databases::{Db, FreshDatabase};
use crate::servers::{Server, start_authd, start_floor};
use crate::{Args, rss};

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench password, long enough";

/// The worst ratio of each kind seen in the run (the script-readable last line).
#[derive(Debug, Default)]
pub(crate) struct Ratios {
    me_floor: Option<f64>,
    refresh_inproc: Option<f64>,
    login_hash: Option<f64>,
    pg_commit_floor: Option<f64>,
}

fn keep_min(slot: &mut Option<f64>, v: f64) {
    *slot = Some(slot.map_or(v, |s| s.min(v)));
}

impl Ratios {
    pub(crate) fn line(&self) -> String {
        let f = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}"));
        format!(
            "ratios: me/floor={} refresh/inproc={} login/hash={} pg-refresh/commit-floor={}",
            f(self.me_floor),
            f(self.refresh_inproc),
            f(self.login_hash),
            f(self.pg_commit_floor)
        )
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Per-side rates of an A-B-A-B comparison, printed as they come.
#[derive(Default)]
struct Sides {
    names: Vec<&'static str>,
    rates: Vec<Vec<f64>>,
}

impl Sides {
    fn add(&mut self, label: &str, side: &'static str, w: &Window) {
        println!("  {label:<28} {side:<16} {}", w.line());
        self.add_rate(side, w.per_second());
    }

    fn add_rate(&mut self, side: &'static str, rate: f64) {
        match self.names.iter().position(|n| *n == side) {
            Some(i) => self.rates[i].push(rate),
            None => {
                self.names.push(side);
                self.rates.push(vec![rate]);
            }
        }
    }

    fn mean(&self, side: &str) -> f64 {
        self.names
            .iter()
            .position(|n| *n == side)
            .map_or(0.0, |i| mean(&self.rates[i]))
    }

    fn ratio(&self, a: &str, b: &str) -> f64 {
        self.mean(a) / self.mean(b).max(1e-9)
    }
}

async fn http_json(addr: SocketAddr, request: Vec<u8>) -> anyhow::Result<Response> {
    let mut c = Conn::connect(addr).await?;
    c.send(&request).await
}

/// Registers the bench user over HTTP and logs in: (user id, access token).
async fn bench_user(authd: &Server) -> anyhow::Result<(UserId, String)> {
    let creds = serde_json::json!({"email": EMAIL, "password": PASSWORD}).to_string();
    let r = http_json(authd.addr, post_json("/v1/auth/register", &creds)).await?;
    if r.status != 201 {
        bail!(
            "register: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body)?;
    let user = UserId(v["user_id"].as_i64().context("no user_id")?);
    let r = http_json(authd.addr, post_json("/v1/auth/login", &creds)).await?;
    let access = json_field(&r.body, "access_token").context("login gave no access token")?;
    Ok((user, access))
}

fn http_window(
    server: &Server,
    clients: usize,
    args: &Args,
    first: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static,
    next: NextRequest,
) -> impl std::future::Future<Output = Window> {
    let addr = server.addr;
    run_window(
        clients,
        args.warmup(),
        args.window(),
        Some(server.pid()),
        move |i, phase| http_worker(addr, phase, first(i), next.clone()),
    )
}

fn refresh_request(token: &str) -> Vec<u8> {
    post_json(
        "/v1/auth/refresh",
        &serde_json::json!({ "refresh_token": token }).to_string(),
    )
}

fn next_refresh() -> NextRequest {
    Arc::new(|r: &Response| json_field(&r.body, "refresh_token").map(|t| refresh_request(&t)))
}

/// Runs every selected scenario on a fresh database of kind `db`.
pub(crate) async fn run_database(
    args: &Args,
    db: Db,
    storm: bool,
    ratios: &mut Ratios,
) -> anyhow::Result<()> {
    let fresh = FreshDatabase::create(db).await?;
    let result = match db {
        Db::Sqlite => run_on::<auth_sqlite::SqliteTokenStore>(args, &fresh, storm, ratios).await,
        Db::Postgres => run_on::<auth_postgres::PgTokenStore>(args, &fresh, storm, ratios).await,
        Db::Mysql => run_on::<auth_mysql::MySqlTokenStore>(args, &fresh, storm, ratios).await,
    };
    let dropped = fresh.drop_database().await;
    result.and(dropped)
}

async fn run_on<B: Backend + 'static>(
    args: &Args,
    fresh: &FreshDatabase,
    storm: bool,
    ratios: &mut Ratios,
) -> anyhow::Result<()> {
    let db = fresh.db;
    let authd = start_authd(&fresh.url, fresh.dir.path()).await?;
    let floor = start_floor().await?;
    let idle = crate::procfs::memory(authd.pid());
    println!(
        "== {}: authd pid {} ({} KiB resident at idle), floor pid {}",
        db.name(),
        authd.pid(),
        idle.rss_kib,
        floor.pid()
    );
    let (user, access) = bench_user(&authd).await?;
    // The in-process side: the same settings as authd over the same database, signing
    // with the same keys (the development key file authd wrote in its directory).
    let settings = authd::Settings {
        database_url: fresh.url.clone(),
        key_file: Some(fresh.dir.path().join(authd::DEV_KEY_FILE)),
        ..authd::Settings::default()
    };
    let store = B::connect(&fresh.url, authd::DatabaseTimeouts::default(), None).await?;
    let keys = authd::load_keyring(&settings)?;
    let svc: TokenService<B> = authd::build_service(store, keys, &settings)?;

    if args.runs("me") {
        for &c in &args.clients {
            let mut sides = Sides::default();
            let label = format!("me C={c}");
            for _ in 0..args.rounds {
                for server in [&authd, &floor] {
                    let token = access.clone();
                    let w = http_window(
                        server,
                        c,
                        args,
                        move |_| get("/v1/me", Some(&token)),
                        Arc::new(|_| None),
                    )
                    .await;
                    sides.add(&label, server.name, &w);
                }
            }
            let r = sides.ratio("authd", "floor");
            println!("  {label}: authd/floor = {r:.2}");
            keep_min(&mut ratios.me_floor, r);
        }
    }

    if args.runs("refresh") {
        let script = match db {
            Db::Postgres => {
                let scale = args.clients.iter().copied().max().unwrap_or(1);
                println!("  pgbench -i at scale {scale} (>= every client count) ...");
                baselines::pgbench_init(&fresh.url, scale).await?;
                Some(baselines::pg_commit_floor_setup(&fresh.url, fresh.dir.path()).await?)
            }
            _ => None,
        };
        for &c in &args.clients {
            let mut sides = Sides::default();
            let label = format!("refresh C={c}");
            for _ in 0..args.rounds {
                let tokens = baselines::sessions(&svc, user, c).await?;
                let w = http_window(
                    &authd,
                    c,
                    args,
                    move |i| refresh_request(&tokens[i]),
                    next_refresh(),
                )
                .await;
                sides.add(&label, "authd", &w);
                let w =
                    baselines::inproc_refresh(&svc, user, c, args.warmup(), args.window()).await?;
                sides.add(&label, "in-process", &w);
                match (db, &script) {
                    (Db::Postgres, Some(script)) => {
                        let secs = args.seconds.ceil() as u64;
                        let floor_tps =
                            baselines::pgbench_tps(&fresh.url, c, secs, Some(script)).await?;
                        println!("  {label:<28} {:<16} {floor_tps:>9.0}/s", "pg commit floor");
                        sides.add_rate("commit-floor", floor_tps);
                        let tpcb = baselines::pgbench_tps(&fresh.url, c, secs, None).await?;
                        println!("  {label:<28} {:<16} {tpcb:>9.0}/s", "pgbench TPC-B");
                        sides.add_rate("tpcb", tpcb);
                    }
                    (Db::Mysql, _) => {
                        let w = baselines::mysql_commit_floor(
                            &fresh.url,
                            c,
                            args.warmup(),
                            args.window(),
                        )
                        .await?;
                        sides.add(&label, "commit-floor", &w);
                    }
                    _ => {}
                }
            }
            let r = sides.ratio("authd", "in-process");
            print!("  {label}: authd/in-process = {r:.2}");
            keep_min(&mut ratios.refresh_inproc, r);
            match db {
                Db::Postgres => {
                    let floor = sides.ratio("authd", "commit-floor");
                    let tpcb = sides.ratio("authd", "tpcb");
                    print!("  authd/commit-floor = {floor:.2}  authd/TPC-B = {tpcb:.2}");
                    keep_min(&mut ratios.pg_commit_floor, floor);
                }
                Db::Mysql => {
                    let floor = sides.ratio("authd", "commit-floor");
                    print!("  authd/commit-floor = {floor:.2}");
                }
                Db::Sqlite => {}
            }
            println!();
        }
    }

    if args.runs("login") {
        let c = args.login_clients;
        let creds = serde_json::json!({"email": EMAIL, "password": PASSWORD}).to_string();
        let mut sides = Sides::default();
        let label = format!("login C={c}");
        for _ in 0..args.rounds {
            let body = creds.clone();
            let w = http_window(
                &authd,
                c,
                args,
                move |_| post_json("/v1/auth/login", &body),
                Arc::new(|_| None),
            )
            .await;
            sides.add(&label, "authd", &w);
            let w = baselines::hasher(c, PASSWORD, args.warmup(), args.window()).await?;
            sides.add(&label, "hasher alone", &w);
        }
        let r = sides.ratio("authd", "hasher alone");
        println!("  {label}: authd/hasher = {r:.2}");
        keep_min(&mut ratios.login_hash, r);
    }

    if storm {
        let before = crate::procfs::memory(authd.pid());
        let s = rss::storm(authd.addr, authd.pid(), args.connections).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = crate::procfs::memory(authd.pid());
        println!(
            "  memory: idle {} KiB; before the storm {} KiB; {} of {} connections open \
             ({} answered): {} KiB resident, peak {} KiB ({:.1} MiB); after closing {} KiB",
            idle.rss_kib,
            before.rss_kib,
            s.opened,
            args.connections,
            s.answered,
            s.with_all_open.rss_kib,
            s.with_all_open.hwm_kib.max(after.hwm_kib),
            s.with_all_open.hwm_kib.max(after.hwm_kib) as f64 / 1024.0,
            after.rss_kib,
        );
    }
    drop(authd);
    drop(floor);
    Ok(())
}
