//! Finding a PostgreSQL or MySQL server for the tests, once per test process (see
//! ARCHITECTURE.md, "Harness").
//!
//! `AUTH_TEST_DATABASES` chooses where servers come from ([`Mode`]):
//! - `auto` (default): `AUTH_TEST_POSTGRES_URL` / `AUTH_TEST_MYSQL_URL` if set, else the
//!   local default ([`LOCAL_POSTGRES_URL`], [`LOCAL_MYSQL_URL`]) if it answers, else a
//!   testcontainers container;
//! - `local`: the URL variable if set, else the local default, which must answer;
//! - `containers`: always a container (a URL variable set as well is refused).
//!
//! Containers run `AUTH_TEST_POSTGRES_IMAGE` (default [`DEFAULT_POSTGRES_IMAGE`]) and
//! `AUTH_TEST_MYSQL_IMAGE` (default [`DEFAULT_MYSQL_IMAGE`]; an image whose repository
//! name contains `mariadb` is started as MariaDB), are labelled [`LABEL`], and are
//! removed when the test process exits. Whatever the mode, no server is a loud failure
//! naming the ways to provide one, never a silent pass.

mod containers;
mod settings;

use std::io::Write as _;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::OnceCell;

pub use containers::{LABEL, PID_LABEL};
pub use settings::{DATABASES_VAR, Mode};

use settings::ImageRef;

/// The local PostgreSQL default (same as docker-compose.yml).
pub const LOCAL_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The local MySQL default (same as docker-compose.yml).
pub const LOCAL_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";
/// The PostgreSQL image a container runs unless `AUTH_TEST_POSTGRES_IMAGE` names another.
pub const DEFAULT_POSTGRES_IMAGE: &str = "postgres:16-alpine";
/// The MySQL image a container runs unless `AUTH_TEST_MYSQL_IMAGE` names another.
pub const DEFAULT_MYSQL_IMAGE: &str = "mysql:8.4";

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

/// One kind of test server and its settings.
struct Server {
    name: &'static str,
    url_var: &'static str,
    image_var: &'static str,
    default_image: &'static str,
    local_address: &'static str,
    local_url: &'static str,
}

const POSTGRES_SERVER: Server = Server {
    name: "PostgreSQL",
    url_var: "AUTH_TEST_POSTGRES_URL",
    image_var: "AUTH_TEST_POSTGRES_IMAGE",
    default_image: DEFAULT_POSTGRES_IMAGE,
    local_address: "127.0.0.1:5432",
    local_url: LOCAL_POSTGRES_URL,
};

const MYSQL_SERVER: Server = Server {
    name: "MySQL",
    url_var: "AUTH_TEST_MYSQL_URL",
    image_var: "AUTH_TEST_MYSQL_IMAGE",
    default_image: DEFAULT_MYSQL_IMAGE,
    local_address: "127.0.0.1:3306",
    local_url: LOCAL_MYSQL_URL,
};

static POSTGRES: OnceCell<(String, Source)> = OnceCell::const_new();
static MYSQL: OnceCell<(String, Source)> = OnceCell::const_new();

/// The PostgreSQL server URL for this test process (an admin database the tests may
/// `CREATE DATABASE` from), resolved once.
pub async fn postgres_url() -> (String, Source) {
    POSTGRES
        .get_or_init(|| {
            resolve(&POSTGRES_SERVER, |image| async move {
                let server = containers::start_postgres(&image).await?;
                Ok(format!(
                    "postgres://postgres@{}:{}/postgres",
                    server.host, server.port
                ))
            })
        })
        .await
        .clone()
}

/// The MySQL server URL for this test process (a database the tests may
/// `CREATE DATABASE` from), resolved once. A container's URL turns `prefer_socket`
/// off: otherwise mysql_async reads the server's `@@socket` and reconnects through
/// that path on the host, which may be a local server's socket, not the container.
pub async fn mysql_url() -> (String, Source) {
    MYSQL
        .get_or_init(|| {
            resolve(&MYSQL_SERVER, |image| async move {
                let server = containers::start_mysql(&image).await?;
                Ok(format!(
                    "mysql://root@{}:{}/test?prefer_socket=false",
                    server.host, server.port
                ))
            })
        })
        .await
        .clone()
}

async fn resolve<F, Fut>(server: &Server, start_container: F) -> (String, Source)
where
    F: FnOnce(ImageRef) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let mode = Mode::from_env();
    let env_url = std::env::var(server.url_var)
        .ok()
        .filter(|url| !url.is_empty());
    let (url, source, from) = match (mode, env_url) {
        (Mode::Containers, Some(_)) => panic!(
            "{DATABASES_VAR}=containers, but {} is set too: unset one of them",
            server.url_var
        ),
        (Mode::Auto | Mode::Local, Some(url)) => (url, Source::Env, server.url_var.to_owned()),
        (Mode::Auto | Mode::Local, None) if answers(server.local_address).await => (
            server.local_url.to_owned(),
            Source::Local,
            "the local default".to_owned(),
        ),
        (Mode::Local, None) => no_server(
            server,
            &format!(
                "{DATABASES_VAR}=local and nothing answers at {}",
                server.local_address
            ),
        ),
        (Mode::Auto | Mode::Containers, None) => {
            let image = ImageRef::from_env(server.image_var, server.default_image);
            match start_container(image.clone()).await {
                Ok(url) => (url, Source::Container, format!("a container of {image}")),
                Err(why) if mode == Mode::Containers => no_engine(server, &why),
                Err(why) => no_server(server, &why),
            }
        }
    };
    // Straight to the process's stderr, past the test harness's capture, so a CI log
    // shows which server each test binary used.
    let _ = writeln!(
        std::io::stderr(),
        "auth-conformance: {} tests use {} ({}: {})",
        server.name,
        redact(&url),
        from,
        mode.as_str()
    );
    (url, source)
}

async fn answers(host_port: &str) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(host_port)).await,
        Ok(Ok(_))
    )
}

/// `url` without a password, for the log line.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn no_server(server: &Server, why: &str) -> ! {
    panic!(
        "no {db} server for the tests ({why}). Provide one of:\n  \
         1. {var}=<url> pointing at a server the tests may create databases on;\n  \
         2. a server at {local} (`docker compose up -d` starts one);\n  \
         3. a running Docker engine, for testcontainers to start {image_var} \
            (default {image}).",
        db = server.name,
        var = server.url_var,
        local = server.local_address,
        image_var = server.image_var,
        image = server.default_image,
    )
}

fn no_engine(server: &Server, why: &str) -> ! {
    panic!(
        "{DATABASES_VAR}=containers, but no {db} container could be started: {why}.\n\
         Fix: start a Docker engine the testcontainers crate can reach (DOCKER_HOST or \
         /var/run/docker.sock) that has {image_var} (default {image}) or can pull it; \
         on a Debian machine without a registry, `sudo bash scripts/test-containers.sh` \
         installs and starts one and builds local images. Or run the tests against \
         local servers: {DATABASES_VAR}=local.",
        db = server.name,
        image_var = server.image_var,
        image = server.default_image,
    )
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

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn log_lines_carry_no_password() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact("mysql://root@127.0.0.1:3306/test"),
            "mysql://root@127.0.0.1:3306/test"
        );
    }
}
