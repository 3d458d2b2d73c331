//! authd processes for the fault-injection tests, beside the throwaway PostgreSQL and
//! MariaDB servers each test starts for itself (`auth_conformance::throwaway`): never
//! the machine's shared servers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use auth_conformance::throwaway::{ThrowawayMariaDb as MariaDb, ThrowawayPostgres as Postgres};
use auth_conformance::throwaway::{free_port, port_answers, wait_until};

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
