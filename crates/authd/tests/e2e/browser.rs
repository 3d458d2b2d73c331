//! Browser sessions over HTTP: the refresh token in a `__Host-` cookie, rotation
//! through it, the CSRF layers (Origin / Sec-Fetch-Site, double-submit token) of the
//! cookie-authenticated endpoints, logout, and the `/account` page's headers. The
//! harness's issuer is `https://authd.test`, so that is the page's origin here; the
//! cookies are sent by hand, as a browser would.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestDatabase, TestServer, expect_error};

const PW: &str = "correct horse battery";
const ORIGIN: &str = "https://authd.test";
const REFRESH: &str = "__Host-authd_refresh";
const CSRF: &str = "__Host-authd_csrf";
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The `Set-Cookie` headers of a response.
fn set_cookies(r: &Response) -> Vec<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value `name` is set to in `set_cookies`.
fn cookie_value(set_cookies: &[String], name: &str) -> String {
    set_cookies
        .iter()
        .filter_map(|c| c.split(';').next()?.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .unwrap_or_else(|| panic!("no {name} in {set_cookies:?}"))
}

/// A browser's session: its two cookies and the answer that set them.
#[derive(Debug, Clone)]
struct BrowserSession {
    refresh: String,
    csrf: String,
    body: Value,
}

impl BrowserSession {
    fn cookie_header(&self) -> String {
        format!("{REFRESH}={}; {CSRF}={}", self.refresh, self.csrf)
    }
}

/// Reads a successful login or refresh answer: JSON without a refresh token, both
/// cookies with the exact attributes.
async fn session_of(r: Response, session_ttl: i64) -> BrowserSession {
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let cookies = set_cookies(&r);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let refresh = cookie_value(&cookies, REFRESH);
    let csrf = cookie_value(&cookies, CSRF);
    assert!(refresh.starts_with("rt_"));
    let max_age = |c: &str| -> i64 {
        c.split("; ")
            .find_map(|a| a.strip_prefix("Max-Age="))
            .unwrap()
            .parse()
            .unwrap()
    };
    for c in &cookies {
        let age = max_age(c);
        assert!(
            (session_ttl - 10..=session_ttl).contains(&age),
            "Max-Age {age} is the session's remaining lifetime"
        );
    }
    assert_eq!(
        cookies[0],
        format!(
            "{REFRESH}={refresh}; Max-Age={}; Path=/; Secure; HttpOnly; SameSite=Strict",
            max_age(&cookies[0])
        )
    );
    assert_eq!(
        cookies[1],
        format!(
            "{CSRF}={csrf}; Max-Age={}; Path=/; Secure; SameSite=Strict",
            max_age(&cookies[1])
        )
    );
    let body: Value = r.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].is_string() && body["expires_in"].is_i64());
    assert!(body["session_id"].is_string());
    assert_eq!(body["csrf_token"], csrf.as_str());
    BrowserSession {
        refresh,
        csrf,
        body,
    }
}

/// Asserts both cookies are deleted (`Max-Age=0`).
fn assert_cleared(cookies: &[String]) {
    assert_eq!(
        cookies,
        [
            format!("{REFRESH}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict"),
            format!("{CSRF}=; Max-Age=0; Path=/; Secure; SameSite=Strict"),
        ]
    );
}

impl<D: TestDatabase> TestServer<D> {
    fn session_ttl(&self) -> i64 {
        self.settings.session_ttl.as_secs() as i64
    }

    async fn browser_login(&self, email: &str, device: &str) -> BrowserSession {
        let r = self
            .http
            .post(self.url("/v1/browser/login"))
            .header("Origin", ORIGIN)
            .json(&json!({"email": email, "password": PW, "device_name": device}))
            .send()
            .await
            .unwrap();
        session_of(r, self.session_ttl()).await
    }

    /// A POST to a cookie endpoint with the given headers.
    async fn browser_post(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.post(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// A POST as the account page sends it.
    async fn page_post(&self, path: &str, session: &BrowserSession) -> Response {
        let cookie = session.cookie_header();
        self.browser_post(
            path,
            &[
                ("Origin", ORIGIN),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &session.csrf),
            ],
        )
        .await
    }
}

/// Login sets the cookies; refresh rotates through them; every CSRF refusal is a 403
/// that changes nothing; a replayed rotated cookie ends the session and clears both.
pub async fn browser_cookie_sessions_and_csrf<D: TestDatabase>() {
    let s = TestServer::<D>::start_with(|c| c.retry_window = Duration::ZERO).await;
    s.register("bea@example.com", PW).await;

    // Login is same-origin only (login CSRF): 403 and nothing written otherwise.
    let before = s.counts().await;
    let body = json!({"email": "bea@example.com", "password": PW});
    for headers in [
        vec![],
        vec![("Origin", "https://evil.test")],
        vec![("Sec-Fetch-Site", "cross-site")],
    ] {
        let mut request = s.http.post(s.url("/v1/browser/login")).json(&body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let r = request.send().await.unwrap();
        assert!(set_cookies(&r).is_empty());
        expect_error(r, StatusCode::FORBIDDEN, "csrf_refused").await;
    }
    assert_eq!(s.counts().await, before);

    let first = s.browser_login("bea@example.com", "Bea laptop").await;
    let access = first.body["access_token"].as_str().unwrap();
    let list: Value = s
        .get_bearer("/v1/auth/sessions", access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["device_name"], "Bea laptop");
    assert_eq!(list[0]["current"], true);
    let other = s.browser_login("bea@example.com", "Bea phone").await;
    assert_ne!(other.csrf, first.csrf, "a CSRF token per session");

    // CSRF refusals, on refresh and logout alike: 403 csrf_refused, no cookie set,
    // no row changed.
    let cookie = first.cookie_header();
    let foreign = format!("{REFRESH}={}; {CSRF}={}", first.refresh, other.csrf);
    let mismatched = format!("{REFRESH}={}; {CSRF}=not-the-header", first.refresh);
    let refusals: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "wrong Origin",
            vec![
                ("Origin", "https://evil.test"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &first.csrf),
            ],
        ),
        (
            "Origin of another port",
            vec![
                ("Origin", "https://authd.test:8443"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &first.csrf),
            ],
        ),
        (
            "no Origin, Sec-Fetch-Site cross-site",
            vec![
                ("Sec-Fetch-Site", "cross-site"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &first.csrf),
            ],
        ),
        (
            "neither Origin nor Sec-Fetch-Site",
            vec![("Cookie", &cookie), ("X-CSRF-Token", &first.csrf)],
        ),
        (
            "no X-CSRF-Token",
            vec![("Origin", ORIGIN), ("Cookie", &cookie)],
        ),
        (
            "X-CSRF-Token not the cookie's",
            vec![
                ("Origin", ORIGIN),
                ("Cookie", &mismatched),
                ("X-CSRF-Token", &first.csrf),
            ],
        ),
        (
            "another session's CSRF token",
            vec![
                ("Origin", ORIGIN),
                ("Cookie", &foreign),
                ("X-CSRF-Token", &other.csrf),
            ],
        ),
    ];
    let before = s.counts().await;
    for path in ["/v1/browser/refresh", "/v1/browser/logout"] {
        for (name, headers) in &refusals {
            let r = s.browser_post(path, headers).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}: {name}");
            assert!(set_cookies(&r).is_empty(), "{path}: {name}");
            expect_error(r, StatusCode::FORBIDDEN, "csrf_refused").await;
        }
    }
    assert_eq!(s.counts().await, before, "the refusals changed nothing");

    // Same-origin by Sec-Fetch-Site alone is accepted; no refresh cookie is 401.
    let r = s
        .browser_post(
            "/v1/browser/refresh",
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("Cookie", &format!("{CSRF}={}", first.csrf)),
                ("X-CSRF-Token", &first.csrf),
            ],
        )
        .await;
    expect_error(r, StatusCode::UNAUTHORIZED, "login_required").await;

    // The session still refreshes: the cookie rotates, the CSRF token stays.
    let second = session_of(
        s.page_post("/v1/browser/refresh", &first).await,
        s.session_ttl(),
    )
    .await;
    assert_ne!(second.refresh, first.refresh, "the refresh cookie rotated");
    assert_eq!(second.csrf, first.csrf);
    assert_eq!(second.body["session_id"], first.body["session_id"]);
    let access = second.body["access_token"].as_str().unwrap();
    assert_eq!(
        s.get_bearer("/v1/me", access).await.status(),
        StatusCode::OK
    );

    // The rotated cookie replayed (no retry window): theft; the session ends and
    // the answer clears both cookies.
    let r = s.page_post("/v1/browser/refresh", &first).await;
    assert_cleared(&set_cookies(&r));
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let r = s.page_post("/v1/browser/refresh", &second).await;
    assert_cleared(&set_cookies(&r));
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        s.get_bearer("/v1/me", access).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // A garbage cookie: invalid_grant, cleared, never 500.
    let garbage = BrowserSession {
        refresh: "rt_AAAA".into(),
        ..other.clone()
    };
    let r = s.page_post("/v1/browser/refresh", &garbage).await;
    assert_cleared(&set_cookies(&r));
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    s.stop().await;
}

/// Logout revokes the cookie's session and clears both cookies; a refused logout
/// leaves the session working.
pub async fn browser_logout_clears_cookies<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    s.register("cleo@example.com", PW).await;
    let session = s.browser_login("cleo@example.com", "Cleo desktop").await;
    let id = session.body["session_id"].as_str().unwrap().to_owned();

    let cookie = session.cookie_header();
    let r = s
        .browser_post(
            "/v1/browser/logout",
            &[
                ("Origin", "http://127.0.0.1"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &session.csrf),
            ],
        )
        .await;
    expect_error(r, StatusCode::FORBIDDEN, "csrf_refused").await;
    let session = session_of(
        s.page_post("/v1/browser/refresh", &session).await,
        s.session_ttl(),
    )
    .await;

    let r = s.page_post("/v1/browser/logout", &session).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_cleared(&set_cookies(&r));
    let access = session.body["access_token"].as_str().unwrap();
    assert_eq!(
        s.get_bearer("/v1/me", access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let r = s.page_post("/v1/browser/refresh", &session).await;
    assert_cleared(&set_cookies(&r));
    expect_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let fresh = s.login("cleo@example.com", PW).await;
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
    assert!(!ids.contains(&id.as_str()), "the session is gone: {ids:?}");
    s.stop().await;
}

/// `/account` and its assets: the CSP exactly, nosniff, no-referrer, no-store, and
/// an HTML page with no inline script, style or event handler.
pub async fn account_page_is_locked_down<D: TestDatabase>() {
    let s = TestServer::<D>::start().await;
    for (path, content_type) in [
        ("/account", "text/html; charset=utf-8"),
        ("/account/account.js", "text/javascript; charset=utf-8"),
        ("/account/account.css", "text/css; charset=utf-8"),
    ] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        assert_eq!(h["content-type"], content_type, "{path}");
        assert_eq!(h["content-security-policy"], CSP, "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    let html = s
        .http
        .get(s.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lower = html.to_ascii_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag_end = at + lower[at..].find('>').unwrap() + 1;
        assert!(
            lower[at..tag_end].contains(" src="),
            "external scripts only"
        );
        assert!(
            lower[tag_end..].starts_with("</script>"),
            "no inline script body"
        );
    }
    assert!(!lower.contains("<style"), "no inline style element");
    assert!(!lower.contains("style="), "no style attribute");
    assert!(!lower.contains("javascript:"));
    for word in lower.split(|c: char| c.is_whitespace() || c == '<') {
        let attribute = word.split('=').next().unwrap_or_default();
        assert!(
            !(word.contains('=') && attribute.starts_with("on")),
            "no event handler attribute: {word}"
        );
    }
    for id in [
        "signin",
        "email",
        "password",
        "device",
        "sessions",
        "signout",
        "signout-all",
        "status",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "#{id}");
    }
    s.stop().await;
}
