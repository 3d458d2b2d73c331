//! The OAuth surface end to end on every backend: the token endpoint and its section
//! 5.2 errors, introspection, the revocation feed, metadata, CORS, 415 and 405.

use authd::{ClientRegistry, ClientSettings, GrantType};
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{TestDatabase as E2eDatabase, TestServer, expect_error};

const PW: &str = "correct horse battery";
const APP: &str = "https://app.example";

/// Form parameters of one request.
type Form<'a> = &'a [(&'a str, &'a str)];

struct Clients {
    rs_secret: String,
}

fn register_clients(settings: &mut authd::Settings) -> Clients {
    let (rs_secret, rs_hash) = authd::generate_client_secret().unwrap();
    settings.clients = ClientRegistry::from_settings(&[
        ClientSettings {
            id: "web".into(),
            secret_sha256: None,
            grants: GrantType::ALL.to_vec(),
            origins: vec![APP.into()],
            scopes: vec!["read".into(), "write".into()],
        },
        ClientSettings {
            id: "rs".into(),
            secret_sha256: Some(rs_hash),
            grants: vec![],
            origins: vec![],
            scopes: vec![],
        },
    ])
    .unwrap();
    Clients { rs_secret }
}

async fn start<D: E2eDatabase>() -> (TestServer<D>, Clients) {
    let mut clients = None;
    let s = TestServer::<D>::start_with(|c| clients = Some(register_clients(c))).await;
    (s, clients.unwrap())
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

pub async fn oauth_token_endpoint_grants_and_errors<D: E2eDatabase>() {
    let (s, c) = start::<D>().await;
    s.register("ora@example.com", PW).await;
    let password = [
        ("grant_type", "password"),
        ("client_id", "web"),
        ("username", "ora@example.com"),
        ("password", PW),
        ("scope", "write read"),
    ];
    let r = token(&s, &password).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "read write");
    let access = body["access_token"].as_str().unwrap();
    let c1 = claims(access);
    assert_eq!(
        (c1["client_id"].as_str(), c1["scope"].as_str()),
        (Some("web"), Some("read write"))
    );
    assert_eq!(
        s.get_bearer("/v1/me", access).await.status(),
        StatusCode::OK
    );

    let refresh = body["refresh_token"].as_str().unwrap();
    let r = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "web"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let next: Value = r.json().await.unwrap();
    assert_eq!(
        claims(next["access_token"].as_str().unwrap())["client_id"],
        "web"
    );
    assert_eq!(
        next["scope"], "read write",
        "an omitted scope is the granted one"
    );
    // The answer was lost: the retry with the same token gets the same successor.
    let r = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "web"),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let replayed: Value = r.json().await.unwrap();
    assert_eq!(replayed["refresh_token"], next["refresh_token"]);
    assert_ne!(replayed["access_token"], next["access_token"]);
    let unknown = format!("rt_{}", "A".repeat(43));

    let cases: [(Form<'_>, StatusCode, &str); 9] = [
        (
            &[("grant_type", "client_credentials"), ("client_id", "web")],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        // Phone sign-in is off on this server: its grant is not on offer.
        (
            &[
                ("grant_type", authd::PHONE_CODE_GRANT),
                ("client_id", "web"),
                ("phone", "+13128059851"),
                ("code", "123456"),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            &[("client_id", "web")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &[("grant_type", "refresh_token"), ("client_id", "web")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "web"),
                ("refresh_token", &unknown),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", "web"),
                ("username", "ora@example.com"),
                ("password", "wrong"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", "web"),
                ("username", "ora@example.com"),
                ("password", PW),
                ("scope", "admin"),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", "rs"),
                ("client_secret", &c.rs_secret),
                ("username", "ora@example.com"),
                ("password", PW),
            ],
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
        ),
        (
            &[("grant_type", "password"), ("client_id", "nobody")],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
    ];
    for (form, status, code) in cases {
        expect_error(token(&s, form).await, status, code).await;
    }
    let r = s
        .http
        .post(s.url("/oauth/token"))
        .basic_auth("rs", Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "rt_x")])
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // A browser origin the client does not list may not use it.
    let r = s
        .http
        .post(s.url("/oauth/token"))
        .header("origin", "https://evil.example")
        .form(&password)
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    // Duplicated parameters and JSON bodies are malformed requests.
    let r = s
        .post_raw(
            "/oauth/token",
            "application/x-www-form-urlencoded",
            "grant_type=password&grant_type=password&client_id=web",
        )
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    let r = s.post_raw("/oauth/token", "application/json", "{}").await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    s.stop().await;
}

pub async fn introspection_and_revocation_feed<D: E2eDatabase>() {
    let (s, c) = start::<D>().await;
    s.register("ivy@example.com", PW).await;
    let t = s.login("ivy@example.com", PW).await;
    let introspect = |token: String, secret: String| {
        let req = s
            .http
            .post(s.url("/oauth/introspect"))
            .basic_auth("rs", Some(secret))
            .form(&[("token", token)]);
        async move { req.send().await.unwrap() }
    };
    let body: Value = introspect(t.access.clone(), c.rs_secret.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["sid"], t.session.as_str());
    let body: Value = introspect(t.refresh.clone(), c.rs_secret.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (body["active"].as_bool(), body["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    expect_error(
        introspect(t.access.clone(), "wrong".into()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    // Public clients may not introspect.
    let r = s
        .http
        .post(s.url("/oauth/introspect"))
        .form(&[("token", t.access.as_str()), ("client_id", "web")])
        .send()
        .await
        .unwrap();
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let feed = |after: i64, wait: u64| {
        let req = s
            .http
            .get(s.url(&format!("/oauth/revocations?after={after}&wait={wait}")))
            .basic_auth("rs", Some(c.rs_secret.clone()));
        async move { req.send().await.unwrap() }
    };
    let page: Value = feed(0, 0).await.json().await.unwrap();
    let cursor = page["cursor"].as_i64().unwrap();
    let r = s
        .http
        .post(s.url("/v1/auth/logout"))
        .bearer_auth(&t.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let page: Value = feed(cursor, 5).await.json().await.unwrap();
    assert!(page["cursor"].as_i64().unwrap() > cursor);
    let events = page["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "session" && e["sid"] == t.session.as_str()),
        "{page}"
    );
    let body: Value = introspect(t.access.clone(), c.rs_secret.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, serde_json::json!({"active": false}));
    expect_error(
        s.http
            .get(s.url("/oauth/revocations"))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    s.stop().await;
}

pub async fn metadata_cors_415_and_405<D: E2eDatabase>() {
    let (s, _c) = start::<D>().await;
    let issuer = s.settings.issuer.clone();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let meta: Value = s
            .http
            .get(s.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["issuer"], issuer.as_str());
        assert_eq!(meta["token_endpoint"], format!("{issuer}/oauth/token"));
        assert_eq!(meta["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
        assert!(
            meta["introspection_endpoint"].is_string() && meta["revocation_endpoint"].is_string()
        );
        assert_eq!(
            meta["grant_types_supported"],
            serde_json::json!(["password", "refresh_token"])
        );
    }
    // Preflight from a listed origin: answered, with credentials.
    let preflight = |origin: &str| {
        s.http
            .request(reqwest::Method::OPTIONS, s.url("/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let r = preflight(APP).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["access-control-allow-origin"], APP);
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    assert!(
        r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let r = preflight("https://evil.example").await.unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    // The JWKS is readable from anywhere, without credentials.
    let r = s
        .http
        .get(s.url("/.well-known/jwks.json"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(!r.headers().contains_key("access-control-allow-credentials"));
    // A text/plain login (a "simple" cross-site request) is refused.
    let r = s
        .post_raw(
            "/v1/auth/login",
            "text/plain",
            "{\"email\":\"a@b.c\",\"password\":\"x\"}",
        )
        .await;
    expect_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request").await;
    let r = s.http.put(s.url("/v1/auth/login")).send().await.unwrap();
    assert!(r.headers().contains_key("allow"));
    expect_error(r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    s.stop().await;
}
