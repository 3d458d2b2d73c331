//! Prometheus metrics, hand-rolled: labelled counters and one latency histogram.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::{CleanupReport, REPLAY_DELAY_BUCKETS, RefreshStats, TokenRejection};

/// Upper bounds (seconds) of the request-latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Labelled(Mutex<BTreeMap<&'static str, u64>>);

impl Labelled {
    fn inc(&self, label: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(label)
            .or_default() += 1;
    }
    fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The service's counters. Labels come from fixed sets (results, matched routes), so
/// the number of series is bounded.
#[derive(Default)]
pub struct Metrics {
    logins: Labelled,
    refreshes: Labelled,
    registrations: Labelled,
    authentications: Labelled,
    rate_limited: Labelled,
    one_time_codes: Labelled,
    reuse_attacks: AtomicU64,
    cleanup_runs: AtomicU64,
    cleanup_refresh_tokens: AtomicU64,
    cleanup_revoked_tokens: AtomicU64,
    cleanup_access_tokens: AtomicU64,
    /// Per (method, route): one lock and no allocation per request.
    requests: Mutex<BTreeMap<(&'static str, &'static str), RouteSeries>>,
}

/// The request counts by status and the latency histogram of one method and route.
#[derive(Default)]
struct RouteSeries {
    by_status: BTreeMap<u16, u64>,
    latency: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The refresh outcomes the service counted, in the Prometheus text format: rotations,
/// replays by cause, theft verdicts, the late replays (theft verdicts a longer retry
/// window would have replayed) and the histogram of replay delays, for tuning the window.
pub(crate) fn render_refresh_stats(stats: &RefreshStats) -> String {
    let mut out = String::with_capacity(1024);
    let _ = writeln!(
        out,
        "# HELP authd_refresh_total Refresh-token presentations by outcome: rotated, replayed (same successor) or revoked, and cause.\n\
         # TYPE authd_refresh_total counter\n\
         authd_refresh_total{{outcome=\"rotated\"}} {}\n\
         authd_refresh_total{{outcome=\"replayed\",cause=\"concurrent\"}} {}\n\
         authd_refresh_total{{outcome=\"replayed\",cause=\"retry\"}} {}\n\
         authd_refresh_total{{outcome=\"revoked\",cause=\"theft\"}} {}",
        stats.rotated, stats.replayed_concurrent, stats.replayed_retry, stats.theft
    );
    let _ = writeln!(
        out,
        "# HELP authd_refresh_late_replays_total Sessions revoked for presenting the immediate predecessor after the retry window while its successor was live (false-positive-prone).\n\
         # TYPE authd_refresh_late_replays_total counter\n\
         authd_refresh_late_replays_total {}",
        stats.late_replays
    );
    let _ = writeln!(
        out,
        "# HELP authd_refresh_replay_delay_seconds Time from a rotation to the next presentation of its predecessor (replays and late replays).\n\
         # TYPE authd_refresh_replay_delay_seconds histogram"
    );
    for (bound, n) in REPLAY_DELAY_BUCKETS.iter().zip(stats.replay_delay_buckets) {
        let _ = writeln!(
            out,
            "authd_refresh_replay_delay_seconds_bucket{{le=\"{bound}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "authd_refresh_replay_delay_seconds_bucket{{le=\"+Inf\"}} {count}\n\
         authd_refresh_replay_delay_seconds_sum {}\n\
         authd_refresh_replay_delay_seconds_count {count}",
        stats.replay_delay_seconds,
        count = stats.replay_delay_count
    );
    out
}

/// The label of an access-token rejection.
pub(crate) fn rejection_label(r: &TokenRejection) -> &'static str {
    match r {
        TokenRejection::TooLarge => "too_large",
        TokenRejection::Malformed => "malformed",
        TokenRejection::AlgorithmNotAllowed => "algorithm_not_allowed",
        TokenRejection::UnknownKey => "unknown_key",
        TokenRejection::ForbiddenHeader => "forbidden_header",
        TokenRejection::WrongType => "wrong_type",
        TokenRejection::BadSignature => "bad_signature",
        TokenRejection::InvalidClaim(_) => "invalid_claim",
        TokenRejection::Expired => "expired",
        TokenRejection::NotYetValid => "not_yet_valid",
        TokenRejection::IssuedInFuture => "issued_in_future",
        TokenRejection::LifetimeTooLong => "lifetime_too_long",
        TokenRejection::WrongIssuer => "wrong_issuer",
        TokenRejection::WrongAudience => "wrong_audience",
        TokenRejection::Revoked => "revoked",
        TokenRejection::SessionRevoked => "session_revoked",
        TokenRejection::UserInactive => "user_inactive",
        TokenRejection::IssuedBeforeValidAfter => "issued_before_valid_after",
        TokenRejection::NotAllowed => "not_allowed",
        _ => "other",
    }
}

/// The result label of an operation that failed with `err`.
pub(crate) fn error_label(err: &auth_core::Error) -> &'static str {
    use auth_core::{Error as E, RefreshRejection as R};
    match err {
        E::InvalidToken(r) => rejection_label(r),
        E::InvalidGrant(R::Reused) => "reuse_detected",
        E::InvalidGrant(_) => "invalid_grant",
        E::InvalidCredentials => "invalid_credentials",
        E::InvalidInput { .. } => "invalid_request",
        E::EmailTaken => "email_taken",
        E::NotFound => "not_found",
        E::Forbidden => "forbidden",
        E::Unavailable(_) => "unavailable",
        E::Overloaded => "overloaded",
        _ => "error",
    }
}

impl Metrics {
    /// Counts a login attempt by result (`success`, `invalid_credentials`, `rate_limited`, ...).
    pub fn login(&self, result: &'static str) {
        self.logins.inc(result);
    }

    /// Counts a refresh by result; `reuse_detected` also counts a reuse attack.
    pub fn refresh(&self, result: &'static str) {
        self.refreshes.inc(result);
        if result == "reuse_detected" {
            self.reuse_attacks.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a registration by result.
    pub fn registration(&self, result: &'static str) {
        self.registrations.inc(result);
    }

    /// Counts a bearer-token authentication by result (`success` or the rejection).
    pub fn authentication(&self, result: &'static str) {
        self.authentications.inc(result);
    }

    /// Counts a one-time-code event (`sent`, `verified`, `failed_<reason>`,
    /// `otp_<limit>` when rate-limited, `delivery_failed`, `invalid_request`).
    pub fn one_time_code(&self, event: &'static str) {
        self.one_time_codes.inc(event);
    }

    /// Counts a request refused by a rate limiter.
    pub fn rate_limited(&self, limiter: &'static str) {
        self.rate_limited.inc(limiter);
    }

    /// Adds a cleanup run's counts.
    pub fn cleanup(&self, report: &CleanupReport) {
        self.cleanup_runs.fetch_add(1, Ordering::Relaxed);
        self.cleanup_refresh_tokens
            .fetch_add(report.refresh_tokens, Ordering::Relaxed);
        self.cleanup_revoked_tokens
            .fetch_add(report.revoked_tokens, Ordering::Relaxed);
        self.cleanup_access_tokens
            .fetch_add(report.access_tokens, Ordering::Relaxed);
    }

    /// Records one finished request.
    pub fn request(&self, method: &'static str, route: &'static str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let series = requests.entry((method, route)).or_default();
        *series.by_status.entry(status).or_default() += 1;
        let h = &mut series.latency;
        h.count += 1;
        h.sum += seconds;
        for (bucket, bound) in h.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut labelled = |name: &str, help: &str, label: &str, counter: &Labelled| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (value, n) in counter.snapshot() {
                let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
            }
        };
        labelled(
            "authd_logins_total",
            "Login attempts by result.",
            "result",
            &self.logins,
        );
        labelled(
            "authd_refreshes_total",
            "Refresh-token exchanges by result.",
            "result",
            &self.refreshes,
        );
        labelled(
            "authd_registrations_total",
            "Registrations by result.",
            "result",
            &self.registrations,
        );
        labelled(
            "authd_authentications_total",
            "Bearer-token authentications by result.",
            "result",
            &self.authentications,
        );
        labelled(
            "authd_one_time_codes_total",
            "One-time-code sign-in events: sent, verified, failed by reason, rate-limited.",
            "event",
            &self.one_time_codes,
        );
        labelled(
            "authd_rate_limited_total",
            "Requests refused by a rate limiter.",
            "limiter",
            &self.rate_limited,
        );

        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "authd_reuse_attacks_total",
            "Rotated refresh tokens presented again (sessions revoked).",
            self.reuse_attacks.load(Ordering::Relaxed),
        );
        counter(
            "authd_cleanup_runs_total",
            "Cleanup runs.",
            self.cleanup_runs.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP authd_cleanup_rows_total Rows removed by cleanup.\n# TYPE authd_cleanup_rows_total counter"
        );
        for (table, v) in [
            ("refresh_tokens", &self.cleanup_refresh_tokens),
            ("revoked_tokens", &self.cleanup_revoked_tokens),
            ("access_tokens", &self.cleanup_access_tokens),
        ] {
            let _ = writeln!(
                out,
                "authd_cleanup_rows_total{{table=\"{table}\"}} {}",
                v.load(Ordering::Relaxed)
            );
        }

        let _ = writeln!(
            out,
            "# HELP authd_http_requests_total HTTP requests by method, route and status.\n\
             # TYPE authd_http_requests_total counter"
        );
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        for ((method, route), series) in requests.iter() {
            for (status, n) in &series.by_status {
                let _ = writeln!(
                    out,
                    "authd_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP authd_http_request_duration_seconds HTTP request latency.\n\
             # TYPE authd_http_request_duration_seconds histogram"
        );
        for ((method, route), series) in requests.iter() {
            let h = &series.latency;
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "authd_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "authd_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "authd_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "authd_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        drop(requests);
        if let Some(rss) = resident_memory_bytes() {
            let _ = writeln!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                 # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
            );
        }
        out
    }
}

/// The process's resident set size, from /proc (Linux only).
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.login("success");
        m.login("success");
        m.refresh("reuse_detected");
        m.request("GET", "/v1/me", 200, 0.003);
        m.request("GET", "/v1/me", 401, 2.0);
        let text = m.render();
        assert!(
            text.contains("authd_logins_total{result=\"success\"} 2"),
            "{text}"
        );
        assert!(text.contains("authd_reuse_attacks_total 1"));
        assert!(text.contains(
            "authd_http_requests_total{method=\"GET\",route=\"/v1/me\",status=\"401\"} 1"
        ));
        assert!(text.contains(
            "authd_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/me\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "authd_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/me\",le=\"2.5\"} 2"
        ));
        assert!(text.contains(
            "authd_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/me\"} 2"
        ));
    }
}
