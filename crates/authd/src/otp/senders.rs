//! The [`CodeSender`]s authd ships: a signed webhook (how a service plugs in Twilio,
//! Vonage or its own SMS gateway) and a development sender that writes codes to a
//! file or stderr and refuses to exist unless development mode is on.

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use auth_core::{CodeMessage, CodeSender, SendError, SendFuture};
use aws_lc_rs::hmac;

/// Header carrying the request's unix time, signed with the body.
pub const TIMESTAMP_HEADER: &str = "x-authd-timestamp";
/// Header carrying `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
pub const SIGNATURE_HEADER: &str = "x-authd-signature";

/// POSTs `{"phone", "code", "expires_at"}` as JSON to a URL, signed with an HMAC header,
/// with a per-attempt timeout and retries with exponential backoff on time-outs,
/// transport errors, 429 and 5xx answers.
pub struct WebhookSender {
    client: reqwest::Client,
    url: reqwest::Url,
    key: hmac::Key,
    retries: u32,
    backoff: Duration,
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender")
            .field("url", &self.url.as_str())
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl WebhookSender {
    /// A sender to `url` signing with `secret` (at least 32 bytes), each attempt
    /// bounded by `timeout`, up to `retries` more attempts after the first, waiting
    /// `backoff`, then twice as long, between them.
    pub fn new(
        url: &str,
        secret: &[u8],
        timeout: Duration,
        retries: u32,
        backoff: Duration,
    ) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(url)?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "the webhook URL must be http or https"
        );
        anyhow::ensure!(
            secret.len() >= 32,
            "the webhook signing secret must be at least 32 bytes"
        );
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            client,
            url,
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            retries,
            backoff,
        })
    }

    /// The signature header value of `body` sent at `timestamp`.
    pub fn signature(&self, timestamp: i64, body: &[u8]) -> String {
        signature(&self.key, timestamp, body)
    }

    async fn attempt(&self, body: &[u8]) -> Result<(), SendError> {
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, self.signature(timestamp, body))
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    SendError::Timeout
                } else {
                    SendError::Transport(Box::new(e))
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError::Status {
                status: status.as_u16(),
            })
        }
    }
}

/// `sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>`.
pub(crate) fn signature(key: &hmac::Key, timestamp: i64, body: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

impl CodeSender for WebhookSender {
    fn send<'a>(&'a self, message: &'a CodeMessage) -> SendFuture<'a> {
        Box::pin(async move {
            let body = serde_json::to_vec(&serde_json::json!({
                "phone": message.phone.as_str(),
                "code": message.code.expose(),
                "expires_at": message.expires_at.unix_timestamp(),
            }))
            .map_err(|e| SendError::Transport(Box::new(e)))?;
            let mut wait = self.backoff;
            let mut tries = 0;
            loop {
                match self.attempt(&body).await {
                    Ok(()) => return Ok(()),
                    Err(e) if e.is_transient() && tries < self.retries => {
                        tracing::info!(error = %e, attempt = tries + 1, "code webhook failed; retrying");
                        tokio::time::sleep(wait).await;
                        wait = wait.saturating_mul(2);
                        tries += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        })
    }
}

/// Where the development sender writes codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevelopmentTarget {
    /// One line per code on stderr.
    Stderr,
    /// One line per code appended to a file.
    File(PathBuf),
}

/// Writes `phone code expires_at` lines for local development. Never for production:
/// [`new`](Self::new) refuses unless development mode is explicitly on.
#[derive(Debug)]
pub struct DevelopmentSender {
    target: DevelopmentTarget,
}

impl DevelopmentSender {
    /// The sender, or an error unless `development_mode` is true.
    pub fn new(target: DevelopmentTarget, development_mode: bool) -> anyhow::Result<Self> {
        anyhow::ensure!(
            development_mode,
            "the development code sender prints codes in clear and runs only in development \
             mode (set AUTHD_DEVELOPMENT=true); use the webhook sender otherwise"
        );
        Ok(Self { target })
    }
}

impl CodeSender for DevelopmentSender {
    fn send<'a>(&'a self, message: &'a CodeMessage) -> SendFuture<'a> {
        Box::pin(async move {
            let line = format!(
                "one-time code for {}: {} (expires at {})\n",
                message.phone,
                message.code.expose(),
                message.expires_at.unix_timestamp()
            );
            let written = match &self.target {
                DevelopmentTarget::Stderr => std::io::stderr().write_all(line.as_bytes()),
                DevelopmentTarget::File(path) => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(line.as_bytes())),
            };
            written.map_err(|e| SendError::Transport(Box::new(e)))
        })
    }
}
