//! Trusted proxies, readiness and the 503 answers, end to end over HTTP (authd
//! in-process on a free port, SQLite in a temporary directory).

use std::net::SocketAddr;

use auth_core::{Keyring, SigningAlgorithm};
use auth_sqlite::SqliteTokenStore;
use authd::{RateLimitSettings, Settings, TrustedProxies};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Server {
    base: String,
    _dir: tempfile::TempDir,
    _task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start(tweak: impl FnOnce(&mut Settings)) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("authd.db").display());
    let store = SqliteTokenStore::connect(&url).await.expect("SQLite store");
    store.migrate().await.expect("migrations");
    let mut settings = Settings {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        pbkdf2_rounds: 1_000,
        rate_limits: RateLimitSettings::disabled(),
        cleanup_interval: None,
        ..Settings::default()
    };
    tweak(&mut settings);
    let keys = Keyring::generate("k1", SigningAlgorithm::EdDSA).expect("keys");
    let service = authd::build_service(store, keys, &settings).expect("service");
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = authd::app_state(service, &settings);
    let task = tokio::spawn(async move {
        authd::serve(state, &settings, listener, std::future::pending()).await
    });
    Server {
        base,
        _dir: dir,
        _task: task,
    }
}

/// Registers and logs in with `headers`, then returns the `ip` the session recorded.
async fn session_ip(server: &Server, email: &str, headers: &[(&str, &str)]) -> String {
    let http = reqwest::Client::new();
    let creds = json!({"email": email, "password": "correct horse battery"});
    let r = http
        .post(format!("{}/v1/auth/register", server.base))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut login = http
        .post(format!("{}/v1/auth/login", server.base))
        .json(&creds);
    for (k, v) in headers {
        login = login.header(*k, *v);
    }
    let tokens: Value = login.send().await.unwrap().json().await.unwrap();
    let access = tokens["access_token"].as_str().expect("access token");
    let sessions: Value = http
        .get(format!("{}/v1/auth/sessions", server.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    sessions[0]["ip"].as_str().expect("session ip").to_owned()
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    let untrusted = start(|_| {}).await;
    let spoof = [
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=198.51.100.1"),
    ];
    assert_eq!(
        session_ip(&untrusted, "a@example.com", &spoof).await,
        "127.0.0.1"
    );

    let trusted = start(|s| {
        s.resilience.trusted_proxies = "127.0.0.0/8".parse::<TrustedProxies>().unwrap();
    })
    .await;
    let xff = [("x-forwarded-for", "198.51.100.7, 203.0.113.9")];
    assert_eq!(
        session_ip(&trusted, "b@example.com", &xff).await,
        "203.0.113.9"
    );
    let forwarded = [
        ("forwarded", r#"for="[2001:db8::7]:443""#),
        ("x-forwarded-for", "203.0.113.9"),
    ];
    assert_eq!(
        session_ip(&trusted, "c@example.com", &forwarded).await,
        "2001:db8::7"
    );
    assert_eq!(
        session_ip(&trusted, "d@example.com", &[]).await,
        "127.0.0.1"
    );

    // Loopback is trusted here, but a proxy outside the list is not.
    let other = start(|s| {
        s.resilience.trusted_proxies = "10.0.0.0/8".parse::<TrustedProxies>().unwrap();
    })
    .await;
    assert_eq!(session_ip(&other, "e@example.com", &xff).await, "127.0.0.1");
}

#[tokio::test]
async fn readyz_reports_the_database_healthz_stays_liveness() {
    let server = start(|_| {}).await;
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["status"], "ready");
    let live = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unopenable_database_is_a_permanent_500_and_readyz_is_503() {
    // A pool whose every connection fails to open: the path is a directory.
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        pbkdf2_rounds: 1_000,
        rate_limits: RateLimitSettings::disabled(),
        cleanup_interval: None,
        ..Settings::default()
    };
    let wait = Some(std::time::Duration::from_millis(200));
    let pool = SqliteTokenStore::pool_builder(dir.path())
        .wait_timeout(wait)
        .create_timeout(wait)
        .build()
        .expect("pool");
    let store = SqliteTokenStore::from_pool(pool);
    let keys = Keyring::generate("k1", SigningAlgorithm::EdDSA).expect("keys");
    let service = authd::build_service(store, keys, &settings).expect("service");
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let state = authd::app_state(service, &settings);
    tokio::spawn(
        async move { authd::serve(state, &settings, listener, std::future::pending()).await },
    );

    let http = reqwest::Client::new();
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.headers()["retry-after"], "1");
    let refresh = http
        .post(format!("{base}/v1/auth/refresh"))
        .json(&json!({"refresh_token": format!("rt_{}", "A".repeat(43))}))
        .send()
        .await
        .unwrap();
    let status = refresh.status();
    let retry_after = refresh.headers().get("retry-after").cloned();
    let body: Value = refresh.json().await.unwrap();
    println!("refresh over a broken database: {status} {body}");
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // Opening the file fails with SQLITE_CANTOPEN: permanent, so 500, not 503.
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(retry_after.is_none());
}

#[test]
fn transient_errors_are_503_with_retry_after_permanent_ones_500() {
    use axum::response::IntoResponse as _;
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    for transient in [
        auth_core::Error::unavailable(refused),
        auth_core::Error::Overloaded,
    ] {
        assert!(transient.is_transient());
        let response = authd::ApiError::from(transient).into_response();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
    let broken = std::io::Error::other("corrupt page");
    let permanent = auth_core::Error::storage(broken);
    assert!(!permanent.is_transient());
    let response = authd::ApiError::from(permanent).into_response();
    assert_eq!(response.status().as_u16(), 500);
    assert!(response.headers().get("retry-after").is_none());
}
