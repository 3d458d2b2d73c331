//! The embedded migrations on real database files: up, down, re-run, status, PRAGMAs.

use auth_core::{MigrationError, MigrationState, Migrations};
use auth_sqlite::SqliteTokenStore;
use auth_sqlite::deadpool_sqlite::rusqlite::{self, Connection};
use tempfile::TempDir;

const TABLES: [&str; 6] = [
    "users",
    "refresh_tokens",
    "revoked_tokens",
    "auth_user_tokens",
    "audit_logs",
    "one_time_codes",
];

/// The table each migration creates or changes, by version (index `version - 1`).
const MIGRATION_TABLES: [&str; 10] = [
    "users",
    "refresh_tokens",
    "revoked_tokens",
    "auth_user_tokens",
    "audit_logs",
    "refresh_tokens",
    "users",
    "one_time_codes",
    "refresh_tokens",
    "refresh_tokens",
];

fn url(path: &std::path::Path) -> String {
    format!("sqlite:{}", path.display())
}

async fn temp_store() -> (TempDir, SqliteTokenStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteTokenStore::connect(&url(&dir.path().join("auth.db")))
        .await
        .expect("pool");
    (dir, store)
}

async fn query<R: Send + 'static>(
    store: &SqliteTokenStore,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
) -> R {
    let conn = store.pool().get().await.expect("connection");
    conn.interact(f).await.expect("task").expect("query")
}

/// Every schema object but SQLite's own bookkeeping, as (type, name, sql).
async fn schema(store: &SqliteTokenStore) -> Vec<(String, String, String)> {
    query(store, |c| {
        c.prepare(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY type, name",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
    })
    .await
}

async fn tables(store: &SqliteTokenStore) -> Vec<String> {
    schema(store)
        .await
        .into_iter()
        .filter(|(ty, ..)| ty == "table")
        .map(|(_, name, _)| name)
        .collect()
}

async fn applied_rows(store: &SqliteTokenStore) -> Vec<(i64, String, Vec<u8>, i64)> {
    query(store, |c| {
        c.prepare(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect()
    })
    .await
}

fn all_versions() -> Vec<i64> {
    (1..=SqliteTokenStore::latest_migration()).collect()
}

#[tokio::test]
async fn up_on_an_empty_file_creates_every_table() {
    let (dir, store) = temp_store().await;
    let status = store.migration_status().await.unwrap();
    assert_eq!(status.len(), MIGRATION_TABLES.len());
    assert!(
        status
            .iter()
            .all(|s| s.state == MigrationState::Pending && s.applied_at.is_none())
    );
    assert!(tables(&store).await.is_empty(), "status changes nothing");

    assert_eq!(store.migrate_up().await.unwrap(), all_versions());
    assert!(dir.path().join("auth.db").exists());
    let mut expected: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(tables(&store).await, expected);
    let indexes: Vec<String> = schema(&store)
        .await
        .into_iter()
        .filter(|(ty, ..)| ty == "index")
        .map(|(_, n, _)| n)
        .collect();
    for index in [
        "refresh_tokens_token_hash_key",
        "refresh_tokens_user_id_idx",
        "refresh_tokens_session_id_idx",
        "refresh_tokens_session_expires_at_idx",
        "revoked_tokens_revoked_at_idx",
        "revoked_tokens_expires_at_idx",
        "auth_user_tokens_expires_at_idx",
        "audit_logs_user_id_created_at_idx",
        "audit_logs_event_type_created_at_idx",
        "refresh_tokens_live_session_key",
    ] {
        assert!(indexes.iter().any(|i| i == index), "index {index} missing");
    }
}

#[tokio::test]
async fn status_reports_each_version() {
    let (_dir, store) = temp_store().await;
    store.migrate_up().await.unwrap();
    let status = store.migration_status().await.unwrap();
    let names: Vec<(i64, &str)> = status
        .iter()
        .map(|s| (s.version, s.description.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (1, "users"),
            (2, "refresh_tokens"),
            (3, "revoked_tokens"),
            (4, "auth_user_tokens"),
            (5, "audit_logs"),
            (6, "one_live_refresh_token_per_session"),
            (7, "users_phone_number"),
            (8, "one_time_codes"),
            (9, "refresh_replay_and_client"),
            (10, "session_device"),
        ]
    );
    assert!(
        status
            .iter()
            .all(|s| s.state == MigrationState::Applied && s.applied_at.is_some())
    );

    store.migrate_down(3).await.unwrap();
    let states: Vec<MigrationState> = store
        .migration_status()
        .await
        .unwrap()
        .iter()
        .map(|s| s.state)
        .collect();
    use MigrationState::{Applied, Pending};
    assert_eq!(
        states,
        [
            Applied, Applied, Applied, Applied, Applied, Applied, Applied, Pending, Pending,
            Pending
        ]
    );
}

#[tokio::test]
async fn rerunning_up_is_a_no_op() {
    let (dir, store) = temp_store().await;
    store.migrate_up().await.unwrap();
    let before = (schema(&store).await, applied_rows(&store).await);
    assert_eq!(store.migrate_up().await.unwrap(), Vec::<i64>::new());
    assert_eq!((schema(&store).await, applied_rows(&store).await), before);

    // Connecting again and migrating changes nothing either.
    let again = SqliteTokenStore::connect(&url(&dir.path().join("auth.db")))
        .await
        .unwrap();
    assert_eq!(again.migrate().await.unwrap(), Vec::<i64>::new());
    assert_eq!((schema(&again).await, applied_rows(&again).await), before);
}

#[tokio::test]
async fn down_to_zero_and_up_again() {
    let (_dir, store) = temp_store().await;
    store.migrate_up().await.unwrap();
    let full = schema(&store).await;

    let mut reverted = all_versions();
    reverted.reverse();
    assert_eq!(store.migrate_down_to(0).await.unwrap(), reverted);
    assert!(
        schema(&store).await.is_empty(),
        "every table and index is gone"
    );
    assert!(applied_rows(&store).await.is_empty());
    assert_eq!(
        store.migrate_down_to(0).await.unwrap(),
        Vec::<i64>::new(),
        "nothing left to revert"
    );

    assert_eq!(store.migrate_up().await.unwrap(), all_versions());
    assert_eq!(
        schema(&store).await,
        full,
        "up after down rebuilds the same schema"
    );
}

#[tokio::test]
async fn each_down_removes_exactly_its_tables() {
    let (_dir, store) = temp_store().await;
    store.migrate_up().await.unwrap();
    // Migration n creates or changes MIGRATION_TABLES[n - 1]; reverting them one at a
    // time removes only that table's objects each time and leaves the others intact.
    for n in (1..=MIGRATION_TABLES.len()).rev() {
        let before = schema(&store).await;
        assert_eq!(store.migrate_down(1).await.unwrap(), vec![n as i64]);
        let after = schema(&store).await;
        let removed: Vec<_> = before.iter().filter(|o| !after.contains(o)).collect();
        assert!(!removed.is_empty());
        for (_, name, sql) in &removed {
            assert!(
                name == MIGRATION_TABLES[n - 1]
                    || sql.contains(&format!("ON {} (", MIGRATION_TABLES[n - 1])),
                "down {n} removed {name}, which is not part of {}",
                MIGRATION_TABLES[n - 1]
            );
        }
        assert!(
            after
                .iter()
                .all(|o| before.contains(o) || o.1 == MIGRATION_TABLES[n - 1]),
            "down {n} created nothing"
        );
    }
    assert!(schema(&store).await.is_empty());
}

#[tokio::test]
async fn down_to_a_version_keeps_it() {
    let (_dir, store) = temp_store().await;
    store.migrate_up().await.unwrap();
    assert_eq!(
        store.migrate_down_to(3).await.unwrap(),
        vec![10, 9, 8, 7, 6, 5, 4]
    );
    assert_eq!(
        tables(&store).await,
        ["refresh_tokens", "revoked_tokens", "users"]
    );
    assert_eq!(
        store.migrate_up().await.unwrap(),
        vec![4, 5, 6, 7, 8, 9, 10]
    );
}

#[tokio::test]
async fn unknown_or_edited_migrations_are_refused() {
    let (_dir, store) = temp_store().await;
    store.migrate_up().await.unwrap();
    query(&store, |c| {
        c.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'future', zeroblob(32), 0)",
            [],
        )
    })
    .await;
    assert!(matches!(
        store.migrate_up().await,
        Err(MigrationError::UnknownApplied { version: 9999 })
    ));
    assert!(matches!(
        store.migrate_down(1).await,
        Err(MigrationError::UnknownApplied { version: 9999 })
    ));
    let last = store.migration_status().await.unwrap().pop().unwrap();
    assert_eq!((last.version, last.state), (9999, MigrationState::Unknown));

    query(&store, |c| {
        c.execute("DELETE FROM schema_migrations WHERE version = 9999", [])?;
        c.execute(
            "UPDATE schema_migrations SET checksum = zeroblob(32) WHERE version = 2",
            [],
        )
    })
    .await;
    assert!(matches!(
        store.migrate_up().await,
        Err(MigrationError::Modified { version: 2 })
    ));
    assert_eq!(
        store.migration_status().await.unwrap()[1].state,
        MigrationState::Modified
    );
    assert_eq!(
        tables(&store).await.len(),
        TABLES.len(),
        "refusals change nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pragmas_are_in_effect_on_every_connection() {
    let (_dir, store) = temp_store().await;
    store.migrate_up().await.unwrap();
    // Hold several connections at once so each is a distinct one (the store may keep
    // the other half of the pool checked out).
    let mut conns = Vec::new();
    for _ in 0..(store.pool().status().max_size / 2).max(2) {
        conns.push(store.pool().get().await.unwrap());
    }
    for conn in &conns {
        let (journal, fk, busy, sync): (String, i64, i64, i64) = conn
            .interact(|c| {
                Ok::<_, rusqlite::Error>((
                    c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                    c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
                    c.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?,
                    c.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
                ))
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(fk, 1);
        assert_eq!(busy, 5000);
        assert_eq!(sync, 1, "synchronous=NORMAL");
    }
}

#[tokio::test]
async fn concurrent_openers_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    let opens = (0..4).map(|_| {
        let path = path.clone();
        tokio::spawn(async move {
            let store = SqliteTokenStore::connect(&url(&path)).await?;
            store.migrate().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
    });
    for open in opens {
        open.await.unwrap().expect("every opener succeeds");
    }
    let store = SqliteTokenStore::connect(&url(&path)).await.unwrap();
    assert_eq!(applied_rows(&store).await.len(), MIGRATION_TABLES.len());
}
