//! A small, bounded load driver for measuring authd on loopback.
//!
//! ```sh
//! cargo build --release -p authd --example load
//! ./target/release/authd --bind 127.0.0.1:8080 &          # in an empty directory
//! ./target/release/examples/load --url http://127.0.0.1:8080 --pid $! \
//!     --connections 200 --requests 50 --seconds 20
//! ```
//!
//! Registers (or reuses) one user, logs in once, then opens `--connections` separate
//! TCP connections (one HTTP client each) that all send `GET /v1/me` with the bearer
//! token, `--requests` each, and stops after `--seconds` at the latest. With `--pid`,
//! prints the server's resident memory (VmRSS) before, during and after the burst, and
//! its peak (VmHWM). Only loopback URLs are accepted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn proc_status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "-".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

#[tokio::main]
async fn main() {
    let url = arg("--url", "http://127.0.0.1:8080");
    let pid = arg("--pid", "");
    let connections: usize = arg("--connections", "200")
        .parse()
        .expect("--connections N");
    let requests: u64 = arg("--requests", "50").parse().expect("--requests N");
    let seconds: u64 = arg("--seconds", "20").parse().expect("--seconds N");
    assert!(
        url.starts_with("http://127.")
            || url.starts_with("http://localhost")
            || url.starts_with("http://[::1]"),
        "loopback only"
    );
    assert!(
        connections <= 1000 && requests <= 10_000 && seconds <= 120,
        "bounded runs only"
    );

    let rss = |label: &str| {
        if !pid.is_empty() {
            println!("{label:<24} VmRSS {}", mib(proc_status_kib(&pid, "VmRSS:")));
        }
    };
    rss("idle");

    let http = reqwest::Client::new();
    let creds = serde_json::json!({"email": "load@example.com", "password": "load-test-password"});
    let _ = http
        .post(format!("{url}/v1/auth/register"))
        .json(&creds)
        .send()
        .await;
    let login: serde_json::Value = http
        .post(format!("{url}/v1/auth/login"))
        .json(&creds)
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login JSON");
    let token = Arc::new(
        login["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
    );
    rss("after one login");

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (url, token, ok, failed) = (url.clone(), token.clone(), ok.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            // One client per task: its own connection, kept alive across its requests.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            for _ in 0..requests {
                if Instant::now() >= deadline {
                    break;
                }
                match client
                    .get(format!("{url}/v1/me"))
                    .bearer_auth(token.as_str())
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            client
        }));
    }
    // Sample while the burst runs.
    let mut peak_sampled = 0;
    while tasks.iter().any(|t| !t.is_finished()) {
        if !pid.is_empty() {
            peak_sampled = peak_sampled.max(proc_status_kib(&pid, "VmRSS:").unwrap_or(0));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.expect("task"));
    }
    let elapsed = started.elapsed();
    let n = ok.load(Ordering::Relaxed);
    println!(
        "{n} ok, {} failed, over {connections} connections in {:.2}s ({:.0} req/s)",
        failed.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    if !pid.is_empty() {
        println!(
            "{:<24} VmRSS {}",
            "burst (sampled max)",
            mib(Some(peak_sampled))
        );
        println!(
            "{:<24} VmHWM {}",
            "peak since start",
            mib(proc_status_kib(&pid, "VmHWM:"))
        );
    }
    drop(clients);
    tokio::time::sleep(Duration::from_secs(2)).await;
    rss("2 s after the burst");
}
