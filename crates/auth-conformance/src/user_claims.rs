//! User columns as access-token claims (seed 002's `market`), one `pub async fn` each,
//! run by [`conformance_tests!`](crate::conformance_tests) on every backend: the
//! configured columns' values in tokens of every sign-in, their JSON types, current
//! values after a refresh, and the refusals (bad names, reserved names, missing
//! columns).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use auth_core::{
    ClientInfo, CodeSecret, Error, Keyring, OneTimeCodeConfig, OneTimeCodes, RevocationMode,
    TokenPair, TokenService, TokenStore, UserClaimColumns, UserDirectory,
};
use serde_json::{Value, json};

use crate::database::{Table, TestDatabase, UserColumnType};
use crate::otp_scenarios::CapturingSender;
use crate::scenarios::{PASSWORD, clock, config, keyring_spec};

const PHONE: &str = "+13128059851";
const OTHER_PHONE: &str = "+996555123456";
const EMAIL: &str = "market@example.com";

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 12))),
        user_agent: Some("conformance-claims/1.0".into()),
        ..Default::default()
    }
}

fn columns(names: &[&str]) -> UserClaimColumns {
    UserClaimColumns::new(names).expect("valid column names")
}

/// Seed 002's users columns: `market` (text, default `kg`) and `tier` (an integer,
/// NULL by default).
async fn add_seed_columns<D: TestDatabase>(db: &D) {
    db.add_user_column("market", UserColumnType::Text, Some(json!("kg")))
        .await;
    db.add_user_column("tier", UserColumnType::Integer, None)
        .await;
}

struct Signer<S: TokenStore> {
    svc: TokenService<S>,
    sender: Arc<CapturingSender>,
}

/// A service over `store` that signs in by password and by phone code.
fn signer<S: TokenStore>(store: S) -> Signer<S> {
    let sender = Arc::new(CapturingSender::default());
    let svc = TokenService::builder(
        store,
        Keyring::from_spec(&keyring_spec()).unwrap(),
        config(RevocationMode::UserState),
    )
    .clock(clock())
    .one_time_codes(OneTimeCodes {
        config: OneTimeCodeConfig::default(),
        secret: CodeSecret::new(&[7u8; 32]).unwrap(),
        sender: sender.clone(),
    })
    .build()
    .unwrap();
    Signer { svc, sender }
}

impl<S: TokenStore> Signer<S> {
    async fn by_phone(&self, phone: &str) -> TokenPair {
        self.svc.request_code(phone, &client()).await.unwrap();
        let code = self.sender.last_code();
        self.svc.verify_code(phone, &code, &client()).await.unwrap()
    }

    /// The access token's claim `name` (`None` if absent, `Some(Null)` if null).
    async fn claim(&self, pair: &TokenPair, name: &str) -> Option<Value> {
        let auth = self.svc.authenticate(&pair.access_token).await.unwrap();
        auth.claim::<Value>(name)
    }
}

#[track_caller]
fn assert_refused_name<T: std::fmt::Debug>(result: auth_core::Result<T>) {
    match result {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "user_claim_columns"),
        other => panic!("expected InvalidInput(user_claim_columns), got {other:?}"),
    }
}

/// Configured columns become claims of the tokens of a phone-code sign-in and of a
/// password login, with their JSON types (string, number, null); a refresh reads the
/// user again, so its token carries the current values.
pub async fn user_columns_become_claims<D: TestDatabase>(db: &D) {
    add_seed_columns(db).await;
    let store = db
        .store_with_user_claim_columns(columns(&["market", "tier"]))
        .await
        .expect("the columns exist");
    assert_eq!(
        store.user_claim_columns().names().collect::<Vec<_>>(),
        ["market", "tier"]
    );
    let f = signer(store.clone());

    // Phone sign-in creates the user: the column defaults (seed 002's `kg`, NULL).
    let first = f.by_phone(PHONE).await;
    assert_eq!(f.claim(&first, "market").await, Some(json!("kg")));
    assert_eq!(f.claim(&first, "tier").await, Some(Value::Null));

    // The application changes the user's market; a refresh carries the new value.
    db.set_user_column(first.user_id, "market", json!("us"))
        .await;
    db.set_user_column(first.user_id, "tier", json!(3)).await;
    let refreshed = f
        .svc
        .refresh(first.refresh_token.expose(), &client())
        .await
        .unwrap();
    assert_eq!(f.claim(&refreshed, "market").await, Some(json!("us")));
    assert_eq!(f.claim(&refreshed, "tier").await, Some(json!(3)));
    let user = store.find_user(first.user_id).await.unwrap().unwrap();
    assert_eq!(
        Value::Object(user.column_claims),
        json!({"market": "us", "tier": 3})
    );

    // Password login reads the same columns.
    let uid = f.svc.register(EMAIL, PASSWORD).await.unwrap();
    db.set_user_column(uid, "market", json!("kz")).await;
    let login = f.svc.login(EMAIL, PASSWORD, &client()).await.unwrap();
    assert_eq!(login.user_id, uid);
    assert_eq!(f.claim(&login, "market").await, Some(json!("kz")));
    assert_eq!(f.claim(&login, "tier").await, Some(Value::Null));
    let auth = f.svc.authenticate(&login.access_token).await.unwrap();
    assert_eq!(auth.claims.sub, uid.to_string());

    // An unconfigured column of the table stays out of tokens.
    db.add_user_column("language", UserColumnType::Text, Some(json!("ru")))
        .await;
    let again = f.svc.login(EMAIL, PASSWORD, &client()).await.unwrap();
    assert_eq!(f.claim(&again, "language").await, None);
    assert_eq!(f.claim(&again, "market").await, Some(json!("kz")));
}

/// Without configured columns no column becomes a claim, though the table has them.
pub async fn unconfigured_user_columns_give_no_claim<D: TestDatabase>(db: &D) {
    add_seed_columns(db).await;
    let unconfigured = [
        db.store(),
        db.store_with_user_claim_columns(UserClaimColumns::default())
            .await
            .unwrap(),
    ];
    for (store, phone) in unconfigured.into_iter().zip([PHONE, OTHER_PHONE]) {
        assert!(store.user_claim_columns().is_empty());
        let f = signer(store.clone());
        let pair = f.by_phone(phone).await;
        db.set_user_column(pair.user_id, "market", json!("us"))
            .await;
        let refreshed = f
            .svc
            .refresh(pair.refresh_token.expose(), &client())
            .await
            .unwrap();
        for token in [&pair, &refreshed] {
            assert_eq!(f.claim(token, "market").await, None);
            assert_eq!(f.claim(token, "tier").await, None);
        }
        let user = store.find_user(pair.user_id).await.unwrap().unwrap();
        assert!(user.column_claims.is_empty());
    }
}

/// A name that is not a plain SQL identifier is refused before any store sees it,
/// with the typed error, and nothing in the database changes.
pub async fn invalid_user_column_names_are_refused<D: TestDatabase>(db: &D) {
    add_seed_columns(db).await;
    let f = signer(db.store());
    f.by_phone(PHONE).await;
    let before = (db.count_rows(Table::Users).await, db.dump_cells().await);
    for bad in [
        r#"market", (SELECT password_hash FROM users LIMIT 1), "x"#,
        "market`) ; DROP TABLE users; --",
        "market'",
        "1market",
        "mar ket",
    ] {
        assert_refused_name(UserClaimColumns::new([bad]));
        assert_refused_name(UserClaimColumns::parse(&format!("market,{bad},tier")));
    }
    assert_refused_name(UserClaimColumns::new([""]));
    assert_refused_name(UserClaimColumns::parse("market,Market"));
    assert_eq!(
        (db.count_rows(Table::Users).await, db.dump_cells().await),
        before,
        "nothing was written"
    );
    // The store still reads the users table as before.
    assert!(
        f.svc
            .store()
            .find_user_by_email(EMAIL)
            .await
            .unwrap()
            .is_none()
    );
}

/// A configured column the users table lacks is refused when the store is configured,
/// naming each missing column; the store is not built.
pub async fn missing_user_columns_are_refused<D: TestDatabase>(db: &D) {
    let missing = |result: auth_core::Result<D::Store>| match result {
        Err(Error::MissingUserColumns { table, columns }) => {
            assert!(!table.is_empty());
            columns
        }
        Err(other) => panic!("expected MissingUserColumns, got {other:?}"),
        Ok(_) => panic!("expected MissingUserColumns, the store was built"),
    };
    let refused = db.store_with_user_claim_columns(columns(&["market"])).await;
    assert_eq!(missing(refused), ["market"]);
    db.add_user_column("market", UserColumnType::Text, None)
        .await;
    let refused = db
        .store_with_user_claim_columns(columns(&["market", "language", "tier"]))
        .await;
    assert_eq!(missing(refused), ["language", "tier"]);
    let users = db.count_rows(Table::Users).await;
    assert_eq!(users, 0, "nothing was written");
    assert!(
        db.store_with_user_claim_columns(columns(&["market"]))
            .await
            .is_ok()
    );
}

/// A user column cannot stand in for a claim the library sets (or a column it reads),
/// even when the table has a column of that name; an application's claims provider
/// comes after the columns and cannot override reserved claims either.
pub async fn user_columns_never_override_reserved_claims<D: TestDatabase>(db: &D) {
    db.add_user_column("scope", UserColumnType::Text, Some(json!("admin")))
        .await;
    db.add_user_column("market", UserColumnType::Text, Some(json!("kg")))
        .await;
    for reserved in [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "typ",
        "client_id",
        "scope",
        "sid",
        "SUB",
        "cnf",
        "password_hash",
        "is_admin",
        "id",
    ] {
        assert_refused_name(UserClaimColumns::new(["market", reserved]));
    }
    let store = db
        .store_with_user_claim_columns(columns(&["market"]))
        .await
        .unwrap();
    let svc = TokenService::builder(
        store,
        Keyring::from_spec(&keyring_spec()).unwrap(),
        config(RevocationMode::UserState),
    )
    .clock(clock())
    .claims(|user| {
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), json!("spoofed"));
        claims.insert("scope".into(), json!("admin"));
        claims.insert("region".into(), user.column_claims["market"].clone());
        claims
    })
    .build()
    .unwrap();
    let uid = svc.register(EMAIL, PASSWORD).await.unwrap();
    let pair = svc.login(EMAIL, PASSWORD, &client()).await.unwrap();
    let auth = svc.authenticate(&pair.access_token).await.unwrap();
    assert_eq!(auth.claims.sub, uid.to_string());
    assert_eq!(auth.claim::<Value>("scope"), None);
    assert_eq!(auth.claim::<String>("market").as_deref(), Some("kg"));
    assert_eq!(
        auth.claim::<String>("region").as_deref(),
        Some("kg"),
        "the provider sees the columns"
    );
}
