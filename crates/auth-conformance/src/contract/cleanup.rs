//! Cleanup at the store: what each rule removes and keeps, in batches of one.

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    AccessTokenEntry, AccessTokenStore, Cleanup, CleanupPolicy, CodeAttempt, CodeHash, CodeId,
    CodeLimit, CodeLimits, IssueCode, IssueOutcome, NewCode, OneTimeCodeStore, PhoneNumber,
    RedeemCode, RefreshTokenStore, RevokeReason, TokenStore,
};

use super::{rotation, t0, user};
use crate::database::{Table, TestDatabase};
use crate::fixtures::first_refresh_token;

/// Sessions that ended (expired or revoked) beyond the retention lose every row; those
/// within it, and the rotated rows of live sessions, are kept; expired denylist and
/// allowlist rows go. Batches of one row give the same counts; a second run removes
/// nothing.
pub async fn cleanup_counts_and_keeps_rotated_rows_of_live_sessions<D: TestDatabase>(db: &D) {
    let store = db.store();
    let uid = user(&store, "cleanup@example.com").await;
    let now = t0() + Duration::days(100);
    let retention = Duration::days(30);

    // A live session that started long ago: its rotated first token is kept.
    let mut live0 = first_refresh_token(uid, now - Duration::days(40));
    live0.session_expires_at = now + Duration::days(10);
    store.insert_refresh_token(&live0).await.unwrap();
    let r = rotation(&live0, now - Duration::days(39));
    assert!(store.rotate_refresh_token(&r).await.unwrap());
    // Expired beyond retention (2 rows): removed. Expired within retention: kept.
    let mut old0 = first_refresh_token(uid, now - Duration::days(90));
    old0.session_expires_at = now - retention - Duration::MICROSECOND;
    store.insert_refresh_token(&old0).await.unwrap();
    let r = rotation(&old0, now - Duration::days(80));
    assert!(store.rotate_refresh_token(&r).await.unwrap());
    let mut recent = first_refresh_token(uid, now - Duration::days(50));
    recent.session_expires_at = now - retention + Duration::MICROSECOND;
    store.insert_refresh_token(&recent).await.unwrap();
    // Revoked beyond retention: removed (1 row). Revoked within retention: kept.
    let revoked_old = first_refresh_token(uid, now - Duration::days(35));
    store.insert_refresh_token(&revoked_old).await.unwrap();
    let (at, exp) = (now - Duration::days(31), now - Duration::seconds(1));
    let sid = revoked_old.session_id;
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: sid,
            reason: RevokeReason::Logout,
            at,
            event_expires_at: exp,
        })
        .await
        .unwrap();
    let revoked_new = first_refresh_token(uid, now - Duration::days(2));
    store.insert_refresh_token(&revoked_new).await.unwrap();
    let (at, exp) = (now - Duration::days(1), now + Duration::seconds(1));
    let sid = revoked_new.session_id;
    store
        .revoke_session(&auth_core::SessionRevocation {
            session: sid,
            reason: RevokeReason::Logout,
            at,
            event_expires_at: exp,
        })
        .await
        .unwrap();
    // Allowlist: one expired, one not.
    for (jti, exp) in [("expired", now - Duration::MICROSECOND), ("valid", now)] {
        let entry = AccessTokenEntry {
            jti: jti.into(),
            user_id: uid,
            session_id: live0.session_id,
            issued_at: exp - Duration::minutes(15),
            expires_at: exp,
            disabled: false,
        };
        store.register_access_token(&entry).await.unwrap();
    }
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 7);

    let policy = CleanupPolicy {
        retention,
        batch_size: 1,
        ..CleanupPolicy::default()
    };
    let report = store.cleanup(&policy, now).await.unwrap();
    assert_eq!(
        (
            report.refresh_tokens,
            report.revoked_tokens,
            report.access_tokens
        ),
        (3, 1, 1)
    );
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 4);
    for (kept, token) in [
        (true, &live0),
        (true, &recent),
        (true, &revoked_new),
        (false, &old0),
        (false, &revoked_old),
    ] {
        let found = store.find_refresh_token_by_id(token.id).await.unwrap();
        assert_eq!(found.is_some(), kept, "{token:?}");
    }
    assert!(store.find_access_token("valid").await.unwrap().is_some());
    assert_eq!(db.count_rows(Table::RevokedTokens).await, 1);
    assert_eq!(db.count_rows(Table::AccessTokens).await, 1);

    // Nothing more to do; a larger batch gives the same answer.
    let policy = CleanupPolicy {
        retention,
        batch_size: 1000,
        ..CleanupPolicy::default()
    };
    assert_eq!(store.cleanup(&policy, now).await.unwrap().total(), 0);
}

/// Issues a code for `phone` from `ip` at `at`, valid for `ttl`, under limits that
/// refuse nothing earlier rows could trigger.
async fn issue<S: TokenStore>(
    store: &S,
    phone: &str,
    ip: &str,
    at: OffsetDateTime,
    ttl: Duration,
    max_attempts: u32,
) -> NewCode {
    let code = new_code(
        &PhoneNumber::from_stored(phone.into()),
        ip,
        at,
        ttl,
        max_attempts,
    );
    let limits = CodeLimits {
        resend_after: at,
        window_start: at,
        max_per_phone: 100,
        max_per_ip: 100,
    };
    let cmd = IssueCode {
        code: code.clone(),
        limits,
    };
    assert_eq!(store.issue_code(&cmd).await.unwrap(), IssueOutcome::Issued);
    code
}

/// Spends one attempt on the phone's live code at `at`.
async fn attempt<S: TokenStore>(store: &S, code: &NewCode, at: OffsetDateTime) {
    let cmd = CodeAttempt {
        phone: code.phone.clone(),
        at,
    };
    let ticket = store.begin_code_attempt(&cmd).await.unwrap().unwrap();
    assert_eq!(ticket.id, code.id);
}

/// One-time-code rows go once they are spent (consumed, revoked, out of attempts or
/// expired) and created before the limit window; rows the limits still count, and codes
/// still redeemable, stay, and the limits still see them. Lock rows (MySQL) go with
/// the last code of their phone or IP. Batches of one; a second run removes nothing.
pub async fn cleanup_removes_spent_codes_outside_the_limit_window<D: TestDatabase>(db: &D) {
    let store = db.store();
    let now = t0() + Duration::days(100);
    let window = Duration::hours(1);
    let minutes = Duration::minutes;
    let (old_ip, new_ip) = ("198.51.100.1", "198.51.100.2");

    // Removed: consumed, expired, and superseded (revoked) codes created before the window.
    let consumed = issue(
        &store,
        "+15550000001",
        old_ip,
        now - minutes(180),
        minutes(5),
        5,
    )
    .await;
    attempt(&store, &consumed, now - minutes(179)).await;
    let redeem = RedeemCode {
        id: consumed.id,
        phone: consumed.phone.clone(),
        at: now - minutes(179),
    };
    assert!(store.redeem_code(&redeem).await.unwrap().is_some());
    issue(
        &store,
        "+15550000002",
        old_ip,
        now - minutes(120),
        minutes(5),
        5,
    )
    .await;
    issue(
        &store,
        "+15550000003",
        new_ip,
        now - minutes(90),
        minutes(5),
        5,
    )
    .await;
    // Removed: out of attempts, though not yet expired.
    let burned = issue(
        &store,
        "+15550000004",
        new_ip,
        now - minutes(61),
        minutes(30),
        1,
    )
    .await;
    attempt(&store, &burned, now - minutes(60)).await;
    // Kept: the superseding code (expired, but inside the window), a consumed code
    // inside the window, and a live code created before the window.
    issue(
        &store,
        "+15550000003",
        new_ip,
        now - minutes(30),
        minutes(5),
        5,
    )
    .await;
    let recent = issue(
        &store,
        "+15550000005",
        new_ip,
        now - minutes(20),
        minutes(5),
        5,
    )
    .await;
    attempt(&store, &recent, now - minutes(19)).await;
    let redeem = RedeemCode {
        id: recent.id,
        phone: recent.phone.clone(),
        at: now - minutes(19),
    };
    assert!(store.redeem_code(&redeem).await.unwrap().is_some());
    let live = issue(
        &store,
        "+15550000006",
        new_ip,
        now - minutes(61),
        minutes(62),
        5,
    )
    .await;
    assert_eq!(db.count_rows(Table::OneTimeCodes).await, 7);
    // MySQL: one lock row per phone (6) and per IP (2); the old IP's and the first
    // two phones' have no code left afterwards (the fourth phone's code is burned too).
    let locks = db.count_rows(Table::CodeLocks).await;
    assert!(locks == 0 || locks == 8, "{locks} lock rows");

    let policy = CleanupPolicy {
        batch_size: 1,
        code_retention: window,
        ..CleanupPolicy::default()
    };
    let report = store.cleanup(&policy, now).await.unwrap();
    assert_eq!(report.one_time_codes, 4, "{report:?}");
    assert_eq!(
        report.code_locks,
        if locks == 0 { 0 } else { 4 },
        "{report:?}"
    );
    assert_eq!(db.count_rows(Table::OneTimeCodes).await, 3);
    assert_eq!(
        db.count_rows(Table::CodeLocks).await,
        locks - report.code_locks
    );

    // The kept rows still count: the phone whose consumed code is inside the window is
    // at its limit of one, and the live code can still be attempted.
    let mut again = issue_cmd(&recent.phone, now);
    again.limits.max_per_phone = 1;
    assert_eq!(
        store.issue_code(&again).await.unwrap(),
        IssueOutcome::Limited {
            limit: CodeLimit::Phone,
            since: recent.created_at,
        }
    );
    attempt(&store, &live, now).await;
    assert_eq!(store.cleanup(&policy, now).await.unwrap().total(), 0);
}

/// A request for a new code for `phone` at `at` from a fresh IP, limited only by the
/// per-phone count over the last hour.
fn issue_cmd(phone: &PhoneNumber, at: OffsetDateTime) -> IssueCode {
    IssueCode {
        code: new_code(phone, "203.0.113.9", at, Duration::minutes(5), 5),
        limits: CodeLimits {
            resend_after: at - Duration::seconds(60),
            window_start: at - Duration::hours(1),
            max_per_phone: 5,
            max_per_ip: 100,
        },
    }
}

fn new_code(
    phone: &PhoneNumber,
    ip: &str,
    at: OffsetDateTime,
    ttl: Duration,
    max_attempts: u32,
) -> NewCode {
    NewCode {
        id: CodeId::new(),
        phone: phone.clone(),
        hash: CodeHash([7; 32]),
        ip: Some(ip.into()),
        created_at: at,
        expires_at: at + ttl,
        max_attempts,
    }
}
