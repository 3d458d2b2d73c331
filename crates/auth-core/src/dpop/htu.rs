//! The `htu` comparison: an HTTP(S) URL without query and fragment, with the scheme
//! and host lowercased and the scheme's default port removed (RFC 9449 section 4.3,
//! RFC 3986 sections 6.2.2.1 and 6.2.3). The path is compared exactly.

/// The comparable form of `url`; `None` if it is not an absolute `http`/`https` URL
/// with a host and no user info.
pub(super) fn normalize(url: &str) -> Option<String> {
    let url = url.split('#').next().unwrap_or_default();
    let url = url.split('?').next().unwrap_or_default();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, after) = authority.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(':') && !host.starts_with('[') {
        return None;
    }
    let port = match port {
        // An empty port is the default port (RFC 3986 section 6.2.3).
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            let p: u16 = p.parse().ok()?;
            (p != default_port).then_some(p)
        }
        Some(_) => return None,
    };
    let mut out = scheme;
    out.push_str("://");
    out.push_str(&host.to_ascii_lowercase());
    if let Some(port) = port {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(if path.is_empty() { "/" } else { path });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn query_fragment_case_and_default_port_are_normalized() {
        let want = Some("https://server.example.com/token".to_owned());
        for url in [
            "https://server.example.com/token",
            "HTTPS://Server.Example.COM/token",
            "https://server.example.com:443/token",
            "https://server.example.com:/token",
            "https://server.example.com/token?x=1&y=2",
            "https://server.example.com/token#frag",
            "https://server.example.com/token?q#f",
        ] {
            assert_eq!(normalize(url), want, "{url}");
        }
        assert_eq!(
            normalize("http://a.example:80").as_deref(),
            Some("http://a.example/")
        );
    }

    #[test]
    fn path_and_non_default_ports_are_kept_exactly() {
        assert_eq!(
            normalize("https://a.example:8443/Token/").as_deref(),
            Some("https://a.example:8443/Token/")
        );
        assert_ne!(
            normalize("https://a.example/Token"),
            normalize("https://a.example/token")
        );
        assert_ne!(
            normalize("https://a.example:80/x"),
            normalize("https://a.example/x")
        );
        assert_ne!(
            normalize("http://a.example/x"),
            normalize("https://a.example/x")
        );
        assert_eq!(
            normalize("https://[::1]:443/x").as_deref(),
            Some("https://[::1]/x")
        );
        assert_eq!(
            normalize("https://[::1]:8443/x").as_deref(),
            Some("https://[::1]:8443/x")
        );
    }

    #[test]
    fn non_http_and_odd_authorities_are_refused() {
        for url in [
            "",
            "/token",
            "ftp://a.example/x",
            "https:///x",
            "https://user@a.example/x",
            "https://a.example:http/x",
            "https://a.example:99999/x",
            "https://::1/x",
            "https://[::1/x",
            "https://[::1]x/y",
        ] {
            assert_eq!(normalize(url), None, "{url}");
        }
    }
}
