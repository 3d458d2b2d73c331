//! The end-to-end scenarios, written once and run on every backend.

use std::collections::BTreeSet;
use std::time::Duration;

use auth_core::{TokenService, TokenStore};
use authd::{AuthState, Authenticated};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::harness::{TestDatabase, TestServer, expect_error, expect_invalid_token, tokens};

const PW: &str = "correct horse battery";

pub async fn register_login_me<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    let uid = s.register("Alice@Example.com", PW).await;
    assert!(uid > 0);

    // The email is already registered: 409 (see the crate docs for why).
    let dup = s
        .post_json(
            "/v1/auth/register",
            &json!({"email": "alice@example.com", "password": PW}),
        )
        .await;
    expect_error(dup, StatusCode::CONFLICT, "email_taken").await;
    // Invalid inputs are 400 invalid_request, nothing written.
    let before = s.counts().await;
    let short = s
        .post_json(
            "/v1/auth/register",
            &json!({"email": "bob@example.com", "password": "x"}),
        )
        .await;
    expect_error(short, StatusCode::BAD_REQUEST, "invalid_request").await;
    let bad_email = s
        .post_json(
            "/v1/auth/register",
            &json!({"email": "not-an-email", "password": PW}),
        )
        .await;
    expect_error(bad_email, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(s.counts().await, before);

    let r = s
        .post_json(
            "/v1/auth/login",
            &json!({"email": "alice@example.com", "password": PW}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let t = tokens(r).await;
    let keys: BTreeSet<&str> = t
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "session_id"
        ])
    );
    assert_eq!(t.body["token_type"], "Bearer");
    let expires_in = t.body["expires_in"].as_i64().unwrap();
    assert!((890..=900).contains(&expires_in), "{expires_in}");
    assert!(t.refresh.starts_with("rt_"));
    assert!(t.session.parse::<uuid::Uuid>().is_ok());

    let me = s.get_bearer("/v1/me", &t.access).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<Value>().await.unwrap(),
        json!({"user_id": uid, "email": "alice@example.com"})
    );

    // No token: 401 with a bare challenge. A bad token: 401 invalid_token.
    let none = s.http.get(s.url("/v1/me")).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert!(
        none.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    expect_invalid_token(s.get_bearer("/v1/me", "not.a.jwt").await).await;
    expect_invalid_token(s.get_bearer("/v1/me", &t.refresh).await).await;
    let mut tampered = t.access.clone();
    tampered.pop();
    tampered.push(if t.access.ends_with('A') { 'B' } else { 'A' });
    expect_invalid_token(s.get_bearer("/v1/me", &tampered).await).await;

    // Wrong password and unknown account answer exactly alike.
    let wrong = s
        .post_json(
            "/v1/auth/login",
            &json!({"email": "alice@example.com", "password": "wrong password"}),
        )
        .await;
    assert!(wrong.headers().contains_key(WWW_AUTHENTICATE));
    let wrong = expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = s
        .post_json(
            "/v1/auth/login",
            &json!({"email": "nobody@example.com", "password": PW}),
        )
        .await;
    let unknown = expect_error(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
    s.stop().await;
}

/// At retry window 0 (strict), a rotated token presented again revokes the session.
pub async fn refresh_rotates_and_reuse_revokes_the_session<D: TestDatabase>() {
    let s = TestServer::<D>::start_with(|c| c.retry_window = Duration::ZERO).await;
    s.register("carol@example.com", PW).await;
    let first = s.login("carol@example.com", PW).await;

    let r = s.refresh(&first.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let second = tokens(r).await;
    assert_eq!(
        second.session, first.session,
        "rotation stays in the session"
    );
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(
        s.get_bearer("/v1/me", &second.access).await.status(),
        StatusCode::OK
    );

    // The old refresh token again: theft signal. 400 invalid_grant, session gone.
    let reuse = s.refresh(&first.refresh).await;
    let body = expect_error(reuse, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(!body.to_string().contains(&first.refresh), "no token echo");
    expect_error(
        s.refresh(&second.refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_invalid_token(s.get_bearer("/v1/me", &second.access).await).await;
    expect_invalid_token(s.get_bearer("/v1/me", &first.access).await).await;

    // The user can log in again; the revoked session is not listed.
    let fresh = s.login("carol@example.com", PW).await;
    let list: Value = s
        .get_bearer("/v1/auth/sessions", &fresh.access)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![fresh.session.as_str()]);

    // Garbage refresh tokens: 400 invalid_grant, never 500.
    for bad in [
        "",
        "rt_",
        "rt_AAAA",
        "x".repeat(5000).as_str(),
        fresh.access.as_str(),
    ] {
        expect_error(
            s.refresh(bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }

    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("authd_reuse_attacks_total 1"), "{metrics}");
    assert!(
        metrics.contains("authd_refreshes_total{result=\"success\"} 1"),
        "{metrics}"
    );
    s.stop().await;
}

pub async fn logout_stops_the_access_token<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    s.register("dave@example.com", PW).await;
    let t = s.login("dave@example.com", PW).await;
    let other = s.login("dave@example.com", PW).await;
    assert_eq!(
        s.get_bearer("/v1/me", &t.access).await.status(),
        StatusCode::OK
    );

    let r = s.post_bearer("/v1/auth/logout", &t.access).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_invalid_token(s.get_bearer("/v1/me", &t.access).await).await;
    expect_error(
        s.refresh(&t.refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_invalid_token(s.post_bearer("/v1/auth/logout", &t.access).await).await;
    // Only that session ended.
    assert_eq!(
        s.get_bearer("/v1/me", &other.access).await.status(),
        StatusCode::OK
    );
    assert_eq!(s.refresh(&other.refresh).await.status(), StatusCode::OK);
    let anonymous = s.http.post(s.url("/v1/auth/logout")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}

pub async fn logout_all_ends_every_session<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    s.register("erin@example.com", PW).await;
    s.register("frank@example.com", PW).await;
    let a = s.login("erin@example.com", PW).await;
    let b = s.login("erin@example.com", PW).await;
    let frank = s.login("frank@example.com", PW).await;

    assert_eq!(
        s.post_bearer("/v1/auth/logout-all", &a.access)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    for t in [&a, &b] {
        expect_invalid_token(s.get_bearer("/v1/me", &t.access).await).await;
        expect_error(
            s.refresh(&t.refresh).await,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        )
        .await;
    }
    assert_eq!(
        s.get_bearer("/v1/me", &frank.access).await.status(),
        StatusCode::OK,
        "other users untouched"
    );
    let again = s.login("erin@example.com", PW).await;
    assert_eq!(
        s.get_bearer("/v1/me", &again.access).await.status(),
        StatusCode::OK,
        "new logins work"
    );
    s.stop().await;
}

pub async fn sessions_list_and_revoke<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    s.register("gina@example.com", PW).await;
    s.register("hank@example.com", PW).await;
    let laptop = s.login_as("gina@example.com", PW, "laptop/1.0").await;
    let phone = s
        .login_on_device(
            "gina@example.com",
            PW,
            "phone/2.0",
            json!({"device_id": "ph-0042", "device_name": "Gina's phone\u{7}"}),
        )
        .await;
    let hank = s.login("hank@example.com", PW).await;

    let r = s.get_bearer("/v1/auth/sessions", &laptop.access).await;
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = r.json().await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for item in list {
        let keys: BTreeSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "id",
                "created_at",
                "last_used_at",
                "user_agent",
                "ip",
                "device_id",
                "device_name",
                "dpop_bound",
                "current"
            ])
        );
        assert_eq!(item["ip"], "127.0.0.1");
        let is_laptop = item["id"] == laptop.session.as_str();
        assert_eq!(item["dpop_bound"], false);
        if is_laptop {
            assert_eq!(
                (&item["device_id"], &item["device_name"]),
                (&json!(null), &json!(null))
            );
        } else {
            assert_eq!(item["device_id"], "ph-0042");
            assert_eq!(
                item["device_name"], "Gina's phone",
                "control characters dropped"
            );
        }
        assert_eq!(item["current"], is_laptop);
        assert_eq!(
            item["user_agent"],
            if is_laptop { "laptop/1.0" } else { "phone/2.0" }
        );
        assert!(
            time::OffsetDateTime::parse(
                item["created_at"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok()
        );
    }

    // Someone else's session, an unknown id and a non-id: 404, nothing revoked.
    let path = |id: &str| format!("/v1/auth/sessions/{id}");
    expect_error(
        s.delete_bearer(&path(&hank.session), &laptop.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        s.delete_bearer(&path(&uuid::Uuid::new_v4().to_string()), &laptop.access)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        s.delete_bearer(&path("not-a-uuid"), &laptop.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        s.get_bearer("/v1/me", &hank.access).await.status(),
        StatusCode::OK
    );

    let r = s.delete_bearer(&path(&phone.session), &laptop.access).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_invalid_token(s.get_bearer("/v1/me", &phone.access).await).await;
    expect_error(
        s.refresh(&phone.refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let list: Value = s
        .get_bearer("/v1/auth/sessions", &laptop.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], laptop.session.as_str());
    expect_error(
        s.delete_bearer(&path(&phone.session), &laptop.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_invalid_token(s.get_bearer("/v1/auth/sessions", "garbage").await).await;
    s.stop().await;
}

pub async fn rfc7009_revoke<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    s.register("ivy@example.com", PW).await;
    let t = s.login("ivy@example.com", PW).await;

    // Access token (JSON, with a hint): it stops working; the session lives on.
    let r = s
        .post_json(
            "/v1/auth/revoke",
            &json!({"token": t.access, "token_type_hint": "access_token"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    expect_invalid_token(s.get_bearer("/v1/me", &t.access).await).await;
    let r = s.refresh(&t.refresh).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t2 = tokens(r).await;

    // Refresh token, form-encoded as RFC 7009 describes: the session ends.
    let form = format!("token={}&token_type_hint=refresh_token", t2.refresh);
    let r = s
        .post_raw("/v1/auth/revoke", "application/x-www-form-urlencoded", form)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    expect_error(
        s.refresh(&t2.refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_invalid_token(s.get_bearer("/v1/me", &t2.access).await).await;

    // Unknown, invalid, already revoked: still 200.
    for token in [
        t2.refresh.as_str(),
        t.access.as_str(),
        "garbage",
        "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "",
    ] {
        let r = s
            .post_json("/v1/auth/revoke", &json!({"token": token}))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{token}");
    }
    // No token parameter at all is a malformed request.
    expect_error(
        s.post_json("/v1/auth/revoke", &json!({})).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    s.stop().await;
}

pub async fn jwks_verifies_the_issued_token<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    let uid = s.register("jack@example.com", PW).await;
    let t = s.login("jack@example.com", PW).await;

    let r = s
        .http
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let jwks: jsonwebtoken::jwk::JwkSet = r.json().await.unwrap();
    let header = jsonwebtoken::decode_header(&t.access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.expect("kid is always set");
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[s.settings.issuer.as_str()]);
    validation.set_audience(&[s.settings.audience.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(&t.access, &key, &validation)
        .expect("verifies with the JWKS key");
    assert_eq!(data.claims["sub"], uid.to_string());
    assert_eq!(data.claims["sid"], t.session.as_str());
    assert!(data.claims["jti"].as_str().is_some_and(|j| j.len() == 32));
    // No private material is published.
    let raw = serde_json::to_string(&jwks).unwrap();
    assert!(!raw.contains("\"d\""), "{raw}");
    s.stop().await;
}

pub async fn malformed_and_oversized_bodies_write_nothing<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    s.register("kim@example.com", PW).await;
    let t = s.login("kim@example.com", PW).await;
    let before = s.counts().await;
    let json_ct = "application/json";

    for path in [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/revoke",
    ] {
        for bad in [
            "{not json",
            "",
            "[]",
            "null",
            "{\"email\": 1, \"password\": 2}",
            "{\"refresh_token\": 5, \"token\": 7}",
        ] {
            let r = s.post_raw(path, json_ct, bad).await;
            let body = expect_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
            assert!(!body.to_string().contains("not json"), "no echo: {body}");
        }
        // A body over the limit (16 KiB), well-formed or not, declared or chunked.
        let huge = json!({"email": "kim@example.com", "password": "p".repeat(20_000), "refresh_token": t.refresh, "token": t.access});
        let r = s.post_raw(path, json_ct, huge.to_string()).await;
        expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;
        let chunks =
            futures::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])));
        let r = s
            .post_raw(path, json_ct, reqwest::Body::wrap_stream(chunks))
            .await;
        expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;
        let r = s
            .post_raw(path, "application/x-www-form-urlencoded", "%%%=&&")
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
    }
    assert_eq!(
        s.counts().await,
        before,
        "users, refresh tokens, revocations and audit rows unchanged"
    );
    // The session still works: nothing was revoked by the garbage.
    assert_eq!(
        s.get_bearer("/v1/me", &t.access).await.status(),
        StatusCode::OK
    );
    assert_eq!(s.refresh(&t.refresh).await.status(), StatusCode::OK);
    s.stop().await;
}

pub async fn burst_of_bad_logins_is_rate_limited<D: TestDatabase>() {
    let s = TestServer::<D>::start_with(|c| {
        c.rate_limits.login_per_account = 5;
        c.rate_limits.login_per_ip = 12;
    })
    .await;
    s.register("lou@example.com", PW).await;
    let bad = json!({"email": "lou@example.com", "password": "wrong password"});
    for _ in 0..5 {
        expect_error(
            s.post_json("/v1/auth/login", &bad).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let r = s.post_json("/v1/auth/login", &bad).await;
    let retry: u64 = r.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The account is throttled even with the right password (and the email's case).
    let right = json!({"email": "LOU@example.com", "password": PW});
    expect_error(
        s.post_json("/v1/auth/login", &right).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Another account from the same address still gets answers, until the IP's budget
    // (12 per minute, 7 used) runs out too, whatever the email.
    let audit_before = s.counts().await[3];
    for i in 0..5 {
        let other = json!({"email": format!("nobody{i}@example.com"), "password": PW});
        expect_error(
            s.post_json("/v1/auth/login", &other).await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    let other = json!({"email": "someone-else@example.com", "password": PW});
    expect_error(
        s.post_json("/v1/auth/login", &other).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    assert_eq!(
        s.counts().await[3],
        audit_before + 5,
        "refused attempts never reach the store"
    );
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("authd_logins_total{result=\"rate_limited\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("authd_rate_limited_total{limiter=\"login_ip\"} 1"),
        "{metrics}"
    );
    s.stop().await;
}

pub async fn refresh_is_rate_limited_per_account<D: TestDatabase>() {
    let s = TestServer::<D>::start_with(|c| c.rate_limits.refresh_per_account = 2).await;
    s.register("max@example.com", PW).await;
    let mut t = s.login("max@example.com", PW).await;
    for _ in 0..2 {
        let r = s.refresh(&t.refresh).await;
        assert_eq!(r.status(), StatusCode::OK);
        t = tokens(r).await;
    }
    let r = s.refresh(&t.refresh).await;
    assert!(r.headers().contains_key(RETRY_AFTER));
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Refused before rotation: the token is still live (no reuse, no revocation).
    assert_eq!(
        s.get_bearer("/v1/me", &t.access).await.status(),
        StatusCode::OK
    );
    s.stop().await;
}

pub async fn metrics_health_and_unknown_routes<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    s.register("nia@example.com", PW).await;
    let t = s.login("nia@example.com", PW).await;
    s.get_bearer("/v1/me", &t.access).await;
    s.get_bearer("/v1/me", "bad").await;

    let health = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );
    expect_error(
        s.http.get(s.url("/nope")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let r = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert!(
        r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let m = r.text().await.unwrap();
    for line in [
        "authd_logins_total{result=\"success\"} 1",
        "authd_registrations_total{result=\"success\"} 1",
        "authd_authentications_total{result=\"success\"} 1",
        "authd_authentications_total{result=\"malformed\"} 1",
        "authd_http_requests_total{method=\"GET\",route=\"/v1/me\",status=\"401\"} 1",
        "authd_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/auth/login\"} 1",
        "authd_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "authd_cleanup_runs_total 0",
        "# TYPE authd_http_request_duration_seconds histogram",
    ] {
        assert!(m.contains(line), "missing `{line}` in\n{m}");
    }
    assert!(!m.contains(&t.access) && !m.contains(&t.refresh));
    s.stop().await;
}

pub async fn background_cleanup_runs<D: TestDatabase>() {
    let s = TestServer::<D>::start_with(|c| c.cleanup_interval = Some(Duration::from_millis(200)))
        .await;
    let audit_before = s.counts().await[3];
    tokio::time::sleep(Duration::from_millis(700)).await;
    let m = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let runs: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("authd_cleanup_runs_total "))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(runs >= 1, "{m}");
    assert!(
        s.counts().await[3] > audit_before,
        "each run writes a CLEANUP audit row"
    );
    s.stop().await;
}

#[derive(Clone)]
struct ForeignState<S: TokenStore> {
    tokens: TokenService<S>,
    greeting: &'static str,
}

impl<S: TokenStore> AuthState for ForeignState<S> {
    type Verifier = TokenService<S>;
    fn verifier(&self) -> &TokenService<S> {
        &self.tokens
    }
}

async fn hello<S: TokenStore>(
    axum::extract::State(state): axum::extract::State<ForeignState<S>>,
    auth: Authenticated,
) -> String {
    format!(
        "{} {} in session {}",
        state.greeting, auth.user_id, auth.claims.sid
    )
}

/// Another axum service protects its routes with authd's extractor, over the same store and keys.
pub async fn extractor_protects_another_service<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    let uid = s.register("olga@example.com", PW).await;
    let t = s.login("olga@example.com", PW).await;

    let jwks: Value = s
        .http
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(jwks["keys"].as_array().is_some_and(|k| !k.is_empty()));
    // The other service shares the store but signs with its own keyring.
    let keys = auth_core::Keyring::generate("other", auth_core::SigningAlgorithm::EdDSA).unwrap();
    let own = authd::build_service(s.db.store(), keys, &s.settings).unwrap();
    let other_token = own
        .start_session(auth_core::UserId(uid), &Default::default())
        .await
        .unwrap();

    let state = ForeignState {
        tokens: own,
        greeting: "hello",
    };
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(hello::<D::Store>))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let r = s
        .http
        .get(format!("{base}/hello"))
        .bearer_auth(&other_token.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.text().await.unwrap(),
        format!("hello {uid} in session {}", other_token.session_id)
    );
    // authd's token is signed by a key the other service does not hold: refused.
    expect_invalid_token(
        s.http
            .get(format!("{base}/hello"))
            .bearer_auth(&t.access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let r = s.http.get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key(WWW_AUTHENTICATE));
    // Revocation through the shared store reaches the other service.
    let r = s
        .post_json(
            "/v1/auth/revoke",
            &json!({"token": other_token.refresh_token.expose()}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut refused = false;
    for _ in 0..80 {
        let r = s
            .http
            .get(format!("{base}/hello"))
            .bearer_auth(&other_token.access_token)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused,
        "the revocation reaches the other service within the cache's staleness bound"
    );
    server.abort();
    s.stop().await;
}

/// The revocation mode setting reaches the service: stateless tokens outlive logout
/// (until they expire), allowlisted ones are registered and stop at logout.
pub async fn revocation_modes_are_honoured<D: TestDatabase>() {
    let s =
        TestServer::<D>::start_with(|c| c.revocation_mode = auth_core::RevocationMode::Stateless)
            .await;
    s.register("pam@example.com", PW).await;
    let t = s.login("pam@example.com", PW).await;
    assert_eq!(
        s.post_bearer("/v1/auth/logout", &t.access).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.get_bearer("/v1/me", &t.access).await.status(),
        StatusCode::OK,
        "stateless: valid until exp"
    );
    expect_error(
        s.refresh(&t.refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    s.stop().await;

    let s =
        TestServer::<D>::start_with(|c| c.revocation_mode = auth_core::RevocationMode::Allowlist)
            .await;
    s.register("pam@example.com", PW).await;
    let t = s.login("pam@example.com", PW).await;
    assert_eq!(
        s.get_bearer("/v1/me", &t.access).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        s.post_bearer("/v1/auth/logout", &t.access).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_invalid_token(s.get_bearer("/v1/me", &t.access).await).await;
    s.stop().await;
}

/// At the default retry window, a client whose refresh answer was lost retries with
/// the previous token and gets the same successor (and a fresh access token); the
/// successor goes on. At window 0 the same retry revokes the session.
pub async fn a_retry_gets_the_same_successor<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    s.register("quinn@example.com", PW).await;
    let t = s.login("quinn@example.com", PW).await;
    let first = s.refresh(&t.refresh).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first = tokens(first).await;
    let retry = s.refresh(&t.refresh).await;
    assert_eq!(
        retry.status(),
        StatusCode::OK,
        "the immediate predecessor, inside the window"
    );
    let retried = tokens(retry).await;
    assert_eq!(retried.session, t.session);
    assert_eq!(retried.refresh, first.refresh, "the same successor");
    assert_ne!(retried.access, first.access, "a fresh access token");
    assert_eq!(
        s.get_bearer("/v1/me", &retried.access).await.status(),
        StatusCode::OK
    );
    assert_eq!(s.refresh(&retried.refresh).await.status(), StatusCode::OK);
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("authd_refresh_total{outcome=\"replayed\",cause=\"concurrent\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("authd_refresh_total{outcome=\"rotated\"} 2"),
        "{metrics}"
    );
    s.stop().await;

    let strict = TestServer::<D>::start_with(|c| c.retry_window = Duration::ZERO).await;
    strict.register("rhea@example.com", PW).await;
    let t = strict.login("rhea@example.com", PW).await;
    assert_eq!(strict.refresh(&t.refresh).await.status(), StatusCode::OK);
    expect_error(
        strict.refresh(&t.refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    strict.stop().await;
}
