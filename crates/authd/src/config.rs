//! Settings: command-line flags over environment variables over a TOML file over defaults.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;
use auth_core::{
    CleanupPolicy, PasswordPolicy, RevocationMode, TokenServiceConfig, UserClaimColumns,
};
use serde::Deserialize;

use crate::oauth::clients::{ClientRegistry, ClientSettings, valid_origin};
use crate::proxy::TrustedProxies;
use crate::resilience::{DatabaseTimeouts, ResilienceSettings};

/// The key file created on first run when none is configured (development only).
pub const DEV_KEY_FILE: &str = "./authd-dev-keys.json";
/// The database used when none is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:./authd.db";

/// A duration written as `90s`, `15m`, `12h`, `30d`, `1h30m`, or plain seconds (`900`).
/// `0` (or `off`) means "disabled" where a setting allows that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span(pub Duration);

impl Span {
    /// `None` for zero (disabled), else the duration.
    pub fn non_zero(self) -> Option<Duration> {
        (!self.0.is_zero()).then_some(self.0)
    }
}

impl FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
            return Ok(Span(Duration::ZERO));
        }
        let bad =
            || format!("`{s}` is not a duration (examples: 900, 90s, 15m, 12h, 30d, 1h30m, off)");
        if s.is_empty() {
            return Err(bad());
        }
        let mut total: u64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let factor = match &rest[..unit_len] {
                "" if total == 0 && rest.is_empty() => 1,
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            total = n
                .checked_mul(factor)
                .and_then(|x| total.checked_add(x))
                .ok_or_else(bad)?;
        }
        Ok(Span(Duration::from_secs(total)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0.as_secs())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(n) => Ok(Span(Duration::from_secs(n))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where authd runs: development accepts an `http://` issuer (default
/// `http://127.0.0.1:8080`); production requires an explicit `https://` issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Local development and tests.
    #[default]
    Development,
    /// A deployment.
    Production,
}

fn parse_mode(s: &str) -> Result<RevocationMode, String> {
    s.parse().map_err(|e: auth_core::Error| e.to_string())
}

/// Every setting, each optional: given by flag, environment variable or TOML file
/// (the file's keys are the field names, e.g. `access_ttl = "15m"`).
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsArgs {
    /// TOML file with settings (flags and environment variables take precedence).
    #[arg(long, global = true, env = "AUTHD_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite:PATH, postgres://..., mysql://... [default: sqlite:./authd.db]
    #[arg(long, global = true, env = "AUTHD_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// MySQL only: an existing Django `auth_user` to adopt as the users table, `TABLE`
    /// or `DATABASE.TABLE` (e.g. `auth_user`, `hybrid.auth_user`) [default: none, authd
    /// creates its own `auth_user`]
    #[arg(
        long,
        global = true,
        env = "AUTHD_USERS_TABLE",
        value_name = "[DATABASE.]TABLE"
    )]
    pub users_table: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, global = true, env = "AUTHD_BIND", value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// development or production (https issuer required) [default: development]
    #[arg(long, global = true, env = "AUTHD_ENVIRONMENT", value_enum)]
    pub environment: Option<Environment>,
    /// `iss` of issued access tokens and the base of every OAuth URL; an https URL in
    /// production [default in development: http://127.0.0.1:8080]
    #[arg(long, global = true, env = "AUTHD_ISSUER")]
    pub issuer: Option<String>,
    /// Browser origins allowed to call authd with credentials (CORS), comma-separated;
    /// each client's `origins` are allowed too.
    #[arg(
        long,
        global = true,
        env = "AUTHD_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGINS"
    )]
    pub cors_origins: Option<Vec<String>>,
    /// Registered OAuth clients: `[[clients]]` tables of the settings file only.
    #[arg(skip)]
    pub clients: Option<Vec<ClientSettings>>,
    /// `aud` of issued access tokens [default: authd]
    #[arg(long, global = true, env = "AUTHD_AUDIENCE")]
    pub audience: Option<String>,
    /// JSON key file (see `authd keys generate`). Unset: a development keyring in
    /// ./authd-dev-keys.json, created on first run.
    #[arg(long, global = true, env = "AUTHD_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Access-token lifetime [default: 15m]
    #[arg(long, global = true, env = "AUTHD_ACCESS_TTL", value_name = "DURATION")]
    pub access_ttl: Option<Span>,
    /// Lifetime of each refresh token [default: 14d]
    #[arg(
        long,
        global = true,
        env = "AUTHD_REFRESH_TTL",
        value_name = "DURATION"
    )]
    pub refresh_ttl: Option<Span>,
    /// Absolute session lifetime from login [default: 30d]
    #[arg(
        long,
        global = true,
        env = "AUTHD_SESSION_TTL",
        value_name = "DURATION"
    )]
    pub session_ttl: Option<Span>,
    /// A session unused this long is dead; `off` disables [default: 7d]
    #[arg(
        long,
        global = true,
        env = "AUTHD_IDLE_TIMEOUT",
        value_name = "DURATION"
    )]
    pub idle_timeout: Option<Span>,
    /// stateless, user_state, denylist or allowlist [default: denylist]
    #[arg(long, global = true, env = "AUTHD_REVOCATION_MODE", value_parser = parse_mode, value_name = "MODE")]
    pub revocation_mode: Option<RevocationMode>,
    /// How long after a rotation the previous refresh token, presented again, gets the
    /// same successor instead of revoking the session; 0 = strict [default: 30s]
    #[arg(
        long,
        global = true,
        env = "AUTHD_RETRY_WINDOW",
        value_name = "DURATION"
    )]
    pub retry_window: Option<Span>,
    /// Maximum age of revocation-cache answers [default: 5s]
    #[arg(
        long,
        global = true,
        env = "AUTHD_CACHE_MAX_STALENESS",
        value_name = "DURATION"
    )]
    pub cache_max_staleness: Option<Span>,
    /// How often `serve` removes expired rows; `off` disables [default: 1h]
    #[arg(
        long,
        global = true,
        env = "AUTHD_CLEANUP_INTERVAL",
        value_name = "DURATION"
    )]
    pub cleanup_interval: Option<Span>,
    /// How long rows of ended sessions are kept for reuse detection [default: 30d]
    #[arg(
        long,
        global = true,
        env = "AUTHD_CLEANUP_RETENTION",
        value_name = "DURATION"
    )]
    pub cleanup_retention: Option<Span>,
    /// Rows deleted per cleanup statement [default: 1000]
    #[arg(
        long,
        global = true,
        env = "AUTHD_CLEANUP_BATCH_SIZE",
        value_name = "N"
    )]
    pub cleanup_batch_size: Option<u32>,
    /// Login attempts per client IP per minute; 0 disables [default: 30]
    #[arg(long, global = true, env = "AUTHD_LOGIN_PER_IP", value_name = "N")]
    pub login_per_ip: Option<u32>,
    /// Login attempts per account (email) per minute; 0 disables [default: 10]
    #[arg(long, global = true, env = "AUTHD_LOGIN_PER_ACCOUNT", value_name = "N")]
    pub login_per_account: Option<u32>,
    /// Refreshes per client IP per minute; 0 disables [default: 120]
    #[arg(long, global = true, env = "AUTHD_REFRESH_PER_IP", value_name = "N")]
    pub refresh_per_ip: Option<u32>,
    /// Refreshes per account per minute; 0 disables [default: 30]
    #[arg(
        long,
        global = true,
        env = "AUTHD_REFRESH_PER_ACCOUNT",
        value_name = "N"
    )]
    pub refresh_per_account: Option<u32>,
    /// Registrations per client IP per minute; 0 disables [default: 10]
    #[arg(long, global = true, env = "AUTHD_REGISTER_PER_IP", value_name = "N")]
    pub register_per_ip: Option<u32>,
    /// Largest accepted request body in bytes [default: 16384]
    #[arg(long, global = true, env = "AUTHD_BODY_LIMIT", value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Log format [default: text]
    #[arg(long, global = true, env = "AUTHD_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter, tracing-subscriber syntax [default: info]
    #[arg(long, global = true, env = "AUTHD_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Apply pending migrations when `serve` starts [default: true]
    #[arg(long, global = true, env = "AUTHD_AUTO_MIGRATE", value_name = "BOOL", action = clap::ArgAction::Set)]
    pub auto_migrate: Option<bool>,
    /// Longest wait for a database connection from the pool [default: 2s]
    #[arg(
        long,
        global = true,
        env = "AUTHD_DB_ACQUIRE_TIMEOUT",
        value_name = "DURATION"
    )]
    pub db_acquire_timeout: Option<Span>,
    /// Server-side statement timeout (SQLite: busy timeout); `off` keeps the
    /// database's own [default: 5s]
    #[arg(
        long,
        global = true,
        env = "AUTHD_DB_STATEMENT_TIMEOUT",
        value_name = "DURATION"
    )]
    pub db_statement_timeout: Option<Span>,
    /// Deadline of every request, answered 503 past it; `off` disables [default: 10s]
    #[arg(
        long,
        global = true,
        env = "AUTHD_REQUEST_TIMEOUT",
        value_name = "DURATION"
    )]
    pub request_timeout: Option<Span>,
    /// Password hashes computed at once (login, register) [default: number of cores]
    #[arg(long, global = true, env = "AUTHD_HASH_CONCURRENCY", value_name = "N")]
    pub hash_concurrency: Option<usize>,
    /// How long a login waits for a hashing slot before 503 [default: 1s]
    #[arg(long, global = true, env = "AUTHD_HASH_WAIT", value_name = "DURATION")]
    pub hash_wait: Option<Span>,
    /// Reverse proxies (addresses or CIDRs, comma-separated) whose `Forwarded` /
    /// `X-Forwarded-For` names the client; from others these headers are ignored [default: none]
    #[arg(
        long,
        global = true,
        env = "AUTHD_TRUSTED_PROXIES",
        value_name = "CIDRS"
    )]
    pub trusted_proxies: Option<TrustedProxies>,
    /// Users-table columns whose values every access token carries as claims of the
    /// same name (seed 002's `market`), comma-separated; plain identifiers, none of the
    /// library's own columns or claims; each must exist when authd starts [default: none]
    #[arg(
        long,
        global = true,
        env = "AUTHD_USER_CLAIM_COLUMNS",
        value_delimiter = ',',
        value_name = "COLUMNS"
    )]
    pub user_claim_columns: Option<Vec<String>>,
    /// TESTING ONLY: PBKDF2 rounds for new password hashes. Never lower this in
    /// production; hashes with fewer rounds than the default are upgraded on login
    /// once it is raised again [default: 600000]
    #[arg(
        long,
        global = true,
        env = "AUTHD_PBKDF2_ROUNDS",
        value_name = "N",
        hide = true
    )]
    pub pbkdf2_rounds: Option<u32>,
}

/// Per-minute rate limits; 0 disables one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Login attempts per client IP.
    pub login_per_ip: u32,
    /// Login attempts per account (normalised email).
    pub login_per_account: u32,
    /// Refreshes per client IP.
    pub refresh_per_ip: u32,
    /// Refreshes per account.
    pub refresh_per_account: u32,
    /// Registrations per client IP.
    pub register_per_ip: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            login_per_ip: 30,
            login_per_account: 10,
            refresh_per_ip: 120,
            refresh_per_account: 30,
            register_per_ip: 10,
        }
    }
}

impl RateLimitSettings {
    /// Every limit off (tests that are not about rate limiting).
    pub fn disabled() -> Self {
        Self {
            login_per_ip: 0,
            login_per_account: 0,
            refresh_per_ip: 0,
            refresh_per_account: 0,
            register_per_ip: 0,
        }
    }
}

/// The resolved settings of authd.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Database URL; its scheme picks the backend.
    pub database_url: String,
    /// MySQL: the adopted Django users table (`None`: authd's own `auth_user`).
    pub users_table: Option<String>,
    /// Listen address.
    pub bind: SocketAddr,
    /// Development or production.
    pub environment: Environment,
    /// `iss` of issued tokens: a URL, the base of every OAuth endpoint.
    pub issuer: String,
    /// Origins allowed by CORS besides the clients' own.
    pub cors_origins: Vec<String>,
    /// The registered OAuth clients.
    pub clients: ClientRegistry,
    /// `aud` of issued tokens.
    pub audience: String,
    /// Key file; `None` means the development keyring in [`DEV_KEY_FILE`].
    pub key_file: Option<PathBuf>,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Lifetime of each refresh token.
    pub refresh_ttl: Duration,
    /// Absolute session lifetime.
    pub session_ttl: Duration,
    /// Idle timeout of sessions (`None`: none).
    pub idle_timeout: Option<Duration>,
    /// Revocation mode of access tokens.
    pub revocation_mode: RevocationMode,
    /// Retry window of refresh-token rotation (zero: strict).
    pub retry_window: Duration,
    /// Maximum staleness of the revocation cache.
    pub cache_max_staleness: Duration,
    /// Interval of the background cleanup (`None`: off).
    pub cleanup_interval: Option<Duration>,
    /// Cleanup retention and batch size.
    pub cleanup: CleanupPolicy,
    /// Rate limits.
    pub rate_limits: RateLimitSettings,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log: String,
    /// Migrate when `serve` starts.
    pub auto_migrate: bool,
    /// PBKDF2 rounds for new hashes (lower only in tests).
    pub pbkdf2_rounds: u32,
    /// Database time limits, request deadline, hashing bound, trusted proxies.
    pub resilience: ResilienceSettings,
    /// Users-table columns read into every access token as claims (none by default).
    pub user_claim_columns: UserClaimColumns,
    /// Phone sign-in by one-time code (off by default; `AUTHD_OTP_*`).
    pub otp: crate::otp::OtpSettings,
}

/// The development issuer, used when none is configured outside production.
const DEV_ISSUER: &str = "http://127.0.0.1:8080";

impl Default for Settings {
    /// authd's own defaults (address, limits, logging) and, for every token and
    /// cleanup setting, the core types' defaults ([`TokenServiceConfig::new`],
    /// [`CleanupPolicy::default`]).
    fn default() -> Self {
        let core = TokenServiceConfig::new(DEV_ISSUER, "authd");
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            users_table: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            environment: Environment::Development,
            issuer: core.issuer,
            cors_origins: Vec::new(),
            clients: ClientRegistry::default(),
            audience: core.audience,
            key_file: None,
            access_ttl: core.access_ttl.unsigned_abs(),
            refresh_ttl: core.refresh_ttl.unsigned_abs(),
            session_ttl: core.session_ttl.unsigned_abs(),
            idle_timeout: core.idle_timeout.map(|d| d.unsigned_abs()),
            revocation_mode: core.revocation_mode,
            retry_window: core.retry_window.unsigned_abs(),
            cache_max_staleness: core.cache_max_staleness.unsigned_abs(),
            cleanup_interval: Some(Duration::from_secs(3600)),
            cleanup: CleanupPolicy::default(),
            rate_limits: RateLimitSettings::default(),
            body_limit: 16 * 1024,
            log_format: LogFormat::Text,
            log: "info".to_owned(),
            auto_migrate: true,
            pbkdf2_rounds: core.password.pbkdf2_rounds,
            resilience: ResilienceSettings::default(),
            user_claim_columns: UserClaimColumns::default(),
            otp: crate::otp::OtpSettings::default(),
        }
    }
}

/// The configured claim columns, checked by core; a refusal names the column.
fn user_claim_columns(names: Vec<String>) -> anyhow::Result<UserClaimColumns> {
    let names: Vec<&str> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect();
    for name in &names {
        UserClaimColumns::check_name(name)
            .with_context(|| format!("user_claim_columns: `{name}`"))?;
    }
    UserClaimColumns::new(names).context("user_claim_columns")
}

fn secs(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

impl SettingsArgs {
    /// Reads the TOML file, if one is named, and fills what flags and environment left unset.
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => Self::from_file(path)?,
            None => SettingsArgs::default(),
        };
        let mut settings = self.or(file).into_settings()?;
        settings.otp = crate::otp::OtpSettings::from_env()?;
        Ok(settings)
    }

    /// Parses a TOML settings file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    fn or(self, other: SettingsArgs) -> SettingsArgs {
        macro_rules! pick {
            ($($f:ident),*) => { SettingsArgs { $($f: self.$f.or(other.$f)),* } };
        }
        pick!(
            config,
            database_url,
            users_table,
            bind,
            environment,
            issuer,
            cors_origins,
            clients,
            audience,
            key_file,
            access_ttl,
            refresh_ttl,
            session_ttl,
            idle_timeout,
            revocation_mode,
            retry_window,
            cache_max_staleness,
            cleanup_interval,
            cleanup_retention,
            cleanup_batch_size,
            login_per_ip,
            login_per_account,
            refresh_per_ip,
            refresh_per_account,
            register_per_ip,
            body_limit,
            log_format,
            log,
            auto_migrate,
            pbkdf2_rounds,
            db_acquire_timeout,
            db_statement_timeout,
            request_timeout,
            hash_concurrency,
            hash_wait,
            trusted_proxies,
            user_claim_columns
        )
    }

    fn into_settings(self) -> anyhow::Result<Settings> {
        let d = Settings::default();
        let resilience = self.resilience(&d.resilience);
        let r = d.rate_limits;
        let bind = self.bind.unwrap_or(d.bind);
        let environment = self.environment.unwrap_or(d.environment);
        let issuer = match (self.issuer, environment) {
            (Some(issuer), _) => issuer,
            // Fixed, not derived from --bind: every command of one deployment must
            // agree on it (a server on port 0 and `token inspect` alike).
            (None, Environment::Development) => d.issuer.clone(),
            (None, Environment::Production) => {
                anyhow::bail!("set the issuer (--issuer https://auth.example.com) in production")
            }
        };
        check_issuer(&issuer, environment)?;
        let cors_origins = self.cors_origins.unwrap_or_default();
        if let Some(bad) = cors_origins.iter().find(|o| !valid_origin(o)) {
            anyhow::bail!("cors_origins: `{bad}` is not an origin (scheme://host[:port])");
        }
        let clients = ClientRegistry::from_settings(&self.clients.unwrap_or_default())
            .context("[[clients]]")?;
        let user_claim_columns = user_claim_columns(self.user_claim_columns.unwrap_or_default())?;
        Ok(Settings {
            database_url: self.database_url.unwrap_or(d.database_url),
            users_table: self.users_table.or(d.users_table),
            bind,
            environment,
            issuer,
            cors_origins,
            clients,
            audience: self.audience.unwrap_or(d.audience),
            key_file: self.key_file.or(d.key_file),
            access_ttl: self.access_ttl.map_or(d.access_ttl, |s| s.0),
            refresh_ttl: self.refresh_ttl.map_or(d.refresh_ttl, |s| s.0),
            session_ttl: self.session_ttl.map_or(d.session_ttl, |s| s.0),
            idle_timeout: self.idle_timeout.map_or(d.idle_timeout, Span::non_zero),
            revocation_mode: self.revocation_mode.unwrap_or(d.revocation_mode),
            retry_window: self.retry_window.map_or(d.retry_window, |s| s.0),
            cache_max_staleness: self
                .cache_max_staleness
                .map_or(d.cache_max_staleness, |s| s.0),
            cleanup_interval: self
                .cleanup_interval
                .map_or(d.cleanup_interval, Span::non_zero),
            cleanup: CleanupPolicy {
                retention: self
                    .cleanup_retention
                    .map_or(d.cleanup.retention, |s| secs(s.0)),
                batch_size: self.cleanup_batch_size.unwrap_or(d.cleanup.batch_size),
                ..d.cleanup
            },
            rate_limits: RateLimitSettings {
                login_per_ip: self.login_per_ip.unwrap_or(r.login_per_ip),
                login_per_account: self.login_per_account.unwrap_or(r.login_per_account),
                refresh_per_ip: self.refresh_per_ip.unwrap_or(r.refresh_per_ip),
                refresh_per_account: self.refresh_per_account.unwrap_or(r.refresh_per_account),
                register_per_ip: self.register_per_ip.unwrap_or(r.register_per_ip),
            },
            body_limit: self.body_limit.unwrap_or(d.body_limit),
            log_format: self.log_format.unwrap_or(d.log_format),
            log: self.log.unwrap_or(d.log),
            auto_migrate: self.auto_migrate.unwrap_or(d.auto_migrate),
            pbkdf2_rounds: self.pbkdf2_rounds.unwrap_or(d.pbkdf2_rounds),
            resilience,
            user_claim_columns,
            otp: d.otp,
        })
    }

    fn resilience(&self, d: &ResilienceSettings) -> ResilienceSettings {
        ResilienceSettings {
            database: DatabaseTimeouts {
                acquire: self.db_acquire_timeout.map_or(d.database.acquire, |s| s.0),
                statement: self
                    .db_statement_timeout
                    .map_or(d.database.statement, Span::non_zero),
            },
            request_timeout: self
                .request_timeout
                .map_or(d.request_timeout, Span::non_zero),
            hash_slots: self.hash_concurrency.unwrap_or(d.hash_slots),
            hash_wait: self.hash_wait.map_or(d.hash_wait, |s| s.0),
            trusted_proxies: self
                .trusted_proxies
                .clone()
                .unwrap_or_else(|| d.trusted_proxies.clone()),
        }
    }
}

/// The issuer must be an absolute http(s) URL without query or fragment (RFC 8414
/// section 2), https outside development.
fn check_issuer(issuer: &str, environment: Environment) -> anyhow::Result<()> {
    let url = url::Url::parse(issuer).with_context(|| {
        format!("issuer `{issuer}` is not a URL (e.g. https://auth.example.com)")
    })?;
    if url.query().is_some() || url.fragment().is_some() || url.host_str().is_none() {
        anyhow::bail!("issuer `{issuer}` must be a URL without query or fragment");
    }
    match (url.scheme(), environment) {
        ("https", _) | ("http", Environment::Development) => Ok(()),
        ("http", Environment::Production) => {
            anyhow::bail!("issuer `{issuer}` must use https in production")
        }
        _ => anyhow::bail!("issuer `{issuer}` must be an http(s) URL"),
    }
}

impl Settings {
    /// The [`TokenServiceConfig`] these settings describe.
    pub fn token_service_config(&self) -> TokenServiceConfig {
        let mut c = TokenServiceConfig::new(self.issuer.clone(), self.audience.clone());
        c.access_ttl = secs(self.access_ttl);
        c.refresh_ttl = secs(self.refresh_ttl);
        c.session_ttl = secs(self.session_ttl);
        c.idle_timeout = self.idle_timeout.map(secs);
        c.revocation_mode = self.revocation_mode;
        c.retry_window = secs(self.retry_window);
        c.cache_max_staleness = secs(self.cache_max_staleness);
        c.password = PasswordPolicy {
            pbkdf2_rounds: self.pbkdf2_rounds,
            ..PasswordPolicy::default()
        };
        c
    }
}

#[cfg(test)]
mod tests {
    use auth_core::DEFAULT_PBKDF2_ROUNDS;

    use super::*;

    #[test]
    fn spans_parse() {
        let s = |t: &str| t.parse::<Span>().map(|s| s.0.as_secs());
        assert_eq!(s("900"), Ok(900));
        assert_eq!(s("90s"), Ok(90));
        assert_eq!(s("15m"), Ok(900));
        assert_eq!(s("1h30m"), Ok(5400));
        assert_eq!(s("30d"), Ok(2_592_000));
        assert_eq!(s("off"), Ok(0));
        for bad in ["", "m", "15x", "1.5h", "-3s", "10 m"] {
            assert!(s(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_override_file_and_defaults_fill_the_rest() {
        let file: SettingsArgs = toml::from_str(
            r#"
            bind = "127.0.0.1:9000"
            issuer = "https://from-file.example"
            access_ttl = "5m"
            refresh_ttl = 3600
            idle_timeout = "off"
            revocation_mode = "user_state"
            login_per_ip = 3
            log_format = "json"
            "#,
        )
        .unwrap();
        let flags = SettingsArgs {
            issuer: Some("https://from-flag.example".into()),
            ..Default::default()
        };
        let s = flags.or(file).into_settings().unwrap();
        assert_eq!(s.bind.port(), 9000);
        assert_eq!(s.issuer, "https://from-flag.example");
        assert_eq!(s.access_ttl, Duration::from_secs(300));
        assert_eq!(s.refresh_ttl, Duration::from_secs(3600));
        assert_eq!(s.idle_timeout, None);
        assert_eq!(s.revocation_mode, RevocationMode::UserState);
        assert_eq!(s.rate_limits.login_per_ip, 3);
        assert_eq!(s.rate_limits.login_per_account, 10);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.pbkdf2_rounds, DEFAULT_PBKDF2_ROUNDS);
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
    }

    #[test]
    fn users_table_from_the_file_or_a_flag() {
        let file: SettingsArgs = toml::from_str("users_table = \"hybrid.auth_user\"").unwrap();
        assert_eq!(
            SettingsArgs::default()
                .or(file.clone())
                .into_settings()
                .unwrap()
                .users_table
                .as_deref(),
            Some("hybrid.auth_user")
        );
        let flag = SettingsArgs {
            users_table: Some("auth_user".into()),
            ..Default::default()
        };
        let s = flag.or(file).into_settings().unwrap();
        assert_eq!(s.users_table.as_deref(), Some("auth_user"));
        assert_eq!(Settings::default().users_table, None);
    }

    #[test]
    fn issuer_is_a_url_and_https_in_production() {
        let resolve = |toml_text: &str| {
            toml::from_str::<SettingsArgs>(toml_text)
                .unwrap()
                .into_settings()
        };
        assert_eq!(resolve("").unwrap().issuer, "http://127.0.0.1:8080");
        assert!(resolve("issuer = \"authd\"").is_err());
        assert!(resolve("issuer = \"https://a.example/?x=1\"").is_err());
        assert!(resolve("environment = \"production\"").is_err());
        assert!(resolve("environment = \"production\"\nissuer = \"http://a.example\"").is_err());
        let prod = resolve("environment = \"production\"\nissuer = \"https://a.example\"").unwrap();
        assert_eq!(prod.environment, Environment::Production);
    }

    #[test]
    fn clients_and_cors_origins_from_the_file() {
        let s = toml::from_str::<SettingsArgs>(
            r#"
            cors_origins = ["https://app.example"]
            [[clients]]
            id = "web"
            origins = ["http://127.0.0.1:5173"]
            scopes = ["read"]
            [[clients]]
            id = "api"
            secret_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
            grants = ["refresh_token"]
            "#,
        )
        .unwrap()
        .into_settings()
        .unwrap();
        assert_eq!(s.cors_origins, ["https://app.example"]);
        assert_eq!(
            s.clients.origins().collect::<Vec<_>>(),
            ["http://127.0.0.1:5173"]
        );
        assert_eq!(s.clients.scopes(), ["read"]);
        let bad = toml::from_str::<SettingsArgs>("cors_origins = [\"app.example\"]").unwrap();
        assert!(bad.into_settings().is_err());
        assert!(
            toml::from_str::<SettingsArgs>("[[clients]]\nid = \"x\"\ngrants = [\"implicit\"]")
                .is_err()
        );
    }

    #[test]
    fn user_claim_columns_are_checked_and_named_when_refused() {
        let resolve = |toml_text: &str| {
            toml::from_str::<SettingsArgs>(toml_text)
                .unwrap()
                .into_settings()
        };
        assert!(resolve("").unwrap().user_claim_columns.is_empty());
        let s = resolve(r#"user_claim_columns = ["market", " language "]"#).unwrap();
        assert_eq!(
            s.user_claim_columns.names().collect::<Vec<_>>(),
            ["market", "language"]
        );
        for (bad, named) in [
            (r#"["market", "sub"]"#, "`sub`"),
            (r#"["password_hash"]"#, "`password_hash`"),
            (r#"["market-1"]"#, "`market-1`"),
            (r#"["market", "MARKET"]"#, "user_claim_columns"),
        ] {
            let err = resolve(&format!("user_claim_columns = {bad}")).unwrap_err();
            let message = format!("{err:#}");
            assert!(message.contains(named), "{message}");
        }
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<SettingsArgs>("bnid = \"x\"").is_err());
    }

    #[test]
    fn defaults_make_a_valid_token_service_config() {
        let c = Settings::default().token_service_config();
        assert_eq!(c.revocation_mode, RevocationMode::Denylist);
        assert_eq!(c.password.pbkdf2_rounds, 600_000);
        assert_eq!(c.access_ttl, time::Duration::minutes(15));
    }
}
