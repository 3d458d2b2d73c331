//! Running the service: the token service from settings, the HTTP server, the
//! background tasks, and graceful shutdown.

use std::future::Future;
use std::time::Duration;

use anyhow::Context as _;
use auth_core::{Keyring, TokenService, TokenStore};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::app::{AppState, router};
use crate::config::Settings;
use crate::cors::CorsPolicy;
use crate::error::ErrorChain;
use crate::oauth::OAuth;
use crate::ratelimit::RateLimits;

/// How often idle rate-limiter keys are forgotten.
const LIMITER_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// The token service these settings describe, over `store`, signing with `keys`.
pub fn build_service<S: TokenStore>(
    store: S,
    keys: Keyring,
    settings: &Settings,
) -> anyhow::Result<TokenService<S>> {
    let builder = TokenService::builder(store, keys, settings.token_service_config());
    let builder = match settings.otp.one_time_codes()? {
        Some(codes) => builder.one_time_codes(codes),
        None => builder,
    };
    builder.build().context("invalid token-service settings")
}

/// The application state for `service` with the limiters, registered clients and CORS
/// allowlist of `settings`.
pub fn app_state<S: TokenStore>(service: TokenService<S>, settings: &Settings) -> AppState<S> {
    let cors = CorsPolicy::new(
        settings
            .cors_origins
            .iter()
            .map(String::as_str)
            .chain(settings.clients.origins()),
    );
    let oauth = OAuth {
        clients: settings.clients.clone(),
    };
    AppState::new(service, RateLimits::new(&settings.rate_limits))
        .with_oauth(oauth, cors)
        .with_resilience(&settings.resilience)
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes in-flight
/// requests and stops the background tasks (cleanup every `settings.cleanup_interval`,
/// rate-limiter pruning).
pub async fn serve<S: TokenStore>(
    state: AppState<S>,
    settings: &Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the listen address")?;
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    if let Some(interval) = settings.cleanup_interval {
        tasks.push(tokio::spawn(cleanup_loop(
            state.clone(),
            settings.cleanup,
            interval,
        )));
    }
    #[cfg(unix)]
    tasks.push(tokio::spawn(reload_keys_on_sighup(
        state.service.clone(),
        settings.clone(),
    )));
    let limits = state.limits.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(
            Instant::now() + LIMITER_PRUNE_INTERVAL,
            LIMITER_PRUNE_INTERVAL,
        );
        loop {
            tick.tick().await;
            limits.prune();
        }
    }));

    let app = router(state, settings.body_limit);
    tracing::info!(%addr, mode = ?settings.revocation_mode, "listening");
    crate::connections::serve_http1(listener, app, shutdown).await;
    for task in tasks {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

async fn cleanup_loop<S: TokenStore>(
    state: AppState<S>,
    policy: auth_core::CleanupPolicy,
    interval: Duration,
) {
    let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.service.cleanup(&policy).await {
            Ok(report) => {
                state.metrics.cleanup(&report);
                tracing::info!(
                    refresh_tokens = report.refresh_tokens,
                    revoked_tokens = report.revoked_tokens,
                    access_tokens = report.access_tokens,
                    one_time_codes = report.one_time_codes,
                    code_locks = report.code_locks,
                    "cleanup"
                );
            }
            Err(e) => tracing::error!(error = %ErrorChain(&e), "cleanup failed"),
        }
    }
}

/// Reloads the key file on every SIGHUP: a standby key appears in the JWKS, an
/// activated one signs, a removed one stops verifying. A file that does not load is
/// logged and the running keyring kept.
#[cfg(unix)]
async fn reload_keys_on_sighup<S: TokenStore>(service: TokenService<S>, settings: Settings) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; keys reload only on restart");
        return;
    };
    while hangups.recv().await.is_some() {
        match crate::keyfile::load_keyring(&settings) {
            Ok(keys) => {
                tracing::info!(active = keys.active_kid(), "SIGHUP: key file reloaded");
                service.replace_keys(keys);
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "SIGHUP: key file not reloaded; keeping the current keys")
            }
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received; shutting down"),
        () = term => tracing::info!("SIGTERM received; shutting down"),
    }
}
