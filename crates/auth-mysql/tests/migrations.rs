//! The schema's life: seed 000's table exactly, the in-place legacy upgrade with real
//! signed JWTs, down to zero and up again, re-runs that do nothing.

use auth_conformance::TestDatabase;
use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{
    ClientInfo, Error, KeyMaterial, Keyring, KeyringSpec, ManualClock, MigrationState, Migrations,
    RevocationMode, SigningAlgorithm, TokenRejection, TokenService, TokenServiceConfig,
};
use auth_mysql::TestDb;
use mysql_async::prelude::Queryable;
use sha2::{Digest, Sha256};

const SEED_VERSION: i64 = 20240227010724;
const ALL_VERSIONS: [i64; 11] = [
    20240227010724,
    20260301000000,
    20260301000001,
    20260301000002,
    20260301000003,
    20260301000004,
    20260301000005,
    20261201120001,
    20261202100000,
    20261202110000,
    20261202130000,
];
const ISSUER: &str = "https://legacy.example";
const AUDIENCE: &str = "legacy-api";

/// `(name, type, nullable, default, extra, comment)` of a table's columns, normalised
/// across MySQL and MariaDB spellings.
async fn columns(
    db: &TestDb,
    table: &str,
) -> Vec<(String, String, String, String, String, String)> {
    let mut conn = db.raw().await;
    let rows: Vec<(String, String, String, Option<String>, String, String)> = conn
        .exec(
            "SELECT column_name, column_type, is_nullable, column_default, extra, column_comment \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? \
             ORDER BY ordinal_position",
            (table,),
        )
        .await
        .expect("columns");
    conn.disconnect().await.expect("disconnect");
    let norm = |s: &str| {
        s.to_lowercase()
            .replace("()", "")
            .replace("default_generated", "")
            .replace("int(10)", "int")
            .trim()
            .to_owned()
    };
    rows.into_iter()
        .map(|(name, ty, null, default, extra, comment)| {
            let default = default
                .map(|d| norm(&d).trim_matches('\'').to_owned())
                .unwrap_or_else(|| "null".into());
            (name, norm(&ty), null, default, norm(&extra), comment)
        })
        .collect()
}

fn col(
    name: &str,
    ty: &str,
    null: &str,
    default: &str,
    extra: &str,
    comment: &str,
) -> (String, String, String, String, String, String) {
    (
        name.into(),
        ty.into(),
        null.into(),
        default.into(),
        extra.into(),
        comment.into(),
    )
}

/// Seed 000's DDL, column by column.
fn seed_columns() -> Vec<(String, String, String, String, String, String)> {
    vec![
        col("id", "int unsigned", "NO", "null", "auto_increment", ""),
        col(
            "user_id",
            "int unsigned",
            "NO",
            "null",
            "",
            "the user id(hybrid.auth_user.id)",
        ),
        col(
            "disabled",
            "tinyint(1)",
            "YES",
            "0",
            "",
            "the token is available or not.",
        ),
        col(
            "access_token",
            "varchar(512)",
            "NO",
            "null",
            "",
            "the jwt access token belong to the user id",
        ),
        col("created_at", "datetime", "NO", "current_timestamp", "", ""),
        col(
            "updated_at",
            "datetime",
            "NO",
            "current_timestamp",
            "on update current_timestamp",
            "",
        ),
    ]
}

/// `SHOW CREATE TABLE` of every table, for before/after comparisons.
async fn schema(db: &TestDb) -> Vec<String> {
    let mut conn = db.raw().await;
    let mut out = Vec::new();
    for table in db.tables().await {
        let row: Option<(String, String)> = conn
            .query_first(format!("SHOW CREATE TABLE `{table}`"))
            .await
            .expect("show");
        // AUTO_INCREMENT counters move with data; the schema is the rest.
        let ddl = row.expect("ddl").1;
        out.push(
            ddl.split(' ')
                .filter(|w| !w.starts_with("AUTO_INCREMENT="))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    conn.disconnect().await.expect("disconnect");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_one_is_seed_000_exactly() {
    let db = TestDb::create_unmigrated().await;
    let applied = db.store().migrate_up_steps(1).await.expect("migration 1");
    assert_eq!(applied, [SEED_VERSION]);
    assert_eq!(
        db.tables().await,
        ["__diesel_schema_migrations", "auth_user_tokens"]
    );
    assert_eq!(columns(&db, "auth_user_tokens").await, seed_columns());
    let status = db.store().migration_status().await.expect("status");
    assert_eq!(status.len(), ALL_VERSIONS.len());
    assert_eq!(
        (
            status[0].version,
            status[0].description.as_str(),
            status[0].state
        ),
        (SEED_VERSION, "met_14854", MigrationState::Applied)
    );
    assert!(
        status[1..]
            .iter()
            .all(|m| m.state == MigrationState::Pending && m.applied_at.is_none())
    );
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_one_adopts_a_table_the_knex_migration_made() {
    let db = TestDb::create_unmigrated().await;
    let mut conn = db.raw().await;
    // What the original 20240227010724_MET-14854.js left behind, with a row in it.
    conn.query_drop(
        "CREATE TABLE auth_user_tokens (
           id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
           user_id INT UNSIGNED NOT NULL COMMENT 'the user id(hybrid.auth_user.id)',
           disabled TINYINT(1) DEFAULT 0 COMMENT 'the token is available or not.',
           access_token VARCHAR(512) NOT NULL COMMENT 'the jwt access token belong to the user id',
           created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
           updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);
         INSERT INTO auth_user_tokens (user_id, access_token) VALUES (7, 'eyJ.legacy.token');",
    )
    .await
    .expect("knex table");
    conn.disconnect().await.expect("disconnect");
    assert_eq!(
        db.store().migrate_up().await.expect("migrations"),
        ALL_VERSIONS
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM auth_user_tokens WHERE access_token IS NULL")
            .await,
        1
    );
    db.teardown().await;
}

/// Seed 002's token shape (no jti, no sid): the upgrade hashes it but it can never authenticate.
fn seed_002_style_token() -> String {
    let claims = serde_json::json!({"user_id": 19, "market": "us", "exp": 1729703400});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"an old secret of the legacy app, long enough"),
    )
    .expect("sign")
}

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

    /// A real access token signed with the keyring's key, as auth-core issues them.
    fn token(&self, user: i64, jti: &str, sid: &str) -> String {
        let KeyMaterial::HmacSecretB64(secret) = &self.spec.keys[0].material else {
            panic!("HS256 key")
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some("legacy-1".into());
        let iat = self.now.unix_timestamp() - 60;
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": user.to_string(), "exp": iat + 900, "iat": iat, "nbf": iat,
            "jti": jti, "sid": sid, "market": "us",
        });
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_base64_secret(secret).expect("secret"),
        )
        .expect("sign")
    }

    fn service(&self, db: &TestDb) -> TokenService<auth_mysql::MySqlTokenStore> {
        let mut cfg = TokenServiceConfig::new(ISSUER, AUDIENCE);
        cfg.revocation_mode = RevocationMode::Allowlist;
        TokenService::builder(
            db.store(),
            Keyring::from_spec(&self.spec).expect("keyring"),
            cfg,
        )
        .clock(ManualClock::new(self.now))
        .build()
        .expect("service")
    }
}

fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_rows_are_hashed_cleared_and_keep_authenticating() {
    let db = TestDb::create_unmigrated().await;
    db.store().migrate_up_steps(1).await.expect("migration 1");
    let legacy = Legacy::new();
    let sid_a = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let sid_d = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let a = legacy.token(19, "jti-a-enabled", sid_a);
    let b = legacy.token(19, "jti-b-disabled", sid_a);
    let c = legacy.token(42, "jti-c-dup-disabled", sid_d);
    let d = legacy.token(42, "jti-d-dup-enabled", sid_d);
    let e = seed_002_style_token();
    let not_a_jwt = "not a jwt at all".to_owned();
    let bad_payload = "eyJhbGciOiJIUzI1NiJ9.____.c2ln".to_owned();
    let rows: Vec<(i64, &str, i32)> = vec![
        (19, &a, 0),
        (19, &b, 1),
        (42, &c, 0),
        (42, &c, 1),
        (42, &d, 0),
        (42, &d, 0),
        (19, &e, 0),
        (19, &not_a_jwt, 0),
        (19, &bad_payload, 0),
    ];
    // As the legacy application wrote them: its own connection, the server's sql_mode.
    let mut conn = db.raw().await;
    for (user, token, disabled) in &rows {
        conn.exec_drop(
            "INSERT INTO auth_user_tokens (user_id, disabled, access_token) VALUES (?, ?, ?)",
            (user, disabled, token),
        )
        .await
        .expect("legacy row");
    }

    let applied = db.store().migrate_up().await.expect("upgrade");
    assert_eq!(applied, ALL_VERSIONS[1..]);
    // The users the tokens belong to.
    conn.exec_drop(
        "INSERT INTO auth_user (id, email, created_at, updated_at) VALUES \
         (19, 'nineteen@example.com', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)), \
         (42, 'fortytwo@example.com', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
        (),
    )
    .await
    .expect("users");

    // No plaintext left anywhere, and none can come back.
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM auth_user_tokens WHERE access_token IS NOT NULL")
            .await,
        0
    );
    let cells = db.dump_cells().await;
    for token in [&a, &b, &c, &d, &e] {
        let signature = token.rsplit('.').next().expect("signature");
        for cell in &cells {
            let text = String::from_utf8_lossy(cell);
            assert!(
                !text.contains(token.as_str()) && !text.contains(signature),
                "a raw token survived the upgrade"
            );
        }
    }
    let plaintext = conn
        .exec_drop(
            "INSERT INTO auth_user_tokens (user_id, access_token) VALUES (19, ?)",
            (&a,),
        )
        .await;
    assert!(
        plaintext.is_err(),
        "the table refuses plaintext tokens from now on"
    );

    // One row per distinct token, under its SHA-256; a disabled duplicate disables it.
    assert_eq!(db.scalar("SELECT COUNT(*) FROM auth_user_tokens").await, 7);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM auth_user_tokens WHERE token_type = 'access'")
            .await,
        7
    );
    for (token, disabled) in [
        (&a, 0),
        (&b, 1),
        (&c, 1),
        (&d, 0),
        (&e, 0),
        (&not_a_jwt, 0),
        (&bad_payload, 0),
    ] {
        let row: Option<(u32, i32)> = conn
            .exec_first(
                "SELECT COUNT(*), MAX(disabled) FROM auth_user_tokens WHERE token_hash = ?",
                (sha256(token),),
            )
            .await
            .expect("by hash");
        assert_eq!(row, Some((1, disabled)), "{token}");
    }
    // Claims copied where the token has them all.
    let typed: Vec<(Vec<u8>, Vec<u8>, String, String)> = conn
        .query(
            "SELECT jti, session_id, DATE_FORMAT(issued_at, '%Y-%m-%d %H:%i:%s'), \
             DATE_FORMAT(expires_at, '%Y-%m-%d %H:%i:%s') FROM auth_user_tokens WHERE jti IS NOT NULL ORDER BY jti",
        )
        .await
        .expect("typed");
    let iat = legacy.now - Duration::seconds(60);
    let fmt = |t: OffsetDateTime| {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    let jtis: Vec<&[u8]> = typed.iter().map(|t| t.0.as_slice()).collect();
    assert_eq!(
        jtis,
        [
            &b"jti-a-enabled"[..],
            b"jti-b-disabled",
            b"jti-c-dup-disabled",
            b"jti-d-dup-enabled"
        ]
    );
    assert_eq!(
        typed[0].1,
        uuid::Uuid::parse_str(sid_a).expect("uuid").as_bytes()
    );
    assert_eq!(
        typed[3].1,
        uuid::Uuid::parse_str(sid_d).expect("uuid").as_bytes()
    );
    assert!(
        typed
            .iter()
            .all(|t| t.2 == fmt(iat) && t.3 == fmt(iat + Duration::seconds(900)))
    );
    // Tokens that can never authenticate expire at once; cleanup will take them.
    assert_eq!(
        db.scalar(
            "SELECT COUNT(*) FROM auth_user_tokens WHERE jti IS NULL AND expires_at = created_at"
        )
        .await,
        3
    );

    // Allowlist mode: the legacy tokens keep working exactly as their rows say.
    let svc = legacy.service(&db);
    let auth_a = svc
        .authenticate(&a)
        .await
        .expect("legacy token A still authenticates");
    assert_eq!(auth_a.user_id.0, 19);
    assert_eq!(auth_a.claim::<String>("market").as_deref(), Some("us"));
    svc.authenticate(&d)
        .await
        .expect("legacy token D still authenticates");
    for disabled in [&b, &c] {
        assert!(matches!(
            svc.authenticate(disabled).await,
            Err(Error::InvalidToken(TokenRejection::NotAllowed))
        ));
    }
    assert!(svc.authenticate(&e).await.is_err());
    // They take part in revocation like tokens the library registered.
    svc.logout(&auth_a, &ClientInfo::default())
        .await
        .expect("logout with a legacy token");
    assert!(matches!(
        svc.authenticate(&a).await,
        Err(Error::InvalidToken(_))
    ));
    assert_eq!(
        db.scalar("SELECT disabled FROM auth_user_tokens WHERE jti = 'jti-a-enabled'")
            .await,
        1
    );
    // And new sessions live beside them.
    let pair = svc
        .start_session(auth_core::UserId(42), &ClientInfo::default())
        .await
        .expect("new session");
    svc.authenticate(&pair.access_token)
        .await
        .expect("new token");
    svc.refresh(pair.refresh_token.expose(), &ClientInfo::default())
        .await
        .expect("refresh");
    conn.disconnect().await.expect("disconnect");
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_to_zero_and_up_again() {
    let db = TestDb::create().await;
    let migrated = schema(&db).await;
    // Data in every table, legacy-shaped rows included.
    let legacy = Legacy::new();
    let svc = legacy.service(&db);
    let uid = svc
        .register("downup@example.com", "a long enough password")
        .await
        .expect("register");
    let pair = svc
        .start_session(uid, &ClientInfo::default())
        .await
        .expect("session");
    svc.refresh(pair.refresh_token.expose(), &ClientInfo::default())
        .await
        .expect("refresh");
    svc.logout_all(uid, &ClientInfo::default())
        .await
        .expect("logout all");
    for table in [
        "auth_user",
        "auth_user_tokens",
        "revoked_tokens",
        "audit_logs",
    ] {
        assert!(
            db.scalar(&format!("SELECT COUNT(*) FROM {table}")).await > 0,
            "{table} has rows"
        );
    }

    // Step by step down to the seed table: it is seed 000's shape again, its rows kept.
    let store = db.store();
    let reverted = store
        .migrate_down(ALL_VERSIONS.len() as u32 - 1)
        .await
        .expect("down to the seed");
    let mut newest_first = ALL_VERSIONS[1..].to_vec();
    newest_first.reverse();
    assert_eq!(reverted, newest_first);
    assert_eq!(
        db.tables().await,
        ["__diesel_schema_migrations", "auth_user_tokens"]
    );
    assert_eq!(columns(&db, "auth_user_tokens").await, seed_columns());
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM auth_user_tokens").await,
        2,
        "access rows stay, refresh rows go"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM auth_user_tokens WHERE access_token = ''")
            .await,
        2
    );

    // Up again over those rows, then all the way down and up once more.
    assert_eq!(store.migrate_up().await.expect("up"), ALL_VERSIONS[1..]);
    assert_eq!(schema(&db).await, migrated);
    let mut all_newest_first = ALL_VERSIONS.to_vec();
    all_newest_first.reverse();
    assert_eq!(
        store
            .migrate_down(ALL_VERSIONS.len() as u32)
            .await
            .expect("down to zero"),
        all_newest_first
    );
    assert_eq!(db.tables().await, ["__diesel_schema_migrations"]);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM __diesel_schema_migrations")
            .await,
        0
    );
    assert_eq!(
        store.migrate_up().await.expect("up from zero"),
        ALL_VERSIONS
    );
    assert_eq!(schema(&db).await, migrated);

    let svc = legacy.service(&db);
    let uid = svc
        .register("again@example.com", "a long enough password")
        .await
        .expect("register");
    let pair = svc
        .start_session(uid, &ClientInfo::default())
        .await
        .expect("session");
    svc.authenticate(&pair.access_token)
        .await
        .expect("authenticate");
    svc.refresh(pair.refresh_token.expose(), &ClientInfo::default())
        .await
        .expect("refresh");
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerunning_migrations_is_a_no_op() {
    let db = TestDb::create().await;
    let legacy = Legacy::new();
    let svc = legacy.service(&db);
    let uid = svc
        .register("rerun@example.com", "a long enough password")
        .await
        .expect("register");
    svc.start_session(uid, &ClientInfo::default())
        .await
        .expect("session");
    let before_schema = schema(&db).await;
    let before_cells = db.dump_cells().await;
    for _ in 0..2 {
        assert!(db.store().migrate_up().await.expect("re-run").is_empty());
    }
    assert_eq!(schema(&db).await, before_schema);
    assert_eq!(db.dump_cells().await, before_cells);
    assert!(
        db.store()
            .migration_status()
            .await
            .expect("status")
            .iter()
            .all(|m| m.state == MigrationState::Applied && m.applied_at.is_some())
    );
    db.teardown().await;
}
