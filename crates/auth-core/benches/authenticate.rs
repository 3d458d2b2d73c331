//! Per-request cost of `TokenService::authenticate` beside raw `jsonwebtoken::decode`
//! with equivalent validation, in the same run.
//!
//! `cargo bench -p auth-core`. The service runs over a real SQLite store; the
//! measured calls never reach it (Stateless, or Denylist with a warm cache).

use auth_core::{
    ClientInfo, Keyring, KeyringSpec, PasswordPolicy, RevocationMode, SigningAlgorithm,
    TokenService, TokenServiceConfig,
};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;

const ISSUER: &str = "https://auth.bench";
const AUDIENCE: &str = "bench-api";

#[derive(Deserialize)]
#[allow(dead_code)]
struct RawClaims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    sid: String,
}

struct Setup {
    svc: TokenService<auth_sqlite::SqliteTokenStore>,
    token: String,
    raw_key: DecodingKey,
    validation: Validation,
    _dir: tempfile::TempDir,
}

fn setup(rt: &tokio::runtime::Runtime, alg: SigningAlgorithm, mode: RevocationMode) -> Setup {
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = auth_sqlite::SqliteTokenStore::open(dir.path().join("bench.db"))
            .await
            .unwrap();
        let spec = KeyringSpec::generate("bench-1", alg).unwrap();
        let mut cfg = TokenServiceConfig::new(ISSUER, AUDIENCE);
        cfg.revocation_mode = mode;
        cfg.cache_max_staleness = auth_core::time::Duration::hours(1);
        cfg.password = PasswordPolicy {
            pbkdf2_rounds: 1_000,
            ..PasswordPolicy::default()
        };
        let svc = TokenService::builder(store, Keyring::from_spec(&spec).unwrap(), cfg)
            .build()
            .unwrap();
        svc.register("bench@example.com", "bench password")
            .await
            .unwrap();
        let pair = svc
            .login(
                "bench@example.com",
                "bench password",
                &ClientInfo::default(),
            )
            .await
            .unwrap();
        // Warm the cache (first sync, user state).
        svc.authenticate(&pair.access_token).await.unwrap();

        let jwks = svc.keys().jwks();
        let raw_key = match alg {
            SigningAlgorithm::HS256 => {
                let auth_core::KeyMaterial::HmacSecretB64(b64) = &spec.keys[0].material else {
                    unreachable!()
                };
                DecodingKey::from_base64_secret(b64).unwrap()
            }
            _ => {
                let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
                DecodingKey::from_jwk(&set.keys[0]).unwrap()
            }
        };
        let mut validation = Validation::new(alg.jwt());
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        validation.validate_nbf = true;
        Setup {
            svc,
            token: pair.access_token,
            raw_key,
            validation,
            _dir: dir,
        }
    })
}

fn authenticate(s: &Setup) -> auth_core::Authenticated {
    s.svc
        .authenticate(&s.token)
        .now_or_never()
        .expect("a warm check never waits")
        .unwrap()
}

fn raw_decode(s: &Setup) -> RawClaims {
    jsonwebtoken::decode::<RawClaims>(&s.token, &s.raw_key, &s.validation)
        .unwrap()
        .claims
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // The store's pool closes its connections on the runtime when a setup is dropped.
    let _runtime = rt.enter();

    let stateless = setup(&rt, SigningAlgorithm::HS256, RevocationMode::Stateless);
    let denylist = setup(&rt, SigningAlgorithm::HS256, RevocationMode::Denylist);
    let mut group = c.benchmark_group("hs256");
    group.bench_function("raw_jsonwebtoken_decode", |b| {
        b.iter(|| raw_decode(&stateless))
    });
    group.bench_function("authenticate_stateless", |b| {
        b.iter(|| authenticate(&stateless))
    });
    group.bench_function("authenticate_denylist_warm", |b| {
        b.iter(|| authenticate(&denylist))
    });
    group.finish();

    let eddsa = setup(&rt, SigningAlgorithm::EdDSA, RevocationMode::Stateless);
    let mut group = c.benchmark_group("eddsa");
    group.bench_function("raw_jsonwebtoken_decode", |b| b.iter(|| raw_decode(&eddsa)));
    group.bench_function("authenticate_stateless", |b| {
        b.iter(|| authenticate(&eddsa))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
