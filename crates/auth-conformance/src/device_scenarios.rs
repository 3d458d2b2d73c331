//! Device metadata and DPoP-bound sessions (RFC 9449 section 5), as specified on
//! [`ClientInfo`] and [`TokenService::refresh`](auth_core::TokenService::refresh): the
//! device id, name and key thumbprint are stored with the session, copied by every
//! rotation, shown in the sessions list, and a bound session refreshes only with a
//! proof by its key. One `pub async fn` per case.

use auth_core::{
    AuditKind, AuditLog, ClientInfo, DEVICE_FIELD_MAX_CHARS, RefreshRejection, RevocationMode,
    TokenPair, TokenStore, UserId,
};
use serde_json::json;

use crate::database::{Table, TestDatabase};
use crate::scenarios::{Fixture, PASSWORD, assert_grant_rejected, client, config, counts, fixture};

/// Thumbprint of the device's DPoP key (as a verified proof hands it over).
const DEVICE_KEY: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
/// Thumbprint of another key (a thief's).
const OTHER_KEY: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

fn with_key(jkt: &str) -> ClientInfo {
    ClientInfo {
        dpop_jkt: Some(jkt.to_owned()),
        ..client()
    }
}

async fn bound_login<S: TokenStore>(f: &Fixture<S>, email: &str) -> (UserId, TokenPair) {
    let uid = f.user(email).await;
    let pair = f
        .svc
        .login(email, PASSWORD, &with_key(DEVICE_KEY))
        .await
        .expect("login with a proof");
    (uid, pair)
}

async fn refusal_reasons<S: TokenStore>(f: &Fixture<S>, uid: UserId) -> Vec<serde_json::Value> {
    let mut rows = f.svc.store().recent_audit(Some(uid), 100).await.unwrap();
    rows.reverse();
    rows.into_iter()
        .filter(|r| r.event.kind == AuditKind::RefreshRefused)
        .map(|r| r.event.details["reason"].clone())
        .collect()
}

/// The client's device id and name are stored cleaned (control characters dropped,
/// trimmed, cut to [`DEVICE_FIELD_MAX_CHARS`], blank as none), copied by rotation and
/// listed with the session; an unbound session says so.
pub async fn device_metadata_is_stored_copied_and_listed<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let uid = f.user("device@example.com").await;
    let long_name = format!("  Ada's\u{7} phone {}", "é".repeat(200));
    let device = ClientInfo {
        device_id: Some("dev-0001\n".into()),
        device_name: Some(long_name),
        ..client()
    };
    let t0 = f
        .svc
        .login("device@example.com", PASSWORD, &device)
        .await
        .unwrap();
    assert_eq!(t0.token_type, "Bearer");
    let blank = ClientInfo {
        device_id: Some(" \t ".into()),
        device_name: Some(String::new()),
        ..client()
    };
    let other = f
        .svc
        .login("device@example.com", PASSWORD, &blank)
        .await
        .unwrap();
    let t1 = f.refresh(&t0).await.unwrap();
    let r1 = f.row(&t1).await;
    let name = r1.token.device.device_name.clone().expect("name stored");
    assert!(name.starts_with("Ada's phone é"), "{name:?}");
    assert_eq!(name.chars().count(), DEVICE_FIELD_MAX_CHARS);
    assert_eq!(r1.token.device.device_id.as_deref(), Some("dev-0001"));
    assert_eq!(r1.token.device.dpop_jkt, None);
    assert_eq!(r1.token.device, f.row(&t0).await.token.device);

    let sessions = f.svc.list_sessions(uid).await.unwrap();
    let listed = sessions.iter().find(|s| s.id == t1.session_id).unwrap();
    assert_eq!(listed.device_id.as_deref(), Some("dev-0001"));
    assert_eq!(listed.device_name.as_deref(), Some(name.as_str()));
    assert!(!listed.dpop_bound);
    let unnamed = sessions.iter().find(|s| s.id == other.session_id).unwrap();
    assert_eq!((&unnamed.device_id, &unnamed.device_name), (&None, &None));
}

/// A login with a proof binds the session: the access tokens are `DPoP` with
/// `cnf.jkt`, the key is stored with the session and listed as bound, and each rotation
/// copies it.
pub async fn a_proof_at_login_binds_the_session<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let (uid, t0) = bound_login(&f, "bound@example.com").await;
    assert_eq!(t0.token_type, "DPoP");
    let auth = f.svc.authenticate(&t0.access_token).await.unwrap();
    assert_eq!(auth.claims.cnf.map(|c| c.jkt).as_deref(), Some(DEVICE_KEY));
    assert_eq!(
        f.row(&t0).await.token.device.dpop_jkt.as_deref(),
        Some(DEVICE_KEY)
    );
    let t1 = f
        .svc
        .refresh(t0.refresh_token.expose(), &with_key(DEVICE_KEY))
        .await
        .expect("refresh with the device's proof");
    assert_eq!(t1.token_type, "DPoP");
    let auth = f.svc.authenticate(&t1.access_token).await.unwrap();
    assert_eq!(auth.claims.cnf.map(|c| c.jkt).as_deref(), Some(DEVICE_KEY));
    assert_eq!(
        f.row(&t1).await.token.device.dpop_jkt.as_deref(),
        Some(DEVICE_KEY)
    );
    let listed = f.svc.list_sessions(uid).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].dpop_bound);
}

/// A bound session's refresh token without a proof, or with another key's, is refused
/// and audited (`dpop_proof_missing`, `dpop_key_mismatch`): nothing rotated, the
/// session kept, no theft verdict; the device's own proof still refreshes.
pub async fn a_bound_session_refuses_a_refresh_without_its_key<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let (uid, t0) = bound_login(&f, "stolen@example.com").await;
    let before = counts(db).await;
    assert_grant_rejected(f.refresh(&t0).await, RefreshRejection::DpopKeyMismatch);
    assert_grant_rejected(
        f.svc
            .refresh(t0.refresh_token.expose(), &with_key(OTHER_KEY))
            .await,
        RefreshRejection::DpopKeyMismatch,
    );
    let after = counts(db).await;
    assert_eq!(after[..4], before[..4], "only audit rows were written");
    assert_eq!(after[4], before[4] + 2);
    assert_eq!(
        refusal_reasons(&f, uid).await,
        [json!("dpop_proof_missing"), json!("dpop_key_mismatch")]
    );
    assert!(f.row(&t0).await.is_live(), "nothing rotated, session kept");
    let t1 = f
        .svc
        .refresh(t0.refresh_token.expose(), &with_key(DEVICE_KEY))
        .await
        .expect("the device still refreshes");
    assert_eq!(t1.session_id, t0.session_id);
}

/// A stolen, already rotated token of a bound session presented without the key is
/// refused before reuse detection: the thief can neither refresh nor end the session;
/// the device's own retry of it is still answered as a replay.
pub async fn a_rotated_bound_token_without_its_key_does_not_end_the_session<D: TestDatabase>(
    db: &D,
) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    let (uid, t0) = bound_login(&f, "replayed@example.com").await;
    let device = with_key(DEVICE_KEY);
    let t1 = f
        .svc
        .refresh(t0.refresh_token.expose(), &device)
        .await
        .unwrap();
    for thief in [client(), with_key(OTHER_KEY)] {
        assert_grant_rejected(
            f.svc.refresh(t0.refresh_token.expose(), &thief).await,
            RefreshRejection::DpopKeyMismatch,
        );
    }
    let audit = f.svc.store().recent_audit(Some(uid), 100).await.unwrap();
    assert!(
        audit
            .iter()
            .all(|r| r.event.kind != AuditKind::TokenReuseAttack)
    );
    assert!(f.row(&t1).await.is_live(), "the session is kept");
    let again = f
        .svc
        .refresh(t0.refresh_token.expose(), &device)
        .await
        .expect("the device's retry");
    assert_eq!(again.refresh_token, t1.refresh_token);
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 2);
}

/// An unbound session refreshed with a proof gets a `DPoP` access token bound to that
/// proof's key, but the session stays unbound: the next refresh needs no proof.
pub async fn an_unbound_session_stays_unbound<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Denylist));
    f.user("bearer@example.com").await;
    let t0 = f.login("bearer@example.com").await;
    let t1 = f
        .svc
        .refresh(t0.refresh_token.expose(), &with_key(OTHER_KEY))
        .await
        .unwrap();
    assert_eq!(t1.token_type, "DPoP");
    let auth = f.svc.authenticate(&t1.access_token).await.unwrap();
    assert_eq!(auth.claims.cnf.map(|c| c.jkt).as_deref(), Some(OTHER_KEY));
    assert_eq!(f.row(&t1).await.token.device.dpop_jkt, None);
    let t2 = f.refresh(&t1).await.expect("no proof needed");
    assert_eq!(t2.token_type, "Bearer");
    let auth = f.svc.authenticate(&t2.access_token).await.unwrap();
    assert_eq!(auth.claims.cnf, None);
}
