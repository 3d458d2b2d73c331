//! Upgrading databases that already have a `users` table (DESIGN.md section 8): seed
//! 002's phone users and seed 004's `users (id, username, created_at)`, 10,000 rows each,
//! generated in SQL. Up adopts the table, old and new users work, down to zero restores
//! the original table byte for byte (or refuses with a clear message when it cannot),
//! and up works again. Seed 004's four go/no-go gates are named tests.

use auth_conformance::TestDatabase;
use auth_core::{
    ClientInfo, Error, Keyring, KeyringSpec, PasswordPolicy, SigningAlgorithm, TokenService,
    TokenServiceConfig, UserDirectory, UserId,
};
use auth_core::{MigrationError, MigrationState, Migrations};
use auth_postgres::TestDb as PgTestDb;
use auth_postgres::{MIGRATOR, PgTokenStore};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

const USERS: i64 = 10_000;

/// The adoption migration's version.
const ADOPTION: i64 = 20251115000000;

/// Seed 002's table as its document shows it, and 10,000 phone users: every tenth
/// logged out (is_active FALSE), every 97th with is_active NULL.
const SEED_002: &str = "
CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    phone_number VARCHAR(20) UNIQUE NOT NULL,
    full_name VARCHAR(255),
    profile_image_url VARCHAR(500),
    is_active BOOLEAN DEFAULT TRUE,
    is_verified BOOLEAN DEFAULT FALSE,
    last_login TIMESTAMP,
    market VARCHAR(10) DEFAULT 'kg',
    language VARCHAR(10) DEFAULT 'ru',
    country VARCHAR(100) DEFAULT 'Kyrgyzstan',
    created_at TIMESTAMP DEFAULT NOW(),
    updated_at TIMESTAMP DEFAULT NOW()
);
INSERT INTO users (phone_number, full_name, profile_image_url, is_active, is_verified,
                   last_login, market, language, country, created_at, updated_at)
SELECT '+1312' || lpad(g::text, 7, '0'),
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'User ' || g END,
       CASE WHEN g % 3 = 0 THEN 'https://cdn.example/u/' || g || '.jpg' END,
       CASE WHEN g % 97 = 0 THEN NULL WHEN g % 10 = 0 THEN FALSE ELSE TRUE END,
       g % 4 <> 0,
       CASE WHEN g % 5 = 0 THEN NULL
            ELSE TIMESTAMP '2025-10-23 16:25:00.123456' + g * INTERVAL '1 minute' END,
       (ARRAY['kg', 'us', 'kz'])[1 + g % 3], (ARRAY['ru', 'en', 'ky'])[1 + g % 3],
       (ARRAY['Kyrgyzstan', 'United States', 'Kazakhstan'])[1 + g % 3],
       TIMESTAMP '2025-01-01 00:00:00' + g * INTERVAL '17 minutes',
       TIMESTAMP '2025-06-01 00:00:00' + g * INTERVAL '3 minutes'
  FROM generate_series(1, 10000) AS g;
";

/// Seed 004's table before its phase 3 (SQLAlchemy's `id, username, created_at`).
const SEED_004: &str = "
CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    username VARCHAR(80) NOT NULL UNIQUE,
    created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL DEFAULT now()
);
INSERT INTO users (username, created_at)
SELECT 'user_' || g, TIMESTAMP '2024-03-01 08:00:00' + g * INTERVAL '1 hour 1 second'
  FROM generate_series(1, 10000) AS g;
";

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The users table's definition (columns, constraints, indexes) and every row as text.
async fn users_snapshot(pool: &PgPool) -> (Vec<String>, String) {
    let definition: Vec<String> = sqlx::query_scalar(
        "SELECT d FROM ( \
           SELECT 'column ' || column_name || ' ' || data_type || ' ' \
                  || coalesce(character_maximum_length::text, '') || ' ' || is_nullable \
                  || ' ' || coalesce(column_default, '') AS d \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' \
           UNION ALL \
           SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
            WHERE conrelid = 'public.users'::regclass \
           UNION ALL \
           SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes \
            WHERE schemaname = 'public' AND tablename = 'users' \
         ) t ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let rows: String =
        sqlx::query_scalar("SELECT string_agg(u::text, E'\\n' ORDER BY id) FROM users u")
            .fetch_one(pool)
            .await
            .unwrap();
    (definition, rows)
}

async fn public_tables(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn service(store: PgTokenStore) -> TokenService<PgTokenStore> {
    let spec = KeyringSpec::generate("k1", SigningAlgorithm::EdDSA).unwrap();
    let mut cfg = TokenServiceConfig::new("https://auth.test", "api");
    cfg.password = PasswordPolicy {
        pbkdf2_rounds: 1_000,
        ..PasswordPolicy::default()
    };
    TokenService::builder(store, Keyring::from_spec(&spec).unwrap(), cfg)
        .build()
        .unwrap()
}

async fn seeded(seed: &str) -> (PgTestDb, PgPool) {
    let db = PgTestDb::create_unmigrated().await;
    let pool = db.store().pool().clone();
    exec(&pool, seed).await;
    (db, pool)
}

async fn up(pool: &PgPool) {
    MIGRATOR
        .run(pool)
        .await
        .unwrap_or_else(|e| panic!("up: {e:?}"));
}

/// A Django PBKDF2 hash of "correct horse battery staple", made by Django 5.2.
fn django_hash() -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(include_str!(
        "../../auth-core/tests/fixtures/legacy-hashes/vectors.json"
    ))
    .unwrap();
    let v = v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["family"] == "django-pbkdf2-sha256" && v["note"] == "")
        .unwrap();
    (
        v["password"].as_str().unwrap().to_owned(),
        v["hash"].as_str().unwrap().to_owned(),
    )
}

/// Old users keep working (session by id, as the SMS flow does; a legacy hash given to
/// one logs in and is rehashed), new users register by email, NULL is_active fails closed.
async fn old_and_new_users_work(store: PgTokenStore, pool: &PgPool) {
    let svc = service(store.clone());
    let client = ClientInfo::default();
    for id in [1, 2, 3, 4999, USERS - 1] {
        let pair = svc.start_session(UserId(id), &client).await.unwrap();
        svc.authenticate(&pair.access_token).await.unwrap();
        svc.refresh(pair.refresh_token.expose(), &client)
            .await
            .unwrap();
    }
    let (password, hash) = django_hash();
    sqlx::query(
        "UPDATE users SET email = 'old-user@example.com', password_hash = $1 WHERE id = 11",
    )
    .bind(&hash)
    .execute(pool)
    .await
    .unwrap();
    svc.login("old-user@example.com", &password, &client)
        .await
        .unwrap();
    let rehashed = store.find_user(UserId(11)).await.unwrap().unwrap();
    assert!(
        rehashed
            .password_hash
            .unwrap()
            .starts_with("$pbkdf2-sha256$")
    );
    assert!(rehashed.last_login.is_some());

    let new_id = svc
        .register("new-user@example.com", "a new password")
        .await
        .unwrap();
    assert!(new_id.0 > USERS);
    svc.login("new-user@example.com", "a new password", &client)
        .await
        .unwrap();
    assert!(matches!(
        svc.register("NEW-user@example.com", "another password")
            .await,
        Err(Error::EmailTaken)
    ));
}

async fn null_is_active_fails_closed(store: PgTokenStore) {
    let svc = service(store.clone());
    let user = store.find_user(UserId(97)).await.unwrap().unwrap();
    assert!(!user.is_active, "NULL is_active reads as inactive");
    assert!(matches!(
        svc.start_session(UserId(97), &ClientInfo::default()).await,
        Err(Error::InvalidCredentials)
    ));
}

/// Down to zero through the store's migrations contract.
async fn undo_all(db: &PgTestDb) -> Result<Vec<i64>, MigrationError> {
    let store = db.store();
    let applied = store
        .migration_status()
        .await?
        .iter()
        .filter(|s| s.state != MigrationState::Pending)
        .count();
    store.migrate_down(applied as u32).await
}

/// Advisory locks held in the database (sqlx's migration lock is one).
async fn advisory_locks(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn seed_002_up_adopts_the_phone_users_table_and_old_and_new_users_work() {
    let (db, pool) = seeded(SEED_002).await;
    up(&pool).await;
    let (_, rows) = users_snapshot(&pool).await;
    assert_eq!(rows.lines().count() as i64, USERS);
    null_is_active_fails_closed(db.store()).await;
    old_and_new_users_work(db.store(), &pool).await;
    // Up again changes nothing.
    let before = users_snapshot(&pool).await;
    up(&pool).await;
    assert_eq!(users_snapshot(&pool).await, before);
    db.teardown().await;
}

#[tokio::test]
async fn seed_002_down_to_zero_restores_the_table_byte_for_byte_and_up_works_again() {
    let (db, pool) = seeded(SEED_002).await;
    let original = users_snapshot(&pool).await;
    up(&pool).await;
    // Sessions for some of the old users, so down has token rows to remove.
    let svc = service(db.store());
    for id in (1..=USERS).step_by(500) {
        if id % 10 != 0 && id % 97 != 0 {
            svc.start_session(UserId(id), &ClientInfo::default())
                .await
                .unwrap();
        }
    }
    assert_ne!(users_snapshot(&pool).await.0, original.0);
    undo_all(&db).await.unwrap();
    assert_eq!(users_snapshot(&pool).await, original);
    assert_eq!(public_tables(&pool).await, ["users"]);
    up(&pool).await;
    old_and_new_users_work(db.store(), &pool).await;
    db.teardown().await;
}

#[tokio::test]
async fn seed_002_down_refuses_while_email_users_have_no_phone_number() {
    let (db, pool) = seeded(SEED_002).await;
    let original = users_snapshot(&pool).await;
    up(&pool).await;
    let svc = service(db.store());
    let id = svc
        .register("no-phone@example.com", "a new password")
        .await
        .unwrap();
    let err = undo_all(&db).await.expect_err("down must refuse");
    assert!(
        matches!(
            err,
            MigrationError::Refused {
                version: ADOPTION,
                ..
            }
        ),
        "{err:?}"
    );
    let message = format!("{err:?}");
    assert!(
        message.contains("refusing to revert the adoption of table users")
            && message.contains("phone_number"),
        "{message}"
    );
    // The refusal released the migration lock: no session holds it, and another
    // store's up (another connection) runs at once, re-applying what was reverted.
    assert_eq!(advisory_locks(&pool).await, 0);
    let reapplied = db.another_store().await.migrate_up().await.unwrap();
    assert!(
        !reapplied.is_empty() && !reapplied.contains(&ADOPTION),
        "{reapplied:?}"
    );
    assert_eq!(advisory_locks(&pool).await, 0);
    // Nothing of the users table was lost; once the user has a number, down completes.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, USERS + 1);
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id.0 as i32)
        .execute(&pool)
        .await
        .unwrap();
    undo_all(&db).await.unwrap();
    assert_eq!(users_snapshot(&pool).await, original);
    db.teardown().await;
}

#[tokio::test]
async fn seed_004_gate_upgrade_works_on_a_fresh_db() {
    let db = PgTestDb::create_unmigrated().await;
    let pool = db.store().pool().clone();
    up(&pool).await;
    let svc = service(db.store());
    svc.register("first@example.com", "a new password")
        .await
        .unwrap();
    svc.login(
        "first@example.com",
        "a new password",
        &ClientInfo::default(),
    )
    .await
    .unwrap();
    let adopted: i64 = sqlx::query_scalar("SELECT count(*) FROM auth_schema_adoptions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(adopted, 0, "a fresh database adopts nothing");
    db.teardown().await;
}

#[tokio::test]
async fn seed_004_gate_upgrade_works_on_a_prod_like_dump() {
    let (db, pool) = seeded(SEED_004).await;
    up(&pool).await;
    let added: Vec<String> = sqlx::query_scalar(
        "SELECT object_kind || ' ' || object_name FROM auth_schema_adoptions ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(added.contains(&"column email".to_owned()), "{added:?}");
    assert!(
        added.contains(&"not_null_dropped username".to_owned()),
        "{added:?}"
    );
    assert!(!added.iter().any(|a| a == "column created_at"), "{added:?}");
    let usernames: i64 =
        sqlx::query_scalar("SELECT count(*) FROM users WHERE username LIKE 'user_%' AND is_active")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(usernames, USERS, "existing users are kept and active");
    db.teardown().await;
}

#[tokio::test]
async fn seed_004_gate_all_tests_pass_with_new_schema() {
    let (db, pool) = seeded(SEED_004).await;
    up(&pool).await;
    old_and_new_users_work(db.store(), &pool).await;
    let svc = service(db.store());
    let client = ClientInfo::default();
    let pair = svc
        .login("new-user@example.com", "a new password", &client)
        .await
        .unwrap();
    let authenticated = svc.authenticate(&pair.access_token).await.unwrap();
    svc.revoke_access_token(&authenticated, &client)
        .await
        .unwrap();
    let pair = svc.start_session(UserId(1), &client).await.unwrap();
    // The session opened above and the one of `old_and_new_users_work`.
    assert_eq!(svc.logout_all(UserId(1), &client).await.unwrap(), 2);
    assert!(
        svc.refresh(pair.refresh_token.expose(), &client)
            .await
            .is_err()
    );
    db.teardown().await;
}

#[tokio::test]
async fn seed_004_gate_migration_can_be_rolled_back_cleanly() {
    let (db, pool) = seeded(SEED_004).await;
    let original = users_snapshot(&pool).await;
    up(&pool).await;
    let svc = service(db.store());
    // Users who sign up by email after the upgrade have no username: down refuses...
    let id = svc
        .register("late@example.com", "a new password")
        .await
        .unwrap();
    let err = format!("{:?}", undo_all(&db).await.expect_err("down refuses"));
    assert!(err.contains("username"), "{err}");
    sqlx::query("UPDATE users SET username = 'late' WHERE id = $1")
        .bind(id.0 as i32)
        .execute(&pool)
        .await
        .unwrap();
    // ... and completes once they have one; the old rows are byte for byte the same.
    undo_all(&db).await.unwrap();
    let (definition, rows) = users_snapshot(&pool).await;
    assert_eq!(definition, original.0);
    let original_rows: Vec<&str> = original.1.lines().collect();
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(&rows[..original_rows.len()], &original_rows[..]);
    assert_eq!(rows.len(), original_rows.len() + 1);
    assert_eq!(public_tables(&pool).await, ["users"]);
    up(&pool).await;
    up(&pool).await;
    db.teardown().await;
}

/// A deployment of the first release (migrations 1..4, no adoption migration) gets the
/// adoption migration applied afterwards, where it does nothing; down still removes all.
#[tokio::test]
async fn a_first_release_deployment_upgrades_and_the_adoption_is_a_no_op() {
    let db = PgTestDb::create_unmigrated().await;
    let pool = db.store().pool().clone();
    let first_release = Migrator::with_migrations(
        MIGRATOR
            .iter()
            .filter(|m| m.version != ADOPTION)
            .cloned()
            .collect(),
    );
    first_release.run(&pool).await.unwrap();
    service(db.store())
        .register("v1@example.com", "a v1 password")
        .await
        .unwrap();
    up(&pool).await;
    let adopted: i64 = sqlx::query_scalar("SELECT count(*) FROM auth_schema_adoptions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(adopted, 0);
    undo_all(&db).await.unwrap();
    assert!(public_tables(&pool).await.is_empty());
    db.teardown().await;
}

/// Seed 002's own flow on its adopted table: a phone user signs in by code and the
/// access token carries its `market` and `language` (seed 002's JWT), read by the
/// redemption's statement; column names are exact on PostgreSQL, so `Market` is
/// refused at configuration.
#[tokio::test]
async fn seed_002_phone_sign_in_on_the_adopted_table_carries_market_and_language() {
    use std::sync::Arc;

    use auth_conformance::otp_scenarios::CapturingSender;
    use auth_core::{CodeSecret, OneTimeCodeConfig, OneTimeCodes, UserClaimColumns};

    let (db, pool) = seeded(SEED_002).await;
    up(&pool).await;
    // The seed's own example user (its generated numbers are not valid NANP numbers).
    exec(
        &pool,
        "UPDATE users SET phone_number = '+13128059851' WHERE id = 1",
    )
    .await;
    let refused = db
        .store()
        .with_user_claim_columns(UserClaimColumns::new(["Market"]).unwrap())
        .await;
    assert!(
        matches!(&refused, Err(Error::MissingUserColumns { table: "users", columns }) if columns == &["Market"]),
        "{refused:?}"
    );
    let store = db
        .store()
        .with_user_claim_columns(UserClaimColumns::new(["market", "language"]).unwrap())
        .await
        .unwrap();
    let sender = Arc::new(CapturingSender::default());
    let spec = KeyringSpec::generate("k1", SigningAlgorithm::EdDSA).unwrap();
    let svc = TokenService::builder(
        store,
        Keyring::from_spec(&spec).unwrap(),
        TokenServiceConfig::new("https://auth.test", "api"),
    )
    .one_time_codes(OneTimeCodes {
        config: OneTimeCodeConfig::default(),
        secret: CodeSecret::new(&[3u8; 32]).unwrap(),
        sender: sender.clone(),
    })
    .build()
    .unwrap();
    let client = ClientInfo::default();
    svc.request_code("+1 312 805 9851", &client).await.unwrap();
    let pair = svc
        .verify_code("+13128059851", &sender.last_code(), &client)
        .await
        .unwrap();
    assert_eq!(pair.user_id, UserId(1), "the existing user is found");
    let auth = svc.authenticate(&pair.access_token).await.unwrap();
    assert_eq!(auth.claim::<String>("market").as_deref(), Some("us"));
    assert_eq!(auth.claim::<String>("language").as_deref(), Some("en"));
    assert_eq!(auth.claim::<String>("country"), None);
    db.teardown().await;
}
