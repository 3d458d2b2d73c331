//! Trusted reverse proxies: from a peer listed here, the client address is taken from
//! `Forwarded` (RFC 7239) or else `X-Forwarded-For`; from anyone else both are ignored.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;

/// The proxies whose forwarding headers are believed: addresses or CIDR blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Whether none is configured (the headers are then always ignored).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request from `peer` with `headers`. Walks the
    /// forwarding chain from the nearest hop outwards while each hop is a trusted
    /// proxy; the first untrusted hop is the client. A malformed entry stops the walk
    /// at the last trusted hop's claim-free address, the peer itself if none.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if self.is_empty() || !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        let mut client = peer;
        for hop in chain.iter().rev() {
            let Some(ip) = hop else {
                return client;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list: `10.0.0.0/8, 192.168.1.7, ::1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(parse_net)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(IpNet::to_string).collect();
        f.write_str(&list.join(","))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::List(items) => items.join(","),
            Raw::Text(text) => text,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))
}

/// The hops the headers list, client first; `None` for an entry that is not an IP
/// address (`unknown`, an obfuscated identifier, garbage). `Forwarded` wins over
/// `X-Forwarded-For` when both are present; every instance of a header counts, in order.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .find_map(|pair| {
                        let (key, value) = pair.trim().split_once('=')?;
                        key.trim()
                            .eq_ignore_ascii_case("for")
                            .then(|| forwarded_node(value.trim()))
                    })
                    .flatten()
            })
            .collect();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect()
}

/// An RFC 7239 node: `192.0.2.1`, `"192.0.2.1:443"`, `"[2001:db8::1]:80"`, `"[2001:db8::1]"`.
fn forwarded_node(value: &str) -> Option<IpAddr> {
    let value = value.trim_matches('"');
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    if let Ok(ip) = value.parse() {
        return Some(ip);
    }
    let (host, port) = value.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_headers_are_ignored() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(none.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        let proxies: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        assert_eq!(proxies.client_ip(ip("192.0.2.4"), &h), ip("192.0.2.4"));
    }

    #[test]
    fn trusted_peer_gives_the_first_untrusted_hop() {
        let proxies: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9, 10.1.2.3")]);
        // 10.1.2.3 is another trusted proxy; 203.0.113.9 is who talked to it.
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &h), ip("203.0.113.9"));
        // A spoofed left part is never reached past an untrusted hop.
        let two = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(proxies.client_ip(ip("10.9.9.9"), &two), ip("203.0.113.9"));
        // An IPv4-mapped peer is the same proxy.
        assert_eq!(
            proxies.client_ip(ip("::ffff:127.0.0.1"), &two),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forwarded_header_wins_and_parses_rfc7239_nodes() {
        let proxies: TrustedProxies = "127.0.0.1".parse().unwrap();
        let h = headers(&[
            (
                "forwarded",
                r#"for="[2001:db8::1]:4711";proto=https, for=192.0.2.60"#,
            ),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &h), ip("192.0.2.60"));
        let v6 = headers(&[("forwarded", r#"for="[2001:db8::1]:4711""#)]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &v6), ip("2001:db8::1"));
        let port = headers(&[("forwarded", r#"For="192.0.2.43:47011""#)]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &port), ip("192.0.2.43"));
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_hop() {
        let proxies: TrustedProxies = "127.0.0.0/8".parse().unwrap();
        for bad in ["unknown", "_hidden", "not an ip", ""] {
            let h = headers(&[("x-forwarded-for", bad)]);
            assert_eq!(
                proxies.client_ip(ip("127.0.0.1"), &h),
                ip("127.0.0.1"),
                "{bad}"
            );
        }
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        // Only trusted hops: the outermost one named is the client.
        let h = headers(&[("x-forwarded-for", "127.0.0.5")]);
        assert_eq!(proxies.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.5"));
    }

    #[test]
    fn settings_parse() {
        let p: TrustedProxies = "10.0.0.1/8, ::1 ,192.168.0.7".parse().unwrap();
        assert_eq!(p.to_string(), "10.0.0.0/8,::1/128,192.168.0.7/32");
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.example".parse::<TrustedProxies>().is_err());
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        let from_toml: TrustedProxies =
            serde_json::from_str(r#"["127.0.0.1", "10.0.0.0/8"]"#).unwrap();
        assert_eq!(from_toml.to_string(), "127.0.0.1/32,10.0.0.0/8");
    }
}
