//! Upgrading SQLite databases that already have a `users` table (DESIGN.md section 8):
//! seed 002's phone users and seed 004's `users (id, username, created_at)` in SQLite's
//! dialect, 10,000 rows each. Up adopts the table, old and new users work, down to zero
//! restores the original table byte for byte (or refuses with a clear message when it
//! cannot), and up works again. Seed 004's four go/no-go gates are named tests.

use auth_core::{
    ClientInfo, Error, Keyring, KeyringSpec, MigrationError, MigrationState, Migrations,
    PasswordPolicy, SigningAlgorithm, TokenService, TokenServiceConfig, UserDirectory, UserId,
};
use auth_sqlite::SqliteTokenStore;
use auth_sqlite::deadpool_sqlite::rusqlite::{self, Connection};
use tempfile::TempDir;

const USERS: i64 = 10_000;

/// Seed 002's table in SQLite's dialect (SERIAL is an INTEGER PRIMARY KEY), 10,000 phone
/// users as the Python application wrote them (text timestamps): every tenth logged out,
/// every 97th with is_active NULL.
const SEED_002: &str = "
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    phone_number VARCHAR(20) UNIQUE NOT NULL,
    full_name VARCHAR(255),
    profile_image_url VARCHAR(500),
    is_active BOOLEAN DEFAULT TRUE,
    is_verified BOOLEAN DEFAULT FALSE,
    last_login TIMESTAMP,
    market VARCHAR(10) DEFAULT 'kg',
    language VARCHAR(10) DEFAULT 'ru',
    country VARCHAR(100) DEFAULT 'Kyrgyzstan',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
INSERT INTO users (phone_number, full_name, profile_image_url, is_active, is_verified,
                   last_login, market, language, country, created_at, updated_at)
SELECT '+1312' || printf('%07d', n),
       CASE WHEN n % 7 = 0 THEN NULL ELSE 'User ' || n END,
       CASE WHEN n % 3 = 0 THEN 'https://cdn.example/u/' || n || '.jpg' END,
       CASE WHEN n % 97 = 0 THEN NULL WHEN n % 10 = 0 THEN FALSE ELSE TRUE END,
       n % 4 <> 0,
       CASE WHEN n % 5 = 0 THEN NULL
            ELSE strftime('%Y-%m-%d %H:%M:%f', '2025-10-23 16:25:00.123', '+' || n || ' minutes') END,
       CASE n % 3 WHEN 0 THEN 'kg' WHEN 1 THEN 'us' ELSE 'kz' END,
       CASE n % 3 WHEN 0 THEN 'ru' WHEN 1 THEN 'en' ELSE 'ky' END,
       CASE n % 3 WHEN 0 THEN 'Kyrgyzstan' WHEN 1 THEN 'United States' ELSE 'Kazakhstan' END,
       datetime('2025-01-01 00:00:00', '+' || (n * 17) || ' minutes'),
       datetime('2025-06-01 00:00:00', '+' || (n * 3) || ' minutes')
  FROM g;
";

/// Seed 004's table before its phase 3 (SQLAlchemy's `id, username, created_at`).
const SEED_004: &str = "
CREATE TABLE users (
    id INTEGER NOT NULL,
    username VARCHAR(80) NOT NULL,
    created_at DATETIME NOT NULL DEFAULT (CURRENT_TIMESTAMP),
    PRIMARY KEY (id),
    UNIQUE (username)
);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10000)
INSERT INTO users (username, created_at)
SELECT 'user_' || n, datetime('2024-03-01 08:00:00', '+' || (n * 3601) || ' seconds') FROM g;
";

async fn query<R: Send + 'static>(
    store: &SqliteTokenStore,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
) -> R {
    let conn = store.pool().get().await.expect("connection");
    conn.interact(f).await.expect("task").expect("query")
}

async fn exec(store: &SqliteTokenStore, sql: &'static str) {
    query(store, move |c| c.execute_batch(sql)).await;
}

async fn seeded(seed: &'static str) -> (TempDir, SqliteTokenStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite:{}", dir.path().join("legacy.db").display());
    let store = SqliteTokenStore::connect(&url).await.expect("store");
    exec(&store, seed).await;
    (dir, store)
}

/// The users table's definition (its `sqlite_schema` rows: table and indexes) and
/// every row, each cell `quote()`d.
async fn users_snapshot(store: &SqliteTokenStore) -> (Vec<String>, Vec<String>) {
    query(store, |c| {
        let definition: Vec<String> = c
            .prepare(
                "SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema \
                 WHERE tbl_name = 'users' ORDER BY type, name",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let columns: Vec<String> = c
            .prepare("SELECT name FROM pragma_table_info('users') ORDER BY cid")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let cells: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
        let rows: Vec<String> = c
            .prepare(&format!(
                "SELECT {} FROM users ORDER BY id",
                cells.join(" || '|' || ")
            ))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok((definition, rows))
    })
    .await
}

async fn tables(store: &SqliteTokenStore) -> Vec<String> {
    query(store, |c| {
        c.prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> 'schema_migrations' ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect()
    })
    .await
}

fn service(store: SqliteTokenStore) -> TokenService<SqliteTokenStore> {
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

/// A Django PBKDF2 hash of "correct horse battery staple", made by Django itself.
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

/// Down to zero through the store's migrations contract.
async fn undo_all(store: &SqliteTokenStore) -> Result<Vec<i64>, MigrationError> {
    let applied = store
        .migration_status()
        .await?
        .iter()
        .filter(|s| s.state != MigrationState::Pending)
        .count();
    store.migrate_down(applied as u32).await
}

/// Old users keep working (sessions by id, as the SMS flow does; a legacy hash given to
/// one logs in and is rehashed), new users register by email.
async fn old_and_new_users_work(store: &SqliteTokenStore) {
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
    query(store, move |c| {
        c.execute(
            "UPDATE users SET email = 'old-user@example.com', password_hash = ?1 WHERE id = 11",
            [hash],
        )
    })
    .await;
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

#[tokio::test]
async fn seed_002_up_adopts_the_phone_users_table_and_old_and_new_users_work() {
    let (_dir, store) = seeded(SEED_002).await;
    store.migrate_up().await.expect("up");
    assert_eq!(users_snapshot(&store).await.1.len() as i64, USERS);
    // NULL is_active reads as inactive; legacy text last_login as a time.
    let user = store.find_user(UserId(97)).await.unwrap().unwrap();
    assert!(!user.is_active, "NULL is_active reads as inactive");
    assert!(matches!(
        service(store.clone())
            .start_session(UserId(97), &ClientInfo::default())
            .await,
        Err(Error::InvalidCredentials)
    ));
    let user = store.find_user(UserId(1)).await.unwrap().unwrap();
    assert_eq!(
        user.last_login.map(|t| t.unix_timestamp()),
        Some(1_761_236_760),
        "2025-10-23 16:26:00 UTC"
    );
    old_and_new_users_work(&store).await;
    let before = users_snapshot(&store).await;
    assert!(store.migrate_up().await.expect("up again").is_empty());
    assert_eq!(users_snapshot(&store).await, before);
}

#[tokio::test]
async fn seed_002_down_to_zero_restores_the_table_byte_for_byte_and_up_works_again() {
    let (_dir, store) = seeded(SEED_002).await;
    let original = users_snapshot(&store).await;
    store.migrate_up().await.expect("up");
    let svc = service(store.clone());
    for id in (1..=USERS).step_by(500) {
        if id % 10 != 0 && id % 97 != 0 {
            svc.start_session(UserId(id), &ClientInfo::default())
                .await
                .unwrap();
        }
    }
    assert_ne!(users_snapshot(&store).await.0, original.0);
    undo_all(&store).await.expect("down to zero");
    assert_eq!(users_snapshot(&store).await, original);
    assert_eq!(tables(&store).await, ["users"]);
    store.migrate_up().await.expect("up again");
    old_and_new_users_work(&store).await;
}

#[tokio::test]
async fn seed_002_down_refuses_while_email_users_have_no_phone_number() {
    let (_dir, store) = seeded(SEED_002).await;
    let original = users_snapshot(&store).await;
    store.migrate_up().await.expect("up");
    let id = service(store.clone())
        .register("no-phone@example.com", "a new password")
        .await
        .unwrap();
    let err = undo_all(&store).await.expect_err("down must refuse");
    assert!(
        matches!(err, MigrationError::Refused { version: 1, .. }),
        "{err:?}"
    );
    let message = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(
        message.contains("refusing to revert the adoption of table users")
            && message.contains("phone_number"),
        "{message}"
    );
    // Nothing was lost; up re-applies what was reverted; without the user, down completes.
    let reapplied = store.migrate_up().await.expect("up after a refusal");
    assert!(
        !reapplied.is_empty() && !reapplied.contains(&1),
        "{reapplied:?}"
    );
    query(&store, move |c| {
        c.execute("DELETE FROM users WHERE id = ?1", [id.0])
    })
    .await;
    undo_all(&store).await.expect("down to zero");
    assert_eq!(users_snapshot(&store).await, original);
}

#[tokio::test]
async fn seed_004_gate_upgrade_works_on_a_fresh_db() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("fresh.db").display());
    let store = SqliteTokenStore::connect(&url).await.unwrap();
    store.migrate_up().await.expect("up");
    let svc = service(store.clone());
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
    assert!(
        !tables(&store)
            .await
            .contains(&"auth_schema_adoptions".to_owned()),
        "a fresh database adopts nothing"
    );
}

#[tokio::test]
async fn seed_004_gate_upgrade_works_on_a_prod_like_dump() {
    let (_dir, store) = seeded(SEED_004).await;
    store.migrate_up().await.expect("up");
    let added: Vec<String> = query(&store, |c| {
        c.prepare("SELECT object_kind || ' ' || object_name FROM auth_schema_adoptions ORDER BY 1")?
            .query_map([], |r| r.get(0))?
            .collect()
    })
    .await;
    assert!(added.contains(&"column email".to_owned()), "{added:?}");
    assert!(
        added.contains(&"not_null_dropped username".to_owned()),
        "{added:?}"
    );
    assert!(!added.iter().any(|a| a == "column created_at"), "{added:?}");
    let active: i64 = query(&store, |c| {
        c.query_row(
            "SELECT count(*) FROM users WHERE username LIKE 'user_%' AND is_active",
            [],
            |r| r.get(0),
        )
    })
    .await;
    assert_eq!(active, USERS, "existing users are kept and active");
}

#[tokio::test]
async fn seed_004_gate_all_tests_pass_with_new_schema() {
    let (_dir, store) = seeded(SEED_004).await;
    store.migrate_up().await.expect("up");
    old_and_new_users_work(&store).await;
    let svc = service(store.clone());
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
    assert_eq!(svc.logout_all(UserId(1), &client).await.unwrap(), 2);
    assert!(
        svc.refresh(pair.refresh_token.expose(), &client)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn seed_004_gate_migration_can_be_rolled_back_cleanly() {
    let (_dir, store) = seeded(SEED_004).await;
    let original = users_snapshot(&store).await;
    store.migrate_up().await.expect("up");
    let id = service(store.clone())
        .register("late@example.com", "a new password")
        .await
        .unwrap();
    let err = undo_all(&store).await.expect_err("down refuses");
    let message = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(message.contains("1 row(s) have no username"), "{message}");
    query(&store, move |c| {
        c.execute("UPDATE users SET username = 'late' WHERE id = ?1", [id.0])
    })
    .await;
    undo_all(&store).await.expect("down to zero");
    let (definition, rows) = users_snapshot(&store).await;
    assert_eq!(definition, original.0);
    assert_eq!(&rows[..original.1.len()], &original.1[..]);
    assert_eq!(rows.len(), original.1.len() + 1);
    assert_eq!(tables(&store).await, ["users"]);
    store.migrate_up().await.expect("up again");
    assert!(store.migrate_up().await.expect("and again").is_empty());
}
