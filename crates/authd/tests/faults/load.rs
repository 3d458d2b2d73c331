//! The refresh load the faults hit, and the invariants checked after each fault.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Where the load is relative to the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Before = 0,
    During = 1,
    After = 2,
}

impl Phase {
    fn of(v: u8) -> Self {
        match v {
            0 => Phase::Before,
            1 => Phase::During,
            _ => Phase::After,
        }
    }
}

/// What the clients saw, per phase: answers by status, and requests that got no
/// answer at all (connection refused or cut).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub statuses: BTreeMap<(Phase, u16), u64>,
    pub no_answer: BTreeMap<Phase, u64>,
    /// Since the fault ended: when the first 200 came.
    pub first_ok_after: Option<Duration>,
}

impl Tally {
    pub fn count(&self, phase: Phase, status: u16) -> u64 {
        self.statuses.get(&(phase, status)).copied().unwrap_or(0)
    }

    pub fn answered(&self, phase: Phase) -> u64 {
        self.statuses
            .iter()
            .filter(|((p, _), _)| *p == phase)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn summary(&self) -> String {
        let mut s = String::new();
        for phase in [Phase::Before, Phase::During, Phase::After] {
            let codes: Vec<String> = self
                .statuses
                .iter()
                .filter(|((p, _), _)| *p == phase)
                .map(|((_, code), n)| format!("{code}x{n}"))
                .collect();
            s.push_str(&format!(
                "{phase:?}: answered {} [{}], no answer {}; ",
                self.answered(phase),
                codes.join(" "),
                self.no_answer.get(&phase).copied().unwrap_or(0)
            ));
        }
        s.push_str(&format!(
            "first 200 after the fault: {:?}",
            self.first_ok_after
        ));
        s
    }
}

/// One client: a session whose pair it keeps, and every refresh token it was given.
#[derive(Debug, Clone)]
pub struct Client {
    pub refresh: String,
    /// Every refresh token received with a 200 (login and each refresh).
    pub received: Vec<String>,
    /// A request got a 503 or no answer since the last 200 (its rotation may have
    /// committed while the acknowledgement was lost), so the kept token may be spent.
    pub ambiguous: bool,
    /// Sessions this client lost to an ambiguous failure and replaced by a new login.
    pub relogins: u32,
}

pub struct Load {
    pub base: String,
    pub http: reqwest::Client,
    pub phase: Arc<AtomicU8>,
    pub stop: Arc<AtomicBool>,
    pub tally: Arc<Mutex<Tally>>,
    pub fault_ended: Arc<Mutex<Option<Instant>>>,
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(0)
        .build()
        .expect("http client")
}

pub async fn register_and_login(http: &reqwest::Client, base: &str, i: usize) -> Client {
    let email = format!("fault-{i}@example.com");
    let body = json!({"email": email, "password": "correct horse battery"});
    let r = http
        .post(format!("{base}/v1/auth/register"))
        .json(&body)
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), StatusCode::CREATED, "register {i}");
    let refresh = login(http, base, i).await.expect("first login");
    Client {
        received: vec![refresh.clone()],
        refresh,
        ambiguous: false,
        relogins: 0,
    }
}

async fn login(http: &reqwest::Client, base: &str, i: usize) -> Option<String> {
    let body =
        json!({"email": format!("fault-{i}@example.com"), "password": "correct horse battery"});
    let r = http
        .post(format!("{base}/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if r.status() != StatusCode::OK {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    Some(v["refresh_token"].as_str()?.to_owned())
}

/// Presents `token` once: the status (or `None` without an answer) and the new refresh token.
pub async fn refresh_once(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> (Option<StatusCode>, Option<String>) {
    let sent = http
        .post(format!("{base}/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await;
    let Ok(response) = sent else {
        return (None, None);
    };
    let status = response.status();
    if status != StatusCode::OK {
        return (Some(status), None);
    }
    match response.json::<Value>().await {
        Ok(v) => (Some(status), v["refresh_token"].as_str().map(str::to_owned)),
        Err(_) => (None, None),
    }
}

impl Load {
    /// Refreshes `client` in a loop until `stop`; 503s and missing answers are
    /// retried with the same token after a short pause; an `invalid_grant` after an
    /// ambiguous failure means the lost answer had committed, and the client logs in
    /// again.
    pub async fn drive(&self, i: usize, mut client: Client) -> Client {
        while !self.stop.load(Ordering::Relaxed) {
            let phase = Phase::of(self.phase.load(Ordering::Relaxed));
            let (status, next) = refresh_once(&self.http, &self.base, &client.refresh).await;
            {
                let mut tally = self.tally.lock().await;
                match status {
                    Some(s) => *tally.statuses.entry((phase, s.as_u16())).or_default() += 1,
                    None => *tally.no_answer.entry(phase).or_default() += 1,
                }
                if status == Some(StatusCode::OK)
                    && phase == Phase::After
                    && tally.first_ok_after.is_none()
                    && let Some(end) = *self.fault_ended.lock().await
                {
                    tally.first_ok_after = Some(end.elapsed());
                }
            }
            match (status, next) {
                (Some(StatusCode::OK), Some(token)) => {
                    client.received.push(token.clone());
                    client.refresh = token;
                    client.ambiguous = false;
                }
                (Some(StatusCode::BAD_REQUEST), _) => {
                    assert!(
                        client.ambiguous,
                        "client {i}: a token last answered 200 was refused with no lost answer in between"
                    );
                    client.relogins += 1;
                    loop {
                        if let Some(token) = login(&self.http, &self.base, i).await {
                            client.received.push(token.clone());
                            client.refresh = token;
                            client.ambiguous = false;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                (Some(StatusCode::SERVICE_UNAVAILABLE), _) => {
                    // Not committed, unless the database died between its commit and
                    // its acknowledgement: the kept token may be spent.
                    client.ambiguous = true;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (Some(other), _) => panic!("client {i}: unexpected status {other}"),
                (None, _) => {
                    client.ambiguous = true;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        client
    }
}

/// What the database holds, asked with SQL of its own dialect.
pub trait Inspect {
    /// Sessions with more than one refresh token neither rotated nor revoked.
    fn sessions_with_two_live_tokens(&self) -> impl std::future::Future<Output = i64> + Send;
    /// Whether a refresh token with this SHA-256 is stored.
    fn stores_token(&self, hash: [u8; 32]) -> impl std::future::Future<Output = bool> + Send;
}

/// The checks after a fault. Returns (clients whose last pair worked, ambiguous ones).
pub async fn check_invariants(base: &str, clients: &[Client], db: &impl Inspect) -> (usize, usize) {
    let http = http();
    assert_eq!(
        db.sessions_with_two_live_tokens().await,
        0,
        "a session has two live refresh tokens"
    );
    let mut received = 0;
    for client in clients {
        for token in &client.received {
            let hash = *auth_core::RefreshToken::parse(token)
                .expect("a refresh token")
                .hash()
                .as_bytes();
            assert!(
                db.stores_token(hash).await,
                "a token answered 200 was not committed"
            );
            received += 1;
        }
    }
    assert!(received > clients.len(), "the load refreshed at all");
    let (mut worked, mut ambiguous) = (0, 0);
    for (i, client) in clients.iter().enumerate() {
        let (status, next) = retry_refresh(&http, base, &client.refresh).await;
        if client.ambiguous && status == StatusCode::BAD_REQUEST {
            ambiguous += 1;
            continue;
        }
        assert_eq!(
            status,
            StatusCode::OK,
            "client {i}: its last pair answered 200 works"
        );
        let (again, _) = retry_refresh(&http, base, &client.refresh).await;
        assert_eq!(
            again,
            StatusCode::BAD_REQUEST,
            "client {i}: a pair works exactly once"
        );
        // The reuse revoked the session: its successor is dead too.
        let (successor, _) = retry_refresh(&http, base, &next.expect("new token")).await;
        assert_eq!(
            successor,
            StatusCode::BAD_REQUEST,
            "client {i}: reuse revoked the session"
        );
        worked += 1;
    }
    assert_eq!(db.sessions_with_two_live_tokens().await, 0);
    (worked, ambiguous)
}

/// After a fault with a retry window: no session has two live refresh tokens, every
/// token answered 200 is stored, and every client's last token still refreshes; the
/// same token presented again (a retry of a lost answer) gets the same successor, which
/// refreshes in turn. Returns the sessions lost (clients that had to log in again).
pub async fn check_retry_safe(base: &str, clients: &[Client], db: &impl Inspect) -> u32 {
    let http = http();
    assert_eq!(db.sessions_with_two_live_tokens().await, 0);
    for client in clients {
        for token in &client.received {
            let hash = *auth_core::RefreshToken::parse(token)
                .expect("a refresh token")
                .hash()
                .as_bytes();
            assert!(
                db.stores_token(hash).await,
                "a token answered 200 was not committed"
            );
        }
    }
    for (i, client) in clients.iter().enumerate() {
        let (status, next) = retry_refresh(&http, base, &client.refresh).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "client {i}: its last token still refreshes"
        );
        let (again, replayed) = retry_refresh(&http, base, &client.refresh).await;
        assert_eq!(again, StatusCode::OK, "client {i}: a retry is replayed");
        assert_eq!(
            replayed, next,
            "client {i}: the replay returns the same successor"
        );
        let (successor, _) = retry_refresh(&http, base, &next.expect("new token")).await;
        assert_eq!(successor, StatusCode::OK, "client {i}: the chain goes on");
    }
    assert_eq!(db.sessions_with_two_live_tokens().await, 0);
    clients.iter().map(|c| c.relogins).sum()
}

async fn retry_refresh(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> (StatusCode, Option<String>) {
    for _ in 0..100 {
        match refresh_once(http, base, token).await {
            (Some(StatusCode::SERVICE_UNAVAILABLE), _) | (None, _) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (Some(status), next) => return (status, next),
        }
    }
    panic!("authd did not answer after the fault");
}
