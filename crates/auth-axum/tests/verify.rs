//! auth-axum against a real authd (in-process, SQLite, on a free port): the remote
//! verifier (JWKS, revocation feed, introspection), the in-process verifier, and the
//! per-route layer with its revocation modes and scopes.

use std::time::Duration;

use auth_axum::{
    AuthError, Authenticated, JwksSettings, RemoteVerifier, RequireAuth, Revocation, TokenVerifier,
};
use auth_core::{ClientInfo, GrantClaims, Keyring, SigningAlgorithm, TokenRejection, TokenService};
use auth_sqlite::SqliteTokenStore;
use authd::{ClientRegistry, ClientSettings, RateLimitSettings, Settings};

const PW: &str = "correct horse battery";

struct Authd {
    issuer: String,
    service: TokenService<SqliteTokenStore>,
    secret: String,
    _dir: tempfile::TempDir,
}

/// A SQLite store over the file at `path`, migrated.
async fn migrated_store(path: &std::path::Path) -> SqliteTokenStore {
    let store = SqliteTokenStore::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

async fn start_authd() -> Authd {
    let dir = tempfile::tempdir().unwrap();
    let store = migrated_store(&dir.path().join("authd.db")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
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
    let state = authd::app_state(service.clone(), &settings);
    tokio::spawn(
        async move { authd::serve(state, &settings, listener, std::future::pending()).await },
    );
    Authd {
        issuer,
        service,
        secret,
        _dir: dir,
    }
}

async fn remote(authd: &Authd) -> RemoteVerifier {
    RemoteVerifier::builder(&authd.issuer, "authd")
        .allow_http()
        .client("rs", &authd.secret)
        .jwks_settings(JwksSettings {
            min_refresh_interval: Duration::ZERO,
            ..JwksSettings::default()
        })
        .build()
        .await
        .unwrap()
}

fn rejection(result: Result<Authenticated, AuthError>) -> TokenRejection {
    match result {
        Err(AuthError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_verifier_checks_signature_feed_and_introspection() {
    let authd = start_authd().await;
    let verifier = remote(&authd).await;
    let user = authd.service.register("r@example.com", PW).await.unwrap();
    let grant = GrantClaims {
        client_id: Some("web".into()),
        scope: Some("read".into()),
    };
    let pair = authd
        .service
        .login_for("r@example.com", PW, &ClientInfo::default(), &grant)
        .await
        .unwrap();
    let token = pair.access_token.as_str();
    for mode in [
        Revocation::Stateless,
        Revocation::Cached,
        Revocation::Strict,
    ] {
        let auth = verifier.verify(token, mode).await.unwrap();
        assert_eq!(auth.user_id, user);
        assert_eq!(auth.client_id().as_deref(), Some("web"));
        assert!(auth.has_scope("read") && !auth.has_scope("write"));
    }
    // Tampering, a foreign key and garbage are refused before any revocation check.
    let mut forged = token.to_owned();
    forged.replace_range(forged.len() - 3.., "AAA");
    assert!(matches!(
        rejection(verifier.verify(&forged, Revocation::Stateless).await),
        TokenRejection::BadSignature | TokenRejection::Malformed
    ));
    let other = TokenService::builder(
        migrated_store(&authd._dir.path().join("other.db")).await,
        Keyring::generate("foreign", SigningAlgorithm::ES256).unwrap(),
        authd.service.config().clone(),
    )
    .build()
    .unwrap();
    other.register("r@example.com", PW).await.unwrap();
    let foreign = other
        .login("r@example.com", PW, &ClientInfo::default())
        .await
        .unwrap();
    assert_eq!(
        rejection(
            verifier
                .verify(&foreign.access_token, Revocation::Stateless)
                .await
        ),
        TokenRejection::UnknownKey
    );
    assert_eq!(
        rejection(verifier.verify("a.b.c", Revocation::Stateless).await),
        TokenRejection::Malformed
    );

    // Logout: introspection sees it at once, the feed within its bound, and a
    // stateless route keeps accepting the token until it expires.
    let auth = authd.service.authenticate(token).await.unwrap();
    authd
        .service
        .logout(&auth, &ClientInfo::default())
        .await
        .unwrap();
    assert!(verifier.verify(token, Revocation::Strict).await.is_err());
    let mut refused = false;
    for _ in 0..100 {
        if verifier.verify(token, Revocation::Cached).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "the revocation feed delivers the logout");
    assert!(matches!(
        rejection(verifier.verify(token, Revocation::Cached).await),
        TokenRejection::Revoked | TokenRejection::SessionRevoked
    ));
    assert!(verifier.verify(token, Revocation::Stateless).await.is_ok());
    assert!(verifier.feed().unwrap().is_current());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_keys_are_fetched_on_an_unknown_kid() {
    let authd = start_authd().await;
    let verifier = remote(&authd).await;
    assert_eq!(verifier.jwks().kids(), ["k1"]);
    authd.service.register("n@example.com", PW).await.unwrap();
    authd
        .service
        .replace_keys(Keyring::generate("k2", SigningAlgorithm::ES256).unwrap());
    let pair = authd
        .service
        .login("n@example.com", PW, &ClientInfo::default())
        .await
        .unwrap();
    verifier
        .verify(&pair.access_token, Revocation::Stateless)
        .await
        .unwrap();
    assert_eq!(verifier.jwks().kids(), ["k2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_choose_their_revocation_mode_and_scope() {
    let authd = start_authd().await;
    let service = authd.service.clone();
    service.register("l@example.com", PW).await.unwrap();
    let pair = service
        .login("l@example.com", PW, &ClientInfo::default())
        .await
        .unwrap();
    let hello = |auth: Authenticated| async move { auth.user_id.to_string() };
    let app = axum::Router::new()
        .route(
            "/stateless",
            axum::routing::get(hello)
                .layer(RequireAuth::new(service.clone(), Revocation::Stateless)),
        )
        .route("/cached", axum::routing::get(hello))
        .route(
            "/scoped",
            axum::routing::get(hello)
                .layer(RequireAuth::new(service.clone(), Revocation::Strict).scope("admin")),
        )
        .with_state(service.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{base}{path}"))
            .bearer_auth(&pair.access_token)
            .send()
    };
    assert_eq!(get("/stateless").await.unwrap().status(), 200);
    assert_eq!(get("/cached").await.unwrap().status(), 200);
    let r = get("/scoped").await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let r = http.get(format!("{base}/cached")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let auth = service.authenticate(&pair.access_token).await.unwrap();
    service.logout(&auth, &ClientInfo::default()).await.unwrap();
    assert_eq!(
        get("/stateless").await.unwrap().status(),
        200,
        "until it expires"
    );
    let r = get("/cached").await.unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}
