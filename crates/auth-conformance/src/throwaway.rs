//! Database servers of a test's or bench's own: a PostgreSQL 15 cluster (initdb +
//! pg_ctl) or a MariaDB server (mariadb-install-db + mariadbd) on a free loopback port
//! in a temporary directory, for whatever must stop, kill or reconfigure a server. The
//! machine's shared servers are never touched.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The machine's PostgreSQL 15 binaries.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("local address")
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "nobody".to_owned())
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

/// Polls `ready` every 100 ms; panics naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < limit,
            "{what} did not come up within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_answers(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A PostgreSQL cluster of its own, stopped when dropped. PostgreSQL refuses to run as
/// root, so as root the cluster belongs to the `postgres` user and every command runs
/// through `runuser`.
#[derive(Debug)]
pub struct ThrowawayPostgres {
    /// The port it listens on (127.0.0.1 only).
    pub port: u16,
    settings: Vec<String>,
    dir: tempfile::TempDir,
}

impl ThrowawayPostgres {
    /// A test server: fsync off, small buffers.
    pub fn start() -> Self {
        Self::start_with(&["fsync=off", "shared_buffers=16MB", "max_connections=40"])
    }

    /// A server with the given `name=value` settings (passed as `-c`).
    pub fn start_with(settings: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("auth-throwaway-pg")
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
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
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

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn up(&self) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        for setting in &self.settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
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

    /// The URL of its `postgres` database as user `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for ThrowawayPostgres {
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

/// A MariaDB server of its own without grant tables (root, no password, loopback only),
/// killed when dropped.
#[derive(Debug)]
pub struct ThrowawayMariaDb {
    /// The port it listens on (127.0.0.1 only).
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl ThrowawayMariaDb {
    /// A small test server.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("auth-throwaway-mariadb")
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
        let port = self.port;
        wait_until("mariadbd", Duration::from_secs(60), || port_answers(port));
    }

    /// SIGKILLs mariadbd (InnoDB crash recovery on the next start).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL mariadbd");
            child.wait().expect("reap mariadbd");
        }
    }

    /// The URL of `database` on this server as root.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for ThrowawayMariaDb {
    fn drop(&mut self) {
        self.kill();
    }
}
