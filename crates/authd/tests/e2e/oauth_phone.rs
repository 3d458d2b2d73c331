//! The phone-code extension grant of `POST /oauth/token` end to end: the code comes
//! from `/v1/auth/otp/request` (delivered to the test's webhook receiver), the token
//! pair from the grant, with the section 5.2 refusals.

use authd::{ClientRegistry, ClientSettings, GrantType, PHONE_CODE_GRANT};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestDatabase as E2eDatabase, TestServer, expect_error};
use crate::otp::start_with_webhook;

const PHONE: &str = "+13128059851";

/// Form parameters of one request.
type Form<'a> = &'a [(&'a str, &'a str)];

fn register_clients(settings: &mut authd::Settings) {
    settings.clients = ClientRegistry::from_settings(&[
        ClientSettings {
            id: "mobile".into(),
            secret_sha256: None,
            grants: GrantType::ALL.to_vec(),
            origins: vec![],
            scopes: vec!["read".into(), "write".into()],
        },
        ClientSettings {
            id: "web".into(),
            secret_sha256: None,
            grants: vec![GrantType::Password, GrantType::RefreshToken],
            origins: vec![],
            scopes: vec![],
        },
    ])
    .unwrap();
}

async fn token(s: &TestServer<impl E2eDatabase>, form: &[(&str, &str)]) -> reqwest::Response {
    s.http
        .post(s.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn claims(access: &str) -> Value {
    use base64::Engine as _;
    let part = access.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn request_code(s: &TestServer<impl E2eDatabase>) {
    let r = s
        .post_json("/v1/auth/otp/request", &json!({"phone": PHONE}))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

/// Metadata lists the grant; refusals first (each spends nothing it should not),
/// then the code signs in with `client_id` and `scope` claims, and is spent.
pub async fn oauth_phone_code_grant<D: E2eDatabase>() {
    let (s, receiver) = start_with_webhook::<D>(register_clients).await;
    let meta: Value = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["grant_types_supported"],
        json!(["password", "refresh_token", PHONE_CODE_GRANT])
    );

    // No live code yet.
    let grant = |client: &'static str, code: &'static str| {
        [
            ("grant_type", PHONE_CODE_GRANT),
            ("client_id", client),
            ("phone", PHONE),
            ("code", code),
        ]
    };
    expect_error(
        token(&s, &grant("mobile", "123456")).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    request_code(&s).await;
    let code = receiver.last_code();
    let wrong: &'static str = if code == "000000" { "000001" } else { "000000" };
    let right: &'static str = code.leak();

    let missing_code = [
        ("grant_type", PHONE_CODE_GRANT),
        ("client_id", "mobile"),
        ("phone", PHONE),
    ];
    let missing_phone = [
        ("grant_type", PHONE_CODE_GRANT),
        ("client_id", "mobile"),
        ("code", right),
    ];
    let malformed_phone = [
        ("grant_type", PHONE_CODE_GRANT),
        ("client_id", "mobile"),
        ("phone", "12345"),
        ("code", right),
    ];
    let bad_scope = [
        ("grant_type", PHONE_CODE_GRANT),
        ("client_id", "mobile"),
        ("phone", PHONE),
        ("code", right),
        ("scope", "admin"),
    ];
    let cases: [(Form<'_>, StatusCode, &str); 6] = [
        (&missing_code, StatusCode::BAD_REQUEST, "invalid_request"),
        (&missing_phone, StatusCode::BAD_REQUEST, "invalid_request"),
        (&malformed_phone, StatusCode::BAD_REQUEST, "invalid_request"),
        (&bad_scope, StatusCode::BAD_REQUEST, "invalid_scope"),
        (
            &grant("web", right),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            &grant("mobile", wrong),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
    ];
    for (form, status, error) in cases {
        expect_error(token(&s, form).await, status, error).await;
    }

    let mut form = grant("mobile", right).to_vec();
    form.push(("scope", "write read"));
    let r = token(&s, &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read write");
    let access = body["access_token"].as_str().unwrap();
    let c = claims(access);
    assert_eq!(
        (c["client_id"].as_str(), c["scope"].as_str()),
        (Some("mobile"), Some("read write"))
    );
    assert_eq!(
        s.get_bearer("/v1/me", access).await.status(),
        StatusCode::OK
    );
    let refreshed = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "mobile"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);

    // The code is spent: a replay is refused like a wrong code.
    expect_error(
        token(&s, &grant("mobile", right)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "authd_one_time_codes_total{event=\"verified\"} 1",
        "authd_one_time_codes_total{event=\"failed_mismatch\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    s.stop().await;
}
