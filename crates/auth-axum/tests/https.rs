//! `RemoteVerifier` over HTTPS: authd's router (SQLite) served with rustls under a
//! certificate that a private CA, made at test time with rcgen, signed. The verifier
//! trusts that CA as a custom root; a certificate from another CA is refused with a
//! typed error; an http issuer is refused unless http is allowed.

use std::net::SocketAddr;
use std::sync::Arc;

use auth_axum::{AuthError, RemoteVerifier, Revocation, TokenVerifier};
use auth_core::{ClientInfo, GrantClaims, Keyring, SigningAlgorithm, TokenService};
use auth_sqlite::SqliteTokenStore;
use authd::{ClientRegistry, ClientSettings, RateLimitSettings, Settings};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const PW: &str = "correct horse battery";

/// A certificate authority: its PEM and the issuer that signs server certificates.
struct PrivateCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl PrivateCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A rustls server configuration for 127.0.0.1 with a certificate of this CA.
    fn server_config(&self) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let certificate = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        let chain = vec![CertificateDer::from(certificate.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Arc::new(config)
    }
}

/// TCP plus a TLS handshake; connections whose handshake fails are dropped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (tcp, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

struct Authd {
    issuer: String,
    service: TokenService<SqliteTokenStore>,
    secret: String,
    _dir: tempfile::TempDir,
}

/// authd's router over HTTPS on a free port, with the confidential client `rs`.
async fn start_https_authd(tls: Arc<ServerConfig>) -> Authd {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authd.db");
    let store = SqliteTokenStore::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("https://{}", tcp.local_addr().unwrap());
    let (secret, hash) = authd::generate_client_secret().unwrap();
    let settings = Settings {
        issuer: issuer.clone(),
        pbkdf2_rounds: 1_000,
        rate_limits: RateLimitSettings::disabled(),
        cleanup_interval: None,
        clients: ClientRegistry::from_settings(&[ClientSettings {
            id: "rs".into(),
            secret_sha256: Some(hash),
            grants: vec![],
            origins: vec![],
            scopes: vec![],
        }])
        .unwrap(),
        ..Settings::default()
    };
    let keys = Keyring::generate("k1", SigningAlgorithm::ES256).unwrap();
    let service = authd::build_service(store, keys, &settings).unwrap();
    let app = authd::router(
        authd::app_state(service.clone(), &settings),
        settings.body_limit,
    );
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(tls),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    Authd {
        issuer,
        service,
        secret,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifies_over_https_with_a_private_root() {
    let ca = PrivateCa::new();
    let authd = start_https_authd(ca.server_config()).await;
    let verifier = RemoteVerifier::builder(&authd.issuer, "authd")
        .root_certificate(ca.pem.clone())
        .client("rs", &authd.secret)
        .build()
        .await
        .unwrap();
    let user = authd.service.register("t@example.com", PW).await.unwrap();
    let grant = GrantClaims {
        client_id: Some("web".into()),
        scope: Some("read".into()),
    };
    let pair = authd
        .service
        .login_for("t@example.com", PW, &ClientInfo::default(), &grant)
        .await
        .unwrap();
    // Stateless: the JWKS; Cached: the revocation feed; Strict: introspection.
    for mode in [
        Revocation::Stateless,
        Revocation::Cached,
        Revocation::Strict,
    ] {
        let auth = verifier.verify(&pair.access_token, mode).await.unwrap();
        assert_eq!(auth.user_id, user);
    }
    assert!(verifier.feed().unwrap().is_current());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let ca = PrivateCa::new();
    let authd = start_https_authd(ca.server_config()).await;
    let other = PrivateCa::new();
    for builder in [
        RemoteVerifier::builder(&authd.issuer, "authd"),
        RemoteVerifier::builder(&authd.issuer, "authd").root_certificate(other.pem.clone()),
    ] {
        match builder.build().await {
            Err(AuthError::UntrustedCertificate { what, .. }) => {
                assert_eq!(what, "fetching the issuer metadata");
            }
            other => panic!("expected UntrustedCertificate, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn http_issuers_need_allow_http_and_bad_roots_are_refused() {
    match RemoteVerifier::builder("http://127.0.0.1:9", "authd")
        .build()
        .await
    {
        Err(AuthError::InsecureUrl { what, url }) => {
            assert_eq!((what, url.as_str()), ("issuer", "http://127.0.0.1:9"));
        }
        other => panic!("expected InsecureUrl, got {other:?}"),
    }
    // With allow_http the scheme passes and the (closed) port is what fails.
    let closed = RemoteVerifier::builder("http://127.0.0.1:9", "authd")
        .allow_http()
        .build()
        .await;
    assert!(
        matches!(closed, Err(AuthError::Unavailable { .. })),
        "{closed:?}"
    );
    let bad_root = RemoteVerifier::builder("https://127.0.0.1:9", "authd")
        .root_certificate("not a certificate")
        .build()
        .await;
    assert!(
        matches!(bad_root, Err(AuthError::Settings { .. })),
        "{bad_root:?}"
    );
    let both = RemoteVerifier::builder("https://127.0.0.1:9", "authd")
        .http(reqwest::Client::new())
        .root_certificate(PrivateCa::new().pem)
        .build()
        .await;
    assert!(matches!(both, Err(AuthError::Settings { .. })), "{both:?}");
}
