//! One-time-code sign-in scenarios (DESIGN section 9), one `pub async fn` each, run
//! by [`otp_conformance_tests!`](crate::otp_conformance_tests) on every backend.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    AuditKind, AuditLog, ClientInfo, Clock, CodeLimit, CodeMessage, CodeRejection, CodeSecret,
    CodeSender, Error, Keyring, KeyringSpec, ManualClock, OneTimeCodeConfig, OneTimeCodes,
    RevocationMode, SendError, SendFuture, SigningAlgorithm, TokenService, TokenStore,
    UserDirectory,
};

use crate::database::{Table, TestDatabase};
use crate::scenarios::config;

const PHONE: &str = "+13128059851";
const OTHER_PHONE: &str = "+996555123456";

/// A sender that keeps every message; told to, it fails after keeping it.
#[derive(Debug, Default)]
pub struct CapturingSender {
    sent: Mutex<Vec<CodeMessage>>,
    fail: AtomicBool,
}

impl CapturingSender {
    /// The digits of the last code sent.
    pub fn last_code(&self) -> String {
        let sent = self.sent.lock().unwrap();
        sent.last()
            .expect("a code was sent")
            .code
            .expose()
            .to_owned()
    }

    /// How many codes were handed to the sender.
    pub fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }

    /// Makes every later send fail (or succeed again).
    pub fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

impl CodeSender for CapturingSender {
    fn send<'a>(&'a self, message: &'a CodeMessage) -> SendFuture<'a> {
        self.sent.lock().unwrap().push(message.clone());
        let fail = self.fail.load(Ordering::SeqCst);
        Box::pin(async move {
            if fail {
                Err(SendError::Status { status: 503 })
            } else {
                Ok(())
            }
        })
    }
}

struct Otp<S: TokenStore> {
    svc: TokenService<S>,
    clock: ManualClock,
    sender: Arc<CapturingSender>,
}

fn client() -> ClientInfo {
    client_at(7)
}

fn client_at(last: u8) -> ClientInfo {
    ClientInfo {
        ip: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, last))),
        user_agent: Some("conformance-otp/1.0".into()),
        ..Default::default()
    }
}

fn otp<S: TokenStore>(store: S, codes: OneTimeCodeConfig) -> Otp<S> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(now).unwrap());
    let spec = KeyringSpec::generate("otp-1", SigningAlgorithm::HS256).unwrap();
    let sender = Arc::new(CapturingSender::default());
    let svc = TokenService::builder(
        store,
        Keyring::from_spec(&spec).unwrap(),
        config(RevocationMode::UserState),
    )
    .clock(clock.clone())
    .one_time_codes(OneTimeCodes {
        config: codes,
        secret: CodeSecret::new(&[42u8; 32]).unwrap(),
        sender: sender.clone(),
    })
    .build()
    .unwrap();
    Otp { svc, clock, sender }
}

impl<S: TokenStore> Otp<S> {
    async fn request(&self, phone: &str) -> String {
        self.svc
            .request_code(phone, &client())
            .await
            .expect("code request");
        self.sender.last_code()
    }

    /// Moves past the resend interval.
    fn wait_resend(&self) {
        self.clock
            .advance(OneTimeCodeConfig::default().resend_interval);
    }
}

#[track_caller]
fn assert_code_refused<T: std::fmt::Debug>(result: auth_core::Result<T>, expected: CodeRejection) {
    match result {
        Err(Error::InvalidCode(r)) => assert_eq!(r, expected),
        other => panic!("expected InvalidCode({expected:?}), got {other:?}"),
    }
}

#[track_caller]
fn assert_limited<T: std::fmt::Debug>(
    result: auth_core::Result<T>,
    limit: CodeLimit,
    retry_after: Duration,
) {
    match result {
        Err(Error::CodeRateLimited {
            limit: l,
            retry_after: r,
        }) => assert_eq!((l, r), (limit, retry_after)),
        other => panic!("expected CodeRateLimited({limit:?}), got {other:?}"),
    }
}

async fn all_counts<D: TestDatabase>(db: &D) -> Vec<u64> {
    let mut out = Vec::new();
    for t in [
        Table::Users,
        Table::RefreshTokens,
        Table::AuditLogs,
        Table::OneTimeCodes,
    ] {
        out.push(db.count_rows(t).await);
    }
    out
}

/// A verified code creates the user by phone on first sign-in (verified, last login
/// set), finds the same user the next time, and opens a session like a password login.
pub async fn otp_sign_in_creates_then_finds_user<D: TestDatabase>(db: &D) {
    let f = otp(db.store(), OneTimeCodeConfig::default());
    let sent = f
        .svc
        .request_code(" +1 (312) 805-9851 ", &client())
        .await
        .unwrap();
    assert_eq!((sent.expires_in, sent.resend_in), (300, 60));
    let code = f.sender.last_code();
    assert_eq!(code.len(), 6);
    let pair = f.svc.verify_code(PHONE, &code, &client()).await.unwrap();
    let auth = f.svc.authenticate(&pair.access_token).await.unwrap();
    assert_eq!(auth.user_id, pair.user_id);
    let user = db.store().find_user(pair.user_id).await.unwrap().unwrap();
    assert!(user.is_active && user.email.is_none() && user.password_hash.is_none());
    assert_eq!(user.last_login, Some(f.clock.now()));
    assert_eq!(db.count_rows(Table::Users).await, 1);

    f.wait_resend();
    let code = f.request(PHONE).await;
    let again = f.svc.verify_code(PHONE, &code, &client()).await.unwrap();
    assert_eq!(
        again.user_id, pair.user_id,
        "the same user is found by phone"
    );
    assert_ne!(again.session_id, pair.session_id);
    assert_eq!(db.count_rows(Table::Users).await, 1);
    let refreshed = f
        .svc
        .refresh(again.refresh_token.expose(), &client())
        .await
        .unwrap();
    assert_eq!(refreshed.user_id, pair.user_id);
    let kinds: Vec<AuditKind> = {
        let mut rows = db.store().recent_audit(None, 100).await.unwrap();
        rows.reverse();
        rows.into_iter().map(|r| r.event.kind).collect()
    };
    for kind in [
        AuditKind::OtpSent,
        AuditKind::OtpVerified,
        AuditKind::LoginSucceeded,
    ] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 2, "{kind:?}");
    }
}

/// A code works until one microsecond before `expires_at` and not at it.
pub async fn otp_expiry_boundary<D: TestDatabase>(db: &D) {
    let f = otp(db.store(), OneTimeCodeConfig::default());
    let ttl = OneTimeCodeConfig::default().ttl;
    let code = f.request(PHONE).await;
    f.clock.advance(ttl - Duration::microseconds(1));
    f.svc.verify_code(PHONE, &code, &client()).await.unwrap();
    f.wait_resend();
    let code = f.request(PHONE).await;
    f.clock.advance(ttl);
    assert_code_refused(
        f.svc.verify_code(PHONE, &code, &client()).await,
        CodeRejection::NoLiveCode,
    );
}

/// Five wrong attempts burn a code; four wrong and then the right one still sign in.
pub async fn otp_attempt_exhaustion<D: TestDatabase>(db: &D) {
    let f = otp(db.store(), OneTimeCodeConfig::default());
    let code = f.request(PHONE).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..4 {
        assert_code_refused(
            f.svc.verify_code(PHONE, wrong, &client()).await,
            CodeRejection::Mismatch,
        );
    }
    assert_code_refused(
        f.svc.verify_code(PHONE, wrong, &client()).await,
        CodeRejection::AttemptsExhausted,
    );
    assert_code_refused(
        f.svc.verify_code(PHONE, &code, &client()).await,
        CodeRejection::NoLiveCode,
    );
    f.wait_resend();
    let code = f.request(PHONE).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..4 {
        let _ = f.svc.verify_code(PHONE, wrong, &client()).await;
    }
    f.svc.verify_code(PHONE, &code, &client()).await.unwrap();
    let failed = db
        .store()
        .recent_audit(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event.kind == AuditKind::OtpFailed)
        .count();
    assert_eq!(failed, 10);
}

/// A redeemed code cannot be used again; a superseded one neither.
pub async fn otp_replay_after_success<D: TestDatabase>(db: &D) {
    let f = otp(db.store(), OneTimeCodeConfig::default());
    let code = f.request(PHONE).await;
    f.svc.verify_code(PHONE, &code, &client()).await.unwrap();
    assert_code_refused(
        f.svc.verify_code(PHONE, &code, &client()).await,
        CodeRejection::NoLiveCode,
    );
    f.wait_resend();
    let old = f.request(PHONE).await;
    f.wait_resend();
    let new = f.request(PHONE).await;
    if old != new {
        assert_code_refused(
            f.svc.verify_code(PHONE, &old, &client()).await,
            CodeRejection::Mismatch,
        );
    }
    f.svc.verify_code(PHONE, &new, &client()).await.unwrap();
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);
}

/// N concurrent verifies of one code: exactly one session.
pub async fn otp_concurrent_verify_exactly_one<D: TestDatabase>(db: &D) {
    let codes = OneTimeCodeConfig {
        max_attempts: 10,
        ..OneTimeCodeConfig::default()
    };
    let f = otp(db.store(), codes);
    let code = f.request(PHONE).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let svc = f.svc.clone();
            let code = code.clone();
            tokio::spawn(async move { svc.verify_code(PHONE, &code, &client()).await })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(Error::InvalidCode(_)) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(wins, 1, "exactly one verify wins");
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 1);
    assert_eq!(db.count_rows(Table::Users).await, 1);
}

/// A second code for one phone is refused for the resend interval, with the exact
/// Retry-After; afterwards it is sent and the earlier code stops working.
pub async fn otp_resend_throttle<D: TestDatabase>(db: &D) {
    let f = otp(db.store(), OneTimeCodeConfig::default());
    let first = f.request(PHONE).await;
    assert_limited(
        f.svc.request_code(PHONE, &client()).await,
        CodeLimit::Resend,
        Duration::seconds(60),
    );
    f.clock.advance(Duration::seconds(59));
    assert_limited(
        f.svc.request_code(PHONE, &client()).await,
        CodeLimit::Resend,
        Duration::seconds(1),
    );
    // Another phone from the same client is not throttled by this one.
    f.svc.request_code(OTHER_PHONE, &client()).await.unwrap();
    f.clock.advance(Duration::seconds(1));
    let second = f.request(PHONE).await;
    assert_eq!(f.sender.count(), 3);
    if first != second {
        assert_code_refused(
            f.svc.verify_code(PHONE, &first, &client()).await,
            CodeRejection::Mismatch,
        );
    }
    f.svc.verify_code(PHONE, &second, &client()).await.unwrap();
}

/// Hourly per-phone and per-IP limits answer Retry-After and change no row.
pub async fn otp_limits_change_no_rows<D: TestDatabase>(db: &D) {
    let codes = OneTimeCodeConfig {
        max_per_phone: 3,
        max_per_ip: 4,
        ..OneTimeCodeConfig::default()
    };
    let f = otp(db.store(), codes);
    for _ in 0..3 {
        f.request(PHONE).await;
        f.wait_resend();
    }
    let before = (all_counts(db).await, db.dump_cells().await);
    // The first code was sent 180 s ago: it leaves the window in 3420 s.
    assert_limited(
        f.svc.request_code(PHONE, &client()).await,
        CodeLimit::Phone,
        Duration::seconds(3600 - 180),
    );
    // One more code from the IP for another phone, then the IP is at its limit.
    f.request(OTHER_PHONE).await;
    let before_ip = (all_counts(db).await, db.dump_cells().await);
    assert_ne!(before, before_ip);
    assert_limited(
        f.svc.request_code("+442079460958", &client()).await,
        CodeLimit::Ip,
        Duration::seconds(3600 - 180),
    );
    assert_eq!((all_counts(db).await, db.dump_cells().await), before_ip);
    assert_eq!(f.sender.count(), 4, "a refused request sends nothing");
    // Another IP may still ask for another phone; an hour later the phone may too.
    f.svc
        .request_code("+442079460958", &client_at(8))
        .await
        .unwrap();
    f.clock.advance(Duration::hours(1));
    f.request(PHONE).await;
}

/// Neither the code nor a bare hash of it is in any table cell; the stored value is
/// the HMAC under the server secret.
pub async fn otp_code_absent_from_every_cell<D: TestDatabase>(db: &D) {
    let codes = OneTimeCodeConfig {
        length: 10,
        ..OneTimeCodeConfig::default()
    };
    let f = otp(db.store(), codes);
    let mut secrets = Vec::new();
    let code = f.request(PHONE).await;
    secrets.push(code.clone());
    f.svc.verify_code(PHONE, "0000000000", &client()).await.ok();
    f.svc.verify_code(PHONE, &code, &client()).await.unwrap();
    f.wait_resend();
    let pending = f.request(PHONE).await;
    secrets.push(pending.clone());
    let cells = db.dump_cells().await;
    assert!(cells.len() > 20);
    for cell in &cells {
        let text = String::from_utf8_lossy(cell);
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a table holds a code");
        }
    }
    let phone = auth_core::PhoneNumber::parse(PHONE).unwrap();
    let code = auth_core::OneTimeCode::parse(&pending, 10).unwrap();
    let hmac = CodeSecret::new(&[42u8; 32]).unwrap().hash(&phone, &code);
    assert!(
        cells.iter().any(|c| c.as_slice() == hmac.0),
        "the HMAC of the code is what is stored"
    );
}

/// A failed delivery is the caller's error and leaves no usable code; request and
/// verify answer the same whether the phone has an account; bad input changes nothing.
pub async fn otp_failures_and_bad_input<D: TestDatabase>(db: &D) {
    let f = otp(db.store(), OneTimeCodeConfig::default());
    f.sender.set_failing(true);
    assert!(matches!(
        f.svc.request_code(PHONE, &client()).await,
        Err(Error::CodeDelivery(_))
    ));
    let undelivered = f.sender.last_code();
    f.sender.set_failing(false);
    assert_code_refused(
        f.svc.verify_code(PHONE, &undelivered, &client()).await,
        CodeRejection::NoLiveCode,
    );
    f.wait_resend();
    let code = f.request(PHONE).await;
    f.svc.verify_code(PHONE, &code, &client()).await.unwrap();
    f.wait_resend();
    let known = f.svc.request_code(PHONE, &client()).await.unwrap();
    let unknown = f.svc.request_code(OTHER_PHONE, &client()).await.unwrap();
    assert_eq!(known, unknown, "no enumeration on request");
    let before = (all_counts(db).await, db.dump_cells().await);
    for phone in [
        "",
        "3128059851",
        "+1 312",
        "+1312805985x",
        "'; DROP TABLE users;--",
    ] {
        assert!(
            matches!(
                f.svc.request_code(phone, &client()).await,
                Err(Error::InvalidInput { field: "phone", .. })
            ),
            "{phone:?}"
        );
        assert!(matches!(
            f.svc.verify_code(phone, "123456", &client()).await,
            Err(Error::InvalidInput { field: "phone", .. })
        ));
    }
    for code in ["", "12345", "1234567", "12345a", "' OR 1=1"] {
        assert!(matches!(
            f.svc.verify_code(PHONE, code, &client()).await,
            Err(Error::InvalidInput { field: "code", .. })
        ));
    }
    assert_eq!((all_counts(db).await, db.dump_cells().await), before);
}

/// Expands to one `#[tokio::test]` per one-time-code scenario for a [`TestDatabase`]:
/// `auth_conformance::otp_conformance_tests!(MyTestDb);`
#[macro_export]
macro_rules! otp_conformance_tests {
    ($db:ty) => {
        $crate::otp_conformance_tests!(@each $db;
            otp_sign_in_creates_then_finds_user,
            otp_expiry_boundary,
            otp_attempt_exhaustion,
            otp_replay_after_success,
            otp_concurrent_verify_exactly_one,
            otp_resend_throttle,
            otp_limits_change_no_rows,
            otp_code_absent_from_every_cell,
            otp_failures_and_bad_input,
        );
    };
    (@each $db:ty; $($scenario:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $scenario() {
                let db = <$db as $crate::TestDatabase>::create().await;
                $crate::otp_scenarios::$scenario(&db).await;
                $crate::TestDatabase::teardown(db).await;
            }
        )*
    };
}
