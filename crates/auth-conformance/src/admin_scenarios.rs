//! Admin users and the internal surface through [`TokenService`]: the `roles` claim,
//! who passes [`TokenService::require_admin`] and when a change takes effect, imported
//! users' first logins, and audit-log paging (ARCHITECTURE.md, "Admin users").

use auth_core::time::Duration;
use auth_core::{
    ADMIN_ROLE, AuditKind, AuditQuery, ClientInfo, Error, ImportUser, ImportedUser, ROLES_CLAIM,
    RevocationMode, TokenPair, TokenService, TokenStore, UserDirectory, UserId, UserLookup,
};

use crate::database::TestDatabase;
use crate::scenarios::{config, fixture};

/// The password of every legacy vector below.
const LEGACY_PASSWORD: &str = "correct horse battery staple";

/// Hashes of [`LEGACY_PASSWORD`] made by each format's own library (the vectors of
/// auth-core's `tests/fixtures/legacy-hashes/`).
const LEGACY_HASHES: [(&str, &str); 5] = [
    (
        "django-pbkdf2-sha256",
        "pbkdf2_sha256$1000$J7h2BEA5jwwed7Jgrwlqk3$+2BpeNgRUJXwhuW1BCFWmkM1uUcX/fJk5ynKEQdKOgs=",
    ),
    (
        "werkzeug-pbkdf2",
        "pbkdf2:sha256:1000$I3V28ildofXyUot4$be4cb90756f915f0732f41bc24eb18aececf5434b2046008aeeb9ac231b23d5c",
    ),
    (
        "passlib-pbkdf2",
        "$pbkdf2-sha256$1000$7H0vJeR8z9m7NwYgBOCc0w$mic7qgTh6AeJeanc5FQ/41fgawErgmdwKhiQ7d18hf0",
    ),
    (
        "bcrypt",
        "$2b$04$YiUNqXme/IO8ufZImeXUGeYm51tqujKvlRgJhmgnXWe3oqp4ecVBe",
    ),
    (
        "django-argon2",
        "argon2$argon2id$v=19$m=256,t=1,p=2$R0JTRktlNXhBZUlOS0hKNDJIVEZ5NA$AOQl0Gk+36dBLb59ahhoQrP3n6Y8i9oRwZ9KFtTztcA",
    ),
];

fn client() -> ClientInfo {
    ClientInfo::default()
}

/// Imports users with [`LEGACY_HASHES`]'s first hash, one per `(email, admin)`.
async fn import<S: TokenStore>(svc: &TokenService<S>, users: &[(&str, bool)]) -> Vec<UserId> {
    let rows = users
        .iter()
        .map(|(email, admin)| {
            ImportUser::new(Some(email), None, Some(LEGACY_HASHES[0].1), true, *admin)
                .expect("a valid row")
        })
        .collect();
    svc.import_users(rows)
        .await
        .expect("import")
        .into_iter()
        .map(|o| match o {
            ImportedUser::Created(id) => id,
            ImportedUser::Existing(u) => panic!("{:?} was already stored", u.email),
        })
        .collect()
}

async fn roles<S: TokenStore>(svc: &TokenService<S>, pair: &TokenPair) -> Option<Vec<String>> {
    svc.verify_signature_and_claims(&pair.access_token)
        .expect("a valid token")
        .claim(ROLES_CLAIM)
}

/// An admin's access tokens carry `roles: ["admin"]`, at login and at every refresh,
/// and pass `require_admin`; anyone else's carry no `roles` claim and are refused with
/// [`Error::Forbidden`].
pub async fn admin_tokens_carry_the_admin_role_and_others_none<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::UserState));
    let [admin, _] = import(
        &f.svc,
        &[("root@example.com", true), ("joe@example.com", false)],
    )
    .await[..] else {
        unreachable!()
    };
    let admin_pair = f
        .svc
        .login("root@example.com", LEGACY_PASSWORD, &client())
        .await
        .expect("admin login");
    assert_eq!(admin_pair.user_id, admin);
    assert_eq!(
        roles(&f.svc, &admin_pair).await,
        Some(vec![ADMIN_ROLE.to_owned()])
    );
    let auth = f.svc.authenticate(&admin_pair.access_token).await.unwrap();
    assert_eq!(f.svc.require_admin(&auth).await.unwrap().id, admin);

    f.clock.advance(Duration::seconds(5));
    let refreshed = f
        .svc
        .refresh(admin_pair.refresh_token.expose(), &client())
        .await
        .expect("refresh");
    assert_eq!(
        roles(&f.svc, &refreshed).await,
        Some(vec![ADMIN_ROLE.to_owned()])
    );

    let joe = f
        .svc
        .login("joe@example.com", LEGACY_PASSWORD, &client())
        .await
        .expect("login");
    assert_eq!(roles(&f.svc, &joe).await, None, "no roles claim at all");
    let auth = f.svc.authenticate(&joe.access_token).await.unwrap();
    assert!(matches!(
        f.svc.require_admin(&auth).await,
        Err(Error::Forbidden)
    ));
    f.clock.advance(Duration::seconds(5));
    let joe = f
        .svc
        .refresh(joe.refresh_token.expose(), &client())
        .await
        .unwrap();
    assert_eq!(roles(&f.svc, &joe).await, None);
}

/// `require_admin` reads the user at each request: a demoted admin's token, which
/// still says `admin`, is refused at once, and the next refresh issues no role; a
/// deactivated admin is refused even where the token itself is still accepted
/// (Stateless mode). Promotion shows at the next issue.
pub async fn a_demoted_or_disabled_admin_is_refused_at_the_next_request<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::Stateless));
    let [admin, other] = import(
        &f.svc,
        &[("root@example.com", true), ("ann@example.com", false)],
    )
    .await[..] else {
        unreachable!()
    };
    let pair = f
        .svc
        .login("root@example.com", LEGACY_PASSWORD, &client())
        .await
        .unwrap();
    let auth = f.svc.authenticate(&pair.access_token).await.unwrap();
    f.svc.require_admin(&auth).await.expect("an admin");

    assert!(f.svc.set_user_admin(admin, false).await.unwrap());
    assert_eq!(
        roles(&f.svc, &pair).await,
        Some(vec![ADMIN_ROLE.to_owned()])
    );
    assert!(matches!(
        f.svc.require_admin(&auth).await,
        Err(Error::Forbidden)
    ));
    f.clock.advance(Duration::seconds(5));
    let demoted = f
        .svc
        .refresh(pair.refresh_token.expose(), &client())
        .await
        .unwrap();
    assert_eq!(roles(&f.svc, &demoted).await, None);

    assert!(f.svc.set_user_admin(admin, true).await.unwrap());
    f.clock.advance(Duration::seconds(5));
    let promoted = f
        .svc
        .refresh(demoted.refresh_token.expose(), &client())
        .await
        .unwrap();
    assert_eq!(
        roles(&f.svc, &promoted).await,
        Some(vec![ADMIN_ROLE.to_owned()])
    );
    let auth = f.svc.authenticate(&promoted.access_token).await.unwrap();
    f.svc.require_admin(&auth).await.expect("an admin again");

    assert!(f.svc.set_user_active(admin, false).await.unwrap());
    f.svc
        .authenticate(&promoted.access_token)
        .await
        .expect("Stateless accepts it");
    assert!(matches!(
        f.svc.require_admin(&auth).await,
        Err(Error::Forbidden)
    ));
    assert!(
        !f.svc
            .set_user_admin(UserId(other.0 + 100), true)
            .await
            .unwrap()
    );
}

/// An imported user logs in with the password of its imported hash, whatever the
/// format, and that hash is replaced by a current PBKDF2 PHC string; a wrong password
/// is refused. The admin lookups find imported users by email, phone and id.
pub async fn imported_users_log_in_with_their_legacy_hashes<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::UserState));
    let rows: Vec<ImportUser> = LEGACY_HASHES
        .iter()
        .enumerate()
        .map(|(i, (_, hash))| {
            let email = format!("legacy{i}@example.com");
            let phone = format!("+131280501{i:02}");
            ImportUser::new(Some(&email), Some(&phone), Some(hash), true, false).unwrap()
        })
        .collect();
    let outcome = f.svc.import_users(rows).await.unwrap();
    assert_eq!(outcome.len(), LEGACY_HASHES.len());
    let store = f.svc.store();
    for (i, (family, hash)) in LEGACY_HASHES.iter().enumerate() {
        let email = format!("legacy{i}@example.com");
        let ImportedUser::Created(id) = outcome[i] else {
            panic!("{family}: not created");
        };
        let stored = store.find_user(id).await.unwrap().unwrap();
        assert_eq!(
            stored.password_hash.as_deref(),
            Some(*hash),
            "{family}: stored as given"
        );
        let wrong = f.svc.login(&email, "not the password", &client()).await;
        assert!(matches!(wrong, Err(Error::InvalidCredentials)), "{family}");
        let pair = f.svc.login(&email, LEGACY_PASSWORD, &client()).await;
        assert_eq!(pair.expect(family).user_id, id);
        let rehashed = store
            .find_user(id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();
        assert!(
            rehashed.starts_with("$pbkdf2-sha256$"),
            "{family}: rehashed to {rehashed}"
        );
        assert!(!f.svc.config().password.needs_rehash(&rehashed), "{family}");

        let by_phone =
            UserLookup::Phone(auth_core::PhoneNumber::parse(&format!("+131280501{i:02}")).unwrap());
        let by_email = UserLookup::Email(email.to_uppercase());
        for lookup in [UserLookup::Id(id), by_email, by_phone] {
            let found = f.svc.find_user_by(&lookup).await.unwrap();
            assert_eq!(found.map(|u| u.id), Some(id), "{lookup:?}");
        }
    }
    let nobody = UserLookup::Email("nobody@example.com".into());
    assert_eq!(f.svc.find_user_by(&nobody).await.unwrap(), None);
}

/// `audit_log` pages through a filter newest first: each page holds at most `limit`
/// rows and names the `before_id` of the next; the last page names none.
pub async fn audit_log_pages_through_a_filter<D: TestDatabase>(db: &D) {
    let f = fixture(db.store(), config(RevocationMode::UserState));
    let [uid] = import(&f.svc, &[("pages@example.com", false)]).await[..] else {
        unreachable!()
    };
    for _ in 0..5 {
        f.clock.advance(Duration::seconds(1));
        let failed = f.svc.login("pages@example.com", "wrong", &client()).await;
        assert!(failed.is_err());
    }
    f.svc
        .login("pages@example.com", LEGACY_PASSWORD, &client())
        .await
        .unwrap();
    let mut query = AuditQuery {
        user: Some(uid),
        kind: Some(AuditKind::LoginFailed),
        limit: 2,
        ..AuditQuery::default()
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = f.svc.audit_log(&query).await.unwrap();
        pages += 1;
        assert!(page.records.len() <= 2);
        seen.extend(
            page.records
                .iter()
                .map(|r| (r.id, r.event.kind, r.event.at)),
        );
        match page.next_before {
            Some(before) => query.before_id = Some(before),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|(_, k, _)| *k == AuditKind::LoginFailed));
    assert!(seen.windows(2).all(|w| w[0].0 > w[1].0 && w[0].2 > w[1].2));
    let unbounded = AuditQuery {
        limit: 0,
        ..AuditQuery::recent(Some(uid), 0)
    };
    assert_eq!(
        f.svc.audit_log(&unbounded).await.unwrap().records.len(),
        1,
        "limit 0 reads 1"
    );
}
