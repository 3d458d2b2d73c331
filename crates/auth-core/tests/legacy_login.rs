//! Login against legacy password hashes through the service over a real SQLite store:
//! success rehashes to the configured PBKDF2 PHC string; an unusable hash or no hash at
//! all refuses the login and leaves the row alone.

use auth_core::{
    ClientInfo, Error, Keyring, KeyringSpec, NewUser, PasswordPolicy, SigningAlgorithm,
    TokenService, TokenServiceConfig, UserDirectory,
};
use auth_sqlite::SqliteTokenStore;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
    refused: Vec<Refused>,
}

#[derive(Deserialize)]
struct Vector {
    family: String,
    password: String,
    wrong_password: String,
    hash: String,
    note: String,
}

#[derive(Deserialize)]
struct Refused {
    hash: String,
}

struct Setup {
    svc: TokenService<SqliteTokenStore>,
    store: SqliteTokenStore,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("auth.db").display());
    let store = SqliteTokenStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let spec = KeyringSpec::generate("k1", SigningAlgorithm::EdDSA).unwrap();
    let mut cfg = TokenServiceConfig::new("https://auth.test", "api");
    cfg.password = PasswordPolicy {
        pbkdf2_rounds: 1_000,
        ..PasswordPolicy::default()
    };
    let svc = TokenService::builder(store.clone(), Keyring::from_spec(&spec).unwrap(), cfg)
        .build()
        .unwrap();
    Setup {
        svc,
        store,
        _dir: dir,
    }
}

async fn user_with_hash(s: &Setup, email: &str, hash: Option<&str>) -> auth_core::UserId {
    s.store
        .create_user(&NewUser {
            email: email.to_owned(),
            password_hash: hash.map(str::to_owned),
            created_at: auth_core::time::OffsetDateTime::now_utc(),
        })
        .await
        .unwrap()
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("fixtures/legacy-hashes/vectors.json")).unwrap()
}

#[tokio::test]
async fn legacy_hash_logins_succeed_once_and_are_rehashed_to_pbkdf2_phc() {
    let s = setup().await;
    let client = ClientInfo::default();
    let mut families = std::collections::BTreeSet::new();
    for (i, v) in vectors()
        .vectors
        .iter()
        .filter(|v| v.note.is_empty())
        .enumerate()
    {
        let email = format!("legacy{i}@example.com");
        let id = user_with_hash(&s, &email, Some(&v.hash)).await;
        let wrong = s.svc.login(&email, &v.wrong_password, &client).await;
        assert!(
            matches!(wrong, Err(Error::InvalidCredentials)),
            "{}",
            v.hash
        );
        let stored = s.store.find_user(id).await.unwrap().unwrap();
        assert_eq!(stored.password_hash.as_deref(), Some(v.hash.as_str()));

        s.svc
            .login(&email, &v.password, &client)
            .await
            .unwrap_or_else(|e| panic!("{} {}: {e}", v.family, v.hash));
        let rehashed = s.store.find_user(id).await.unwrap().unwrap();
        let phc = rehashed.password_hash.unwrap();
        assert!(phc.starts_with("$pbkdf2-sha256$i=1000,l=32$"), "{phc}");
        // The new hash works; the old one is gone.
        s.svc.login(&email, &v.password, &client).await.unwrap();
        assert!(matches!(
            s.svc.login(&email, &v.wrong_password, &client).await,
            Err(Error::InvalidCredentials)
        ));
        families.insert(v.family.clone());
    }
    assert!(families.len() >= 10, "{families:?}");
}

#[tokio::test]
async fn unusable_hashes_refuse_the_login_and_stay_untouched() {
    let s = setup().await;
    let client = ClientInfo::default();
    let password = "correct horse battery staple";
    for (i, r) in vectors().refused.iter().enumerate() {
        let email = format!("refused{i}@example.com");
        let id = user_with_hash(&s, &email, Some(&r.hash)).await;
        let result = s.svc.login(&email, password, &client).await;
        assert!(
            matches!(result, Err(Error::InvalidCredentials)),
            "{:?}",
            r.hash
        );
        let stored = s.store.find_user(id).await.unwrap().unwrap();
        assert_eq!(stored.password_hash.as_deref(), Some(r.hash.as_str()));
    }
}

#[tokio::test]
async fn a_user_without_a_password_cannot_log_in_by_password() {
    let s = setup().await;
    let client = ClientInfo::default();
    user_with_hash(&s, "phone-only@example.com", None).await;
    for attempt in ["", "anything", "dummy password, never matches"] {
        assert!(matches!(
            s.svc
                .login("phone-only@example.com", attempt, &client)
                .await,
            Err(Error::InvalidCredentials)
        ));
    }
}

/// The log line an operator sees for an unusable hash: the user, the family and the
/// reason, never the hash.
#[tokio::test]
async fn an_unusable_hash_is_logged_with_the_user_and_the_reason() {
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = setup().await;
    let hash = "md5$salt$0123456789abcdef0123456789abcdef";
    let id = user_with_hash(&s, "md5@example.com", Some(hash)).await;
    let result = s
        .svc
        .login("md5@example.com", "whatever", &ClientInfo::default())
        .await;
    assert!(matches!(result, Err(Error::InvalidCredentials)));
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("stored password hash is unusable"))
        .unwrap_or_else(|| panic!("no log line in {log}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains(&format!("user_id={}", id.0)), "{line}");
    assert!(line.contains("django") && line.contains("md5"), "{line}");
    assert!(!line.contains("0123456789abcdef"), "{line}");
}
