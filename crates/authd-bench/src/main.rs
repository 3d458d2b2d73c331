//! `cargo run --release -p authd-bench -- --help`: closed-loop load on authd over HTTP,
//! each figure beside its baseline in the same run (ARCHITECTURE.md, "Benchmarks"):
//! the bare-axum floor (A-B-A-B), in-process `TokenService::refresh`, the hasher
//! alone, and the database's commit floor.

mod baselines;
mod client;
mod databases;
mod floor;
mod procfs;
mod rss;
mod scenarios;
mod servers;

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

use crate::databases::Db;

/// authd's allocator (its `main.rs`), so the authd child measured is the binary shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use crate::scenarios::{Ratios, run_database};

/// Load driver for authd.
#[derive(Debug, Parser)]
#[command(name = "authd-bench")]
pub(crate) struct Args {
    /// Databases to run on, in order (a fresh database on each).
    #[arg(long, value_delimiter = ',', default_value = "sqlite")]
    pub(crate) db: Vec<Db>,
    /// Scenarios: me, refresh, login.
    #[arg(long, value_delimiter = ',', default_value = "me,refresh,login")]
    pub(crate) scenarios: Vec<String>,
    /// Concurrent clients (closed loop), one run per value.
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    pub(crate) clients: Vec<usize>,
    /// Concurrent clients of the login scenario (PBKDF2-bound).
    #[arg(long, default_value_t = 8)]
    pub(crate) login_clients: usize,
    /// Warm-up before each measured window, seconds.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) warmup: f64,
    /// Measured window, seconds.
    #[arg(long, default_value_t = 3.0)]
    pub(crate) seconds: f64,
    /// A-B rounds per comparison (A-B-A-B is 2).
    #[arg(long, default_value_t = 2)]
    pub(crate) rounds: usize,
    /// Keep-alive connections opened at once for the memory figure (0: skip).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) connections: usize,
}

impl Args {
    pub(crate) fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup)
    }
    pub(crate) fn window(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
    pub(crate) fn runs(&self, scenario: &str) -> bool {
        self.scenarios.iter().any(|s| s == scenario)
    }
}

fn main() -> anyhow::Result<()> {
    match std::env::var(servers::ROLE_VAR).as_deref() {
        Ok("authd") => {
            // `authd serve`, configured through its AUTHD_* environment.
            let code = authd::cli::main();
            std::process::exit(if code == std::process::ExitCode::SUCCESS {
                0
            } else {
                1
            });
        }
        Ok("floor") => {
            let bind = std::env::var(servers::FLOOR_BIND_VAR)?.parse()?;
            return floor::serve(bind);
        }
        _ => {}
    }
    let args = Args::parse();
    let limit = procfs::raise_open_files();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        println!(
            "authd-bench: {} cores, load average {}, open-file limit {limit}; \
             warm-up {}s, window {}s, {} A-B rounds",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            args.warmup,
            args.seconds,
            args.rounds,
        );
        let mut ratios = Ratios::default();
        for (i, db) in args.db.iter().enumerate() {
            let storm = i == 0 && args.connections > 0;
            run_database(&args, *db, storm, &mut ratios)
                .await
                .with_context(|| format!("the {} run", db.name()))?;
        }
        println!("{}", ratios.line());
        Ok(())
    })
}
