//! The verified-token cache inside `TokenService::authenticate`: a repeat check skips
//! the signature (hits counted) but still sees expiry and every revocation; and
//! `user_profile` is answered from the revocation cache's user entries.

use auth_core::time::Duration;
use auth_core::{
    ClientInfo, Error, Keyring, ManualClock, PasswordPolicy, RevocationMode, SigningAlgorithm,
    TokenRejection, TokenService, TokenServiceConfig,
};
use auth_sqlite::SqliteTokenStore;

struct Setup {
    svc: TokenService<SqliteTokenStore>,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

async fn setup(alg: SigningAlgorithm, mode: RevocationMode) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("t.db").display());
    let store = SqliteTokenStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let mut cfg = TokenServiceConfig::new("iss", "aud");
    cfg.revocation_mode = mode;
    // Zero staleness: every check sees the latest revocations.
    cfg.cache_max_staleness = Duration::ZERO;
    cfg.password = PasswordPolicy {
        pbkdf2_rounds: 1_000,
        ..PasswordPolicy::default()
    };
    let clock = ManualClock::starting_now();
    let svc = TokenService::builder(store, Keyring::generate("k1", alg).unwrap(), cfg)
        .clock(clock.clone())
        .build()
        .unwrap();
    Setup {
        svc,
        clock,
        _dir: dir,
    }
}

async fn login(s: &Setup, email: &str) -> auth_core::TokenPair {
    s.svc.register(email, "password-1234").await.unwrap();
    s.svc
        .login(email, "password-1234", &ClientInfo::default())
        .await
        .unwrap()
}

fn rejection(e: Error) -> TokenRejection {
    match e {
        Error::InvalidToken(r) => r,
        other => panic!("expected a token rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn repeats_hit_the_cache_and_still_see_logout() {
    for alg in [
        SigningAlgorithm::EdDSA,
        SigningAlgorithm::ES256,
        SigningAlgorithm::RS256,
    ] {
        let s = setup(alg, RevocationMode::Denylist).await;
        let pair = login(&s, "a@example.com").await;
        let first = s.svc.authenticate(&pair.access_token).await.unwrap();
        let again = s.svc.authenticate(&pair.access_token).await.unwrap();
        assert_eq!(first.claims, again.claims);
        assert_eq!(s.svc.verified_cache_stats().hits, 1, "{alg:?}");
        s.svc.logout(&again, &ClientInfo::default()).await.unwrap();
        let refused = s.svc.authenticate(&pair.access_token).await.unwrap_err();
        assert!(
            matches!(
                rejection(refused),
                TokenRejection::Revoked | TokenRejection::SessionRevoked
            ),
            "{alg:?}"
        );
        assert_eq!(s.svc.verified_cache_stats().hits, 2, "{alg:?}");
    }
}

#[tokio::test]
async fn a_cached_token_still_expires() {
    let s = setup(SigningAlgorithm::EdDSA, RevocationMode::Stateless).await;
    let pair = login(&s, "a@example.com").await;
    s.svc.authenticate(&pair.access_token).await.unwrap();
    s.clock.advance(Duration::minutes(14));
    s.svc.authenticate(&pair.access_token).await.unwrap();
    assert_eq!(s.svc.verified_cache_stats().hits, 1);
    // 15 min lifetime plus 5 s leeway.
    s.clock.advance(Duration::seconds(65));
    let refused = s.svc.authenticate(&pair.access_token).await.unwrap_err();
    assert_eq!(rejection(refused), TokenRejection::Expired);
}

#[tokio::test]
async fn a_cached_token_still_sees_user_events() {
    let s = setup(SigningAlgorithm::EdDSA, RevocationMode::UserState).await;
    let pair = login(&s, "a@example.com").await;
    let auth = s.svc.authenticate(&pair.access_token).await.unwrap();
    s.svc.authenticate(&pair.access_token).await.unwrap();
    s.svc.set_user_active(auth.user_id, false).await.unwrap();
    let refused = s.svc.authenticate(&pair.access_token).await.unwrap_err();
    assert_eq!(rejection(refused), TokenRejection::UserInactive);
    s.svc.set_user_active(auth.user_id, true).await.unwrap();
    s.svc.authenticate(&pair.access_token).await.unwrap();
    s.clock.advance(Duration::seconds(1));
    s.svc
        .logout_all(auth.user_id, &ClientInfo::default())
        .await
        .unwrap();
    let refused = s.svc.authenticate(&pair.access_token).await.unwrap_err();
    assert_eq!(rejection(refused), TokenRejection::IssuedBeforeValidAfter);
    assert!(s.svc.verified_cache_stats().hits >= 3);
}

#[tokio::test]
async fn hmac_tokens_are_never_cached() {
    let s = setup(SigningAlgorithm::HS256, RevocationMode::Denylist).await;
    let pair = login(&s, "a@example.com").await;
    for _ in 0..3 {
        s.svc.authenticate(&pair.access_token).await.unwrap();
    }
    let stats = s.svc.verified_cache_stats();
    assert_eq!((stats.hits, stats.entries), (0, 0));
}

#[tokio::test]
async fn the_profile_comes_from_the_cache_authenticate_filled() {
    let s = setup(SigningAlgorithm::EdDSA, RevocationMode::Denylist).await;
    let pair = login(&s, "a@example.com").await;
    let auth = s.svc.authenticate(&pair.access_token).await.unwrap();
    let cache = s.svc.revocation_cache();
    let (_, cached) = cache
        .user_profile(auth.user_id)
        .expect("cached by authenticate");
    assert_eq!(cached.email.as_deref(), Some("a@example.com"));
    let profile = s.svc.user_profile(auth.user_id).await.unwrap().unwrap();
    assert_eq!(profile, cached);
    // A user event drops the entry; the next read goes to the store and caches again.
    s.svc.set_user_active(auth.user_id, false).await.unwrap();
    s.svc.sync_revocations().await.unwrap();
    assert!(cache.user_profile(auth.user_id).is_none());
    let profile = s.svc.user_profile(auth.user_id).await.unwrap().unwrap();
    assert_eq!(profile.email.as_deref(), Some("a@example.com"));
    assert!(cache.user_profile(auth.user_id).is_some());
    assert_eq!(
        s.svc
            .user_profile(auth_core::UserId(auth.user_id.0 + 100))
            .await
            .unwrap(),
        None
    );
}
