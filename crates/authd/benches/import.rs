//! Import throughput on each database: `users import` of 10,000 users (email and a
//! Django PBKDF2 hash) into a fresh database, against a baseline run in the same
//! process on a fresh database of the same server: the same 10,000 users created one
//! by one with `UserDirectory::create_user` (what `register` writes, without its
//! password hashing, which would dominate at 600,000 rounds). Each figure is the median
//! of `ROUNDS` runs. `cargo bench -p authd --bench import [-- sqlite|postgres|mysql]`.

use std::path::Path;
use std::time::{Duration, Instant};

use auth_conformance::{Table, TestDatabase};
use auth_core::time::OffsetDateTime;
use auth_core::{Keyring, NewUser, SigningAlgorithm, UserDirectory};

const USERS: usize = 10_000;
const ROUNDS: usize = 3;
const DJANGO: &str =
    "pbkdf2_sha256$1000$J7h2BEA5jwwed7Jgrwlqk3$+2BpeNgRUJXwhuW1BCFWmkM1uUcX/fJk5ynKEQdKOgs=";

fn email(i: usize) -> String {
    format!("user{i:05}@bench.example")
}

fn write_file(path: &Path) {
    let rows: String = (0..USERS)
        .map(|i| {
            format!(
                "{{\"email\":\"{}\",\"password_hash\":\"{DJANGO}\"}}\n",
                email(i)
            )
        })
        .collect();
    std::fs::write(path, rows).expect("write the import file");
}

async fn import_once<D: TestDatabase>(file: &Path) -> Duration {
    let db = D::create().await;
    let settings = authd::Settings::default();
    let keys = Keyring::generate("bench", SigningAlgorithm::HS256).expect("keyring");
    let service = authd::build_service(db.store(), keys, &settings).expect("service");
    let started = Instant::now();
    let summary = authd::import::import_file(&service, file, |_| {})
        .await
        .expect("import");
    let elapsed = started.elapsed();
    assert_eq!(summary.created, USERS);
    assert_eq!(db.count_rows(Table::Users).await, USERS as u64);
    db.teardown().await;
    elapsed
}

async fn create_users_once<D: TestDatabase>() -> Duration {
    let db = D::create().await;
    let store = db.store();
    let now = OffsetDateTime::now_utc();
    let started = Instant::now();
    for i in 0..USERS {
        let user = NewUser {
            email: email(i),
            password_hash: Some(DJANGO.to_owned()),
            created_at: now,
        };
        store.create_user(&user).await.expect("create user");
    }
    let elapsed = started.elapsed();
    assert_eq!(db.count_rows(Table::Users).await, USERS as u64);
    db.teardown().await;
    elapsed
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn rate(d: Duration) -> f64 {
    USERS as f64 / d.as_secs_f64()
}

async fn measure<D: TestDatabase>(name: &str, file: &Path) {
    let mut import = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..ROUNDS {
        import.push(import_once::<D>(file).await);
        baseline.push(create_users_once::<D>().await);
    }
    let (import, baseline) = (median(import), median(baseline));
    println!(
        "{name:<9} import {:>8.0} users/s ({:.2}s)  create_user x{USERS} {:>8.0} users/s ({:.2}s)  ratio {:.2}x",
        rate(import),
        import.as_secs_f64(),
        rate(baseline),
        baseline.as_secs_f64(),
        rate(import) / rate(baseline)
    );
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("users.jsonl");
    write_file(&file);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if wanted("sqlite") {
            measure::<auth_sqlite::TestDb>("sqlite", &file).await;
        }
        if wanted("postgres") {
            measure::<auth_postgres::TestDb>("postgres", &file).await;
        }
        if wanted("mysql") {
            measure::<auth_mysql::TestDb>("mysql", &file).await;
        }
    });
}
