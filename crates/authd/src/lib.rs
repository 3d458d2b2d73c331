//! authd: the reference HTTP service and admin CLI of auth-tokens, as a library.
//!
//! The binary is a thin `main` over [`cli::main`]; tests and other programs start the
//! same service in-process with [`build_service`], [`app_state`] and [`serve`], and
//! other axum services protect their routes with the [`Authenticated`] extractor.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod app;
mod backend;
pub mod cli;
mod config;
mod error;
mod extract;
mod keyfile;
mod metrics;
pub mod otp;
mod ratelimit;
mod server;

pub use app::{AppState, ROUTES, router};
pub use backend::{Backend, DatabaseKind, MigrationLine, PushGuard, redact, sqlite_path};
pub use config::{
    DEFAULT_DATABASE_URL, DEV_KEY_FILE, LogFormat, RateLimitSettings, Settings, SettingsArgs, Span,
};
pub use error::{ApiError, BEARER_CHALLENGE, INVALID_TOKEN_CHALLENGE};
pub use extract::{AuthOutcome, AuthState, Authenticated, Body, ClientContext};
pub use keyfile::{generate_key_file, load_keyring, read_key_spec, write_key_file};
pub use metrics::{Metrics, resident_memory_bytes};
pub use ratelimit::{RateLimited, RateLimits};
pub use server::{app_state, build_service, serve, shutdown_signal};
