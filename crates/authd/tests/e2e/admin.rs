//! The internal endpoints over HTTP: 401 without a token, 403 `insufficient_scope` for
//! a non-admin, and for an admin: find users, disable and enable, list and revoke any
//! user's sessions, the audit log with filters and paging. A demotion made by another
//! process is refused at the admin's next request.

use auth_core::{Keyring, SigningAlgorithm, TokenService, UserId};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use serde_json::{Value, json};

use crate::harness::{TestDatabase, TestServer, expect_error, expect_invalid_token};

const PW: &str = "correct horse battery";

/// Another service over the server's database, as another authd process would be.
fn side_service<D: TestDatabase>(s: &TestServer<D>) -> TokenService<D::Store> {
    let keys = Keyring::generate("side", SigningAlgorithm::HS256).unwrap();
    authd::build_service(s.db.store(), keys, &s.settings).unwrap()
}

async fn json(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

pub async fn internal_endpoints_for_admins_only<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    let root = s.register("root@example.com", PW).await;
    let joe = s.register("joe@example.com", PW).await;
    let side = side_service(&s);
    assert!(side.set_user_admin(UserId(root), true).await.unwrap());
    let admin = s.login("root@example.com", PW).await;
    let user = s.login_as("joe@example.com", PW, "joe-laptop/1.0").await;

    // No token: 401; a non-admin's valid token: 403 with an OAuth-style body.
    let r = s.http.get(s.url("/v1/admin/audit")).send().await.unwrap();
    assert_eq!(r.headers()[WWW_AUTHENTICATE], r#"Bearer realm="authd""#);
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    for path in [
        "/v1/admin/users?email=joe@example.com".to_owned(),
        format!("/v1/admin/users/{root}"),
        format!("/v1/admin/users/{root}/sessions"),
        "/v1/admin/audit".to_owned(),
    ] {
        let r = s.get_bearer(&path, &user.access).await;
        let challenge = r.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        expect_error(r, StatusCode::FORBIDDEN, "insufficient_scope").await;
    }
    let r = s
        .post_bearer(&format!("/v1/admin/users/{root}/disable"), &user.access)
        .await;
    expect_error(r, StatusCode::FORBIDDEN, "insufficient_scope").await;
    let r = s.get_bearer("/v1/admin/users?id=1", "not-a-token").await;
    expect_invalid_token(r).await;

    // Find by email, id; unknown: 404; ambiguous: 400.
    let found = json(
        s.get_bearer("/v1/admin/users?email=JOE@example.com", &admin.access)
            .await,
    )
    .await;
    assert_eq!(found["id"], joe);
    assert_eq!(found["email"], "joe@example.com");
    assert_eq!(
        (found["is_active"].clone(), found["is_admin"].clone()),
        (json!(true), json!(false))
    );
    let me = json(
        s.get_bearer(&format!("/v1/admin/users/{root}"), &admin.access)
            .await,
    )
    .await;
    assert_eq!(me["is_admin"], true);
    let r = s
        .get_bearer("/v1/admin/users?email=nobody@example.com", &admin.access)
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = s
        .get_bearer("/v1/admin/users?email=a@b.c&id=1", &admin.access)
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    let r = s
        .get_bearer("/v1/admin/users?phone=12", &admin.access)
        .await;
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Joe's sessions, then one revoked by the admin: its refresh token stops working.
    let sessions = json(
        s.get_bearer(&format!("/v1/admin/users/{joe}/sessions"), &admin.access)
            .await,
    )
    .await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["id"], user.session.as_str());
    assert_eq!(sessions[0]["user_agent"], "joe-laptop/1.0");
    let r = s
        .delete_bearer(
            &format!("/v1/admin/users/{joe}/sessions/{}", user.session),
            &admin.access,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = s.refresh(&user.refresh).await;
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let r = s
        .delete_bearer(
            &format!("/v1/admin/users/{joe}/sessions/{}", user.session),
            &admin.access,
        )
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // Revoke all of joe's sessions.
    let again = s.login("joe@example.com", PW).await;
    let r = s
        .delete_bearer(&format!("/v1/admin/users/{joe}/sessions"), &admin.access)
        .await;
    assert_eq!(json(r).await["revoked"], 1);
    expect_error(
        s.refresh(&again.refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;

    // Disable: joe cannot log in; enable: he can again.
    let r = s
        .post_bearer(&format!("/v1/admin/users/{joe}/disable"), &admin.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = s
        .post_json(
            "/v1/auth/login",
            &json!({"email": "joe@example.com", "password": PW}),
        )
        .await;
    expect_error(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let r = s
        .post_bearer(&format!("/v1/admin/users/{joe}/enable"), &admin.access)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    s.login("joe@example.com", PW).await;
    let r = s
        .post_bearer("/v1/admin/users/999999/disable", &admin.access)
        .await;
    expect_error(r, StatusCode::NOT_FOUND, "not_found").await;

    // The audit log: by user and kind, newest first, paged.
    let page = json(
        s.get_bearer(
            &format!("/v1/admin/audit?user={joe}&kind=login_succeeded&limit=2"),
            &admin.access,
        )
        .await,
    )
    .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e["kind"] == "LOGIN_SUCCEEDED" && e["user_id"] == joe)
    );
    assert!(events[0]["id"].as_i64() > events[1]["id"].as_i64());
    let before = page["next_before"].as_i64().expect("a next page");
    let rest = json(
        s.get_bearer(
            &format!("/v1/admin/audit?user={joe}&kind=LOGIN_SUCCEEDED&limit=2&before={before}"),
            &admin.access,
        )
        .await,
    )
    .await;
    assert_eq!(
        rest["events"].as_array().unwrap().len(),
        1,
        "joe logged in 3 times"
    );
    assert!(rest.get("next_before").is_none());
    let failed = json(
        s.get_bearer("/v1/admin/audit?kind=LOGIN_FAILED", &admin.access)
            .await,
    )
    .await;
    assert_eq!(
        failed["events"].as_array().unwrap().len(),
        1,
        "the disabled login"
    );
    let since = json(
        s.get_bearer("/v1/admin/audit?since=2999-01-01T00:00:00Z", &admin.access)
            .await,
    )
    .await;
    assert!(since["events"].as_array().unwrap().is_empty());
    let until = json(
        s.get_bearer(
            "/v1/admin/audit?until=2999-01-01T00:00:00Z&limit=500",
            &admin.access,
        )
        .await,
    )
    .await;
    assert!(until["events"].as_array().unwrap().len() >= 6);
    for bad in ["kind=NOPE", "since=yesterday", "limit=-1", "colour=red"] {
        let r = s
            .get_bearer(&format!("/v1/admin/audit?{bad}"), &admin.access)
            .await;
        expect_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    }

    // Demoted by another process: refused at the next request, token unchanged.
    assert!(side.set_user_admin(UserId(root), false).await.unwrap());
    let r = s.get_bearer("/v1/admin/audit", &admin.access).await;
    expect_error(r, StatusCode::FORBIDDEN, "insufficient_scope").await;
    s.stop().await;
}
