//! The authd binary as a newcomer runs it: no flags but a free port, in an empty
//! directory (SQLite and the development keyring created on first run, reused after),
//! graceful shutdown on SIGTERM, no token in any log line; and the admin subcommands.
#![cfg(unix)]

#[allow(dead_code)]
#[path = "e2e/harness.rs"]
mod harness;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use auth_conformance::TestDatabase;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PW: &str = "correct horse battery";

fn authd(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authd"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("AUTHD_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    // Test-only: fast password hashing (the shipped default is 600,000 rounds).
    cmd.env("AUTHD_PBKDF2_ROUNDS", "1000");
    cmd
}

/// A running `authd serve`, its address, and everything it logged so far.
struct Running {
    child: Child,
    base: String,
    log: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Running {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut child = authd(dir)
            .args(args)
            .args(["--bind", "127.0.0.1:0", "--log", "debug"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn authd");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Running {
            child,
            base: String::new(),
            log,
            lines: Vec::new(),
        };
        let line = running
            .wait_for("listening")
            .expect("authd logs its address");
        let addr = match serde_json::from_str::<Value>(&line) {
            Ok(json) => json["addr"]
                .as_str()
                .expect("addr in the JSON line")
                .to_owned(),
            Err(_) => line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("addr="))
                .expect("addr= in the listening line")
                .to_owned(),
        };
        running.base = format!("http://{addr}");
        running
    }

    fn wait_for(&mut self, needle: &str) -> Option<String> {
        loop {
            match self.log.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    self.lines.push(line.clone());
                    if line.contains(needle) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// SIGTERM, then the exit status and the whole log.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().expect("authd exits");
        while let Ok(line) = self.log.recv_timeout(Duration::from_secs(5)) {
            self.lines.push(line);
        }
        (exit, self.lines.join("\n"))
    }
}

impl Drop for Running {
    /// A failed assertion must not leave a server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn run<A: AsRef<std::ffi::OsStr> + std::fmt::Debug>(dir: &Path, args: &[A]) -> Output {
    authd(dir).args(args).output().expect("run authd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn run_ok<A: AsRef<std::ffi::OsStr> + std::fmt::Debug>(dir: &Path, args: &[A]) -> String {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "authd {args:?}: {}\n{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn first_run_creates_database_and_dev_keys_then_reuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let server = Running::start(dir.path(), &[]);
    let key_file = dir.path().join("authd-dev-keys.json");
    assert!(dir.path().join("authd.db").exists());
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let r = http
        .post(format!("{}/v1/auth/register", server.base))
        .json(&json!({"email": "a@example.com", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = http
        .post(format!("{}/v1/auth/login", server.base))
        .json(&json!({"email": "a@example.com", "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{}/v1/auth/refresh", server.base))
        .json(&json!({"refresh_token": refresh}))
        .send();
    let refreshed: Value = r.await.unwrap().json().await.unwrap();
    let jwks: Value = http
        .get(format!("{}/.well-known/jwks.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let (status, log) = server.terminate();
    assert!(
        status.success(),
        "graceful exit on SIGTERM: {status:?}\n{log}"
    );
    assert!(log.contains("DEVELOPMENT signing key"), "{log}");
    assert!(log.contains("SIGTERM received"), "{log}");
    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    for secret in [
        access.as_str(),
        refresh.as_str(),
        new_refresh,
        refreshed["access_token"].as_str().unwrap(),
        PW,
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }

    // Second run: same database, same keys; the access token is still valid.
    let server = Running::start(dir.path(), &[]);
    let r = http
        .get(format!("{}/v1/me", server.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let jwks_again: Value = http
        .get(format!("{}/.well-known/jwks.json", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks, jwks_again);
    let (status, _) = server.terminate();
    assert!(status.success());
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn json_logs_and_explicit_key_file() {
    let dir = tempfile::tempdir().unwrap();
    // An explicit key file must exist: authd never invents production keys.
    let o = run(dir.path(), &["--key-file", "prod.json"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("keys generate"));

    let out = run_ok(
        dir.path(),
        &[
            "keys",
            "generate",
            "--key-file",
            "prod.json",
            "--alg",
            "ES256",
            "--kid",
            "p1",
        ],
    );
    assert!(out.contains("signing key `p1`"), "{out}");
    let server = Running::start(
        dir.path(),
        &["--key-file", "prod.json", "--log-format", "json"],
    );
    let listening: Value =
        serde_json::from_str(server.lines.last().unwrap()).expect("JSON log lines");
    assert_eq!(listening["message"], "listening");
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", server.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], "p1");
    assert_eq!(jwks["keys"][0]["alg"], "ES256");
    let (status, log) = server.terminate();
    assert!(status.success());
    assert!(!log.contains("DEVELOPMENT"), "{log}");
    assert!(!dir.path().join("authd-dev-keys.json").exists());
}

#[cfg(feature = "sqlite")]
#[test]
fn admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let status = run_ok(d, &["migrate", "status"]);
    assert!(status.contains("pending"), "{status}");
    let up = run_ok(d, &["migrate", "up"]);
    assert!(up.contains("applied"), "{up}");
    assert!(run_ok(d, &["migrate", "up"]).contains("up to date"));
    assert!(!run_ok(d, &["migrate", "status"]).contains("pending"));

    let created = run_ok(
        d,
        &[
            "user",
            "create",
            "--email",
            "Zed@Example.com",
            "--password",
            PW,
        ],
    );
    assert!(
        created.contains("created user 1 <zed@example.com>"),
        "{created}"
    );
    let mut child = authd(d)
        .args(["user", "create", "--email", "yan@example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{PW}\n").as_bytes(),
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success() && stdout(&o).contains("created user 2"),
        "{}",
        stdout(&o)
    );
    let dup = run(
        d,
        &[
            "user",
            "create",
            "--email",
            "zed@example.com",
            "--password",
            PW,
        ],
    );
    assert!(!dup.status.success());

    // A session made by the service, seen and revoked from the CLI.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (access, refresh, session) = rt.block_on(async {
        let server = Running::start(d, &[]);
        let tokens: Value = reqwest::Client::new()
            .post(format!("{}/v1/auth/login", server.base))
            .json(&json!({"email": "zed@example.com", "password": PW}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        server.terminate();
        let s = |k: &str| tokens[k].as_str().unwrap().to_owned();
        (s("access_token"), s("refresh_token"), s("session_id"))
    });

    let list = run_ok(d, &["sessions", "list", "zed@example.com"]);
    assert!(
        list.contains(&session) && list.contains("1 active session(s) of user 1"),
        "{list}"
    );

    let inspect = run_ok(d, &["token", "inspect", &access]);
    assert!(inspect.contains("verdict: VALID"), "{inspect}");
    assert!(
        inspect.contains("\"sub\": \"1\"") && inspect.contains("at+jwt"),
        "{inspect}"
    );
    let inspect = run_ok(d, &["token", "inspect", &refresh]);
    assert!(
        inspect.contains("refresh token") && inspect.contains("VALID (live)"),
        "{inspect}"
    );
    let garbage = run(d, &["token", "inspect", "eyJhbGciOiJub25lIn0.e30."]);
    assert_eq!(garbage.status.code(), Some(1));
    assert!(stdout(&garbage).contains("INVALID"), "{}", stdout(&garbage));

    let revoked = run_ok(d, &["sessions", "revoke", &session]);
    assert!(revoked.contains("revoked session"), "{revoked}");
    let after = run(d, &["token", "inspect", &access]);
    assert_eq!(after.status.code(), Some(1));
    assert!(
        stdout(&after).contains("INVALID (session revoked)"),
        "{}",
        stdout(&after)
    );
    assert!(stdout(&run(d, &["token", "inspect", &refresh])).contains("INVALID (session revoked"));
    assert!(
        !run(d, &["sessions", "revoke", &session]).status.success(),
        "not active any more"
    );
    assert!(run_ok(d, &["sessions", "list", "1"]).contains("0 active session(s)"));
    assert!(
        run_ok(d, &["sessions", "revoke-all", "zed@example.com"]).contains("revoked 0 session(s)")
    );

    assert!(run_ok(d, &["user", "disable", "zed@example.com"]).contains("user 1 disabled"));
    assert!(run_ok(d, &["user", "enable", "1"]).contains("user 1 enabled"));
    assert!(!run(d, &["user", "disable", "99"]).status.success());

    let cleanup = run_ok(d, &["cleanup"]);
    assert!(
        cleanup.contains(&format!(
            "batches of {} rows",
            auth_core::CleanupPolicy::default().batch_size
        )) && cleanup.contains("removed "),
        "{cleanup}"
    );

    // Key files: 0600, rotation keeps the old key.
    let out = run_ok(
        d,
        &["keys", "generate", "--key-file", "k.json", "--kid", "a"],
    );
    assert!(out.contains("1 key(s)"), "{out}");
    assert!(
        !run(
            d,
            &["keys", "generate", "--key-file", "k.json", "--kid", "b"]
        )
        .status
        .success()
    );
    let out = run_ok(
        d,
        &[
            "keys",
            "generate",
            "--key-file",
            "k.json",
            "--kid",
            "b",
            "--rotate",
            "--alg",
            "RS256",
        ],
    );
    assert!(
        out.contains("signing key `b`") && out.contains("2 key(s)"),
        "{out}"
    );
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(d.join("k.json"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }

    let down = run_ok(d, &["migrate", "down", "--all"]);
    assert!(down.contains("reverted"), "{down}");
    assert!(run_ok(d, &["migrate", "status"]).contains("pending"));
    let too_many = run(d, &["migrate", "down", "--steps", "1"]);
    assert!(!too_many.status.success());
    assert!(
        String::from_utf8_lossy(&too_many.stderr)
            .contains("cannot revert 1 migration(s): only 0 applied"),
        "{}",
        String::from_utf8_lossy(&too_many.stderr)
    );

    let bad = run(d, &["--database-url", "oracle://x", "migrate", "status"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sqlite:, postgres:// or mysql://"));
}

#[cfg(feature = "sqlite")]
#[test]
fn settings_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("authd.toml"),
        "database_url = \"sqlite:./from-file.db\"\naccess_ttl = \"5m\"\n",
    )
    .unwrap();
    run_ok(d, &["--config", "authd.toml", "migrate", "up"]);
    assert!(d.join("from-file.db").exists());
    let o = authd(d)
        .env("AUTHD_DATABASE_URL", "sqlite:./from-env.db")
        .args(["migrate", "up"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(d.join("from-env.db").exists());
    let o = run(
        d,
        &[
            "--config",
            "authd.toml",
            "--access-ttl",
            "forever",
            "migrate",
            "status",
        ],
    );
    assert!(!o.status.success());
    std::fs::write(d.join("bad.toml"), "acess_ttl = \"5m\"\n").unwrap();
    let o = run(d, &["--config", "bad.toml", "migrate", "status"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown field"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Configured claim columns are checked when authd starts (any command but `migrate`):
/// a name core refuses and a column the users table lacks each stop it with a message
/// naming the column; once the column exists the same settings start.
#[cfg(feature = "sqlite")]
#[test]
fn user_claim_columns_are_checked_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(d, &["migrate", "up"]);
    let with_columns = |columns: &str| {
        authd(d)
            .env("AUTHD_USER_CLAIM_COLUMNS", columns)
            .arg("cleanup")
            .output()
            .unwrap()
    };
    let refused = |columns: &str, needle: &str| {
        let o = with_columns(columns);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{columns} accepted");
        assert!(stderr.contains(needle), "{needle} in {stderr}");
    };
    refused("market,sub", "user_claim_columns: `sub`");
    refused("market;drop", "user_claim_columns: `market;drop`");
    refused(
        "market,language",
        "user claim columns missing from table `users`: market, language",
    );
    let conn =
        auth_sqlite::deadpool_sqlite::rusqlite::Connection::open(d.join("authd.db")).unwrap();
    conn.execute("ALTER TABLE users ADD COLUMN market TEXT", [])
        .unwrap();
    drop(conn);
    refused("market,language", "missing from table `users`: language");
    let o = with_columns("market");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The same CLI over a fresh PostgreSQL or MySQL database: migrations, serve (with
/// the backend's revocation push), and revocation seen by `token inspect`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn cli_on_server_database(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = ["--database-url", url];
    let with =
        |args: &[&str]| -> Vec<String> { db.iter().chain(args).map(|a| a.to_string()).collect() };

    assert!(run_ok(d, &with(&["migrate", "status"])).contains("pending"));
    assert!(run_ok(d, &with(&["migrate", "up"])).contains("applied"));
    assert!(run_ok(d, &with(&["migrate", "up"])).contains("up to date"));
    let status = run_ok(d, &with(&["migrate", "status"]));
    assert!(
        status.lines().skip(1).all(|l| l.contains(" applied ")),
        "{status}"
    );
    assert!(
        run_ok(
            d,
            &with(&[
                "user",
                "create",
                "--email",
                "pat@example.com",
                "--password",
                PW
            ])
        )
        .contains("created user")
    );

    let server = Running::start(d, &db);
    let http = reqwest::Client::new();
    let tokens: Value = http
        .post(format!("{}/v1/auth/login", server.base))
        .json(&json!({"email": "pat@example.com", "password": PW}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let session = tokens["session_id"].as_str().unwrap().to_owned();
    assert!(run_ok(d, &with(&["token", "inspect", &access])).contains("verdict: VALID"));
    assert!(run_ok(d, &with(&["sessions", "list", "pat@example.com"])).contains(&session));
    // Revoked by another process: the running server learns it from the database.
    run_ok(d, &with(&["sessions", "revoke", &session]));
    let mut refused = false;
    for _ in 0..100 {
        let r = http
            .get(format!("{}/v1/me", server.base))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused,
        "revocation reached the server within its cache bound"
    );
    let (status, log) = server.terminate();
    assert!(status.success(), "{log}");
    assert!(!log.contains(&access));
    assert_eq!(
        run(d, &with(&["token", "inspect", &access])).status.code(),
        Some(1)
    );
    assert!(run_ok(d, &with(&["cleanup"])).contains("removed "));

    assert!(run_ok(d, &with(&["migrate", "down", "--steps", "1"])).contains("reverted"));
    assert!(run_ok(d, &with(&["migrate", "status"])).contains("pending"));
    assert!(run_ok(d, &with(&["migrate", "down", "--all"])).contains("reverted"));
    let status = run_ok(d, &with(&["migrate", "status"]));
    assert!(
        status.lines().skip(1).all(|l| l.contains(" pending ")),
        "{status}"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn cli_on_postgres() {
    let db = auth_postgres::TestDb::create_unmigrated().await;
    cli_on_server_database(db.url()).await;
    db.teardown().await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn cli_on_mysql() {
    let db = auth_mysql::TestDb::create_unmigrated().await;
    cli_on_server_database(db.url()).await;
    db.teardown().await;
}

fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let json: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    json["kid"].as_str().unwrap().to_owned()
}

/// Keys reload on SIGHUP: a standby key is published before it signs, an activated
/// key signs while the retired one keeps verifying, a removed key stops verifying;
/// the JWKS ETag follows every change and answers 304 when unchanged.
#[cfg(all(unix, feature = "sqlite"))]
#[tokio::test]
async fn keys_reload_on_sighup_standby_activate_retire() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run_ok(
        d,
        &["keys", "generate", "--key-file", "k.json", "--kid", "k1"],
    );
    assert!(out.contains("(ES256)"), "ES256 is the default: {out}");
    let mut server = Running::start(d, &["--key-file", "k.json"]);
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let url = |p: &str| format!("{base}{p}");
    http.post(url("/v1/auth/register"))
        .json(&json!({"email": "k@example.com", "password": PW}))
        .send()
        .await
        .unwrap();
    let login = || async {
        let body: Value = http
            .post(url("/v1/auth/login"))
            .json(&json!({"email": "k@example.com", "password": PW}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };
    let jwks = || async {
        let r = http
            .get(url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap();
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let body: Value = r.json().await.unwrap();
        let kids: Vec<String> = body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        (kids, etag)
    };
    let me = |token: String| {
        let http = http.clone();
        let url = url("/v1/me");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let hup = |server: &mut Running| {
        let pid = server.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap()
                .success()
        );
        server.wait_for("key file reloaded").expect("reload logged");
    };

    let t1 = login().await;
    assert_eq!(kid_of(&t1), "k1");
    let (kids, etag1) = jwks().await;
    assert_eq!(kids, ["k1"]);
    let r = http
        .get(url("/.well-known/jwks.json"))
        .header("if-none-match", &etag1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_MODIFIED);

    run_ok(
        d,
        &[
            "keys",
            "generate",
            "--key-file",
            "k.json",
            "--kid",
            "k2",
            "--standby",
        ],
    );
    hup(&mut server);
    let (kids, etag2) = jwks().await;
    assert_eq!(kids, ["k1", "k2"], "the standby key is published");
    assert_ne!(etag1, etag2);
    assert_eq!(kid_of(&login().await), "k1", "but does not sign yet");

    run_ok(d, &["keys", "activate", "--key-file", "k.json", "k2"]);
    hup(&mut server);
    let t2 = login().await;
    assert_eq!(kid_of(&t2), "k2");
    assert_eq!(
        me(t1.clone()).await,
        reqwest::StatusCode::OK,
        "the retired key verifies"
    );

    run_ok(d, &["keys", "remove", "--key-file", "k.json", "k1"]);
    hup(&mut server);
    assert_eq!(jwks().await.0, ["k2"]);
    assert_eq!(me(t1).await, reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(me(t2).await, reqwest::StatusCode::OK);
    let (status, _) = server.terminate();
    assert!(status.success());
}
