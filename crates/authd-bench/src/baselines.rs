//! What authd is compared against besides the HTTP floor, each in the same run on the
//! same database: `TokenService::refresh` in-process, the password hasher alone, and
//! the commit floors (pgbench one-INSERT script and TPC-B; one INSERT per commit
//! through bare mysql_async).

use std::net::IpAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use auth_core::{ClientInfo, PasswordPolicy, TokenService, TokenStore, UserId};
use mysql_async::prelude::Queryable as _;

use crate::client::{Tally, Window, run_window};

/// The client the driver's sessions are opened for.
pub(crate) fn bench_client() -> ClientInfo {
    ClientInfo {
        ip: Some(IpAddr::from([127, 0, 0, 1])),
        user_agent: Some("authd-bench".to_owned()),
        ..Default::default()
    }
}

/// Opens `n` sessions of `user` and returns their refresh tokens.
pub(crate) async fn sessions<S: TokenStore>(
    svc: &TokenService<S>,
    user: UserId,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let pair = svc.start_session(user, &bench_client()).await?;
        out.push(pair.refresh_token.expose().to_owned());
    }
    Ok(out)
}

/// `clients` concurrent closed loops of `TokenService::refresh` in this process.
pub(crate) async fn inproc_refresh<S: TokenStore + 'static>(
    svc: &TokenService<S>,
    user: UserId,
    clients: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Window> {
    let tokens = sessions(svc, user, clients).await?;
    let svc = svc.clone();
    Ok(run_window(clients, warmup, window, None, move |i, phase| {
        let svc = svc.clone();
        let mut token = tokens[i].clone();
        async move {
            let mut tally = Tally::default();
            let client = bench_client();
            while Instant::now() < phase.until {
                let start = Instant::now();
                match svc.refresh(&token, &client).await {
                    Ok(pair) => {
                        token = pair.refresh_token.expose().to_owned();
                        tally.record(&phase, start, Some(true));
                    }
                    Err(_) => {
                        tally.record(&phase, start, Some(false));
                        break;
                    }
                }
            }
            tally
        }
    })
    .await)
}

/// `clients` concurrent closed loops of the default password check alone (PBKDF2,
/// 600,000 rounds, on tokio's blocking pool as the service runs it).
pub(crate) async fn hasher(
    clients: usize,
    password: &str,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Window> {
    let policy = PasswordPolicy::default();
    let phc: Arc<str> = policy.hash(password)?.into();
    let password: Arc<str> = password.into();
    Ok(run_window(clients, warmup, window, None, move |_, phase| {
        let phc = phc.clone();
        let password = password.clone();
        async move {
            let mut tally = Tally::default();
            while Instant::now() < phase.until {
                let start = Instant::now();
                let (pw, h) = (password.clone(), phc.clone());
                let ok = tokio::task::spawn_blocking(move || policy.verify(&pw, &h))
                    .await
                    .unwrap_or(false);
                tally.record(&phase, start, Some(ok));
            }
            tally
        }
    })
    .await)
}

/// libpq connection parameters of a `postgres://user[:pw]@host[:port]/db` URL, for pgbench.
struct PgTarget {
    host: String,
    port: String,
    user: String,
    password: Option<String>,
    db: String,
}

fn pg_target(url: &str) -> anyhow::Result<PgTarget> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .context("not a postgres:// URL")?;
    let rest = rest.split('?').next().unwrap_or(rest);
    let (auth, rest) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
    let (user, password) = auth
        .split_once(':')
        .map_or((auth, None), |(u, p)| (u, Some(p.to_owned())));
    let (hostport, db) = rest.split_once('/').context("no database in the URL")?;
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    Ok(PgTarget {
        host: host.to_owned(),
        port: port.to_owned(),
        user: user.to_owned(),
        password,
        db: db.to_owned(),
    })
}

fn pgbench_command(url: &str) -> anyhow::Result<tokio::process::Command> {
    let t = pg_target(url)?;
    let exe = std::env::var("PGBENCH").unwrap_or_else(|_| "pgbench".to_owned());
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(["-h", &t.host, "-p", &t.port, "-U", &t.user])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(pw) = t.password {
        cmd.env("PGPASSWORD", pw);
    }
    cmd.env("PGDATABASE", t.db);
    Ok(cmd)
}

/// Initialises pgbench's TPC-B tables at `scale` in the database of `url`.
pub(crate) async fn pgbench_init(url: &str, scale: usize) -> anyhow::Result<()> {
    let out = pgbench_command(url)?
        .args(["-i", "-q", "-s", &scale.to_string()])
        .output()
        .await
        .context("running pgbench -i (is pgbench on PATH, or PGBENCH set?)")?;
    if !out.status.success() {
        bail!(
            "pgbench -i failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Creates the one-INSERT script's table and writes the script; returns its path.
pub(crate) async fn pg_commit_floor_setup(
    url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<std::path::PathBuf> {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(url).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_commit_floor \
         (id bigserial PRIMARY KEY, v bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(&mut c)
    .await?;
    let path = dir.join("commit-floor.sql");
    std::fs::write(
        &path,
        "INSERT INTO bench_commit_floor (v) VALUES (:client_id);\n",
    )?;
    Ok(path)
}

/// Runs pgbench for `seconds` at `clients` and returns its tps (excluding connection
/// time). `script`: a custom script (`-n -f`), else the builtin TPC-B.
pub(crate) async fn pgbench_tps(
    url: &str,
    clients: usize,
    seconds: u64,
    script: Option<&std::path::Path>,
) -> anyhow::Result<f64> {
    let mut cmd = pgbench_command(url)?;
    let c = clients.to_string();
    cmd.args(["-c", &c, "-j", &c, "-T", &seconds.to_string()]);
    if let Some(script) = script {
        cmd.arg("-n").arg("-f").arg(script);
    }
    let out = cmd.output().await.context("running pgbench")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stdout
        .lines()
        .rev()
        .filter(|l| l.starts_with("tps = "))
        .find_map(|l| l["tps = ".len()..].split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no tps line in pgbench's output: {stdout}"))
}

/// `clients` closed loops, each on its own bare mysql_async connection, of one INSERT
/// per (autocommit) transaction: MySQL's commit floor.
pub(crate) async fn mysql_commit_floor(
    url: &str,
    clients: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Window> {
    let pool = mysql_async::Pool::from_url(url)?;
    {
        let mut c = pool.get_conn().await?;
        c.query_drop(
            "CREATE TABLE IF NOT EXISTS bench_commit_floor \
             (id BIGINT AUTO_INCREMENT PRIMARY KEY, v BIGINT NOT NULL, \
              at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
        )
        .await?;
    }
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(mysql_async::Conn::from_url(url).await?);
    }
    let conns = Arc::new(std::sync::Mutex::new(conns));
    let w = run_window(clients, warmup, window, None, move |i, phase| {
        let conn = conns.lock().unwrap().pop();
        async move {
            let mut tally = Tally::default();
            let Some(mut conn) = conn else {
                return tally;
            };
            while Instant::now() < phase.until {
                let start = Instant::now();
                let r = conn
                    .exec_drop("INSERT INTO bench_commit_floor (v) VALUES (?)", (i as i64,))
                    .await;
                tally.record(&phase, start, Some(r.is_ok()));
            }
            let _ = conn.disconnect().await;
            tally
        }
    })
    .await;
    pool.disconnect().await?;
    Ok(w)
}
