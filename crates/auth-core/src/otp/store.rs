//! The storage contract of one-time codes and the command values the service builds
//! for it. Every time, limit and count in a command comes from the service (its
//! injected clock and its configuration); a backend translates the command into its
//! SQL and adds no rule, clock or literal of its own.

use std::future::Future;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::Result;
use crate::otp::code::CodeHash;
use crate::otp::phone::PhoneNumber;
use crate::users::UserRecord;

/// A code row's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeId(pub Uuid);

impl CodeId {
    /// A new random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for CodeId {
    fn default() -> Self {
        Self::new()
    }
}

/// A code row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// Row id.
    pub id: CodeId,
    /// The phone it was sent to.
    pub phone: PhoneNumber,
    /// HMAC of the code; the code itself is never stored.
    pub hash: CodeHash,
    /// The requesting client's IP, counted by the per-IP limit.
    pub ip: Option<String>,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it stops working (valid while `now < expires_at`).
    pub expires_at: OffsetDateTime,
    /// Attempts after which it is burned.
    pub max_attempts: u32,
}

/// Which limit refused a code request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeLimit {
    /// A code was sent to this phone less than the resend interval ago.
    Resend,
    /// This phone has had its codes for the window.
    Phone,
    /// This IP address has requested its codes for the window.
    Ip,
}

impl CodeLimit {
    /// A short label (`resend`, `phone`, `ip`) for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeLimit::Resend => "resend",
            CodeLimit::Phone => "phone",
            CodeLimit::Ip => "ip",
        }
    }
}

impl std::fmt::Display for CodeLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The limits a code request must pass, as instants and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLimits {
    /// Refused if the phone has a code created after this instant (resend interval).
    pub resend_after: OffsetDateTime,
    /// The start of the hourly window.
    pub window_start: OffsetDateTime,
    /// Refused if the phone already has this many codes created after `window_start`.
    pub max_per_phone: u32,
    /// Refused if the IP already has this many codes created after `window_start`.
    pub max_per_ip: u32,
}

/// Issue a code: check the limits, supersede the phone's earlier codes, insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueCode {
    /// The new row.
    pub code: NewCode,
    /// The limits, checked in the same transaction as the insert.
    pub limits: CodeLimits,
}

/// Which rows a [`LimitProbe`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKey<'a> {
    /// Codes sent to this phone (E.164).
    Phone(&'a str),
    /// Codes requested from this IP address.
    Ip(&'a str),
}

/// One limit of a code request, as a question a backend answers with one query: the
/// creation time of the `offset`-th newest code (0 = newest) of `key` created after
/// `since`, if there is one, is the limit's [`IssueOutcome::Limited::since`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitProbe<'a> {
    /// The limit this probe checks.
    pub limit: CodeLimit,
    /// Whose codes.
    pub key: ProbeKey<'a>,
    /// Only codes created after this instant.
    pub since: OffsetDateTime,
    /// How many newer codes the limit allows before this one.
    pub offset: u32,
}

impl ProbeKey<'_> {
    /// The phone number or IP address.
    pub fn value(&self) -> &str {
        match self {
            ProbeKey::Phone(key) | ProbeKey::Ip(key) => key,
        }
    }

    /// `phone` for a phone probe, `ip` for an IP probe (e.g. the backend's query).
    pub fn choose<T>(&self, phone: T, ip: T) -> T {
        match self {
            ProbeKey::Phone(_) => phone,
            ProbeKey::Ip(_) => ip,
        }
    }
}

impl LimitProbe<'_> {
    /// The refusal when the probe found the limiting row, created at `since`.
    pub fn refusal(&self, since: OffsetDateTime) -> IssueOutcome {
        IssueOutcome::Limited {
            limit: self.limit,
            since,
        }
    }
}

impl IssueCode {
    /// The limits in the order they are checked (resend, per phone, per IP): the first
    /// probe a backend finds a row for refuses the request.
    pub fn limit_probes(&self) -> Vec<LimitProbe<'_>> {
        let (code, limits) = (&self.code, &self.limits);
        let phone = ProbeKey::Phone(code.phone.as_str());
        let mut probes = vec![
            LimitProbe {
                limit: CodeLimit::Resend,
                key: phone,
                since: limits.resend_after,
                offset: 0,
            },
            LimitProbe {
                limit: CodeLimit::Phone,
                key: phone,
                since: limits.window_start,
                offset: limits.max_per_phone.saturating_sub(1),
            },
        ];
        if let Some(ip) = &code.ip {
            probes.push(LimitProbe {
                limit: CodeLimit::Ip,
                key: ProbeKey::Ip(ip),
                since: limits.window_start,
                offset: limits.max_per_ip.saturating_sub(1),
            });
        }
        probes
    }
}

/// What [`OneTimeCodeStore::issue_code`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueOutcome {
    /// The code was stored; the phone's earlier live codes were revoked.
    Issued,
    /// A limit refused it and nothing was written. `since` is the creation time of the
    /// row that holds the limit: the newest code for [`CodeLimit::Resend`], the oldest
    /// code still counted in the window otherwise (the service derives Retry-After).
    Limited {
        /// The limit.
        limit: CodeLimit,
        /// The creation time of the limiting row.
        since: OffsetDateTime,
    },
}

/// Spend one attempt on the phone's live code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAttempt {
    /// The phone.
    pub phone: PhoneNumber,
    /// Now: only codes with `expires_at > at` are live.
    pub at: OffsetDateTime,
}

/// A counted attempt on a live code: the service compares the typed code to `hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptTicket {
    /// The code row.
    pub id: CodeId,
    /// Its stored HMAC.
    pub hash: CodeHash,
    /// Attempts counted so far, this one included.
    pub attempts: u32,
    /// Its attempt cap.
    pub max_attempts: u32,
}

/// Redeem a matched code and sign its phone's user in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemCode {
    /// The code row (from the [`AttemptTicket`]).
    pub id: CodeId,
    /// Its phone: the user is found by it, or created with it.
    pub phone: PhoneNumber,
    /// Now: consumed_at, last_login, and created_at of a new user.
    pub at: OffsetDateTime,
}

/// One-time codes for phone sign-in. Each code row holds the phone, the HMAC, the
/// requesting IP, created/expires instants, an attempt count and cap, and when it was
/// consumed or revoked. A code is live while not consumed, not revoked, `at <
/// expires_at` and `attempts < max_attempts`.
pub trait OneTimeCodeStore: Send + Sync {
    /// Atomically: if the phone has a code created after `limits.resend_after`, or
    /// `max_per_phone` codes (or the IP `max_per_ip`) created after
    /// `limits.window_start`, writes nothing and answers [`IssueOutcome::Limited`];
    /// otherwise revokes the phone's unconsumed codes and inserts `code`. Concurrent
    /// requests for one phone or IP are serialised, so no limit is overrun.
    fn issue_code(&self, cmd: &IssueCode) -> impl Future<Output = Result<IssueOutcome>> + Send;

    /// Revokes a code (its delivery failed), so it can never be redeemed.
    fn withdraw_code(
        &self,
        id: CodeId,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Atomically counts one attempt on the phone's live code and returns it; `None`
    /// (and nothing written) if the phone has no live code. Of any number of
    /// concurrent calls, at most `max_attempts - attempts` get a ticket.
    fn begin_code_attempt(
        &self,
        cmd: &CodeAttempt,
    ) -> impl Future<Output = Result<Option<AttemptTicket>>> + Send;

    /// Atomically marks the code consumed (if it is still unconsumed, unrevoked and
    /// unexpired at `cmd.at`) and finds the user by phone, or creates an active one
    /// with it; either way sets `is_verified` and `last_login = cmd.at`. `None` (and
    /// nothing written) if the code was no longer redeemable: of N concurrent calls for
    /// one code exactly one gets the user.
    fn redeem_code(
        &self,
        cmd: &RedeemCode,
    ) -> impl Future<Output = Result<Option<UserRecord>>> + Send;
}
