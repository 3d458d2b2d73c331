//! `authd users import FILE` on each database, through the binary: a first import, a
//! second one that changes nothing, a file with bad rows (reported by line, nothing
//! written), rows already stored with other values, and the imported users' first
//! logins with their legacy hashes.
#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Output};

use auth_conformance::{Table, TestDatabase};
use auth_core::{ADMIN_ROLE, ClientInfo, Keyring, ROLES_CLAIM, SigningAlgorithm, UserDirectory};

const PASSWORD: &str = "correct horse battery staple";
/// Django 5.2's `make_password(PASSWORD)` at 1,000 rounds.
const DJANGO: &str =
    "pbkdf2_sha256$1000$J7h2BEA5jwwed7Jgrwlqk3$+2BpeNgRUJXwhuW1BCFWmkM1uUcX/fJk5ynKEQdKOgs=";
/// Python bcrypt 5.0's `hashpw(PASSWORD, gensalt(4))`.
const BCRYPT: &str = "$2b$04$YiUNqXme/IO8ufZImeXUGeYm51tqujKvlRgJhmgnXWe3oqp4ecVBe";

fn authd(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authd"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("AUTHD_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.args(["--database-url", url])
        .args(args)
        .output()
        .expect("run authd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn import_ok(dir: &Path, url: &str, file: &str) -> String {
    let out = authd(dir, url, &["users", "import", file]);
    assert!(
        out.status.success(),
        "import {file}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

async fn import_scenario<D: TestDatabase>(db: &D, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("users.jsonl"),
        format!(
            "{{\"email\":\"Root@Example.com\",\"password_hash\":\"{DJANGO}\",\"admin\":true}}\n\
             {{\"email\":\"joe@example.com\",\"phone\":\"+44 20 7946 0001\",\"password_hash\":\"{BCRYPT}\"}}\n\
             \n\
             {{\"phone\":\"+13128050001\",\"active\":false}}\n"
        ),
    )
    .unwrap();
    let first = import_ok(d, url, "users.jsonl");
    assert!(
        first.contains("3 row(s): 3 created, 0 already present and unchanged, 0 already present with other values"),
        "{first}"
    );
    assert_eq!(db.count_rows(Table::Users).await, 3);

    let again = import_ok(d, url, "users.jsonl");
    assert!(
        again.contains("3 row(s): 0 created, 3 already present and unchanged, 0"),
        "{again}"
    );
    assert_eq!(
        db.count_rows(Table::Users).await,
        3,
        "a re-import changes nothing"
    );

    std::fs::write(
        d.join("bad.csv"),
        format!(
            "email,phone,password_hash,active,admin\n\
             new1@example.com,,{DJANGO},true,false\n\
             new2@example.com,,md5$abc$def,true,false\n\
             new3@example.com,,,true,false\n\
             NEW1@example.com,,,true,false\n\
             ,,{BCRYPT},true,false\n\
             new4@example.com,+1 555,,,\n\
             new5@example.com,,not-a-hash,true,false\n"
        ),
    )
    .unwrap();
    let out = authd(d, url, &["users", "import", "bad.csv"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for (line, reason) in [
        (3, "unsupported algorithm"),
        (5, "same email as line 2"),
        (6, "a user needs an email or a phone number"),
        (7, "phone"),
        (8, "unrecognised format"),
    ] {
        assert!(
            stderr.contains(&format!("bad.csv:{line}: ")) && stderr.contains(reason),
            "line {line} ({reason}): {stderr}"
        );
    }
    assert!(
        !stderr.contains("bad.csv:2:") && !stderr.contains("bad.csv:4:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("5 bad row(s); nothing was imported"),
        "{stderr}"
    );
    assert_eq!(
        db.count_rows(Table::Users).await,
        3,
        "nothing of the bad file"
    );

    std::fs::write(
        d.join("changed.csv"),
        format!("email,password_hash,admin\nroot@example.com,{DJANGO},false\nann@example.com,,\n"),
    )
    .unwrap();
    let changed = import_ok(d, url, "changed.csv");
    assert!(
        changed.contains("2 row(s): 1 created, 0 already present and unchanged, 1 already present with other values")
            && changed.contains("stored with other values: line(s) 2"),
        "{changed}"
    );

    let settings = authd::Settings {
        database_url: url.to_owned(),
        pbkdf2_rounds: 1_000,
        ..authd::Settings::default()
    };
    let keys = Keyring::generate("import", SigningAlgorithm::EdDSA).unwrap();
    let service = authd::build_service(db.store(), keys, &settings).unwrap();
    let root = service
        .store()
        .find_user_by_email("root@example.com")
        .await
        .unwrap()
        .expect("root imported");
    assert!(root.is_admin && root.is_active, "left as first imported");
    let pair = service
        .login("root@example.com", PASSWORD, &ClientInfo::default())
        .await
        .expect("the Django hash logs in");
    let roles: Option<Vec<String>> = service
        .verify_signature_and_claims(&pair.access_token)
        .unwrap()
        .claim(ROLES_CLAIM);
    assert_eq!(roles, Some(vec![ADMIN_ROLE.to_owned()]));
    service
        .login("joe@example.com", PASSWORD, &ClientInfo::default())
        .await
        .expect("the bcrypt hash logs in");
    let joe = service
        .store()
        .find_user_by_email("joe@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(
        joe.password_hash.unwrap().starts_with("$pbkdf2-sha256$"),
        "rehashed"
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn import_on_sqlite() {
    let db = auth_sqlite::TestDb::create().await;
    import_scenario(&db, &db.url()).await;

    // A long import prints progress lines; the summary still counts every row.
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..6_000)
        .map(|i| format!("{{\"phone\":\"+1312806{i:04}\"}}\n"))
        .collect();
    std::fs::write(dir.path().join("many.jsonl"), rows).unwrap();
    let out = authd(dir.path(), &db.url(), &["users", "import", "many.jsonl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("5000/6000 rows"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("6000 row(s): 6000 created"),
        "{}",
        text(&out.stdout)
    );
    db.teardown().await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn import_on_postgres() {
    let db = auth_postgres::TestDb::create().await;
    let url = db.url().to_owned();
    import_scenario(&db, &url).await;
    db.teardown().await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn import_on_mysql() {
    let db = auth_mysql::TestDb::create().await;
    let url = db.url().to_owned();
    import_scenario(&db, &url).await;
    db.teardown().await;
}
