//! Every stored time comes from the service's injected clock: a scenario on a clock
//! set years away from the machine's runs every write path and reads back every
//! timestamp column of every table.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    CleanupPolicy, ClientInfo, CodeSecret, Keyring, KeyringSpec, ManualClock, OneTimeCodeConfig,
    OneTimeCodes, PasswordChange, PasswordPolicy, RevocationMode, SigningAlgorithm, TokenService,
};

use crate::database::{Table, TestDatabase};
use crate::otp_scenarios::CapturingSender;
use crate::scenarios::config;

/// Far from any machine's clock: a time a database default wrote would be years off.
/// 2041-03-01 09:30:00 UTC: a whole second, so a column of whole seconds (MySQL's legacy
/// `auth_user_tokens` times) holds no instant before it.
fn start() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(2_245_743_000_000_000_000).expect("valid time")
}
const PASSWORD: &str = "correct horse battery";

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 41))),
        user_agent: Some("clock-2041/1.0".into()),
        ..Default::default()
    }
}

/// Sign-up, login (with a rehash), refresh, access-token registration and revocation,
/// session revocation, logout-all, password change, deactivation and reactivation,
/// one-time-code sign-in and cleanup, each at its own instant of a `ManualClock` in
/// 2041; then every stored timestamp lies between the first instant and the last plus
/// the longest lifetime the service gives anything (the session's 30 days).
pub async fn every_stored_time_comes_from_the_injected_clock<D: TestDatabase>(db: &D) {
    let clock = ManualClock::new(start());
    let spec = KeyringSpec::generate("clock-1", SigningAlgorithm::HS256).unwrap();
    let sender = Arc::new(CapturingSender::default());
    let svc = TokenService::builder(
        db.store(),
        Keyring::from_spec(&spec).unwrap(),
        config(RevocationMode::Allowlist),
    )
    .clock(clock.clone())
    .one_time_codes(OneTimeCodes {
        config: OneTimeCodeConfig::default(),
        secret: CodeSecret::new(&[41u8; 32]).unwrap(),
        sender: sender.clone(),
    })
    .build()
    .unwrap();
    let step = || clock.advance(Duration::seconds(7) + Duration::MICROSECOND);
    run_every_write(&svc, &sender, step).await;
    let end = svc.now();

    let cells = db.dump_timestamps().await;
    assert!(
        db.count_rows(Table::OneTimeCodes).await > 0,
        "the flows wrote one-time codes"
    );
    let horizon = end + Duration::days(31);
    let off: Vec<_> = cells
        .iter()
        .filter(|c| c.value < start() || c.value > horizon)
        .collect();
    assert!(
        off.is_empty(),
        "times not from the injected clock: {off:#?}"
    );
    // The flows set times in many columns (users, tokens, events, audit, codes).
    let mut columns: Vec<_> = cells.iter().map(|c| (&c.table, &c.column)).collect();
    columns.sort();
    columns.dedup();
    assert!(columns.len() >= 12, "only {columns:?} hold times");
}

async fn run_every_write<S: auth_core::TokenStore>(
    svc: &TokenService<S>,
    sender: &CapturingSender,
    step: impl Fn(),
) {
    let email = "clock-2041@example.com";
    let uid = svc.register(email, PASSWORD).await.unwrap();
    step();
    // A weaker stored hash, so the next login rehashes it.
    let weak = PasswordPolicy {
        pbkdf2_rounds: 500,
        ..PasswordPolicy::default()
    }
    .hash(PASSWORD)
    .unwrap();
    let change = PasswordChange {
        user: uid,
        password_hash: weak,
        at: svc.now(),
    };
    svc.store().set_password_hash(&change).await.unwrap();
    step();
    let pair = svc.login(email, PASSWORD, &client()).await.unwrap();
    step();
    let pair = svc
        .refresh(pair.refresh_token.expose(), &client())
        .await
        .unwrap();
    step();
    let auth = svc.authenticate(&pair.access_token).await.unwrap();
    svc.revoke_access_token(&auth, &client()).await.unwrap();
    step();
    let second = svc.login(email, PASSWORD, &client()).await.unwrap();
    step();
    let auth = svc.authenticate(&second.access_token).await.unwrap();
    svc.logout(&auth, &client()).await.unwrap();
    step();
    svc.login(email, PASSWORD, &client()).await.unwrap();
    step();
    svc.logout_all(uid, &client()).await.unwrap();
    step();
    svc.change_password(uid, "another correct horse", &client())
        .await
        .unwrap();
    step();
    assert!(svc.set_user_active(uid, false).await.unwrap());
    step();
    assert!(svc.set_user_active(uid, true).await.unwrap());
    step();
    svc.request_code("+13128059851", &client()).await.unwrap();
    step();
    svc.verify_code("+13128059851", &sender.last_code(), &client())
        .await
        .unwrap();
    step();
    svc.cleanup(&CleanupPolicy::default()).await.unwrap();
}
