//! Finding a PostgreSQL or MySQL server for the tests (see ARCHITECTURE.md, "Harness"):
//! 1. `AUTH_TEST_POSTGRES_URL` / `AUTH_TEST_MYSQL_URL` if set;
//! 2. the local defaults, if they answer;
//! 3. a testcontainers container, if a Docker engine answers;
//! 4. otherwise a panic naming the three ways to provide one. Never a silent pass.

use std::time::Duration;

use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ImageExt};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

/// The local PostgreSQL default (same as docker-compose.yml).
pub const LOCAL_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The local MySQL default (same as docker-compose.yml).
pub const LOCAL_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Where a server URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The environment variable.
    Env,
    /// The local default answered.
    Local,
    /// A container started for this test process.
    Container,
}

async fn answers(host_port: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(host_port)).await,
        Ok(Ok(_))
    )
}

fn fail(db: &str, var: &str, local: &str, why: &str) -> ! {
    panic!(
        "no {db} server for the tests ({why}). Provide one of:\n  \
         1. {var}=<url> pointing at a server the tests may create databases on;\n  \
         2. a server at {local} (`docker compose up -d` starts one);\n  \
         3. a running Docker engine, for testcontainers to start one."
    )
}

static POSTGRES: OnceCell<(String, Source)> = OnceCell::const_new();
static MYSQL: OnceCell<(String, Source)> = OnceCell::const_new();
static PG_CONTAINER: OnceCell<ContainerAsync<testcontainers_modules::postgres::Postgres>> =
    OnceCell::const_new();
static MYSQL_CONTAINER: OnceCell<ContainerAsync<testcontainers_modules::mysql::Mysql>> =
    OnceCell::const_new();

/// The PostgreSQL server URL for this test process (an admin database the tests may
/// `CREATE DATABASE` from), resolved once.
pub async fn postgres_url() -> (String, Source) {
    POSTGRES
        .get_or_init(|| async {
            if let Ok(url) = std::env::var("AUTH_TEST_POSTGRES_URL") {
                return (url, Source::Env);
            }
            if answers("127.0.0.1:5432").await {
                return (LOCAL_POSTGRES_URL.to_owned(), Source::Local);
            }
            let container = PG_CONTAINER
                .get_or_try_init(|| async {
                    testcontainers_modules::postgres::Postgres::default()
                        .with_host_auth()
                        .with_tag("16-alpine")
                        .start()
                        .await
                })
                .await;
            match container {
                Ok(c) => {
                    let port = c.get_host_port_ipv4(5432).await.unwrap_or_else(|e| {
                        fail(
                            "PostgreSQL",
                            "AUTH_TEST_POSTGRES_URL",
                            "127.0.0.1:5432",
                            &e.to_string(),
                        )
                    });
                    (
                        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                        Source::Container,
                    )
                }
                Err(e) => fail(
                    "PostgreSQL",
                    "AUTH_TEST_POSTGRES_URL",
                    "127.0.0.1:5432",
                    &e.to_string(),
                ),
            }
        })
        .await
        .clone()
}

/// The MySQL server URL for this test process (a database the tests may
/// `CREATE DATABASE` from), resolved once.
pub async fn mysql_url() -> (String, Source) {
    MYSQL
        .get_or_init(|| async {
            if let Ok(url) = std::env::var("AUTH_TEST_MYSQL_URL") {
                return (url, Source::Env);
            }
            if answers("127.0.0.1:3306").await {
                return (LOCAL_MYSQL_URL.to_owned(), Source::Local);
            }
            let container = MYSQL_CONTAINER
                .get_or_try_init(|| async {
                    testcontainers_modules::mysql::Mysql::default()
                        .with_tag("8.4")
                        .start()
                        .await
                })
                .await;
            match container {
                Ok(c) => {
                    let port = c.get_host_port_ipv4(3306).await.unwrap_or_else(|e| {
                        fail(
                            "MySQL",
                            "AUTH_TEST_MYSQL_URL",
                            "127.0.0.1:3306",
                            &e.to_string(),
                        )
                    });
                    (
                        format!("mysql://root@127.0.0.1:{port}/test"),
                        Source::Container,
                    )
                }
                Err(e) => fail(
                    "MySQL",
                    "AUTH_TEST_MYSQL_URL",
                    "127.0.0.1:3306",
                    &e.to_string(),
                ),
            }
        })
        .await
        .clone()
}

/// A database name unique to this process and call, for one test: `<prefix>_<pid>_<n>_<nanos>`.
pub fn unique_database_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}
