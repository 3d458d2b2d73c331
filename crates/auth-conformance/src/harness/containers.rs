//! Test servers in containers (testcontainers): started once per test process, labelled,
//! and removed when the process exits.
//!
//! The harness keeps each container in a static, and statics are never dropped, so
//! testcontainers' own removal on drop never runs. Instead the first start registers
//! an `atexit` hook that drops every container this process started (testcontainers
//! then removes it, honouring `TESTCONTAINERS_COMMAND=keep`). A process killed outright
//! runs no hook: every container carries [`LABEL`], so `docker rm -f $(docker ps -aq
//! --filter label=org.auth-tokens.test-database)` sweeps what is left (CI does).

use std::any::Any;
use std::sync::{Mutex, Once};

use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, Image, ImageExt};
use testcontainers_modules::{mariadb::Mariadb, mysql::Mysql, postgres::Postgres};

use super::settings::ImageRef;

/// The label on every container the harness starts; its value is the server kind.
pub const LABEL: &str = "org.auth-tokens.test-database";
/// The label holding the id of the test process that started the container.
pub const PID_LABEL: &str = "org.auth-tokens.test-pid";

/// Where a started container's server listens, from the host.
#[derive(Debug)]
pub(super) struct Started {
    /// Host name or address (brackets included for IPv6).
    pub(super) host: String,
    /// The host port mapped to the server's port.
    pub(super) port: u16,
}

/// Containers this process started, dropped (and so removed) at exit.
static LIVE: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());
static EXIT_HOOK: Once = Once::new();

/// Starts a PostgreSQL container from `image` (trust authentication, user and database
/// `postgres`).
pub(super) async fn start_postgres(image: &ImageRef) -> Result<Started, String> {
    start(
        Postgres::default().with_host_auth(),
        image,
        "postgres",
        5432,
    )
    .await
}

/// Starts a MySQL or MariaDB container from `image` (root with an empty password,
/// database `test`).
pub(super) async fn start_mysql(image: &ImageRef) -> Result<Started, String> {
    if image.is_mariadb() {
        start(Mariadb::default(), image, "mariadb", 3306).await
    } else {
        start(Mysql::default(), image, "mysql", 3306).await
    }
}

async fn start<I: Image + 'static>(
    module: I,
    image: &ImageRef,
    kind: &str,
    port: u16,
) -> Result<Started, String> {
    register_exit_hook();
    let container: ContainerAsync<I> = module
        .with_name(image.name.clone())
        .with_tag(image.tag.clone())
        .with_label(LABEL, kind)
        .with_label(PID_LABEL, std::process::id().to_string())
        .start()
        .await
        .map_err(|e| format!("starting a container from {image} failed: {e}"))?;
    let started = async {
        // testcontainers answers the bridge gateway when it thinks it runs inside a
        // container; AUTH_TEST_CONTAINER_HOST (CI: 127.0.0.1) keeps to loopback.
        let host = match std::env::var("AUTH_TEST_CONTAINER_HOST") {
            Ok(host) if !host.is_empty() => host,
            _ => container.get_host().await?.to_string(),
        };
        let port = container.get_host_port_ipv4(port).await?;
        Ok::<_, testcontainers::TestcontainersError>(Started { host, port })
    }
    .await;
    let id = container.id().to_owned();
    LIVE.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(Box::new(container));
    started.map_err(|e| format!("container {id} from {image} has no reachable port: {e}"))
}

fn register_exit_hook() {
    EXIT_HOOK.call_once(|| {
        // SAFETY: `remove_containers` is an `extern "C" fn()` that never unwinds.
        let registered = unsafe { libc::atexit(remove_containers) };
        if registered != 0 {
            eprintln!("auth-conformance: cannot register the container clean-up at exit");
        }
    });
}

/// Drops every container this process started, on a thread of its own: at `exit` the
/// main thread's thread-locals (tokio's runtime context among them) are already gone.
extern "C" fn remove_containers() {
    let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|p| p.into_inner()));
    if live.is_empty() {
        return;
    }
    let removal = std::thread::Builder::new().spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the container clean-up");
        // On a worker thread, so testcontainers' drop may block in place.
        runtime.block_on(async move {
            let _ = tokio::spawn(async move { drop(live) }).await;
        });
    });
    if !removal.is_ok_and(|thread| thread.join().is_ok()) {
        eprintln!(
            "auth-conformance: removing the test containers failed; sweep them by label {LABEL}"
        );
    }
}
