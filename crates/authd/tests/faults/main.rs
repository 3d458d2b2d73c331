//! Fault injection: a refresh load against the authd binary while its database is
//! stopped hard (PostgreSQL immediate shutdown, MariaDB SIGKILL) or authd itself is
//! SIGKILLed, each on a throwaway server of its own. After each fault: no session has
//! two live refresh tokens, every refresh token answered 200 is stored, every client's
//! last pair works exactly once, SQLite passes `integrity_check`, and authd answered
//! 503 (never 500) while the database was down and 200 again soon after. These run
//! authd with the strict refresh rule (retry window 0), where a lost answer of a
//! committed rotation costs the session (the re-logins the report counts); one more
//! PostgreSQL outage at the default retry window must cost no session at all.

mod load;
mod servers;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use load::{
    Client, Inspect, Load, Phase, Tally, check_invariants, check_retry_safe, http,
    register_and_login,
};
use servers::{Authd, MariaDb, Postgres};
use tokio::sync::Mutex;

/// Clients refreshing at once.
const CLIENTS: usize = 8;
/// Load before the fault, length of the outage, load after recovery.
const BEFORE: Duration = Duration::from_secs(2);
const OUTAGE: Duration = Duration::from_secs(5);
const AFTER: Duration = Duration::from_secs(3);
/// authd must answer 200 again within this much of the fault's end.
const RECOVERY_LIMIT: Duration = Duration::from_secs(30);

/// One fault test at a time: they measure load, and each runs its own servers.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// Runs the load, injects `fault` (which returns once the fault is over: the server
/// restarted), and returns what the clients saw.
async fn under_load<F, Fut>(base: &str, fault: F) -> (Tally, Vec<Client>)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let http = http();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        clients.push(register_and_login(&http, base, i).await);
    }
    let load = Arc::new(Load {
        base: base.to_owned(),
        http,
        phase: Arc::new(AtomicU8::new(Phase::Before as u8)),
        stop: Arc::new(AtomicBool::new(false)),
        tally: Arc::new(Mutex::new(Tally::default())),
        fault_ended: Arc::new(Mutex::new(None)),
    });
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let load = load.clone();
            tokio::spawn(async move { load.drive(i, c).await })
        })
        .collect();
    tokio::time::sleep(BEFORE).await;
    load.phase.store(Phase::During as u8, Ordering::Relaxed);
    fault().await;
    *load.fault_ended.lock().await = Some(Instant::now());
    load.phase.store(Phase::After as u8, Ordering::Relaxed);
    let ended = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let recovered = load.tally.lock().await.first_ok_after.is_some();
        if (recovered && ended.elapsed() >= AFTER) || ended.elapsed() > RECOVERY_LIMIT {
            break;
        }
    }
    load.stop.store(true, Ordering::Relaxed);
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.expect("client task"));
    }
    let tally = load.tally.lock().await.clone();
    (tally, clients)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

fn assert_database_outage(tally: &Tally) {
    println!("{}", tally.summary());
    assert_eq!(
        tally.count(Phase::During, 500),
        0,
        "a 500 during the outage"
    );
    assert_eq!(tally.count(Phase::After, 500), 0, "a 500 after the outage");
    assert!(tally.count(Phase::During, 503) > 0, "503 during the outage");
    let recovered = tally.first_ok_after.expect("200 again after the outage");
    assert!(recovered < RECOVERY_LIMIT);
}

fn assert_authd_restart(tally: &Tally) {
    println!("{}", tally.summary());
    for phase in [Phase::Before, Phase::During, Phase::After] {
        assert_eq!(tally.count(phase, 500), 0, "a 500 in {phase:?}");
    }
    assert!(
        tally.no_answer.get(&Phase::During).copied().unwrap_or(0) > 0,
        "requests went unanswered while authd was down"
    );
    tally.first_ok_after.expect("200 again after the restart");
}

fn report(name: &str, tally: &Tally, clients: &[Client], worked: usize, ambiguous: usize) {
    let received: usize = clients.iter().map(|c| c.received.len()).sum();
    let relogins: u32 = clients.iter().map(|c| c.relogins).sum();
    println!(
        "FAULT {name}: {} | pairs received {received}, all stored; last pairs: {worked} worked exactly once, {ambiguous} spent by a lost answer; re-logins {relogins}",
        tally.summary()
    );
}

// ------------------------------------------------------------------ PostgreSQL

struct PgInspect(sqlx::PgPool);

impl Inspect for PgInspect {
    async fn sessions_with_two_live_tokens(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT session_id FROM refresh_tokens \
             WHERE rotated_at IS NULL AND revoked_at IS NULL GROUP BY session_id HAVING count(*) > 1) s",
        )
        .fetch_one(&self.0)
        .await
        .expect("live-token query")
    }

    async fn stores_token(&self, hash: [u8; 32]) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = $1)")
            .bind(hash.to_vec())
            .fetch_one(&self.0)
            .await
            .expect("token query")
    }
}

async fn pg_inspect(pg: &Postgres) -> PgInspect {
    PgInspect(
        sqlx::PgPool::connect(&pg.url())
            .await
            .expect("inspect PostgreSQL"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_immediate_shutdown_under_refresh_load() {
    let _serial = SERIAL.lock().await;
    let pg = Arc::new(blocking(Postgres::start).await);
    let dir = tempfile::tempdir().expect("temp dir");
    let authd = Authd::start(&pg.url(), dir.path());
    let (tally, clients) = under_load(&authd.base(), || {
        let pg = pg.clone();
        async move {
            let down = pg.clone();
            blocking(move || down.stop_immediate()).await;
            tokio::time::sleep(OUTAGE).await;
            blocking(move || pg.up()).await;
        }
    })
    .await;
    assert_database_outage(&tally);
    let (worked, ambiguous) =
        check_invariants(&authd.base(), &clients, &pg_inspect(&pg).await).await;
    report(
        "postgres immediate shutdown",
        &tally,
        &clients,
        worked,
        ambiguous,
    );
}

/// The issue-11 fault: PostgreSQL stopped hard for 5 s under the 8-client load, authd
/// at its default retry window. Clients retry with the token they hold; a rotation
/// whose answer was lost is replayed, so no session is lost and every client's last
/// token still refreshes. (At window 0, the test above reports the sessions lost as
/// re-logins.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_immediate_shutdown_loses_no_session_at_the_default_retry_window() {
    let _serial = SERIAL.lock().await;
    let pg = Arc::new(blocking(Postgres::start).await);
    let dir = tempfile::tempdir().expect("temp dir");
    let authd = Authd::start_with_window(&pg.url(), dir.path(), None);
    let (tally, clients) = under_load(&authd.base(), || {
        let pg = pg.clone();
        async move {
            let down = pg.clone();
            blocking(move || down.stop_immediate()).await;
            tokio::time::sleep(OUTAGE).await;
            blocking(move || pg.up()).await;
        }
    })
    .await;
    assert_database_outage(&tally);
    let lost = check_retry_safe(&authd.base(), &clients, &pg_inspect(&pg).await).await;
    let ambiguous: usize = clients.iter().filter(|c| c.ambiguous).count();
    println!(
        "FAULT postgres immediate shutdown, default retry window: {} | sessions lost {lost}, clients holding an ambiguous token at the end {ambiguous}",
        tally.summary()
    );
    assert_eq!(lost, 0, "no session lost at the default retry window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_sigkill_on_postgres() {
    let _serial = SERIAL.lock().await;
    let pg = blocking(Postgres::start).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let authd = Arc::new(std::sync::Mutex::new(Authd::start(&pg.url(), dir.path())));
    let base = authd.lock().unwrap().base();
    let (tally, clients) = under_load(&base, || restart_authd(authd.clone())).await;
    assert_authd_restart(&tally);
    let (worked, ambiguous) = check_invariants(&base, &clients, &pg_inspect(&pg).await).await;
    report(
        "authd SIGKILL on PostgreSQL",
        &tally,
        &clients,
        worked,
        ambiguous,
    );
}

async fn restart_authd(authd: Arc<std::sync::Mutex<Authd>>) {
    let down = authd.clone();
    blocking(move || down.lock().unwrap().kill()).await;
    tokio::time::sleep(OUTAGE).await;
    blocking(move || authd.lock().unwrap().up()).await;
}

// ------------------------------------------------------------------ MariaDB

struct MyInspect(mysql_async::Pool);

impl Inspect for MyInspect {
    async fn sessions_with_two_live_tokens(&self) -> i64 {
        use mysql_async::prelude::Queryable as _;
        let mut conn = self.0.get_conn().await.expect("inspect MariaDB");
        conn.query_first(
            "SELECT count(*) FROM (SELECT session_id FROM auth_user_tokens WHERE token_type = 'refresh' \
             AND rotated_at IS NULL AND revoked_at IS NULL GROUP BY session_id HAVING count(*) > 1) s",
        )
        .await
        .expect("live-token query")
        .expect("a row")
    }

    async fn stores_token(&self, hash: [u8; 32]) -> bool {
        use mysql_async::prelude::Queryable as _;
        let mut conn = self.0.get_conn().await.expect("inspect MariaDB");
        let n: Option<i64> = conn
            .exec_first(
                "SELECT count(*) FROM auth_user_tokens WHERE token_type = 'refresh' AND token_hash = ?",
                (hash.to_vec(),),
            )
            .await
            .expect("token query");
        n == Some(1)
    }
}

async fn mariadb_with_database() -> MariaDb {
    use mysql_async::prelude::Queryable as _;
    let db = blocking(MariaDb::start).await;
    let pool = mysql_async::Pool::new(db.url("mysql").as_str());
    let mut conn = pool.get_conn().await.expect("MariaDB admin connection");
    conn.query_drop("CREATE DATABASE authd_faults")
        .await
        .expect("create database");
    drop(conn);
    pool.disconnect().await.expect("disconnect");
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_sigkill_under_refresh_load() {
    let _serial = SERIAL.lock().await;
    let db = Arc::new(std::sync::Mutex::new(mariadb_with_database().await));
    let url = db.lock().unwrap().url("authd_faults");
    let dir = tempfile::tempdir().expect("temp dir");
    let authd = Authd::start(&url, dir.path());
    let (tally, clients) = under_load(&authd.base(), || {
        let db = db.clone();
        async move {
            let down = db.clone();
            blocking(move || down.lock().unwrap().kill()).await;
            tokio::time::sleep(OUTAGE).await;
            blocking(move || db.lock().unwrap().up()).await;
        }
    })
    .await;
    assert_database_outage(&tally);
    let inspect = MyInspect(mysql_async::Pool::new(url.as_str()));
    let (worked, ambiguous) = check_invariants(&authd.base(), &clients, &inspect).await;
    report("MariaDB SIGKILL", &tally, &clients, worked, ambiguous);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_sigkill_on_mariadb() {
    let _serial = SERIAL.lock().await;
    let db = mariadb_with_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let authd = Arc::new(std::sync::Mutex::new(Authd::start(
        &db.url("authd_faults"),
        dir.path(),
    )));
    let base = authd.lock().unwrap().base();
    let (tally, clients) = under_load(&base, || restart_authd(authd.clone())).await;
    assert_authd_restart(&tally);
    let inspect = MyInspect(mysql_async::Pool::new(db.url("authd_faults").as_str()));
    let (worked, ambiguous) = check_invariants(&base, &clients, &inspect).await;
    report(
        "authd SIGKILL on MariaDB",
        &tally,
        &clients,
        worked,
        ambiguous,
    );
}

// ------------------------------------------------------------------ SQLite

struct SqliteInspect(std::path::PathBuf);

impl SqliteInspect {
    fn open(&self) -> auth_sqlite::deadpool_sqlite::rusqlite::Connection {
        auth_sqlite::deadpool_sqlite::rusqlite::Connection::open(&self.0).expect("open SQLite")
    }

    fn integrity_check(&self) -> String {
        self.open()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity_check")
    }
}

impl Inspect for SqliteInspect {
    async fn sessions_with_two_live_tokens(&self) -> i64 {
        self.open()
            .query_row(
                "SELECT count(*) FROM (SELECT session_id FROM refresh_tokens \
                 WHERE rotated_at IS NULL AND revoked_at IS NULL GROUP BY session_id HAVING count(*) > 1)",
                [],
                |r| r.get(0),
            )
            .expect("live-token query")
    }

    async fn stores_token(&self, hash: [u8; 32]) -> bool {
        self.open()
            .query_row(
                "SELECT count(*) FROM refresh_tokens WHERE token_hash = ?1",
                [hash.to_vec()],
                |r| r.get::<_, i64>(0),
            )
            .expect("token query")
            == 1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authd_sigkill_on_sqlite() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("authd.db");
    let url = format!("sqlite:{}", path.display());
    let authd = Arc::new(std::sync::Mutex::new(Authd::start(&url, dir.path())));
    let base = authd.lock().unwrap().base();
    let (tally, clients) = under_load(&base, || restart_authd(authd.clone())).await;
    assert_authd_restart(&tally);
    let inspect = SqliteInspect(path);
    assert_eq!(inspect.integrity_check(), "ok");
    let (worked, ambiguous) = check_invariants(&base, &clients, &inspect).await;
    assert_eq!(inspect.integrity_check(), "ok");
    report(
        "authd SIGKILL on SQLite",
        &tally,
        &clients,
        worked,
        ambiguous,
    );
}
