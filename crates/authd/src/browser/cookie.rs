//! The browser session's two cookies: `__Host-authd_refresh` (the refresh token,
//! `HttpOnly`) and `__Host-authd_csrf` (the double-submit CSRF token, readable by the
//! page's script), how they are set and cleared, and reading them from `Cookie` headers.
//!
//! Both use the `__Host-` prefix: the browser accepts them only with `Secure`,
//! `Path=/` and no `Domain`, so they are locked to authd's host and no sibling
//! subdomain can set or overwrite them. The issue asked for the refresh cookie's path
//! to be limited to the refresh and logout endpoints; the prefix forbids any path
//! but `/`, and host-locking is worth more than path scoping (paths are no security
//! boundary within one origin anyway), so the path is `/`.

use axum::http::{HeaderMap, HeaderValue, header};

/// The refresh-token cookie.
pub(crate) const REFRESH_COOKIE: &str = "__Host-authd_refresh";
/// The double-submit CSRF cookie (not `HttpOnly`: the page copies it into
/// `X-CSRF-Token`).
pub(crate) const CSRF_COOKIE: &str = "__Host-authd_csrf";

/// The value of a `Set-Cookie` header for `name=value` living `max_age` seconds.
fn set_cookie(name: &str, value: &str, max_age: i64, http_only: bool) -> HeaderValue {
    let http_only = if http_only { "; HttpOnly" } else { "" };
    let text = format!(
        "{name}={value}; Max-Age={}; Path=/; Secure{http_only}; SameSite=Strict",
        max_age.max(0)
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Appends the two cookies of a session: its refresh token and its CSRF token, both
/// living `max_age` seconds.
pub(crate) fn set_session_cookies(
    headers: &mut HeaderMap,
    refresh: &str,
    csrf: &str,
    max_age: i64,
) {
    headers.append(
        header::SET_COOKIE,
        set_cookie(REFRESH_COOKIE, refresh, max_age, true),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(CSRF_COOKIE, csrf, max_age, false),
    );
}

/// Appends headers that delete both cookies (`Max-Age=0`, same attributes).
pub(crate) fn clear_session_cookies(headers: &mut HeaderMap) {
    headers.append(header::SET_COOKIE, set_cookie(REFRESH_COOKIE, "", 0, true));
    headers.append(header::SET_COOKIE, set_cookie(CSRF_COOKIE, "", 0, false));
}

/// The value of the cookie `name` in the request's `Cookie` headers (the first one
/// if repeated); `None` when absent or empty.
pub(crate) fn read_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies_from_every_header() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-authd_csrf=xyz"),
        );
        h.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-authd_refresh=rt_1"),
        );
        assert_eq!(read_cookie(&h, CSRF_COOKIE), Some("xyz"));
        assert_eq!(read_cookie(&h, REFRESH_COOKIE), Some("rt_1"));
        assert_eq!(read_cookie(&h, "b"), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-authd_csrf="),
        );
        assert_eq!(read_cookie(&h, CSRF_COOKIE), None);
    }

    #[test]
    fn cookie_attributes() {
        let mut h = HeaderMap::new();
        set_session_cookies(&mut h, "rt_x", "c", 60);
        let all: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(
            all[0],
            "__Host-authd_refresh=rt_x; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            all[1],
            "__Host-authd_csrf=c; Max-Age=60; Path=/; Secure; SameSite=Strict"
        );
    }
}
