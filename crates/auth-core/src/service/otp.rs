//! Phone sign-in by one-time code (DESIGN section 9): `request_code` stores the
//! code's HMAC under the limits and hands the code to the [`CodeSender`];
//! `verify_code` spends one attempt atomically, compares in constant time, redeems the
//! code atomically (finding or creating the user by phone) and opens a session as a
//! password login does.

use std::fmt;
use std::sync::Arc;

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::{ClientInfo, TokenPair, TokenService};
use crate::audit::AuditKind;
use crate::error::{CodeRejection, Error, Result};
use crate::grant::GrantClaims;
use crate::otp::code::{CodeSecret, OneTimeCode};
use crate::otp::config::OneTimeCodeConfig;
use crate::otp::phone::PhoneNumber;
use crate::otp::sender::{CodeMessage, CodeSender};
use crate::otp::store::{
    CodeAttempt, CodeId, CodeLimit, CodeLimits, IssueCode, IssueOutcome, NewCode, RedeemCode,
};
use crate::store::TokenStore;

/// What one-time-code sign-in needs: settings, the server secret codes are keyed
/// with, and the sender that delivers them.
#[derive(Clone)]
pub struct OneTimeCodes {
    /// Lengths, lifetimes and limits.
    pub config: OneTimeCodeConfig,
    /// The HMAC key of stored codes.
    pub secret: CodeSecret,
    /// Delivery.
    pub sender: Arc<dyn CodeSender>,
}

impl fmt::Debug for OneTimeCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneTimeCodes")
            .field("config", &self.config)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

/// The answer to a code request. The same whether or not the number has an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRequested {
    /// Seconds the code stays valid.
    pub expires_in: i64,
    /// Seconds before another code may be requested for this phone.
    pub resend_in: i64,
}

/// A wait rounded up to whole seconds, at least one (Retry-After is in seconds).
fn whole_seconds_until(until: OffsetDateTime, now: OffsetDateTime) -> Duration {
    let wait = until - now;
    let secs = wait.whole_seconds() + i64::from(wait.subsec_nanoseconds() > 0);
    Duration::seconds(secs.max(1))
}

impl<S: TokenStore> TokenService<S> {
    /// Whether phone sign-in was configured ([`TokenServiceBuilder::one_time_codes`](super::TokenServiceBuilder::one_time_codes)).
    pub fn one_time_codes_enabled(&self) -> bool {
        self.inner.otp.is_some()
    }

    fn one_time_codes(&self) -> Result<&OneTimeCodes> {
        self.inner
            .otp
            .as_ref()
            .ok_or(Error::Config("one-time codes are not configured"))
    }

    /// Sends a sign-in code to `phone` (E.164 after normalisation). Answers the same
    /// whether or not the number has an account. [`Error::InvalidInput`] for a bad
    /// number, [`Error::CodeRateLimited`] when a limit refuses it (nothing written),
    /// [`Error::CodeDelivery`] when the sender fails (the code is withdrawn).
    pub async fn request_code(&self, phone: &str, client: &ClientInfo) -> Result<CodeRequested> {
        let otp = self.one_time_codes()?;
        let cfg = otp.config;
        let phone = PhoneNumber::parse(phone)?;
        let now = self.now();
        let code = OneTimeCode::generate(cfg.length);
        let new = NewCode {
            id: CodeId::new(),
            hash: otp.secret.hash(&phone, &code),
            phone: phone.clone(),
            ip: client.ip(),
            created_at: now,
            expires_at: now + cfg.ttl,
            max_attempts: cfg.max_attempts,
        };
        let cmd = IssueCode {
            code: new,
            limits: CodeLimits {
                resend_after: now - cfg.resend_interval,
                window_start: now - cfg.limit_window,
                max_per_phone: cfg.max_per_phone,
                max_per_ip: cfg.max_per_ip,
            },
        };
        let store = &self.inner.store;
        if let IssueOutcome::Limited { limit, since } = store.issue_code(&cmd).await? {
            let until = match limit {
                CodeLimit::Resend => since + cfg.resend_interval,
                _ => since + cfg.limit_window,
            };
            return Err(Error::CodeRateLimited {
                limit,
                retry_after: whole_seconds_until(until, now),
            });
        }
        let message = CodeMessage {
            phone: phone.clone(),
            code,
            expires_at: cmd.code.expires_at,
        };
        if let Err(e) = otp.sender.send(&message).await {
            tracing::warn!(error = %e, transient = e.is_transient(), "one-time code delivery failed; code withdrawn");
            store.withdraw_code(cmd.code.id, self.now()).await?;
            return Err(Error::CodeDelivery(e));
        }
        self.audit(
            AuditKind::OtpSent,
            None,
            None,
            client,
            json!({"phone": phone.as_str(), "expires_at": cmd.code.expires_at.unix_timestamp()}),
            now,
        )
        .await?;
        Ok(CodeRequested {
            expires_in: cfg.ttl.whole_seconds(),
            resend_in: cfg.resend_interval.whole_seconds(),
        })
    }

    /// Checks a code sent to `phone` and signs its user in, creating the user on first
    /// sign-in (`is_verified` set, `last_login` now). Every refusal is
    /// [`Error::InvalidCode`] whatever the reason; a malformed phone or code is
    /// [`Error::InvalidInput`] and spends no attempt; a deactivated user gets
    /// [`Error::InvalidCredentials`].
    pub async fn verify_code(
        &self,
        phone: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<TokenPair> {
        self.verify_code_for(phone, code, client, &GrantClaims::default())
            .await
    }

    /// [`verify_code`](Self::verify_code) for an OAuth grant: the session's first
    /// access token carries `grant`'s `client_id` and `scope`.
    pub async fn verify_code_for(
        &self,
        phone: &str,
        code: &str,
        client: &ClientInfo,
        grant: &GrantClaims,
    ) -> Result<TokenPair> {
        let otp = self.one_time_codes()?;
        let phone = PhoneNumber::parse(phone)?;
        let code = OneTimeCode::parse(code, otp.config.length)?;
        let now = self.now();
        let store = &self.inner.store;
        let attempt = CodeAttempt {
            phone: phone.clone(),
            at: now,
        };
        let Some(ticket) = store.begin_code_attempt(&attempt).await? else {
            return self
                .code_refused(&phone, CodeRejection::NoLiveCode, client, now)
                .await;
        };
        if !otp.secret.matches(&phone, &code, &ticket.hash) {
            let reason = if ticket.attempts >= ticket.max_attempts {
                CodeRejection::AttemptsExhausted
            } else {
                CodeRejection::Mismatch
            };
            return self.code_refused(&phone, reason, client, now).await;
        }
        let redeem = RedeemCode {
            id: ticket.id,
            phone: phone.clone(),
            at: now,
        };
        let Some(user) = store.redeem_code(&redeem).await? else {
            return self
                .code_refused(&phone, CodeRejection::AlreadyRedeemed, client, now)
                .await;
        };
        self.audit(
            AuditKind::OtpVerified,
            Some(user.id),
            None,
            client,
            json!({"phone": phone.as_str(), "attempts": ticket.attempts}),
            now,
        )
        .await?;
        if !user.is_active {
            self.audit(
                AuditKind::LoginFailed,
                Some(user.id),
                None,
                client,
                json!({"reason": "inactive", "method": "otp"}),
                now,
            )
            .await?;
            return Err(Error::InvalidCredentials);
        }
        let pair = self.open_session(&user, client, now, grant).await?;
        self.audit(
            AuditKind::LoginSucceeded,
            Some(user.id),
            Some(pair.session_id),
            client,
            json!({"method": "otp"}),
            now,
        )
        .await?;
        Ok(pair)
    }

    async fn code_refused<T>(
        &self,
        phone: &PhoneNumber,
        reason: CodeRejection,
        client: &ClientInfo,
        now: OffsetDateTime,
    ) -> Result<T> {
        self.audit(
            AuditKind::OtpFailed,
            None,
            None,
            client,
            json!({"phone": phone.as_str(), "reason": reason.as_str()}),
            now,
        )
        .await?;
        Err(Error::InvalidCode(reason))
    }
}
