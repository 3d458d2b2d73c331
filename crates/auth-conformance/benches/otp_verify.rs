//! `cargo bench -p auth-conformance --bench otp_verify`: phone sign-in (request_code
//! through a capturing sender, then verify_code) against its baseline, the
//! password-less `start_session` of the same user, on SQLite, PostgreSQL and MariaDB
//! or MySQL in one run (groups `otp_verify/<db>` and `start_session/<db>`). The ratio
//! otp_verify / start_session per database is the figure to read; the machine may be
//! shared, so absolute times mean little. Revocation mode: `Denylist`, the default.
//!
//! Each phone sign-in first moves the injected clock past the resend interval and
//! the hourly windows, so one phone can sign in again and again as a returning user.

use std::sync::Arc;

use auth_conformance::TestDatabase;
use auth_conformance::otp_scenarios::CapturingSender;
use auth_conformance::scenarios::config;
use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    ClientInfo, CodeSecret, Keyring, ManualClock, OneTimeCodeConfig, OneTimeCodes, RevocationMode,
    SigningAlgorithm, TokenService, TokenStore, UserId,
};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const PHONE: &str = "+13128059851";

/// A token service with phone sign-in over one backend, and the user of [`PHONE`].
struct Fixture<S: TokenStore> {
    service: TokenService<S>,
    clock: ManualClock,
    sender: Arc<CapturingSender>,
    user: UserId,
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some([198, 51, 100, 7].into()),
        user_agent: Some("otp-bench/1.0".into()),
        ..Default::default()
    }
}

/// Moves the clock past every limit of `codes`: the next request is never refused.
fn past_the_limits(codes: &OneTimeCodeConfig) -> Duration {
    codes.resend_interval.max(codes.limit_window) + Duration::seconds(1)
}

impl<S: TokenStore> Fixture<S> {
    async fn new(store: S) -> Self {
        let start = OffsetDateTime::now_utc().unix_timestamp();
        let clock = ManualClock::new(OffsetDateTime::from_unix_timestamp(start).unwrap());
        let sender = Arc::new(CapturingSender::default());
        let service = TokenService::builder(
            store,
            Keyring::generate("bench", SigningAlgorithm::EdDSA).unwrap(),
            config(RevocationMode::Denylist),
        )
        .clock(clock.clone())
        .one_time_codes(OneTimeCodes {
            config: OneTimeCodeConfig::default(),
            secret: CodeSecret::new(&[42u8; 32]).unwrap(),
            sender: sender.clone(),
        })
        .build()
        .unwrap();
        let mut fixture = Self {
            service,
            clock,
            sender,
            user: UserId(0),
        };
        fixture.user = fixture.sign_in().await.user_id;
        fixture
    }

    async fn sign_in(&self) -> auth_core::TokenPair {
        self.clock
            .advance(past_the_limits(&OneTimeCodeConfig::default()));
        self.service.request_code(PHONE, &client()).await.unwrap();
        let code = self.sender.last_code();
        self.service
            .verify_code(PHONE, &code, &client())
            .await
            .unwrap()
    }
}

/// One fixture per database, created on the bench's runtime.
struct Backends {
    sqlite: (auth_sqlite::TestDb, Fixture<auth_sqlite::SqliteTokenStore>),
    postgres: (auth_postgres::TestDb, Fixture<auth_postgres::PgTokenStore>),
    mysql: (auth_mysql::TestDb, Fixture<auth_mysql::MySqlTokenStore>),
}

async fn fixture<D: TestDatabase>() -> (D, Fixture<D::Store>) {
    let db = D::create().await;
    let fixture = Fixture::new(db.store()).await;
    (db, fixture)
}

fn phone_sign_in<S: TokenStore>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    fixture: &Fixture<S>,
) {
    group.bench_function(name, |b| {
        b.to_async(rt).iter(|| async {
            let pair = fixture.sign_in().await;
            assert_eq!(pair.user_id, fixture.user);
        });
    });
}

fn start_session<S: TokenStore>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    name: &str,
    fixture: &Fixture<S>,
) {
    group.bench_function(name, |b| {
        b.to_async(rt).iter(|| async {
            fixture
                .service
                .start_session(fixture.user, &client())
                .await
                .unwrap()
        });
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let backends = rt.block_on(async {
        Backends {
            sqlite: fixture::<auth_sqlite::TestDb>().await,
            postgres: fixture::<auth_postgres::TestDb>().await,
            mysql: fixture::<auth_mysql::TestDb>().await,
        }
    });
    let mut group = c.benchmark_group("otp_verify");
    phone_sign_in(&mut group, &rt, "sqlite", &backends.sqlite.1);
    phone_sign_in(&mut group, &rt, "postgres", &backends.postgres.1);
    phone_sign_in(&mut group, &rt, "mysql", &backends.mysql.1);
    group.finish();
    let mut group = c.benchmark_group("start_session");
    start_session(&mut group, &rt, "sqlite", &backends.sqlite.1);
    start_session(&mut group, &rt, "postgres", &backends.postgres.1);
    start_session(&mut group, &rt, "mysql", &backends.mysql.1);
    group.finish();
    rt.block_on(async {
        backends.sqlite.0.teardown().await;
        backends.postgres.0.teardown().await;
        backends.mysql.0.teardown().await;
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
