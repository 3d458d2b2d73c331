//! One-time-code settings of authd, from the environment: which sender, the server
//! secret, lengths, lifetimes and limits. Off unless `AUTHD_OTP_SENDER` is set.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use auth_core::{CodeSecret, CodeSender, OneTimeCodeConfig, OneTimeCodes};

use super::senders::{DevelopmentSender, DevelopmentTarget, WebhookSender};

/// Which sender delivers codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderSettings {
    /// Phone sign-in is off (the default).
    Off,
    /// POST to a URL, signed with a secret.
    Webhook {
        /// The URL.
        url: String,
        /// The signing secret (at least 32 bytes).
        secret: Vec<u8>,
        /// Per-attempt timeout (default 5 s).
        timeout: Duration,
        /// Retries after the first attempt (default 2).
        retries: u32,
        /// First backoff, doubled each retry (default 200 ms).
        backoff: Duration,
    },
    /// Development only: write codes to a target.
    Development(DevelopmentTarget),
}

/// Everything authd needs to enable phone sign-in.
#[derive(Debug, Clone)]
pub struct OtpSettings {
    /// The sender.
    pub sender: SenderSettings,
    /// The HMAC key of stored codes (at least 32 bytes); required outside development
    /// mode, generated per process inside it.
    pub secret: Option<Vec<u8>>,
    /// Lengths, lifetimes and limits.
    pub codes: OneTimeCodeConfig,
    /// `AUTHD_DEVELOPMENT=true`: allows the development sender and a generated secret.
    pub development: bool,
}

impl Default for OtpSettings {
    fn default() -> Self {
        Self {
            sender: SenderSettings::Off,
            secret: None,
            codes: OneTimeCodeConfig::default(),
            development: false,
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    var(name)
        .map(|v| v.parse::<T>().map_err(|e| anyhow::anyhow!("{name}: {e}")))
        .transpose()
}

fn seconds(name: &str) -> anyhow::Result<Option<time::Duration>> {
    Ok(parsed::<i64>(name)?.map(time::Duration::seconds))
}

impl OtpSettings {
    /// Reads `AUTHD_OTP_*` and `AUTHD_DEVELOPMENT` (see the README).
    pub fn from_env() -> anyhow::Result<Self> {
        let development = parsed::<bool>("AUTHD_DEVELOPMENT")?.unwrap_or(false);
        let sender = match var("AUTHD_OTP_SENDER").as_deref() {
            None | Some("off") => SenderSettings::Off,
            Some("webhook") => SenderSettings::Webhook {
                url: var("AUTHD_OTP_WEBHOOK_URL").context("AUTHD_OTP_WEBHOOK_URL is required")?,
                secret: var("AUTHD_OTP_WEBHOOK_SECRET")
                    .context("AUTHD_OTP_WEBHOOK_SECRET is required")?
                    .into_bytes(),
                timeout: Duration::from_millis(
                    parsed("AUTHD_OTP_WEBHOOK_TIMEOUT_MS")?.unwrap_or(5_000),
                ),
                retries: parsed("AUTHD_OTP_WEBHOOK_RETRIES")?.unwrap_or(2),
                backoff: Duration::from_millis(
                    parsed("AUTHD_OTP_WEBHOOK_BACKOFF_MS")?.unwrap_or(200),
                ),
            },
            Some("stderr") => SenderSettings::Development(DevelopmentTarget::Stderr),
            Some("file") => SenderSettings::Development(DevelopmentTarget::File(
                var("AUTHD_OTP_FILE")
                    .context("AUTHD_OTP_FILE is required")?
                    .into(),
            )),
            Some(other) => anyhow::bail!(
                "AUTHD_OTP_SENDER must be off, webhook, stderr or file (got `{other}`)"
            ),
        };
        let d = OneTimeCodeConfig::default();
        let codes = OneTimeCodeConfig {
            length: parsed("AUTHD_OTP_LENGTH")?.unwrap_or(d.length),
            ttl: seconds("AUTHD_OTP_TTL_SECONDS")?.unwrap_or(d.ttl),
            max_attempts: parsed("AUTHD_OTP_MAX_ATTEMPTS")?.unwrap_or(d.max_attempts),
            resend_interval: seconds("AUTHD_OTP_RESEND_SECONDS")?.unwrap_or(d.resend_interval),
            limit_window: d.limit_window,
            max_per_phone: parsed("AUTHD_OTP_PER_PHONE_PER_HOUR")?.unwrap_or(d.max_per_phone),
            max_per_ip: parsed("AUTHD_OTP_PER_IP_PER_HOUR")?.unwrap_or(d.max_per_ip),
        };
        Ok(Self {
            sender,
            secret: var("AUTHD_OTP_SECRET").map(String::into_bytes),
            codes,
            development,
        })
    }

    /// What the token service needs, or `None` when phone sign-in is off.
    pub fn one_time_codes(&self) -> anyhow::Result<Option<OneTimeCodes>> {
        let sender: Arc<dyn CodeSender> = match &self.sender {
            SenderSettings::Off => return Ok(None),
            SenderSettings::Webhook {
                url,
                secret,
                timeout,
                retries,
                backoff,
            } => Arc::new(WebhookSender::new(
                url, secret, *timeout, *retries, *backoff,
            )?),
            SenderSettings::Development(target) => {
                Arc::new(DevelopmentSender::new(target.clone(), self.development)?)
            }
        };
        let secret = match &self.secret {
            Some(bytes) => CodeSecret::new(bytes).context("AUTHD_OTP_SECRET")?,
            None if self.development => CodeSecret::generate(),
            None => anyhow::bail!(
                "AUTHD_OTP_SECRET (at least 32 bytes) is required outside development mode"
            ),
        };
        Ok(Some(OneTimeCodes {
            config: self.codes,
            secret,
            sender,
        }))
    }
}
