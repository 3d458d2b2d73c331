//! [`RemoteVerifier`]: verifies access tokens of a remote issuer with its JWKS, and
//! checks revocation through its feed or introspection.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{ACCESS_TOKEN_TYPE, TokenRejection};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};

use crate::error::AuthError;
use crate::extract::Authenticated;
use crate::feed::RevocationFeed;
use crate::introspect::Introspector;
use crate::jwks::{JwksCache, JwksSettings};
use crate::transport;
use crate::verifier::{Revocation, TokenVerifier};

/// A confidential client's id and secret (for introspection and the feed).
#[derive(Clone)]
pub struct ClientCredentials {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    audience: String,
    leeway: Duration,
    max_lifetime: Duration,
    max_token_bytes: usize,
    jwks: JwksCache,
    feed: Option<RevocationFeed>,
    introspection: Option<Introspector>,
}

/// Verifies tokens of a remote issuer (see the crate documentation). Cheap to clone.
#[derive(Debug, Clone)]
pub struct RemoteVerifier {
    inner: Arc<Inner>,
}

/// Builds a [`RemoteVerifier`] from the issuer's RFC 8414 metadata.
#[derive(Debug)]
pub struct RemoteVerifierBuilder {
    issuer: String,
    audience: String,
    http: Option<reqwest::Client>,
    root_certificates: Vec<Vec<u8>>,
    allow_http: bool,
    client: Option<ClientCredentials>,
    follow_feed: bool,
    jwks: JwksSettings,
    leeway: Duration,
    max_lifetime: Duration,
    feed_max_lag: Duration,
}

impl RemoteVerifier {
    /// Starts building a verifier for tokens of `issuer` (a URL, e.g.
    /// `https://auth.example.com`) meant for `audience`.
    pub fn builder(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> RemoteVerifierBuilder {
        RemoteVerifierBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            http: None,
            root_certificates: Vec::new(),
            allow_http: false,
            client: None,
            follow_feed: true,
            jwks: JwksSettings::default(),
            leeway: Duration::from_secs(5),
            max_lifetime: Duration::from_secs(3600),
            feed_max_lag: Duration::from_secs(15),
        }
    }

    /// The JWKS cache.
    pub fn jwks(&self) -> &JwksCache {
        &self.inner.jwks
    }

    /// The revocation feed follower, if any.
    pub fn feed(&self) -> Option<&RevocationFeed> {
        self.inner.feed.as_ref()
    }

    async fn verify_signature_and_claims(
        &self,
        token: &str,
    ) -> Result<auth_core::Authenticated, AuthError> {
        let inner = &self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(TokenRejection::TooLarge.into());
        }
        let header = decode_header(token).map_err(|_| TokenRejection::Malformed)?;
        if header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(TokenRejection::ForbiddenHeader.into());
        }
        match header.typ.as_deref() {
            Some(t)
                if t.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                    || t.eq_ignore_ascii_case("application/at+jwt") => {}
            _ => return Err(TokenRejection::WrongType.into()),
        }
        let kid = header.kid.as_deref().ok_or(TokenRejection::UnknownKey)?;
        let key = inner
            .jwks
            .key(kid)
            .await
            .ok_or(TokenRejection::UnknownKey)?;
        if header.alg != key.alg {
            return Err(TokenRejection::AlgorithmNotAllowed.into());
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[&inner.issuer]);
        validation.set_audience(&[&inner.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = inner.leeway.as_secs();
        let data =
            decode::<serde_json::Value>(token, &key.decoding, &validation).map_err(|e| match e
                .kind()
            {
                ErrorKind::InvalidSignature => TokenRejection::BadSignature,
                ErrorKind::ExpiredSignature => TokenRejection::Expired,
                ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
                ErrorKind::InvalidIssuer => TokenRejection::WrongIssuer,
                ErrorKind::InvalidAudience => TokenRejection::WrongAudience,
                ErrorKind::MissingRequiredClaim(_) => TokenRejection::InvalidClaim("claims"),
                _ => TokenRejection::Malformed,
            })?;
        let claims = data.claims;
        let iat = claims["iat"]
            .as_i64()
            .ok_or(TokenRejection::InvalidClaim("iat"))?;
        let exp = claims["exp"]
            .as_i64()
            .ok_or(TokenRejection::InvalidClaim("exp"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if iat.saturating_sub(inner.leeway.as_secs() as i64) > now {
            return Err(TokenRejection::IssuedInFuture.into());
        }
        if exp.saturating_sub(iat) > inner.max_lifetime.as_secs() as i64 {
            return Err(TokenRejection::LifetimeTooLong.into());
        }
        let payload = serde_json::to_vec(&claims).map_err(|_| TokenRejection::Malformed)?;
        Ok(auth_core::Authenticated::from_verified_claims(
            payload,
            &inner.audience,
        )?)
    }
}

impl TokenVerifier for RemoteVerifier {
    async fn verify(
        &self,
        token: &str,
        revocation: Revocation,
    ) -> Result<Authenticated, AuthError> {
        let verified = self.verify_signature_and_claims(token).await?;
        let inner = &self.inner;
        let introspect = |introspector: &Introspector| {
            let introspector = introspector.clone();
            let token = token.to_owned();
            async move {
                if introspector.is_active(&token).await? {
                    Ok(())
                } else {
                    Err(AuthError::Rejected(TokenRejection::Revoked))
                }
            }
        };
        match (revocation, &inner.feed, &inner.introspection) {
            (Revocation::Stateless, _, _) => {}
            (Revocation::Cached, Some(feed), _) => feed.check(&verified)?,
            (Revocation::Cached | Revocation::Strict, _, Some(introspector)) => {
                introspect(introspector).await?
            }
            // Without client credentials only signatures and claims can be checked.
            (Revocation::Cached, None, None) => {}
            (Revocation::Strict, _, None) => {
                return Err(AuthError::Unavailable {
                    what: "strict revocation checking needs introspection (client credentials)",
                    source: None,
                });
            }
        }
        Ok(Authenticated(verified))
    }
}

impl RemoteVerifierBuilder {
    /// The HTTP client (e.g. one with a proxy) instead of the verifier's own: rustls
    /// with the webpki roots, https only unless [`allow_http`](Self::allow_http).
    /// Endpoint URLs are checked either way; root certificates cannot be added to it
    /// ([`AuthError::Settings`]).
    pub fn http(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Also trusts the certificates of `pem` (a PEM bundle) as roots, for an issuer
    /// under a private PKI; the webpki roots stay trusted. A bundle without a
    /// certificate is [`AuthError::Settings`] at [`build`](Self::build).
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Development only: accepts an `http://` issuer and endpoints, as authd accepts an
    /// http issuer only in development. Without it, any URL that is not https is
    /// [`AuthError::InsecureUrl`].
    pub fn allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Confidential-client credentials: enable introspection and the revocation feed.
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client = Some(ClientCredentials {
            id: id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Whether to follow the revocation feed when credentials are given (default
    /// true); without it, [`Revocation::Cached`] routes introspect every token.
    pub fn follow_revocations(mut self, follow: bool) -> Self {
        self.follow_feed = follow;
        self
    }

    /// JWKS caching.
    pub fn jwks_settings(mut self, settings: JwksSettings) -> Self {
        self.jwks = settings;
        self
    }

    /// Clock tolerance (default 5 s) and longest accepted token lifetime (default 1 h).
    pub fn leeway(mut self, leeway: Duration, max_lifetime: Duration) -> Self {
        self.leeway = leeway;
        self.max_lifetime = max_lifetime;
        self
    }

    /// How long the feed may be silent before tokens are refused (default 15 s).
    pub fn feed_max_lag(mut self, lag: Duration) -> Self {
        self.feed_max_lag = lag;
        self
    }

    /// Reads the issuer's metadata (`/.well-known/oauth-authorization-server`), its
    /// JWKS and, with credentials, the whole revocation feed. A refused server
    /// certificate is [`AuthError::UntrustedCertificate`].
    pub async fn build(self) -> Result<RemoteVerifier, AuthError> {
        let allow_http = self.allow_http;
        let issuer = self.issuer.trim_end_matches('/').to_owned();
        transport::check_url("issuer", &issuer, allow_http)?;
        let http = match self.http {
            Some(_) if !self.root_certificates.is_empty() => {
                return Err(AuthError::Settings {
                    what: "root certificates cannot be added to a client given with http()",
                    source: None,
                });
            }
            Some(http) => http,
            None => transport::client(&self.root_certificates, allow_http)?,
        };
        let metadata_url = format!("{issuer}/.well-known/oauth-authorization-server");
        let response = http
            .get(&metadata_url)
            .send()
            .await
            .map_err(|e| transport::request_failed("fetching the issuer metadata", e))?;
        if !response.status().is_success() {
            return Err(AuthError::Unavailable {
                what: "the issuer metadata endpoint answered an error",
                source: Some(format!("HTTP {}", response.status()).into()),
            });
        }
        let metadata: serde_json::Value = response
            .json()
            .await
            .map_err(|e| AuthError::unavailable("reading the issuer metadata", e))?;
        let advertised = metadata["issuer"].as_str().unwrap_or_default();
        if advertised.trim_end_matches('/') != issuer {
            // RFC 8414 section 3.3: the issuer must be the one asked for.
            return Err(AuthError::Unavailable {
                what: "the metadata names another issuer",
                source: None,
            });
        }
        let endpoint = |name: &'static str| -> Result<Option<String>, AuthError> {
            let Some(url) = metadata[name].as_str() else {
                return Ok(None);
            };
            transport::check_url(name, url, allow_http)?;
            Ok(Some(url.to_owned()))
        };
        let jwks_uri = endpoint("jwks_uri")?.ok_or(AuthError::Unavailable {
            what: "the metadata has no jwks_uri",
            source: None,
        })?;
        let jwks = JwksCache::fetch(http.clone(), jwks_uri, self.jwks).await?;
        let mut feed = None;
        let mut introspection = None;
        if let Some(client) = self.client {
            if let Some(url) = endpoint("introspection_endpoint")? {
                introspection = Some(Introspector::new(http.clone(), url, client.clone()));
            }
            if self.follow_feed
                && let Some(url) = endpoint("revocation_feed_endpoint")?
            {
                feed = Some(
                    RevocationFeed::follow(http.clone(), url, client, self.feed_max_lag).await?,
                );
            }
        }
        Ok(RemoteVerifier {
            inner: Arc::new(Inner {
                issuer: advertised.to_owned(),
                audience: self.audience,
                leeway: self.leeway,
                max_lifetime: self.max_lifetime,
                max_token_bytes: 8 * 1024,
                jwks,
                feed,
                introspection,
            }),
        })
    }
}
