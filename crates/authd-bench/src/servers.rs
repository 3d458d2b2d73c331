//! The servers the driver starts as its own child processes (so their CPU and memory
//! are read apart from the driver's): authd itself, and the floor.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

use crate::client::{Conn, get};

/// The environment variable that makes this binary act as a server child.
pub(crate) const ROLE_VAR: &str = "AUTHD_BENCH_ROLE";
/// Where the floor child listens.
pub(crate) const FLOOR_BIND_VAR: &str = "AUTHD_BENCH_FLOOR_BIND";

/// A running child server.
pub(crate) struct Server {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    child: Child,
}

impl Server {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

async fn wait_ready(addr: SocketAddr, child: &mut Child, name: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("{name} exited during start: {status}");
        }
        if let Ok(mut c) = Conn::connect(addr).await
            && let Ok(r) = c.send(&get("/healthz", None)).await
            && r.status == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{name} did not answer /healthz on {addr} within 60 s")
}

/// Starts authd (this binary in the authd role, i.e. `authd serve`) on `database_url`
/// with rate limits and background cleanup off, working in `dir` (its development key
/// file lands there, and its log: `authd.log`, at authd's default level unless
/// `AUTHD_LOG` says otherwise, so the per-request log line is part of the cost).
pub(crate) async fn start_authd(database_url: &str, dir: &Path) -> anyhow::Result<Server> {
    let addr = free_port()?;
    let log_path = dir.join("authd.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.env(ROLE_VAR, "authd")
        .env("AUTHD_DATABASE_URL", database_url)
        .env("AUTHD_BIND", addr.to_string())
        .env("AUTHD_CLEANUP_INTERVAL", "off")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    for limit in [
        "LOGIN_PER_IP",
        "LOGIN_PER_ACCOUNT",
        "REFRESH_PER_IP",
        "REFRESH_PER_ACCOUNT",
        "REGISTER_PER_IP",
    ] {
        cmd.env(format!("AUTHD_{limit}"), "0");
    }
    let mut child = cmd.spawn().context("starting authd")?;
    if let Err(e) = wait_ready(addr, &mut child, "authd").await {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{e}; the end of authd's log:\n{}", tail.join("\n"));
    }
    Ok(Server {
        name: "authd",
        addr,
        child,
    })
}

/// Starts the bare axum floor.
pub(crate) async fn start_floor() -> anyhow::Result<Server> {
    let addr = free_port()?;
    let mut child = Command::new(std::env::current_exe()?)
        .env(ROLE_VAR, "floor")
        .env(FLOOR_BIND_VAR, addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the floor server")?;
    wait_ready(addr, &mut child, "floor").await?;
    Ok(Server {
        name: "floor",
        addr,
        child,
    })
}
