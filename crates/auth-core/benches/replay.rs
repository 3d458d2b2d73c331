//! The cost of a replay (the immediate predecessor presented again: the successor's
//! text derived from the stored seed, one budget-free audit row) against a rotation
//! (a new successor row, the retired row updated, an audit row), in the same group and
//! run, through `TokenService::refresh` over a real SQLite store.
//!
//! `cargo bench -p auth-core --bench replay`. The clock is a `ManualClock` that never
//! moves, so every replay is `concurrent` and spends no budget.

use auth_core::{
    ClientInfo, Keyring, KeyringSpec, ManualClock, PasswordPolicy, RevocationMode,
    SigningAlgorithm, TokenService, TokenServiceConfig,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The store's pool is dropped at the end, inside the runtime's context.
    let _runtime = rt.enter();
    let dir = tempfile::tempdir().unwrap();
    let svc = rt.block_on(async {
        let path = dir.path().join("bench.db");
        let store = auth_sqlite::SqliteTokenStore::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let mut cfg = TokenServiceConfig::new("https://auth.bench", "bench-api");
        cfg.revocation_mode = RevocationMode::Denylist;
        cfg.password = PasswordPolicy {
            pbkdf2_rounds: 1_000,
            ..PasswordPolicy::default()
        };
        let spec = KeyringSpec::generate("bench-1", SigningAlgorithm::HS256).unwrap();
        let clock = ManualClock::new(auth_core::time::OffsetDateTime::now_utc());
        TokenService::builder(store, Keyring::from_spec(&spec).unwrap(), cfg)
            .clock(clock)
            .build()
            .unwrap()
    });
    let client = ClientInfo::default();
    let mut live = rt.block_on(async {
        svc.register("bench@example.com", "correct horse battery")
            .await
            .unwrap();
        let first = svc
            .login("bench@example.com", "correct horse battery", &client)
            .await
            .unwrap();
        svc.refresh(first.refresh_token.expose(), &client)
            .await
            .unwrap()
    });
    let mut group = c.benchmark_group("refresh");
    group.bench_function("rotation", |b| {
        b.iter(|| {
            live = rt
                .block_on(svc.refresh(live.refresh_token.expose(), &client))
                .unwrap();
        })
    });
    // A second session, rotated once: its first token is replayed again and again.
    let (replayed, successor) = rt.block_on(async {
        let first = svc
            .login("bench@example.com", "correct horse battery", &client)
            .await
            .unwrap();
        let second = svc
            .refresh(first.refresh_token.expose(), &client)
            .await
            .unwrap();
        (first, second.refresh_token)
    });
    group.bench_function("replay", |b| {
        b.iter(|| {
            let pair = rt
                .block_on(svc.refresh(replayed.refresh_token.expose(), &client))
                .unwrap();
            assert_eq!(pair.refresh_token, successor);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
