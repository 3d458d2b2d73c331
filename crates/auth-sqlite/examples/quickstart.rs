//! Quickstart: the whole token lifecycle over a SQLite file, printed step by step.
//!
//! `cargo run -p auth-sqlite --example quickstart`
//!
//! Uses a temporary database file, a freshly generated EdDSA key and a `TokenService`
//! in Denylist mode. Password hashing is PBKDF2-SHA256 with 100,000 rounds here, only
//! so the unoptimised debug build runs in about a second: the library default, and what a
//! service should keep, is `auth_core::DEFAULT_PBKDF2_ROUNDS` (600,000).

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr};

use auth_core::{
    AuditKind, AuditLog, ClientInfo, Error, Keyring, PasswordPolicy, RefreshRejection,
    RevocationMode, SigningAlgorithm, TokenService, TokenServiceConfig,
};
use auth_sqlite::SqliteTokenStore;

/// The first characters of a secret, enough to tell tokens apart on screen.
fn preview(secret: &str) -> String {
    format!("{}…", secret.chars().take(12).collect::<String>())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn StdError>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("quickstart.db");
    let store = SqliteTokenStore::connect(&format!("sqlite:{}", path.display())).await?;
    store.migrate().await?;
    println!(
        "1. opened {} (migrated to version {})",
        path.display(),
        SqliteTokenStore::latest_migration()
    );

    let keys = Keyring::generate("quickstart-1", SigningAlgorithm::EdDSA)?;
    let mut config = TokenServiceConfig::new("https://auth.example.test", "example-api");
    config.revocation_mode = RevocationMode::Denylist;
    // Example only (fast debug runs); keep the 600,000-round default in a real service.
    config.password = PasswordPolicy {
        pbkdf2_rounds: 100_000,
        ..PasswordPolicy::default()
    };
    let svc = TokenService::builder(store.clone(), keys, config).build()?;
    let client = ClientInfo {
        ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        user_agent: Some("quickstart/1.0".into()),
        ..Default::default()
    };
    println!(
        "2. token service ready: EdDSA key `quickstart-1`, Denylist mode, PBKDF2 with 100,000 rounds"
    );

    let user = svc
        .register("alice@example.com", "correct horse battery staple")
        .await?;
    println!("3. registered alice@example.com as user {user}");

    let login = svc
        .login("alice@example.com", "correct horse battery staple", &client)
        .await?;
    println!(
        "4. logged in: session {}, access token {} (expires in {} s), refresh token {}",
        login.session_id,
        preview(&login.access_token),
        login.expires_in,
        preview(login.refresh_token.expose())
    );

    let auth = svc.authenticate(&login.access_token).await?;
    println!(
        "5. authenticated the access token: user {}, session {}",
        auth.user_id, auth.claims.sid
    );

    let refreshed = svc.refresh(login.refresh_token.expose(), &client).await?;
    println!(
        "6. refreshed: new access token {}, new refresh token {}; the old refresh token is now rotated",
        preview(&refreshed.access_token),
        preview(refreshed.refresh_token.expose())
    );

    match svc.refresh(login.refresh_token.expose(), &client).await {
        Err(Error::InvalidGrant(RefreshRejection::Reused)) => {
            println!("7. presented the old refresh token again: refused as reuse (theft signal)")
        }
        other => return Err(format!("expected reuse to be detected, got {other:?}").into()),
    }
    let sessions = svc.list_sessions(user).await?;
    let attack = store
        .recent_audit(Some(user), 10)
        .await?
        .into_iter()
        .find(|r| r.event.kind == AuditKind::TokenReuseAttack);
    let new_access = svc.authenticate(&refreshed.access_token).await;
    println!(
        "8. session revoked: {} live sessions left; newest access token {}; audit row {}",
        sessions.len(),
        match &new_access {
            Ok(_) => "still accepted (unexpected)".to_owned(),
            Err(e) => format!("refused ({e})"),
        },
        match &attack {
            Some(row) => format!(
                "{} #{} {}",
                row.event.kind.as_str(),
                row.id,
                row.event.details
            ),
            None => "missing (unexpected)".to_owned(),
        }
    );
    if !sessions.is_empty() || new_access.is_ok() || attack.is_none() {
        return Err("reuse did not revoke the session".into());
    }

    let again = svc
        .login("alice@example.com", "correct horse battery staple", &client)
        .await?;
    let auth = svc.authenticate(&again.access_token).await?;
    println!(
        "9. logged in again: session {}, access token accepted",
        again.session_id
    );

    svc.logout(&auth, &client).await?;
    match svc.authenticate(&again.access_token).await {
        Err(e) => println!("10. logged out: the access token is refused ({e})"),
        Ok(_) => return Err("the access token was accepted after logout".into()),
    }
    match svc.refresh(again.refresh_token.expose(), &client).await {
        Err(e) => println!("11. and its refresh token too ({e})"),
        Ok(_) => return Err("the refresh token was accepted after logout".into()),
    }
    Ok(())
}
