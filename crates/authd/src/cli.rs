//! The command line: `serve` (the default) and the admin subcommands.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::pin::pin;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use auth_core::{
    Keyring, MigrationState, RefreshRejection, RefreshToken, SessionId, SigningAlgorithm,
    TokenService, UserId,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Parser, Subcommand};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;

use crate::backend::{Backend, DatabaseKind, redact};
use crate::config::{LogFormat, Settings, SettingsArgs};
use crate::keyfile::{activate_key, add_standby_key, generate_key_file, load_keyring, remove_key};
use crate::server::{app_state, build_service, serve, shutdown_signal};

/// authd: JWT access tokens and rotating refresh tokens over SQLite, PostgreSQL or MySQL.
///
/// Every setting can also be given as an environment variable (AUTHD_...) or in a
/// TOML file (--config); flags win over the environment, which wins over the file.
#[derive(Debug, Parser)]
#[command(name = "authd", version)]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Apply, revert or list database migrations.
    Migrate {
        /// up, down or status.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Remove expired sessions, refresh tokens and revocation rows now.
    Cleanup,
    /// Manage signing keys.
    Keys {
        /// generate.
        #[command(subcommand)]
        action: KeysAction,
    },
    /// OAuth clients (registered in the settings file's `[[clients]]`).
    Clients {
        /// secret.
        #[command(subcommand)]
        action: ClientsAction,
    },
    /// Manage users (also `users`).
    #[command(visible_alias = "users")]
    User {
        /// create, disable, enable, admin or import.
        #[command(subcommand)]
        action: UserAction,
    },
    /// List or revoke a user's sessions.
    Sessions {
        /// list, revoke or revoke-all.
        #[command(subcommand)]
        action: SessionsAction,
    },
    /// Inspect tokens.
    Token {
        /// inspect.
        #[command(subcommand)]
        action: TokenAction,
    },
}

/// `migrate` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the newest migrations.
    Down {
        /// How many to revert (more than are applied is refused).
        #[arg(long, default_value_t = 1, conflicts_with = "all")]
        steps: u32,
        /// Revert every applied migration.
        #[arg(long)]
        all: bool,
    },
    /// List migrations and whether each is applied.
    Status,
}

fn parse_alg(s: &str) -> Result<SigningAlgorithm, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("`{s}` is not one of EdDSA, ES256, RS256, HS256, HS384, HS512"))
}

/// `keys` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Write a new key file (mode 0600) at --key-file, or with --rotate add a new
    /// signing key to it (the old keys keep verifying until removed).
    Generate {
        /// Algorithm: ES256 (the default: every mainstream JWT library verifies it),
        /// EdDSA (Ed25519; verified by e.g. PyJWT, jose, jsonwebtoken for Rust, but not by
        /// node-jsonwebtoken/express-jwt or python-jose), RS256, HS256, HS384 or HS512
        /// (shared secrets: never published in the JWKS).
        #[arg(long, default_value = "ES256", value_parser = parse_alg)]
        alg: SigningAlgorithm,
        /// Key id [default: key-<unix seconds>]
        #[arg(long)]
        kid: Option<String>,
        /// Add to an existing key file and make the new key the signing key.
        #[arg(long, conflicts_with = "standby")]
        rotate: bool,
        /// Add to an existing key file as a standby key: published in the JWKS once
        /// loaded (SIGHUP or restart), signing only after `keys activate`.
        #[arg(long)]
        standby: bool,
    },
    /// Make a listed key the signing key; the previous one stays, verifying, until
    /// `keys remove` (wait the access-token lifetime). Then SIGHUP authd.
    Activate {
        /// Key id.
        kid: String,
    },
    /// Remove a retired key from the key file.
    Remove {
        /// Key id.
        kid: String,
    },
}

/// `clients` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum ClientsAction {
    /// Generate a confidential client's secret: prints the secret (give it to the
    /// client) and the `secret_sha256` line for its `[[clients]]` entry.
    Secret,
}

/// `user` actions. USER is a numeric id or an email.
#[derive(Debug, Clone, Subcommand)]
pub enum UserAction {
    /// Create a user; the password is read from stdin unless --password or
    /// AUTHD_USER_PASSWORD gives it.
    Create {
        /// Email.
        #[arg(long)]
        email: String,
        /// Password (visible to other local users in the process list; prefer stdin).
        #[arg(long, env = "AUTHD_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Deactivate a user: no more logins or refreshes; access tokens stop working
    /// in every revocation mode but stateless.
    Disable {
        /// Id or email.
        user: String,
    },
    /// Reactivate a user.
    Enable {
        /// Id or email.
        user: String,
    },
    /// Make a user an admin (its next access token carries `roles: ["admin"]`), or with
    /// --revoke no longer one: the internal endpoints refuse it at its next request.
    Admin {
        /// Id or email.
        user: String,
        /// Withdraw the admin flag instead.
        #[arg(long)]
        revoke: bool,
    },
    /// Import users from a JSON Lines or CSV file (fields: email and/or phone,
    /// password_hash, active, admin). Every row is checked first: any bad row is
    /// reported with its line number and nothing is imported. Users already stored
    /// (same email, else phone) are left unchanged, so a second run changes nothing.
    Import {
        /// The file (`.jsonl`/`.csv`; otherwise told apart by its first character).
        file: std::path::PathBuf,
    },
}

/// `sessions` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum SessionsAction {
    /// List a user's active sessions.
    List {
        /// Id or email.
        user: String,
    },
    /// Revoke one session (its refresh token and its access tokens).
    Revoke {
        /// Session id.
        session: String,
    },
    /// Revoke every session of a user and invalidate all their access tokens.
    RevokeAll {
        /// Id or email.
        user: String,
    },
}

/// `token` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Decode a token, verify it with the keyring and the database, and print its
    /// claims and the verdict (exit status 1 if it is not valid).
    Inspect {
        /// The token; read from stdin when absent or `-` (keeps it out of shell history).
        token: Option<String>,
    },
}

/// Sets up tracing on stderr in the given format.
pub fn init_logging(format: LogFormat, filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let explicit_log = cli.settings.log.is_some();
    let settings = match cli.settings.resolve() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // Admin commands print results on stdout; their logs stay quiet unless asked for.
    let filter = match command {
        Command::Serve => settings.log.as_str(),
        _ if explicit_log => settings.log.as_str(),
        _ => "warn",
    };
    init_logging(settings.log_format, filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command with resolved settings.
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    if let Command::Keys { action } = &command {
        return keys(action, &settings);
    }
    if let Command::Clients {
        action: ClientsAction::Secret,
    } = &command
    {
        let (secret, hash) = crate::oauth::clients::generate_client_secret()?;
        println!("client_secret = {secret}");
        println!("secret_sha256 = \"{hash}\"");
        return Ok(ExitCode::SUCCESS);
    }
    match DatabaseKind::of(&settings.database_url)? {
        DatabaseKind::Sqlite => {
            #[cfg(feature = "sqlite")]
            return run_on::<auth_sqlite::SqliteTokenStore>(command, settings).await;
            #[cfg(not(feature = "sqlite"))]
            bail!("this authd was built without the `sqlite` feature");
        }
        DatabaseKind::Postgres => {
            #[cfg(feature = "postgres")]
            return run_on::<auth_postgres::PgTokenStore>(command, settings).await;
            #[cfg(not(feature = "postgres"))]
            bail!("this authd was built without the `postgres` feature");
        }
        DatabaseKind::Mysql => {
            #[cfg(feature = "mysql")]
            return run_on::<auth_mysql::MySqlTokenStore>(command, settings).await;
            #[cfg(not(feature = "mysql"))]
            bail!("this authd was built without the `mysql` feature");
        }
    }
}

fn keys(action: &KeysAction, settings: &Settings) -> anyhow::Result<ExitCode> {
    let Some(path) = &settings.key_file else {
        bail!("name the file: authd keys generate --key-file /etc/authd/keys.json");
    };
    let (spec, alg) = match action {
        KeysAction::Generate {
            alg,
            kid,
            rotate,
            standby,
        } => {
            let kid = kid
                .clone()
                .unwrap_or_else(|| format!("key-{}", OffsetDateTime::now_utc().unix_timestamp()));
            let spec = if *standby {
                add_standby_key(path, *alg, &kid)?
            } else {
                generate_key_file(path, *alg, &kid, *rotate)?
            };
            (spec, Some(*alg))
        }
        KeysAction::Activate { kid } => (activate_key(path, kid)?, None),
        KeysAction::Remove { kid } => (remove_key(path, kid)?, None),
    };
    let alg = alg.map(|a| format!(" ({a:?})")).unwrap_or_default();
    println!(
        "wrote {} (mode 0600): signing key `{}`{alg}, {} key(s) in all; SIGHUP a running authd to load it",
        path.display(),
        spec.active,
        spec.keys.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// A keyring for commands that never sign or verify (the service needs one).
fn throwaway_keyring() -> anyhow::Result<Keyring> {
    Keyring::generate("cli", SigningAlgorithm::HS256).context("generating a throwaway key")
}

async fn run_on<B: Backend>(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    let store = B::connect(
        &settings.database_url,
        settings.resilience.database,
        settings.users_table.as_deref(),
    )
    .await
    .with_context(|| {
        format!(
            "connecting to {} at {}",
            B::NAME,
            redact(&settings.database_url)
        )
    })?;
    if let Command::Migrate { action } = &command {
        return migrate(&store, action).await;
    }
    if settings.auto_migrate {
        let applied = store.migrate_up().await.context("migrating up")?;
        if !applied.is_empty() {
            tracing::info!(backend = B::NAME, ?applied, "applied migrations");
        }
    }
    let store = store
        .with_user_claim_columns(settings.user_claim_columns.clone())
        .await
        .context("checking user_claim_columns (AUTHD_USER_CLAIM_COLUMNS)")?;
    match command {
        Command::Serve => {
            let keys = load_keyring(&settings)?;
            let service = build_service(store.clone(), keys, &settings)?;
            let _push = store.push_revocations(&service).await?;
            let listener = TcpListener::bind(settings.bind)
                .await
                .with_context(|| format!("binding {}", settings.bind))?;
            tracing::info!(backend = B::NAME, database = %redact(&settings.database_url), "database ready");
            serve(
                app_state(service, &settings),
                &settings,
                listener,
                shutdown_signal(),
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            action: TokenAction::Inspect { token },
        } => {
            let service = build_service(store, load_keyring(&settings)?, &settings)?;
            inspect(&service, token).await
        }
        other => {
            let service = build_service(store, throwaway_keyring()?, &settings)?;
            admin(&service, other, &settings).await
        }
    }
}

async fn migrate<B: Backend>(store: &B, action: &MigrateAction) -> anyhow::Result<ExitCode> {
    match action {
        MigrateAction::Up => {
            let applied = store.migrate_up().await.context("migrating up")?;
            if applied.is_empty() {
                println!("{}: schema is up to date", B::NAME);
            } else {
                println!("{}: applied {}", B::NAME, versions(&applied));
            }
        }
        MigrateAction::Down { steps, all } => {
            let steps = if *all {
                let status = store
                    .migration_status()
                    .await
                    .context("reading migration status")?;
                let applied = status
                    .iter()
                    .filter(|m| m.state != MigrationState::Pending)
                    .count();
                u32::try_from(applied).unwrap_or(u32::MAX)
            } else {
                *steps
            };
            let reverted = store.migrate_down(steps).await.context("migrating down")?;
            if reverted.is_empty() {
                println!("{}: nothing to revert", B::NAME);
            } else {
                println!("{}: reverted {}", B::NAME, versions(&reverted));
            }
        }
        MigrateAction::Status => {
            println!("{:<16} {:<9} {:<26} name", "version", "state", "applied_at");
            for m in store
                .migration_status()
                .await
                .context("reading migration status")?
            {
                println!(
                    "{:<16} {:<9} {:<26} {}",
                    m.version,
                    m.state,
                    fmt_opt_time(m.applied_at),
                    m.description
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn versions(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn fmt_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn fmt_opt_time(t: Option<OffsetDateTime>) -> String {
    t.map_or_else(|| "-".to_owned(), fmt_time)
}

async fn resolve_user<B: Backend>(service: &TokenService<B>, user: &str) -> anyhow::Result<UserId> {
    if let Ok(id) = user.parse::<i64>() {
        return Ok(UserId(id));
    }
    let email = auth_core::normalize_email(user)?;
    match service.store().find_user_by_email(&email).await? {
        Some(u) => Ok(u.id),
        None => bail!("no user with email {email}"),
    }
}

fn read_secret(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn admin<B: Backend>(
    service: &TokenService<B>,
    command: Command,
    settings: &Settings,
) -> anyhow::Result<ExitCode> {
    match command {
        Command::Cleanup => cleanup(service, settings).await?,
        Command::User {
            action: UserAction::Create { email, password },
        } => {
            let password = match password {
                Some(p) => p,
                None => read_secret("password: ")?,
            };
            let id = service
                .register(&email, &password)
                .await
                .context("creating the user")?;
            println!(
                "created user {id} <{}>",
                auth_core::normalize_email(&email)?
            );
        }
        Command::User {
            action: UserAction::Disable { user },
        } => set_active(service, &user, false).await?,
        Command::User {
            action: UserAction::Enable { user },
        } => set_active(service, &user, true).await?,
        Command::User {
            action: UserAction::Admin { user, revoke },
        } => {
            let id = resolve_user(service, &user).await?;
            if !service.set_user_admin(id, !revoke).await? {
                bail!("no user {id}");
            }
            let now = if revoke {
                "no longer an admin"
            } else {
                "an admin"
            };
            println!("user {id} is {now}");
        }
        Command::User {
            action: UserAction::Import { file },
        } => return import_users(service, &file).await,
        Command::Sessions {
            action: SessionsAction::List { user },
        } => {
            let id = resolve_user(service, &user).await?;
            let sessions = service.list_sessions(id).await?;
            println!(
                "{:<36}  {:<25}  {:<25}  {:<25}  {:<15}  user_agent",
                "session", "created_at", "last_used_at", "expires_at", "ip"
            );
            for s in &sessions {
                println!(
                    "{:<36}  {:<25}  {:<25}  {:<25}  {:<15}  {}",
                    s.id,
                    fmt_time(s.created_at),
                    fmt_time(s.last_used_at),
                    fmt_time(s.expires_at),
                    s.ip.as_deref().unwrap_or("-"),
                    s.user_agent.as_deref().unwrap_or("-")
                );
            }
            println!("{} active session(s) of user {id}", sessions.len());
        }
        Command::Sessions {
            action: SessionsAction::Revoke { session },
        } => {
            let sid: SessionId = session.parse().context("not a session id")?;
            let Some(live) = service.store().live_refresh_token_of_session(sid).await? else {
                bail!("session {sid} is not active");
            };
            service
                .revoke_session(live.token.user_id, sid, &Default::default())
                .await?;
            println!("revoked session {sid} of user {}", live.token.user_id);
        }
        Command::Sessions {
            action: SessionsAction::RevokeAll { user },
        } => {
            let id = resolve_user(service, &user).await?;
            let n = service.logout_all(id, &Default::default()).await?;
            println!("revoked {n} session(s) of user {id}; their access tokens no longer work");
        }
        Command::Serve
        | Command::Migrate { .. }
        | Command::Keys { .. }
        | Command::Clients { .. }
        | Command::Token { .. } => {
            bail!("not an admin command")
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn set_active<B: Backend>(
    service: &TokenService<B>,
    user: &str,
    active: bool,
) -> anyhow::Result<()> {
    let id = resolve_user(service, user).await?;
    if !service.set_user_active(id, active).await? {
        bail!("no user {id}");
    }
    println!("user {id} {}", if active { "enabled" } else { "disabled" });
    Ok(())
}

/// `users import FILE`: the summary on stdout, progress and bad rows on stderr (exit
/// status 1 when rows were refused).
async fn import_users<B: Backend>(
    service: &TokenService<B>,
    file: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    match crate::import::import_file(service, file, |line| eprintln!("{line}")).await {
        Ok(summary) => {
            let secs = started.elapsed().as_secs_f64();
            println!("{summary}");
            println!(
                "{:.1}s, {:.0} rows/s",
                secs,
                summary.rows as f64 / secs.max(1e-9)
            );
            if !summary.differing.is_empty() {
                let lines: Vec<String> = summary.differing.iter().map(u64::to_string).collect();
                println!("stored with other values: line(s) {}", lines.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(crate::import::ImportError::BadRows(bad)) => {
            for row in &bad {
                eprintln!("{}:{}: {}", file.display(), row.line, row.reason);
            }
            eprintln!("{} bad row(s); nothing was imported", bad.len());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs the service's cleanup once, reporting progress while it deletes.
async fn cleanup<B: Backend>(service: &TokenService<B>, settings: &Settings) -> anyhow::Result<()> {
    let policy = settings.cleanup;
    let started = std::time::Instant::now();
    println!(
        "cleanup: retention {} days, batches of {} rows",
        policy.retention.whole_days(),
        policy.batch_size
    );
    let mut run = pin!(service.cleanup(&policy));
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(5),
        Duration::from_secs(5),
    );
    let report = loop {
        tokio::select! {
            r = &mut run => break r.context("cleaning up")?,
            _ = ticker.tick() => eprintln!("  still deleting ({}s)", started.elapsed().as_secs()),
        }
    };
    println!(
        "removed {} rows in {:.1}s: refresh_tokens={} revoked_tokens={} access_tokens={} \
         one_time_codes={} code_locks={}",
        report.total(),
        started.elapsed().as_secs_f64(),
        report.refresh_tokens,
        report.revoked_tokens,
        report.access_tokens,
        report.one_time_codes,
        report.code_locks
    );
    Ok(())
}

fn decode_json_part(part: &str) -> Option<serde_json::Value> {
    if part.len() > 16 * 1024 {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

async fn inspect<B: Backend>(
    service: &TokenService<B>,
    token: Option<String>,
) -> anyhow::Result<ExitCode> {
    let token = match token {
        Some(t) if t != "-" => t,
        _ => read_secret("token: ")?,
    };
    let token = token.trim();
    if RefreshToken::parse(token).is_ok() {
        return inspect_refresh(service, token).await;
    }
    let mut parts = token.split('.');
    let (header, claims) = (
        parts.next().and_then(decode_json_part),
        parts.next().and_then(decode_json_part),
    );
    match (&header, &claims) {
        (Some(h), Some(c)) => {
            println!("kind:    access token (JWT)");
            println!("header:  {h}");
            println!("claims:  {}", serde_json::to_string_pretty(c)?);
            for (name, label) in [
                ("iat", "issued:"),
                ("nbf", "valid from:"),
                ("exp", "expires:"),
            ] {
                if let Some(t) = c
                    .get(name)
                    .and_then(|v| v.as_i64())
                    .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                {
                    println!("{label:<8} {}", fmt_time(t));
                }
            }
        }
        _ => println!("kind:    not a JWT nor a refresh token"),
    }
    match service.authenticate(token).await {
        Ok(auth) => {
            println!(
                "verdict: VALID (user {}, session {}, kid {})",
                auth.user_id,
                auth.claims.sid,
                key_id(&header)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(auth_core::Error::InvalidToken(rejection)) => {
            println!("verdict: INVALID ({rejection})");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e).context("checking the token"),
    }
}

fn key_id(header: &Option<serde_json::Value>) -> String {
    header
        .as_ref()
        .and_then(|h| h.get("kid"))
        .and_then(|k| k.as_str())
        .unwrap_or("-")
        .to_owned()
}

async fn inspect_refresh<B: Backend>(
    service: &TokenService<B>,
    token: &str,
) -> anyhow::Result<ExitCode> {
    println!("kind:    refresh token (opaque; stored only as its SHA-256)");
    let inspection = match service.inspect_refresh_token(token).await {
        Ok(inspection) => inspection,
        Err(auth_core::Error::InvalidGrant(rejection)) => {
            println!("verdict: INVALID ({rejection})");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e).context("inspecting the token"),
    };
    let rec = &inspection.record;
    let t = &rec.token;
    println!("user:    {}", t.user_id);
    println!(
        "session: {} (created {}, ends {})",
        t.session_id,
        fmt_time(t.session_created_at),
        fmt_time(t.session_expires_at)
    );
    println!(
        "token:   generation {}, issued {}, expires {}",
        t.generation,
        fmt_time(t.issued_at),
        fmt_time(t.expires_at)
    );
    let verdict = match inspection.rejection {
        None => {
            println!("verdict: VALID (live)");
            return Ok(ExitCode::SUCCESS);
        }
        Some(RefreshRejection::Revoked) => format!(
            "session revoked {} : {}",
            fmt_opt_time(rec.revoked_at),
            rec.revoke_reason.as_deref().unwrap_or("-")
        ),
        Some(RefreshRejection::Reused) => format!(
            "rotated {}; presenting it again is treated as theft",
            fmt_opt_time(rec.rotated_at)
        ),
        Some(RefreshRejection::Expired) => "expired".to_owned(),
        Some(RefreshRejection::IdleExpired) => "session idle too long".to_owned(),
        Some(other) => other.to_string(),
    };
    println!("verdict: INVALID ({verdict})");
    Ok(ExitCode::from(1))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use auth_core::{CleanupPolicy, PasswordPolicy, RevocationMode, TokenServiceConfig};
    use clap::CommandFactory as _;

    use super::Cli;
    use crate::config::Settings;

    /// The `[default: ...]` a flag's help text documents.
    fn documented_default(long: &str) -> String {
        let command = Cli::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(long))
            .unwrap_or_else(|| panic!("no --{long}"));
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .unwrap_or_else(|| panic!("--{long} has no help"))
            .to_string();
        let start = help
            .find("[default: ")
            .unwrap_or_else(|| panic!("--{long} documents no default: {help}"))
            + "[default: ".len();
        let len = help[start..].find(']').expect("closing bracket");
        help[start..start + len].to_owned()
    }

    /// A duration as the help texts write it: the largest whole unit.
    fn span(d: Duration) -> String {
        let s = d.as_secs();
        match s {
            0 => "0".to_owned(),
            s if s % 86_400 == 0 => format!("{}d", s / 86_400),
            s if s % 3_600 == 0 => format!("{}h", s / 3_600),
            s if s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }

    #[test]
    fn documented_defaults_are_the_core_defaults() {
        let core = TokenServiceConfig::new("https://unused.example", "unused");
        let cleanup = CleanupPolicy::default();
        let settings = Settings::default();
        let core_span = |d: auth_core::time::Duration| span(d.unsigned_abs());

        // The settings take their defaults from the core types...
        assert_eq!(core_span(core.access_ttl), span(settings.access_ttl));
        assert_eq!(core_span(core.refresh_ttl), span(settings.refresh_ttl));
        assert_eq!(core_span(core.session_ttl), span(settings.session_ttl));
        assert_eq!(
            core.idle_timeout.map(core_span),
            settings.idle_timeout.map(span)
        );
        assert_eq!(core.revocation_mode, settings.revocation_mode);
        assert_eq!(core_span(core.retry_window), span(settings.retry_window));
        assert_eq!(
            core_span(core.cache_max_staleness),
            span(settings.cache_max_staleness)
        );
        assert_eq!(cleanup, settings.cleanup);
        assert_eq!(
            PasswordPolicy::default().pbkdf2_rounds,
            settings.pbkdf2_rounds
        );

        // ... and --help documents those values.
        assert_eq!(documented_default("access-ttl"), core_span(core.access_ttl));
        assert_eq!(
            documented_default("refresh-ttl"),
            core_span(core.refresh_ttl)
        );
        assert_eq!(
            documented_default("session-ttl"),
            core_span(core.session_ttl)
        );
        assert_eq!(
            Some(documented_default("idle-timeout")),
            core.idle_timeout.map(core_span)
        );
        assert_eq!(
            documented_default("revocation-mode"),
            match core.revocation_mode {
                RevocationMode::Stateless => "stateless",
                RevocationMode::UserState => "user_state",
                RevocationMode::Denylist => "denylist",
                RevocationMode::Allowlist => "allowlist",
            }
        );
        assert_eq!(
            documented_default("retry-window"),
            core_span(core.retry_window)
        );
        assert_eq!(
            documented_default("cache-max-staleness"),
            core_span(core.cache_max_staleness)
        );
        assert_eq!(
            documented_default("cleanup-retention"),
            core_span(cleanup.retention)
        );
        assert_eq!(
            documented_default("cleanup-batch-size"),
            cleanup.batch_size.to_string()
        );
        assert_eq!(
            documented_default("pbkdf2-rounds"),
            PasswordPolicy::default().pbkdf2_rounds.to_string()
        );
        assert!(settings.user_claim_columns.is_empty());
        assert_eq!(documented_default("user-claim-columns"), "none");
    }
}
