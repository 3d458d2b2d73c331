//! Upgrading a MySQL/MariaDB deployment that already has a Django `auth_user` (Django 5's
//! schema, 10,000 users generated in SQL, some with seed 000's legacy access tokens), in
//! the store's database or another one on the same server (`hybrid.auth_user`, under a
//! unique name here): up adopts it, old users log in with their Django passwords, new
//! users register, seed 000's legacy tokens are hashed beside it and keep
//! authenticating, down to zero leaves the Django table as it was byte for byte (or
//! refuses with a clear message), and up works again.

use auth_conformance::TestDatabase;
use auth_conformance::harness::{mysql_url, unique_database_name};
use auth_core::time::OffsetDateTime;
use auth_core::{
    AdminChange, ClientInfo, Error, ImportUser, ImportedUser, KeyMaterial, Keyring, KeyringSpec,
    ManualClock, MigrationError, MigrationState, Migrations, PasswordPolicy, PhoneNumber,
    RevocationMode, SigningAlgorithm, TokenService, TokenServiceConfig, UserAdmin,
    UserClaimColumns, UserDirectory, UserId, UserImport,
};
use auth_mysql::{DjangoUsers, MySqlOptions, MySqlTokenStore, TestDb};
use mysql_async::prelude::Queryable;

const USERS: i64 = 10_000;
const ADOPTION: i64 = 20260301000000;
const ISSUER: &str = "https://legacy.example";
const AUDIENCE: &str = "legacy-api";

/// Django 5's `auth_user`, as `manage.py sqlmigrate auth` leaves it on MySQL.
const DJANGO_AUTH_USER: &str = "CREATE TABLE `auth_user` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, \
    `password` varchar(128) NOT NULL, `last_login` datetime(6) NULL, `is_superuser` bool NOT NULL, \
    `username` varchar(150) NOT NULL UNIQUE, `first_name` varchar(150) NOT NULL, \
    `last_name` varchar(150) NOT NULL, `email` varchar(254) NOT NULL, `is_staff` bool NOT NULL, \
    `is_active` bool NOT NULL, `date_joined` datetime(6) NOT NULL) DEFAULT CHARSET=utf8mb4";

/// Seed 000's table as the knex migration made it.
const SEED_000_TOKENS: &str = "CREATE TABLE auth_user_tokens (
    id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    user_id INT UNSIGNED NOT NULL COMMENT 'the user id(hybrid.auth_user.id)',
    disabled TINYINT(1) DEFAULT 0 COMMENT 'the token is available or not.',
    access_token VARCHAR(512) NOT NULL COMMENT 'the jwt access token belong to the user id',
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)";

/// The users with a Django hash of [`PASSWORD`] made by Django itself, by family.
const VECTOR_USERS: [(i64, &str); 4] = [
    (1, "django-pbkdf2-sha256"),
    (2, "django-argon2"),
    (3, "django-bcrypt-sha256"),
    (4, "django-pbkdf2-sha1"),
];
const PASSWORD: &str = "correct horse battery staple";

/// A Django hash of [`PASSWORD`] from the committed vectors.
fn vector(family: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(include_str!(
        "../../auth-core/tests/fixtures/legacy-hashes/vectors.json"
    ))
    .expect("vectors");
    v["vectors"]
        .as_array()
        .expect("array")
        .iter()
        .find(|v| v["family"] == family && v["note"] == "" && v["password"] == PASSWORD)
        .and_then(|v| v["hash"].as_str())
        .expect("a vector of the family")
        .to_owned()
}

/// 10,000 Django users: ids 1..=10000 (email `user<id>@example.com`, every 7th none),
/// every tenth inactive, every 100th (+5) staff, every 500th (+6) superuser, every 50th
/// with an unusable password, every 5th never logged in, 9999 and 10000 sharing an
/// email; ids 1..=4 hold Django's own hashes of [`PASSWORD`], the rest look like them.
fn django_users_sql(table: &str) -> String {
    let digits = "(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 \
                  UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 \
                  UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let hashes: Vec<String> = VECTOR_USERS
        .iter()
        .map(|(id, family)| format!("WHEN {id} THEN '{}'", vector(family)))
        .collect();
    format!(
        "INSERT INTO {table} (id, password, last_login, is_superuser, username, first_name, \
           last_name, email, is_staff, is_active, date_joined)
         SELECT g,
                CASE g {hashes}
                  ELSE IF(g % 50 = 0, CONCAT('!', LEFT(SHA2(g, 256), 40)),
                          CONCAT('pbkdf2_sha256$870000$', LEFT(SHA2(CONCAT('salt', g), 256), 22), '$',
                                 TO_BASE64(UNHEX(SHA2(g, 256))))) END,
                IF(g % 5 = 0, NULL, TIMESTAMP '2025-10-23 16:25:00.123456' + INTERVAL g MINUTE),
                g % 500 = 6, CONCAT('user', g), IF(g % 3 = 0, '', CONCAT('First', g)),
                CONCAT('Last', g),
                CASE WHEN g >= 9999 THEN 'shared@example.com' WHEN g % 7 = 0 THEN ''
                     ELSE CONCAT('user', g, '@example.com') END,
                g % 100 = 5, g % 10 <> 0,
                TIMESTAMP '2019-01-01 00:00:00.654321' + INTERVAL (g * 17) MINUTE
           FROM (SELECT a.n + 10 * b.n + 100 * c.n + 1000 * d.n + 1 AS g
                   FROM {digits} a, {digits} b, {digits} c, {digits} d) AS s
          ORDER BY g",
        hashes = hashes.join(" ")
    )
}

/// Where the Django table lives for one test.
struct Django {
    /// The database holding it: the test's own, or the "hybrid" one.
    schema: String,
    /// A database of its own (the hybrid case), dropped at the end.
    hybrid: bool,
    server: String,
}

impl Django {
    fn quoted(&self) -> String {
        format!("`{}`.`auth_user`", self.schema)
    }

    fn setting(&self) -> DjangoUsers {
        let name = if self.hybrid {
            format!("{}.auth_user", self.schema)
        } else {
            "auth_user".to_owned()
        };
        DjangoUsers::parse(&name).expect("a valid name")
    }

    async fn admin(&self) -> mysql_async::Conn {
        mysql_async::Conn::from_url(&self.server)
            .await
            .expect("connect")
    }

    async fn drop_hybrid(&self) {
        if self.hybrid {
            let mut admin = self.admin().await;
            admin
                .query_drop(format!("DROP DATABASE `{}`", self.schema))
                .await
                .expect("DROP DATABASE");
            admin.disconnect().await.expect("disconnect");
        }
    }
}

impl Drop for Django {
    fn drop(&mut self) {
        if !self.hybrid || !std::thread::panicking() {
            return;
        }
        // A failed test still drops the hybrid database.
        let (server, name) = (self.server.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = mysql_async::Conn::from_url(&server).await.ok()?;
                admin
                    .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await
                    .ok()?;
                admin.disconnect().await.ok()
            })
        })
        .join();
    }
}

fn database_of(url: &str) -> String {
    url.rsplit('/')
        .next()
        .and_then(|rest| rest.split('?').next())
        .expect("a database in the URL")
        .to_owned()
}

/// A test database with a Django `auth_user` of 10,000 users in it, or beside it in a
/// database of its own (`hybrid`).
async fn seeded(hybrid: bool) -> (TestDb, Django) {
    let db = TestDb::create_unmigrated().await;
    let (server, _) = mysql_url().await;
    let django = if hybrid {
        let name = unique_database_name("auth_hybrid");
        let mut admin = mysql_async::Conn::from_url(&server).await.expect("admin");
        admin
            .query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .await
            .expect("CREATE DATABASE");
        admin.disconnect().await.expect("disconnect");
        Django {
            schema: name,
            hybrid: true,
            server,
        }
    } else {
        Django {
            schema: database_of(db.url()),
            hybrid: false,
            server,
        }
    };
    let mut conn = django.admin().await;
    conn.query_drop(format!("USE `{}`", django.schema))
        .await
        .expect("use");
    conn.query_drop(DJANGO_AUTH_USER)
        .await
        .expect("Django table");
    conn.query_drop(django_users_sql(&django.quoted()))
        .await
        .expect("Django users");
    conn.disconnect().await.expect("disconnect");
    (db, django)
}

async fn store(db: &TestDb, django: &Django) -> MySqlTokenStore {
    let mut options = MySqlOptions::new(db.url());
    options.users_table = Some(django.setting());
    MySqlTokenStore::connect_with(&options)
        .await
        .expect("connect")
}

/// `SHOW CREATE TABLE`, `CHECKSUM TABLE` and every row (as SQL literals) of the Django table.
async fn snapshot(django: &Django) -> (String, u64, Vec<String>) {
    let mut conn = django.admin().await;
    let table = django.quoted();
    let ddl: (String, String) = conn
        .query_first(format!("SHOW CREATE TABLE {table}"))
        .await
        .expect("show")
        .expect("a table");
    let checksum: (String, Option<u64>) = conn
        .query_first(format!("CHECKSUM TABLE {table}"))
        .await
        .expect("checksum")
        .expect("a row");
    let rows: Vec<mysql_async::Row> = conn
        .query(format!("SELECT * FROM {table} ORDER BY id"))
        .await
        .expect("rows");
    conn.disconnect().await.expect("disconnect");
    let rows = rows
        .into_iter()
        .map(|row| {
            row.unwrap()
                .into_iter()
                .map(|v| v.as_sql(true))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    (ddl.1, checksum.1.expect("a checksum"), rows)
}

/// The legacy application's signing key and its access tokens (seed 000's rows).
struct Legacy {
    spec: KeyringSpec,
    now: OffsetDateTime,
}

impl Legacy {
    fn new() -> Self {
        let now = OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp())
            .expect("now");
        Self {
            spec: KeyringSpec::generate("legacy-1", SigningAlgorithm::HS256).expect("key"),
            now,
        }
    }

    fn token(&self, user: i64) -> String {
        let KeyMaterial::HmacSecretB64(secret) = &self.spec.keys[0].material else {
            panic!("HS256 key")
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some("legacy-1".into());
        let iat = self.now.unix_timestamp() - 60;
        let sid = format!("00000000-0000-4000-8000-{user:012}");
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": user.to_string(), "exp": iat + 900,
            "iat": iat, "nbf": iat, "jti": format!("legacy-{user}"), "sid": sid,
        });
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_base64_secret(secret).expect("secret"),
        )
        .expect("sign")
    }

    fn service(&self, store: MySqlTokenStore) -> TokenService<MySqlTokenStore> {
        let mut cfg = TokenServiceConfig::new(ISSUER, AUDIENCE);
        cfg.revocation_mode = RevocationMode::Allowlist;
        cfg.password = PasswordPolicy {
            pbkdf2_rounds: 1_000,
            ..PasswordPolicy::default()
        };
        TokenService::builder(store, Keyring::from_spec(&self.spec).expect("keyring"), cfg)
            .clock(ManualClock::new(self.now))
            .build()
            .expect("service")
    }
}

/// The users with seed 000 tokens: every 40th active user.
fn token_holders() -> Vec<i64> {
    (1..=USERS).filter(|id| id % 40 == 1).collect()
}

/// Seed 000's table in the store's database, with one plaintext JWT per token holder.
async fn seed_000_tokens(db: &TestDb, legacy: &Legacy) {
    let mut conn = db.raw().await;
    conn.query_drop(SEED_000_TOKENS).await.expect("seed 000");
    for chunk in token_holders().chunks(100) {
        let values: Vec<String> = chunk
            .iter()
            .map(|id| format!("({id}, 0, '{}')", legacy.token(*id)))
            .collect();
        conn.query_drop(format!(
            "INSERT INTO auth_user_tokens (user_id, disabled, access_token) VALUES {}",
            values.join(", ")
        ))
        .await
        .expect("legacy tokens");
    }
    conn.disconnect().await.expect("disconnect");
}

/// Down to zero through the store's migrations contract.
async fn undo_all(store: &MySqlTokenStore) -> Result<Vec<i64>, MigrationError> {
    let applied = store
        .migration_status()
        .await?
        .iter()
        .filter(|s| s.state != MigrationState::Pending)
        .count();
    store.migrate_down(applied as u32).await
}

/// The upgraded legacy tokens authenticate, and the token table still joins to Django's.
async fn legacy_tokens_work(
    db: &TestDb,
    django: &Django,
    svc: &TokenService<MySqlTokenStore>,
    legacy: &Legacy,
) {
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM auth_user_tokens WHERE access_token IS NOT NULL")
            .await,
        0,
        "no plaintext token is left"
    );
    let joined = db
        .scalar(&format!(
            "SELECT COUNT(*) FROM auth_user_tokens t JOIN {} u ON u.id = t.user_id \
             WHERE t.token_type = 'access'",
            django.quoted()
        ))
        .await;
    assert_eq!(joined, token_holders().len() as u64);
    for id in [1, 41, 4001, 9961] {
        let who = svc
            .authenticate(&legacy.token(id))
            .await
            .expect("legacy token");
        assert_eq!(who.user_id, UserId(id));
    }
}

/// Old users log in with their Django passwords (rehashed on success), Django's flags
/// read as the store's, new users register as valid Django rows.
async fn old_and_new_users_work(
    store: &MySqlTokenStore,
    django: &Django,
    svc: &TokenService<MySqlTokenStore>,
) {
    let client = ClientInfo::default();
    for (id, family) in VECTOR_USERS {
        let email = format!("user{id}@example.com");
        svc.login(&email, PASSWORD, &client)
            .await
            .unwrap_or_else(|e| panic!("{family}: {e:?}"));
        let user = store.find_user(UserId(id)).await.unwrap().unwrap();
        let hash = user.password_hash.expect("a hash");
        assert!(
            hash.starts_with("$pbkdf2-sha256$"),
            "{family} rehashed: {hash}"
        );
        assert!(user.last_login.is_some());
        svc.login(&email, PASSWORD, &client).await.expect("again");
    }
    assert!(matches!(
        svc.login("user1@example.com", "wrong password", &client)
            .await,
        Err(Error::InvalidCredentials)
    ));
    // Mixed case as Django stores it; the login's normalised email finds it.
    let mut conn = django.admin().await;
    conn.query_drop(format!(
        "UPDATE {} SET email = 'Mixed.Case@Example.com', password = '{}' WHERE id = 21",
        django.quoted(),
        vector("django-pbkdf2-sha256")
    ))
    .await
    .expect("mixed case");
    svc.login("mixed.case@example.com", PASSWORD, &client)
        .await
        .expect("case-insensitive email");
    // Flags: staff and superusers are admins, is_active is honoured, '!' is no password,
    // an email two users share logs nobody in.
    assert!(
        store
            .find_user(UserId(105))
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    assert!(store.find_user(UserId(6)).await.unwrap().unwrap().is_admin);
    assert!(!store.find_user(UserId(7)).await.unwrap().unwrap().is_admin);
    assert!(
        !store
            .find_user(UserId(10))
            .await
            .unwrap()
            .unwrap()
            .is_active
    );
    assert_eq!(
        store
            .find_user(UserId(50))
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        None
    );
    assert_eq!(
        store.find_user(UserId(14)).await.unwrap().unwrap().email,
        None
    );
    assert!(
        store
            .find_user_by_email("shared@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        svc.start_session(UserId(10), &client).await,
        Err(Error::InvalidCredentials)
    ));

    let new_id = svc
        .register("new-user@example.com", "a new password")
        .await
        .expect("register");
    assert!(new_id.0 > USERS);
    svc.login("new-user@example.com", "a new password", &client)
        .await
        .expect("new user logs in");
    for taken in [
        "NEW-user@example.com",
        "user2@example.com",
        "shared@example.com",
    ] {
        assert!(
            matches!(
                svc.register(taken, "another password").await,
                Err(Error::EmailTaken)
            ),
            "{taken}"
        );
    }
    let row: (String, String, String, String, bool, bool, bool) = conn
        .query_first(format!(
            "SELECT username, first_name, last_name, email, is_staff, is_superuser, is_active \
             FROM {} WHERE id = {}",
            django.quoted(),
            new_id.0
        ))
        .await
        .expect("new row")
        .expect("a row");
    assert_eq!(
        row,
        (
            "new-user@example.com".to_owned(),
            String::new(),
            String::new(),
            "new-user@example.com".to_owned(),
            false,
            false,
            true
        )
    );
    // Logout-all writes the added tokens_valid_after; deactivation Django's is_active.
    let pair = svc
        .start_session(UserId(41), &client)
        .await
        .expect("session");
    svc.logout_all(UserId(41), &client)
        .await
        .expect("logout all");
    assert!(svc.authenticate(&pair.access_token).await.is_err());
    assert!(
        svc.set_user_active(UserId(42), false)
            .await
            .expect("disable")
    );
    let active: Option<bool> = conn
        .query_first(format!(
            "SELECT is_active FROM {} WHERE id = 42",
            django.quoted()
        ))
        .await
        .expect("is_active");
    assert_eq!(active, Some(false));
    conn.disconnect().await.expect("disconnect");
}

async fn adopts_and_works(hybrid: bool) {
    let (db, django) = seeded(hybrid).await;
    let legacy = Legacy::new();
    seed_000_tokens(&db, &legacy).await;
    let store = store(&db, &django).await;
    let applied = store.migrate_up().await.expect("up");
    assert!(
        applied.contains(&ADOPTION) && applied.len() > 5,
        "{applied:?}"
    );
    let tables = db.tables().await;
    assert_eq!(
        tables.iter().any(|t| t == "auth_user"),
        !hybrid,
        "the store's database gets no users table of its own: {tables:?}"
    );
    let svc = legacy.service(store.clone());
    legacy_tokens_work(&db, &django, &svc, &legacy).await;
    old_and_new_users_work(&store, &django, &svc).await;
    let users = db
        .scalar(&format!("SELECT COUNT(*) FROM {}", django.quoted()))
        .await;
    assert_eq!(users as i64, USERS + 1);
    assert!(store.migrate_up().await.expect("up again").is_empty());
    django.drop_hybrid().await;
    db.teardown().await;
}

async fn down_restores_and_up_works_again(hybrid: bool) {
    let (db, django) = seeded(hybrid).await;
    let original = snapshot(&django).await;
    let legacy = Legacy::new();
    seed_000_tokens(&db, &legacy).await;
    let store = store(&db, &django).await;
    store.migrate_up().await.expect("up");
    assert_ne!(snapshot(&django).await.0, original.0, "up added columns");
    // Sessions of old users, so down has token and revocation rows to remove.
    let svc = legacy.service(store.clone());
    for id in token_holders().into_iter().step_by(10) {
        let pair = svc
            .start_session(UserId(id), &ClientInfo::default())
            .await
            .expect("session");
        svc.logout(
            &svc.authenticate(&pair.access_token).await.unwrap(),
            &ClientInfo::default(),
        )
        .await
        .expect("logout");
    }
    undo_all(&store).await.expect("down to zero");
    assert_eq!(
        snapshot(&django).await,
        original,
        "the Django table is as it was"
    );
    let left: Vec<String> = db
        .tables()
        .await
        .into_iter()
        .filter(|t| !t.starts_with("__diesel"))
        .collect();
    let expected: &[&str] = if hybrid { &[] } else { &["auth_user"] };
    assert_eq!(left, expected);
    store.migrate_up().await.expect("up again");
    old_and_new_users_work(&store, &django, &svc).await;
    django.drop_hybrid().await;
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_database_up_adopts_django_auth_user_beside_the_seed_000_token_upgrade() {
    adopts_and_works(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_database_up_adopts_django_auth_user_beside_the_seed_000_token_upgrade() {
    adopts_and_works(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_database_down_to_zero_restores_django_auth_user_byte_for_byte_and_up_works_again() {
    down_restores_and_up_works_again(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_database_down_to_zero_restores_django_auth_user_byte_for_byte_and_up_works_again() {
    down_restores_and_up_works_again(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_refuses_while_an_index_added_since_covers_an_added_column() {
    let (db, django) = seeded(false).await;
    let original = snapshot(&django).await;
    let store = store(&db, &django).await;
    store.migrate_up().await.expect("up");
    let mut conn = django.admin().await;
    let add = format!(
        "CREATE INDEX app_phone_email ON {} (phone_number, email)",
        django.quoted()
    );
    conn.query_drop(add)
        .await
        .expect("an index of the application");
    let err = undo_all(&store).await.expect_err("down refuses");
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
    let message = error_chain(&err);
    assert!(
        message.contains("refusing to revert the adoption of table")
            && message.contains("app_phone_email"),
        "{message}"
    );
    let procedures: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = DATABASE()",
        )
        .await
        .expect("routines");
    assert_eq!(
        procedures,
        Some(0),
        "a refused down leaves no procedure behind"
    );
    // Up re-applies what was reverted; once the index is gone, down completes.
    let reapplied = store.migrate_up().await.expect("up after a refusal");
    assert!(
        !reapplied.is_empty() && !reapplied.contains(&ADOPTION),
        "{reapplied:?}"
    );
    conn.query_drop(format!("DROP INDEX app_phone_email ON {}", django.quoted()))
        .await
        .expect("drop index");
    conn.disconnect().await.expect("disconnect");
    undo_all(&store).await.expect("down to zero");
    assert_eq!(snapshot(&django).await, original);
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_setting_an_existing_auth_user_stops_the_upgrade_with_a_message() {
    let (db, django) = seeded(false).await;
    let original = snapshot(&django).await;
    let err = db.store().migrate_up().await.expect_err("up stops");
    let message = error_chain(&err);
    assert!(
        message.contains("already has one") && message.contains("users_table"),
        "{message}"
    );
    assert_eq!(snapshot(&django).await, original);
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_table_that_is_not_django_shaped_stops_the_upgrade_before_any_change() {
    let db = TestDb::create_unmigrated().await;
    let mut conn = db.raw().await;
    conn.query_drop(
        "CREATE TABLE accounts (id INT AUTO_INCREMENT PRIMARY KEY, password VARCHAR(128) NOT NULL, \
         email VARCHAR(254) NOT NULL, is_active TINYINT(1) NOT NULL, date_joined DATE NOT NULL)",
    )
    .await
    .expect("table");
    let before: (String, String) = conn
        .query_first("SHOW CREATE TABLE accounts")
        .await
        .expect("show")
        .expect("row");
    let mut options = MySqlOptions::new(db.url());
    options.users_table = Some("accounts".parse().expect("a name"));
    let store = MySqlTokenStore::connect_with(&options)
        .await
        .expect("store");
    let message = error_chain(&store.migrate_up().await.expect_err("up stops"));
    assert!(
        message.contains("cannot adopt table")
            && message.contains("is_superuser (missing")
            && message.contains("date_joined (date"),
        "{message}"
    );
    let after: (String, String) = conn
        .query_first("SHOW CREATE TABLE accounts")
        .await
        .expect("show")
        .expect("row");
    assert_eq!(after, before);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM auth_schema_adoptions")
            .await,
        0
    );
    conn.disconnect().await.expect("disconnect");
    assert!(DjangoUsers::parse("a.b.c").is_err() && DjangoUsers::parse("x`y").is_err());
    db.teardown().await;
}

/// An error and its sources, one per line.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push('\n');
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_admin_and_phone_lookup_work_on_the_adopted_django_table() {
    let (db, django) = seeded(false).await;
    let store = store(&db, &django).await;
    store.migrate_up().await.expect("up");
    let at = OffsetDateTime::now_utc();
    let imported = ImportUser::new(
        Some("imported@example.com"),
        Some("+13128050001"),
        Some(&vector("django-pbkdf2-sha256")),
        true,
        true,
    )
    .expect("a valid row");
    let existing =
        ImportUser::new(Some("user1@example.com"), None, None, true, false).expect("a valid row");
    let batch = UserImport {
        users: vec![imported, existing],
        at,
    };
    let outcome = store.import_users(&batch).await.expect("import");
    let ImportedUser::Created(id) = outcome[0] else {
        panic!("the new user is created: {outcome:?}");
    };
    assert!(
        matches!(&outcome[1], ImportedUser::Existing(u) if u.id == UserId(1)),
        "{outcome:?}"
    );
    // A valid Django row: username from the email, staff for admin.
    let mut conn = django.admin().await;
    let row: (String, String, bool, bool, bool, Option<String>) = conn
        .query_first(format!(
            "SELECT username, email, is_staff, is_superuser, is_active, phone_number FROM {} WHERE id = {}",
            django.quoted(),
            id.0
        ))
        .await
        .expect("select")
        .expect("the row");
    assert_eq!(
        row,
        (
            "imported@example.com".to_owned(),
            "imported@example.com".to_owned(),
            true,
            false,
            true,
            Some("+13128050001".to_owned())
        )
    );
    // Importing the same batch again creates nothing.
    let again = store.import_users(&batch).await.expect("import again");
    assert!(
        again.iter().all(|u| matches!(u, ImportedUser::Existing(_))),
        "{again:?}"
    );
    let phone = PhoneNumber::parse("+13128050001").expect("phone");
    let found = store.find_user_by_phone(&phone).await.expect("lookup");
    assert_eq!(found.map(|u| (u.id, u.is_admin)), Some((id, true)));
    // Withdrawing admin clears is_staff and is_superuser (user 6 is a superuser).
    let change = |user, admin| AdminChange {
        user,
        admin,
        at,
        event_expires_at: at + auth_core::time::Duration::days(1),
    };
    assert!(
        store
            .set_user_admin(&change(UserId(6), false))
            .await
            .unwrap()
    );
    assert!(!store.find_user(UserId(6)).await.unwrap().unwrap().is_admin);
    assert!(
        store
            .set_user_admin(&change(UserId(7), true))
            .await
            .unwrap()
    );
    assert!(store.find_user(UserId(7)).await.unwrap().unwrap().is_admin);
    assert!(
        !store
            .set_user_admin(&change(UserId(99_999), true))
            .await
            .unwrap()
    );
    // Claim columns are the store's own table's: refused here, by name.
    let err = store
        .clone()
        .with_user_claim_columns(UserClaimColumns::new(["first_name"]).unwrap())
        .await
        .expect_err("claim columns on a Django table");
    assert!(
        error_chain(&err).contains("not supported on the adopted Django table"),
        "{}",
        error_chain(&err)
    );
    conn.disconnect().await.expect("disconnect");
    db.teardown().await;
}
