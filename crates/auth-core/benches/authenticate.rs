//! Per-request cost of `TokenService::authenticate` beside raw `jsonwebtoken::decode`
//! with equivalent validation, in the same run.
//!
//! `cargo bench -p auth-core`. The service runs over a real SQLite store; the
//! measured calls never reach it (Stateless, or Denylist with a warm cache).
//!
//! For the asymmetric keys, `authenticate_repeat` checks one token again and again
//! (answered by the verified-token cache: target <= 0.1x raw decode), and
//! `authenticate_first` cycles through more tokens than a two-entry cache holds, so
//! every check verifies the signature and inserts (target: about raw decode).

use auth_core::{
    ClientInfo, Keyring, KeyringSpec, PasswordPolicy, RevocationMode, SigningAlgorithm,
    TokenService, TokenServiceConfig, VerifiedCacheLimits,
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
    tokens: Vec<String>,
    raw_key: DecodingKey,
    validation: Validation,
    _dir: tempfile::TempDir,
}

fn setup(rt: &tokio::runtime::Runtime, alg: SigningAlgorithm, mode: RevocationMode) -> Setup {
    setup_with(rt, alg, mode, VerifiedCacheLimits::default(), 1)
}

fn setup_with(
    rt: &tokio::runtime::Runtime,
    alg: SigningAlgorithm,
    mode: RevocationMode,
    cache: VerifiedCacheLimits,
    tokens: usize,
) -> Setup {
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        let store = auth_sqlite::SqliteTokenStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let spec = KeyringSpec::generate("bench-1", alg).unwrap();
        let mut cfg = TokenServiceConfig::new(ISSUER, AUDIENCE);
        cfg.revocation_mode = mode;
        cfg.cache_max_staleness = auth_core::time::Duration::hours(1);
        cfg.verified_cache = cache;
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
        let mut issued = Vec::new();
        for _ in 0..tokens {
            let pair = svc
                .login(
                    "bench@example.com",
                    "bench password",
                    &ClientInfo::default(),
                )
                .await
                .unwrap();
            // Warm the revocation cache (first sync, user state).
            svc.authenticate(&pair.access_token).await.unwrap();
            issued.push(pair.access_token);
        }

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
            token: issued[0].clone(),
            tokens: issued,
            raw_key,
            validation,
            _dir: dir,
        }
    })
}

fn authenticate(s: &Setup) -> auth_core::Authenticated {
    authenticate_token(s, &s.token)
}

fn authenticate_token(s: &Setup, token: &str) -> auth_core::Authenticated {
    s.svc
        .authenticate(token)
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

    for (name, alg) in [
        ("eddsa", SigningAlgorithm::EdDSA),
        ("es256", SigningAlgorithm::ES256),
    ] {
        let repeat = setup(&rt, alg, RevocationMode::Denylist);
        let two_entries = VerifiedCacheLimits {
            max_entries: 2,
            ..VerifiedCacheLimits::default()
        };
        let first = setup_with(&rt, alg, RevocationMode::Denylist, two_entries, 8);
        let mut group = c.benchmark_group(name);
        group.bench_function("raw_jsonwebtoken_decode", |b| {
            b.iter(|| raw_decode(&repeat))
        });
        group.bench_function("authenticate_repeat", |b| b.iter(|| authenticate(&repeat)));
        let mut next = first.tokens.iter().cycle();
        group.bench_function("authenticate_first", |b| {
            b.iter(|| authenticate_token(&first, next.next().unwrap()))
        });
        group.finish();
        let stats = first.svc.verified_cache_stats();
        assert!(
            stats.hits == 0,
            "authenticate_first must never hit: {stats:?}"
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
