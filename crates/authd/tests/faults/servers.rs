//! Throwaway database servers and authd processes for the fault-injection tests:
//! each test starts its own PostgreSQL 15 cluster (initdb + pg_ctl) or MariaDB
//! (mariadb-install-db + mariadbd) on a free port in a temporary directory, and never
//! touches the machine's shared servers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The machine's PostgreSQL 15 binaries.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe extern "C" {
        fn geteuid() -> u32;
    }
    unsafe { geteuid() == 0 }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < limit,
            "{what} did not come up within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn port_answers(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A PostgreSQL cluster of its own. PostgreSQL refuses to run as root, so as root the
/// cluster belongs to the `postgres` user and every command runs through `runuser`.
pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Postgres {
    fn command(&self, program: &str) -> Command {
        let path = format!("{PG_BIN}/{program}");
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &path]);
            c
        } else {
            Command::new(path)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("authd-fault-pg")
            .tempdir()
            .expect("temp dir");
        if is_root() {
            run(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(dir.path()),
                "chown the cluster directory",
            );
        }
        let pg = Self {
            port: free_port(),
            dir,
        };
        run(
            pg.command("initdb")
                .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
                .arg(pg.data()),
            "initdb",
        );
        pg.up();
        pg
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_buffers=16MB -c max_connections=40",
            self.port,
            self.dir.path().display()
        );
        run(
            self.command("pg_ctl")
                .args(["-w", "-t", "60", "-l"])
                .arg(self.dir.path().join("log"))
                .args(["-o", &options, "-D"])
                .arg(self.data())
                .arg("start"),
            "pg_ctl start",
        );
    }

    /// Stops the server hard: every backend is killed, no checkpoint (crash recovery
    /// on the next start).
    pub fn stop_immediate(&self) {
        run(
            self.command("pg_ctl")
                .args(["-m", "immediate", "-w", "-D"])
                .arg(self.data())
                .arg("stop"),
            "pg_ctl stop -m immediate",
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A MariaDB server of its own, without grant tables (root, no password, loopback only).
pub struct MariaDb {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl MariaDb {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("authd-fault-mariadb")
            .tempdir()
            .expect("temp dir");
        let user = if is_root() {
            "root".to_owned()
        } else {
            whoami()
        };
        run(
            Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", dir.path().join("data").display()))
                .arg(format!("--user={user}"))
                .args(["--skip-test-db", "--auth-root-authentication-method=normal"]),
            "mariadb-install-db",
        );
        let mut db = Self {
            port: free_port(),
            dir,
            child: None,
        };
        db.up();
        db
    }

    /// Starts (or restarts) mariadbd and waits until it accepts connections.
    pub fn up(&mut self) {
        let user = if is_root() {
            "root".to_owned()
        } else {
            whoami()
        };
        let d = self.dir.path();
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--socket={}", d.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", d.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", d.join("error.log").display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--user={user}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-grant-tables",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M",
                "--max-connections=60",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        wait_until("mariadbd", Duration::from_secs(60), || {
            port_answers(self.port)
        });
    }

    /// SIGKILLs mariadbd (InnoDB crash recovery on the next start).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL mariadbd");
            child.wait().expect("reap mariadbd");
        }
    }

    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/authd_faults", self.port)
    }

    pub fn admin_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.kill();
    }
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "nobody".to_owned())
}

/// The authd binary of this build, serving on its own port.
pub struct Authd {
    pub port: u16,
    database_url: String,
    key_file: PathBuf,
    retry_window: Option<&'static str>,
    child: Option<Child>,
    log: PathBuf,
}

impl Authd {
    /// authd with the strict refresh rule (retry window 0): every lost answer of a
    /// committed rotation costs the session, the invariants below are exact.
    pub fn start(database_url: &str, dir: &Path) -> Self {
        Self::start_with_window(database_url, dir, Some("0"))
    }

    /// authd with the given `AUTHD_RETRY_WINDOW` (`None`: the default).
    pub fn start_with_window(
        database_url: &str,
        dir: &Path,
        retry_window: Option<&'static str>,
    ) -> Self {
        let key_file = dir.join("keys.json");
        let spec = auth_core::KeyringSpec::generate("faults-1", auth_core::SigningAlgorithm::EdDSA)
            .expect("key");
        authd::write_key_file(&key_file, &spec, true).expect("write key file");
        let mut authd = Self {
            port: free_port(),
            database_url: database_url.to_owned(),
            key_file,
            retry_window,
            child: None,
            log: dir.join("authd.log"),
        };
        authd.up();
        authd
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (or restarts) authd and waits for `/healthz`.
    pub fn up(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("authd log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_authd"));
        command
            .arg("serve")
            .env_clear()
            .env("AUTHD_DATABASE_URL", &self.database_url)
            .env("AUTHD_BIND", format!("127.0.0.1:{}", self.port))
            .env("AUTHD_KEY_FILE", &self.key_file)
            .env("AUTHD_PBKDF2_ROUNDS", "1000")
            .env("AUTHD_LOGIN_PER_IP", "0")
            .env("AUTHD_LOGIN_PER_ACCOUNT", "0")
            .env("AUTHD_REFRESH_PER_IP", "0")
            .env("AUTHD_REFRESH_PER_ACCOUNT", "0")
            .env("AUTHD_REGISTER_PER_IP", "0")
            .env("AUTHD_CLEANUP_INTERVAL", "off")
            .env("AUTHD_DB_ACQUIRE_TIMEOUT", "1s")
            .env("AUTHD_DB_STATEMENT_TIMEOUT", "5s")
            .env("AUTHD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(window) = self.retry_window {
            command.env("AUTHD_RETRY_WINDOW", window);
        }
        let child = command.spawn().expect("start authd");
        self.child = Some(child);
        let port = self.port;
        wait_until("authd", Duration::from_secs(60), || port_answers(port));
    }

    /// SIGKILLs authd: no graceful shutdown, in-flight requests cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL authd");
            child.wait().expect("reap authd");
        }
    }
}

impl Drop for Authd {
    fn drop(&mut self) {
        self.kill();
    }
}
