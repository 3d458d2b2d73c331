//! How a [`RemoteVerifier`](crate::RemoteVerifier) reaches its issuer: an HTTPS
//! client (rustls with the webpki roots, plus any private root certificates), https
//! URLs only unless http was allowed for development, and which failures are
//! certificate refusals.

use std::error::Error as StdError;

use crate::error::AuthError;

/// The verifier's own HTTP client: https only unless `allow_http`, trusting the
/// webpki roots and each certificate of the `roots` PEM bundles.
pub(crate) fn client(roots: &[Vec<u8>], allow_http: bool) -> Result<reqwest::Client, AuthError> {
    let mut builder = reqwest::Client::builder().https_only(!allow_http);
    for pem in roots {
        let certificates =
            reqwest::Certificate::from_pem_bundle(pem).map_err(|e| AuthError::Settings {
                what: "a root certificate is not valid PEM",
                source: Some(Box::new(e)),
            })?;
        if certificates.is_empty() {
            return Err(AuthError::Settings {
                what: "a root certificate bundle holds no certificate",
                source: None,
            });
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| AuthError::Settings {
        what: "building the HTTP client",
        source: Some(Box::new(e)),
    })
}

/// Checks that `url` (the issuer or an endpoint its metadata names) is https, or
/// http when `allow_http`; anything else is [`AuthError::InsecureUrl`].
pub(crate) fn check_url(what: &'static str, url: &str, allow_http: bool) -> Result<(), AuthError> {
    let scheme = reqwest::Url::parse(url).map(|u| u.scheme().to_owned());
    match scheme.as_deref() {
        Ok("https") => Ok(()),
        Ok("http") if allow_http => Ok(()),
        _ => Err(AuthError::InsecureUrl {
            what,
            url: url.to_owned(),
        }),
    }
}

/// A failed request: [`AuthError::UntrustedCertificate`] when the server's
/// certificate was refused, [`AuthError::Unavailable`] otherwise.
pub(crate) fn request_failed(what: &'static str, err: reqwest::Error) -> AuthError {
    if certificate_refused(&err) {
        AuthError::UntrustedCertificate {
            what,
            source: Box::new(err),
        }
    } else {
        AuthError::unavailable(what, err)
    }
}

fn certificate_refused(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return matches!(tls, rustls::Error::InvalidCertificate(_));
        }
        // An io::Error hides the error it wraps from `source()`: step into it.
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_unless_http_is_allowed() {
        assert!(check_url("issuer", "https://auth.example", false).is_ok());
        assert!(matches!(
            check_url("issuer", "http://127.0.0.1:8080", false),
            Err(AuthError::InsecureUrl { what: "issuer", .. })
        ));
        assert!(check_url("issuer", "http://127.0.0.1:8080", true).is_ok());
        assert!(check_url("issuer", "ftp://auth.example", true).is_err());
        assert!(check_url("issuer", "auth.example", true).is_err());
    }

    #[test]
    fn a_root_bundle_must_hold_certificates() {
        assert!(matches!(
            client(&[b"not a certificate".to_vec()], false),
            Err(AuthError::Settings { .. })
        ));
        assert!(client(&[], false).is_ok());
    }
}
