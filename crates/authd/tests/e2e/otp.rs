//! Phone sign-in over HTTP with the webhook sender pointed at a local receiver (a
//! tiny axum server in the test) that checks the HMAC signature of every delivery.

use std::sync::{Arc, Mutex};

use authd::otp::{SIGNATURE_HEADER, SenderSettings, TIMESTAMP_HEADER};
use aws_lc_rs::hmac;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestDatabase as E2eDatabase, TestServer, expect_error, tokens};

const WEBHOOK_SECRET: &[u8] = b"webhook secret of at least thirty-two bytes";
const PHONE: &str = "+13128059851";

#[derive(Clone, Default)]
pub struct Receiver {
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    pub fn last_code(&self) -> String {
        let bodies = self.bodies.lock().unwrap();
        bodies.last().expect("a delivery")["code"]
            .as_str()
            .expect("code")
            .to_owned()
    }
}

/// Starts the receiver; answers 204 to correctly signed deliveries, 401 otherwise.
async fn start_receiver() -> (String, Receiver) {
    let receiver = Receiver::default();
    let state = receiver.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let ts = headers[TIMESTAMP_HEADER].to_str().unwrap().to_owned();
                let sig = headers[SIGNATURE_HEADER].to_str().unwrap().to_owned();
                let key = hmac::Key::new(hmac::HMAC_SHA256, WEBHOOK_SECRET);
                let mut signed = ts.into_bytes();
                signed.push(b'.');
                signed.extend_from_slice(&body);
                let hex = sig.strip_prefix("sha256=").unwrap_or_default();
                let tag: Vec<u8> = (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
                    .collect();
                if hmac::verify(&key, &signed, &tag).is_err() {
                    return StatusCode::UNAUTHORIZED;
                }
                state
                    .bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/sms"), receiver)
}

/// authd with phone sign-in on, its webhook sender pointed at a fresh receiver;
/// `tweak` adjusts the other settings.
pub async fn start_with_webhook<D: E2eDatabase>(
    tweak: impl FnOnce(&mut authd::Settings),
) -> (TestServer<D>, Receiver) {
    start_prepared_with_webhook(async |_: &D| {}, tweak).await
}

/// [`start_with_webhook`] over a database `prepare` changed first.
pub async fn start_prepared_with_webhook<D: E2eDatabase>(
    prepare: impl AsyncFnOnce(&D),
    tweak: impl FnOnce(&mut authd::Settings),
) -> (TestServer<D>, Receiver) {
    let (url, receiver) = start_receiver().await;
    let server = TestServer::<D>::start_prepared(prepare, |s| {
        s.otp.sender = SenderSettings::Webhook {
            url,
            secret: WEBHOOK_SECRET.to_vec(),
            timeout: std::time::Duration::from_secs(5),
            retries: 1,
            backoff: std::time::Duration::from_millis(10),
        };
        s.otp.secret = Some(vec![9u8; 32]);
        tweak(s);
    })
    .await;
    (server, receiver)
}

/// Request, deliver, verify, then the limits and refusals, and the metrics.
pub async fn phone_sign_in_over_http<D: E2eDatabase>() {
    let (server, receiver) = start_with_webhook::<D>(|_| {}).await;
    let r = server
        .post_json("/v1/auth/otp/request", &json!({"phone": "+1 312 805 9851"}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"expires_in": 300, "resend_in": 60}));
    let code = receiver.last_code();
    assert_eq!(code.len(), 6);

    let again = server
        .post_json("/v1/auth/otp/request", &json!({"phone": PHONE}))
        .await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(again.headers()["retry-after"], "60");

    let wrong = if code == "000000" { "000001" } else { "000000" };
    let r = server
        .post_json(
            "/v1/auth/otp/verify",
            &json!({"phone": PHONE, "code": wrong}),
        )
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_code").await;
    let r = server
        .post_json(
            "/v1/auth/otp/verify",
            &json!({"phone": PHONE, "code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let pair = tokens(r).await;
    let me = server.get_bearer("/v1/me", &pair.access).await;
    assert_eq!(me.status(), StatusCode::OK);
    let replay = server
        .post_json(
            "/v1/auth/otp/verify",
            &json!({"phone": PHONE, "code": code}),
        )
        .await;
    expect_error(replay, StatusCode::BAD_REQUEST, "invalid_code").await;
    let bad = server
        .post_json("/v1/auth/otp/request", &json!({"phone": "12345"}))
        .await;
    expect_error(bad, StatusCode::BAD_REQUEST, "invalid_request").await;

    let metrics = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "authd_one_time_codes_total{event=\"sent\"} 1",
        "authd_one_time_codes_total{event=\"verified\"} 1",
        "authd_one_time_codes_total{event=\"failed_mismatch\"} 1",
        "authd_one_time_codes_total{event=\"failed_no_live_code\"} 1",
        "authd_one_time_codes_total{event=\"otp_resend\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    server.stop().await;
}
