//! Starting authd in-process on a free port over a fresh database, and talking to it.

use std::net::SocketAddr;

use auth_core::{Keyring, SigningAlgorithm};
use authd::{RateLimitSettings, Settings};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// PBKDF2 rounds for tests only: hashing at the shipped 600,000 rounds would make
/// every register and login take hundreds of milliseconds in debug builds.
pub const TEST_PBKDF2_ROUNDS: u32 = 1_000;

/// The backends' own test databases (each crate's `TestDb`, feature `test-util`).
pub use auth_conformance::{Table, TestDatabase};

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
pub struct TestServer<D: TestDatabase> {
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

impl<D: TestDatabase> TestServer<D> {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_prepared(async |_: &D| {}, tweak).await
    }

    /// [`start_with`](Self::start_with) over a database `prepare` changed first (an
    /// application's own users column added). The store reads the settings'
    /// `user_claim_columns`, checked as `authd serve` checks them.
    pub async fn start_prepared(
        prepare: impl AsyncFnOnce(&D),
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let db = D::create().await;
        prepare(&db).await;
        let mut settings = test_settings();
        tweak(&mut settings);
        let keys = Keyring::generate("e2e-1", SigningAlgorithm::EdDSA).expect("test keyring");
        let store = db
            .store_with_user_claim_columns(settings.user_claim_columns.clone())
            .await
            .expect("the user claim columns exist");
        let service = authd::build_service(store, keys, &settings).expect("token service");
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
        self.login_on_device(email, password, user_agent, json!({}))
            .await
    }

    /// A login from `user_agent` whose body also carries `device` (`device_id`,
    /// `device_name`).
    pub async fn login_on_device(
        &self,
        email: &str,
        password: &str,
        user_agent: &str,
        device: Value,
    ) -> Tokens {
        let mut body = json!({"email": email, "password": password});
        if let (Some(body), Some(device)) = (body.as_object_mut(), device.as_object()) {
            body.extend(device.clone());
        }
        let r = self
            .http
            .post(self.url("/v1/auth/login"))
            .header(reqwest::header::USER_AGENT, user_agent)
            .json(&body)
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
