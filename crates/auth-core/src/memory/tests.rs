//! `TokenService` unit tests over [`MemoryStore`]: the flows without a database.

use std::sync::Arc;

use super::MemoryStore;
use crate::{
    AuditKind, AuditLog, ClientInfo, Error, Keyring, ManualClock, PasswordPolicy, RefreshRejection,
    RevocationMode, SigningAlgorithm, TokenRejection, TokenService, TokenServiceConfig,
};

const PASSWORD: &str = "correct horse battery";

fn service(mode: RevocationMode) -> (TokenService<MemoryStore>, ManualClock) {
    let mut cfg = TokenServiceConfig::new("https://memory.test", "memory-api");
    cfg.revocation_mode = mode;
    // The strict rule (window 0); replays are specified by the conformance suite.
    cfg.retry_window = time::Duration::ZERO;
    cfg.password = PasswordPolicy {
        pbkdf2_rounds: 1_000,
        ..PasswordPolicy::default()
    };
    let clock = ManualClock::starting_now();
    let keys = Keyring::generate("memory-1", SigningAlgorithm::HS256).expect("keyring");
    let svc = TokenService::builder(MemoryStore::new(), keys, cfg)
        .clock(clock.clone())
        .build()
        .expect("service");
    (svc, clock)
}

#[tokio::test]
async fn refresh_rotates_and_a_replay_revokes_the_session() {
    let (svc, _clock) = service(RevocationMode::Denylist);
    let client = ClientInfo::default();
    svc.register("ada@example.com", PASSWORD).await.unwrap();
    let first = svc
        .login("ada@example.com", PASSWORD, &client)
        .await
        .unwrap();
    let second = svc
        .refresh(first.refresh_token.expose(), &client)
        .await
        .unwrap();
    assert_eq!(second.session_id, first.session_id);
    svc.authenticate(&second.access_token).await.unwrap();

    let replay = svc.refresh(first.refresh_token.expose(), &client).await;
    assert!(matches!(
        replay,
        Err(Error::InvalidGrant(RefreshRejection::Reused))
    ));
    let after = svc.refresh(second.refresh_token.expose(), &client).await;
    assert!(matches!(after, Err(Error::InvalidGrant(_))), "{after:?}");
    let kinds: Vec<AuditKind> = svc
        .store()
        .recent_audit(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event.kind)
        .collect();
    assert!(kinds.contains(&AuditKind::TokenReuseAttack), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_have_exactly_one_winner() {
    let (svc, _clock) = service(RevocationMode::UserState);
    let client = ClientInfo::default();
    svc.register("race@example.com", PASSWORD).await.unwrap();
    let pair = svc
        .login("race@example.com", PASSWORD, &client)
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (svc, barrier) = (svc.clone(), barrier.clone());
            let token = pair.refresh_token.expose().to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                svc.refresh(&token, &ClientInfo::default()).await.is_ok()
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap());
    }
    assert_eq!(wins, 1);
    let live = svc.store().tables().refresh_tokens;
    assert_eq!(
        live.iter().filter(|r| r.is_live()).count(),
        0,
        "reuse revoked the session"
    );
}

#[tokio::test]
async fn logout_all_stops_every_access_token_at_once() {
    let (svc, clock) = service(RevocationMode::UserState);
    let client = ClientInfo::default();
    let user = svc.register("all@example.com", PASSWORD).await.unwrap();
    let a = svc
        .login("all@example.com", PASSWORD, &client)
        .await
        .unwrap();
    let b = svc
        .login("all@example.com", PASSWORD, &client)
        .await
        .unwrap();
    clock.advance(crate::time::Duration::seconds(1));
    assert_eq!(svc.logout_all(user, &client).await.unwrap(), 2);
    for pair in [&a, &b] {
        assert!(matches!(
            svc.authenticate(&pair.access_token).await,
            Err(Error::InvalidToken(TokenRejection::IssuedBeforeValidAfter))
        ));
    }
    assert!(svc.list_sessions(user).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_login_writes_only_its_audit_row() {
    let (svc, _clock) = service(RevocationMode::Stateless);
    svc.register("bad@example.com", PASSWORD).await.unwrap();
    let before = svc.store().tables();
    let failed = svc
        .login("bad@example.com", "wrong password", &ClientInfo::default())
        .await;
    assert!(matches!(failed, Err(Error::InvalidCredentials)));
    let after = svc.store().tables();
    assert_eq!(after.users, before.users);
    assert!(after.refresh_tokens.is_empty());
    assert_eq!(after.audit.len(), before.audit.len() + 1);
    assert_eq!(
        after.audit.last().unwrap().event.kind,
        AuditKind::LoginFailed
    );
}
