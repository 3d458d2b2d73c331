//! Every JSON or form body authd accepts, through the real router over SQLite:
//! register, login, refresh and revoke. First byte picks the route, second the
//! content type; the rest is the body. Any input gets an answer, never a 500 or a
//! panic, and a malformed one a 400/413.
#![no_main]

use std::sync::LazyLock;

use auth_core::Keyring;
use auth_sqlite::SqliteTokenStore;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

const ROUTES: [&str; 4] = [
    "/v1/auth/register",
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/v1/auth/revoke",
];
const CONTENT_TYPES: [Option<&str>; 3] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    None,
];

struct App {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

static APP: LazyLock<App> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let router = runtime.block_on(async {
        let path = std::env::temp_dir().join(format!("auth-tokens-fuzz-http-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let store = SqliteTokenStore::connect(&format!("sqlite:{}", path.display()))
            .await
            .expect("SQLite store");
        store.migrate().await.expect("migrations");
        let settings = authd::Settings {
            pbkdf2_rounds: 1_000,
            rate_limits: authd::RateLimitSettings::disabled(),
            cleanup_interval: None,
            ..authd::Settings::default()
        };
        let keys = Keyring::from_json(auth_tokens_fuzz::KEY_FILE).expect("keys");
        let service = authd::build_service(store, keys, &settings).expect("service");
        authd::router(authd::app_state(service, &settings), settings.body_limit)
    });
    App { runtime, router }
});

fuzz_target!(|data: &[u8]| {
    let [route, kind, body @ ..] = data else {
        return;
    };
    let app = &*APP;
    let mut request = Request::post(ROUTES[usize::from(*route) % ROUTES.len()]);
    if let Some(ct) = CONTENT_TYPES[usize::from(*kind) % CONTENT_TYPES.len()] {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    let request = request.body(Body::from(body.to_vec())).expect("request");
    let response = app
        .runtime
        .block_on(app.router.clone().oneshot(request))
        .expect("infallible");
    assert_ne!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "500 on a body");
});
