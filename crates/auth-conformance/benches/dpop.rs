//! `cargo bench -p auth-conformance --bench dpop`: the cost of DPoP binding, each
//! against its unbound baseline in the same run, on SQLite:
//!
//! - `refresh/bearer`: `TokenService::refresh` of a bearer session;
//! - `refresh/dpop`: verifying the request's proof (`DpopVerifier::verify`) plus the
//!   refresh of a bound session with its key;
//! - `authenticate/bearer`: `TokenService::authenticate` of a bearer token;
//! - `authenticate/dpop`: `authenticate` of a bound token plus verifying its proof
//!   (with `ath`), what auth-axum does per resource request.
//!
//! The client's cost (making the proof) is outside the measured routine. Access tokens
//! are EdDSA; proofs ES256. The figures to read are dpop / bearer per group.

use std::cell::RefCell;

use auth_conformance::DpopKey;
use auth_conformance::scenarios::config;
use auth_core::time::OffsetDateTime;
use auth_core::{
    ClientInfo, DpopConfig, DpopRequest, DpopVerifier, Keyring, RevocationMode, SigningAlgorithm,
    TokenService,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const EMAIL: &str = "dpop-bench@example.com";
const PASSWORD: &str = "correct horse battery";
const REFRESH_URL: &str = "https://auth.conformance.test/v1/auth/refresh";
const ME_URL: &str = "https://auth.conformance.test/v1/me";

type Service = TokenService<auth_sqlite::SqliteTokenStore>;

struct Setup {
    service: Service,
    verifier: DpopVerifier,
    key: DpopKey,
    _dir: tempfile::TempDir,
}

fn setup(rt: &Runtime) -> Setup {
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("dpop.db").display());
        let store = auth_sqlite::SqliteTokenStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let keys = Keyring::generate("bench", SigningAlgorithm::EdDSA).unwrap();
        let service = TokenService::builder(store, keys, config(RevocationMode::Denylist))
            .build()
            .unwrap();
        service.register(EMAIL, PASSWORD).await.unwrap();
        // Large enough that the measured iterations never fill it.
        let verifier = DpopVerifier::new(DpopConfig {
            replay_capacity: 50_000_000,
            ..DpopConfig::default()
        })
        .unwrap();
        Setup {
            service,
            verifier,
            key: DpopKey::generate(),
            _dir: dir,
        }
    })
}

fn bound(jkt: &str) -> ClientInfo {
    ClientInfo {
        dpop_jkt: Some(jkt.to_owned()),
        ..Default::default()
    }
}

fn refresh_benches(c: &mut Criterion, rt: &Runtime, s: &Setup) {
    let bearer = ClientInfo::default();
    let device = bound(&s.key.thumbprint());
    let login = |client: &ClientInfo| {
        rt.block_on(s.service.login(EMAIL, PASSWORD, client))
            .unwrap()
            .refresh_token
    };
    let mut group = c.benchmark_group("refresh");
    let current = RefCell::new(login(&bearer));
    group.bench_function("bearer", |b| {
        b.iter(|| {
            let presented = current.borrow().expose().to_owned();
            let pair = rt.block_on(s.service.refresh(&presented, &bearer)).unwrap();
            *current.borrow_mut() = pair.refresh_token;
        })
    });
    let current = RefCell::new(login(&device));
    group.bench_function("dpop", |b| {
        b.iter_batched(
            || {
                s.key
                    .proof("POST", REFRESH_URL, None, OffsetDateTime::now_utc())
            },
            |proof| {
                let request = DpopRequest {
                    method: "POST",
                    url: REFRESH_URL,
                    access_token: None,
                };
                let verified = s
                    .verifier
                    .verify(&proof, &request, OffsetDateTime::now_utc())
                    .unwrap();
                let client = bound(&verified.jkt);
                let presented = current.borrow().expose().to_owned();
                let pair = rt.block_on(s.service.refresh(&presented, &client)).unwrap();
                *current.borrow_mut() = pair.refresh_token;
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn authenticate_benches(c: &mut Criterion, rt: &Runtime, s: &Setup) {
    let bearer = rt
        .block_on(s.service.login(EMAIL, PASSWORD, &ClientInfo::default()))
        .unwrap()
        .access_token;
    let device = bound(&s.key.thumbprint());
    let dpop_token = rt
        .block_on(s.service.login(EMAIL, PASSWORD, &device))
        .unwrap()
        .access_token;
    let mut group = c.benchmark_group("authenticate");
    group.bench_function("bearer", |b| {
        b.iter(|| rt.block_on(s.service.authenticate(&bearer)).unwrap())
    });
    group.bench_function("dpop", |b| {
        b.iter_batched(
            || {
                s.key
                    .proof("GET", ME_URL, Some(&dpop_token), OffsetDateTime::now_utc())
            },
            |proof| {
                let auth = rt.block_on(s.service.authenticate(&dpop_token)).unwrap();
                let request = DpopRequest {
                    method: "GET",
                    url: ME_URL,
                    access_token: Some(&dpop_token),
                };
                let verified = s
                    .verifier
                    .verify(&proof, &request, OffsetDateTime::now_utc())
                    .unwrap();
                assert_eq!(auth.claims.cnf.map(|c| c.jkt), Some(verified.jkt));
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    // The store's pool is dropped at the end, which needs the runtime.
    let _runtime = rt.enter();
    let s = setup(&rt);
    refresh_benches(c, &rt, &s);
    authenticate_benches(c, &rt, &s);
}

criterion_group!(dpop, benches);
criterion_main!(dpop);
