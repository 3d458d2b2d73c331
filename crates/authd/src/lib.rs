//! authd: the reference HTTP service and admin CLI of auth-tokens, as a library.
//!
//! The binary is a thin `main` over [`cli::main`]; tests and other programs start the
//! same service in-process with [`build_service`], [`app_state`] and [`serve`], and
//! other axum services protect their routes with auth-axum's [`Authenticated`] extractor
//! (re-exported here).
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod admin;
mod app;
mod backend;
mod body_limit;
mod browser;
pub mod cli;
mod config;
mod connections;
mod cors;
mod deadline;
mod dpop;
mod error;
mod extract;
mod guards;
pub mod import;
mod keyfile;
mod metrics;
mod oauth;
pub mod otp;
mod proxy;
mod ratelimit;
mod readiness;
mod resilience;
mod server;
mod shedding;

pub use admin::ADMIN_ROUTES;
pub use app::{AppState, ROUTES, SharedState, router};
pub use backend::{Backend, DatabaseKind, PushGuard, redact};
pub use config::{
    DEFAULT_DATABASE_URL, DEV_KEY_FILE, LogFormat, RateLimitSettings, Settings, SettingsArgs, Span,
};
pub use cors::CorsPolicy;
pub use error::{
    ApiError, BASIC_CHALLENGE, BEARER_CHALLENGE, INSUFFICIENT_SCOPE_CHALLENGE,
    INVALID_TOKEN_CHALLENGE,
};
pub use extract::{AuthOutcome, AuthState, Authenticated, Body, ClientContext};
pub use keyfile::{
    activate_key, add_standby_key, generate_key_file, load_keyring, read_key_spec, remove_key,
    write_key_file,
};
pub use metrics::{Metrics, resident_memory_bytes};
pub use oauth::OAuth;
pub use oauth::clients::{
    Client, ClientRegistry, ClientSettings, GrantType, PHONE_CODE_GRANT, generate_client_secret,
};
pub use proxy::TrustedProxies;
pub use ratelimit::{RateLimited, RateLimits};
pub use resilience::{DatabaseTimeouts, ResilienceSettings, default_hash_slots};
pub use server::{app_state, build_service, serve, shutdown_signal};
pub use shedding::HashSlots;
