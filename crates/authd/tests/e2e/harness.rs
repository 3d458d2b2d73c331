//! Starting authd in-process on a free port over a fresh database, and talking to it.

use std::future::Future;
use std::net::SocketAddr;

use auth_core::{Keyring, SigningAlgorithm, TokenStore};
use authd::{RateLimitSettings, Settings};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// PBKDF2 rounds for tests only: hashing at the shipped 600,000 rounds would make
/// every register and login take hundreds of milliseconds in debug builds.
pub const TEST_PBKDF2_ROUNDS: u32 = 1_000;

/// Logical tables whose rows the tests count.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Users,
    RefreshTokens,
    RevokedTokens,
    AuditLogs,
}

/// A fresh, migrated database for one test, with the backend's store over it.
pub trait E2eDatabase: Sized + Send + Sync + 'static {
    type Store: TokenStore;
    fn create() -> impl Future<Output = Self> + Send;
    fn store(&self) -> Self::Store;
    /// Rows of a table, counted with SQL over the store's own connection pool.
    fn count_rows(&self, table: Table) -> impl Future<Output = u64> + Send;
    fn teardown(self) -> impl Future<Output = ()> + Send;
}

/// Settings for tests: fast password hashing, no rate limits, no background cleanup.
pub fn test_settings() -> Settings {
    Settings {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        pbkdf2_rounds: TEST_PBKDF2_ROUNDS,
        rate_limits: RateLimitSettings::disabled(),
        cleanup_interval: None,
        issuer: "https://authd.test".into(),
        audience: "authd-e2e".into(),
        ..Settings::default()
    }
}

/// authd serving on 127.0.0.1:<free port> over a fresh database.
pub struct TestServer<D: E2eDatabase> {
    pub db: D,
    pub base: String,
    pub http: reqwest::Client,
    pub settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

/// What login and refresh answer.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub session: String,
    pub body: Value,
}

impl<D: E2eDatabase> TestServer<D> {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let db = D::create().await;
        let mut settings = test_settings();
        tweak(&mut settings);
        let keys = Keyring::generate("e2e-1", SigningAlgorithm::EdDSA).expect("test keyring");
        let service = authd::build_service(db.store(), keys, &settings).expect("token service");
        let listener = tokio::net::TcpListener::bind(settings.bind)
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = oneshot::channel::<()>();
        let state = authd::app_state(service, &settings);
        let serve_settings = settings.clone();
        let task = tokio::spawn(async move {
            authd::serve(state, &serve_settings, listener, async {
                let _ = rx.await;
            })
            .await
        });
        let http = reqwest::Client::builder()
            .user_agent("authd-e2e/1.0")
            .build()
            .expect("http client");
        Self {
            db,
            base: format!("http://{addr}"),
            http,
            settings,
            shutdown: Some(tx),
            task,
        }
    }

    /// Graceful shutdown, then the database is dropped.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(std::time::Duration::from_secs(10), self.task)
            .await
            .expect("authd stops within 10 s")
            .expect("server task")
            .expect("server ends cleanly");
        self.db.teardown().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.http
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_bearer(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_bearer(&self, path: &str, token: &str) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete_bearer(&self, path: &str, token: &str) -> Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, email: &str, password: &str) -> i64 {
        let r = self
            .post_json(
                "/v1/auth/register",
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "register {email}");
        let body: Value = r.json().await.expect("register JSON");
        body["user_id"].as_i64().expect("user_id")
    }

    pub async fn login(&self, email: &str, password: &str) -> Tokens {
        let r = self
            .post_json(
                "/v1/auth/login",
                &json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "login {email}");
        tokens(r).await
    }

    pub async fn login_as(&self, email: &str, password: &str, user_agent: &str) -> Tokens {
        let r = self
            .http
            .post(self.url("/v1/auth/login"))
            .header(reqwest::header::USER_AGENT, user_agent)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK, "login {email}");
        tokens(r).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json("/v1/auth/refresh", &json!({"refresh_token": refresh_token}))
            .await
    }

    pub async fn counts(&self) -> [u64; 4] {
        [
            self.db.count_rows(Table::Users).await,
            self.db.count_rows(Table::RefreshTokens).await,
            self.db.count_rows(Table::RevokedTokens).await,
            self.db.count_rows(Table::AuditLogs).await,
        ]
    }
}

pub async fn tokens(r: Response) -> Tokens {
    let body: Value = r.json().await.expect("token JSON");
    Tokens {
        access: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh: body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
        session: body["session_id"].as_str().expect("session_id").to_owned(),
        body,
    }
}

/// Asserts a JSON error answer and returns its body.
pub async fn expect_error(r: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(r.status(), status, "status of an expected `{code}` error");
    let body: Value = r.json().await.expect("error JSON");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}

/// Asserts a 401 for a bad bearer token, with its challenge.
pub async fn expect_invalid_token(r: Response) {
    let challenge = r
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

// ------------------------------------------------------------------ SQLite

#[cfg(feature = "sqlite")]
pub mod sqlite {
    use super::{E2eDatabase, Table};
    use auth_sqlite::SqliteTokenStore;
    use tempfile::TempDir;

    pub struct SqliteDb {
        dir: TempDir,
        store: SqliteTokenStore,
    }

    impl E2eDatabase for SqliteDb {
        type Store = SqliteTokenStore;

        async fn create() -> Self {
            let dir = tempfile::tempdir().expect("temporary directory");
            let store = SqliteTokenStore::open(dir.path().join("authd.db"))
                .await
                .expect("open and migrate");
            Self { dir, store }
        }

        fn store(&self) -> SqliteTokenStore {
            self.store.clone()
        }

        async fn count_rows(&self, table: Table) -> u64 {
            let sql = match table {
                Table::Users => "SELECT count(*) FROM users",
                Table::RefreshTokens => "SELECT count(*) FROM refresh_tokens",
                Table::RevokedTokens => "SELECT count(*) FROM revoked_tokens",
                Table::AuditLogs => "SELECT count(*) FROM audit_logs",
            };
            let conn = self.store.pool().get().await.expect("connection");
            let n: i64 = conn
                .interact(move |c| c.query_row(sql, [], |r| r.get(0)))
                .await
                .expect("query task")
                .expect("count");
            n as u64
        }

        async fn teardown(self) {
            self.store.pool().close();
            drop(self.store);
            self.dir.close().expect("remove the test directory");
        }
    }
}

/// `server` with its database replaced by `name` (query options kept).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub fn database_url(server: &str, name: &str) -> String {
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    match query {
        Some(q) => format!("{}/{name}?{q}", &base[..path]),
        None => format!("{}/{name}", &base[..path]),
    }
}

// ------------------------------------------------------------------ PostgreSQL

#[cfg(feature = "postgres")]
pub mod postgres {
    use super::{E2eDatabase, Table};
    use auth_conformance::harness::{postgres_url, unique_database_name};
    use auth_postgres::PgTokenStore;
    use sqlx::postgres::PgConnection;
    use sqlx::{AssertSqlSafe, Connection};

    async fn admin(sql: String) {
        let (url, source) = postgres_url().await;
        let mut conn = PgConnection::connect(&url).await.unwrap_or_else(|e| {
            panic!("cannot connect to the test PostgreSQL server ({source:?}) at {url}: {e}")
        });
        sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
    }

    /// A new database on the test server; returns its name and URL.
    pub async fn create_database() -> (String, String) {
        let name = unique_database_name("authd_e2e");
        admin(format!(r#"CREATE DATABASE "{name}""#)).await;
        let (server, _) = postgres_url().await;
        let url = super::database_url(&server, &name);
        (name, url)
    }

    pub async fn drop_database(name: &str) {
        admin(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).await;
    }

    pub struct PgDb {
        name: String,
        store: PgTokenStore,
    }

    impl E2eDatabase for PgDb {
        type Store = PgTokenStore;

        async fn create() -> Self {
            let (name, url) = create_database().await;
            let store = PgTokenStore::connect(&url)
                .await
                .expect("connect to the test database");
            store.migrate().await.expect("migrate the test database");
            Self { name, store }
        }

        fn store(&self) -> PgTokenStore {
            self.store.clone()
        }

        async fn count_rows(&self, table: Table) -> u64 {
            let sql = match table {
                Table::Users => "SELECT count(*) FROM users",
                Table::RefreshTokens => "SELECT count(*) FROM refresh_tokens",
                Table::RevokedTokens => "SELECT count(*) FROM revoked_tokens",
                Table::AuditLogs => "SELECT count(*) FROM audit_logs",
            };
            let n: i64 = sqlx::query_scalar(sql)
                .fetch_one(self.store.pool())
                .await
                .expect("count");
            n as u64
        }

        async fn teardown(self) {
            self.store.pool().close().await;
            drop_database(&self.name).await;
        }
    }
}

// ------------------------------------------------------------------ MySQL / MariaDB

#[cfg(feature = "mysql")]
pub mod mysql {
    use super::{E2eDatabase, Table};
    use auth_conformance::harness::{mysql_url, unique_database_name};
    use auth_mysql::MySqlTokenStore;
    use mysql_async::prelude::Queryable;

    /// A new database on the test server; returns its name and URL.
    pub async fn create_database() -> (String, String) {
        let (server, source) = mysql_url().await;
        let name = unique_database_name("authd_e2e");
        let mut admin = mysql_async::Conn::from_url(&server)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot connect to the MySQL test server ({source:?}) at {server}: {e}")
            });
        admin
            .query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .expect("CREATE DATABASE");
        admin.disconnect().await.expect("disconnect");
        let url = super::database_url(&server, &name);
        (name, url)
    }

    pub async fn drop_database(name: &str) {
        let (server, _) = mysql_url().await;
        let mut admin = mysql_async::Conn::from_url(&server).await.expect("connect");
        admin
            .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
            .await
            .expect("DROP DATABASE");
        admin.disconnect().await.expect("disconnect");
    }

    pub struct MySqlDb {
        name: String,
        url: String,
        store: MySqlTokenStore,
    }

    impl E2eDatabase for MySqlDb {
        type Store = MySqlTokenStore;

        async fn create() -> Self {
            let (name, url) = create_database().await;
            let store = MySqlTokenStore::connect(&url)
                .await
                .expect("connect to the test database");
            store
                .run_pending_migrations()
                .await
                .expect("migrate the test database");
            Self { name, url, store }
        }

        fn store(&self) -> MySqlTokenStore {
            self.store.clone()
        }

        async fn count_rows(&self, table: Table) -> u64 {
            let sql = match table {
                Table::Users => "SELECT COUNT(*) FROM auth_user",
                Table::RefreshTokens => {
                    "SELECT COUNT(*) FROM auth_user_tokens WHERE token_type = 'refresh'"
                }
                Table::RevokedTokens => "SELECT COUNT(*) FROM revoked_tokens",
                Table::AuditLogs => "SELECT COUNT(*) FROM audit_logs",
            };
            let mut conn = mysql_async::Conn::from_url(&self.url)
                .await
                .expect("connect");
            let n: Option<u64> = conn.query_first(sql).await.expect("count");
            conn.disconnect().await.expect("disconnect");
            n.expect("one row")
        }

        async fn teardown(self) {
            self.store.pool().close();
            drop(self.store);
            drop_database(&self.name).await;
        }
    }
}
