//! The `/account` page: static HTML, one script and one style sheet, embedded in the
//! binary, served with a strict Content-Security-Policy (no inline script or style,
//! same-origin fetches only, no framing) and never cached.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The page's Content-Security-Policy.
pub(crate) const ACCOUNT_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The page's HTML.
const ACCOUNT_HTML: &str = include_str!("account.html");
/// The page's script.
const ACCOUNT_JS: &str = include_str!("account.js");
/// The page's style sheet.
const ACCOUNT_CSS: &str = include_str!("account.css");

/// `body` as `content_type` with the page's security headers.
fn static_asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ACCOUNT_CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /account`: the page.
pub(crate) async fn account_html() -> Response {
    static_asset(ACCOUNT_HTML, "text/html; charset=utf-8")
}

/// `GET /account/account.js`: its script.
pub(crate) async fn account_js() -> Response {
    static_asset(ACCOUNT_JS, "text/javascript; charset=utf-8")
}

/// `GET /account/account.css`: its style sheet.
pub(crate) async fn account_css() -> Response {
    static_asset(ACCOUNT_CSS, "text/css; charset=utf-8")
}
