//! SQLite-only store behaviour: the schema's foreign keys and the connections the
//! store keeps checked out (the shared store contract runs in the conformance suite).

use auth_conformance::fixtures::first_refresh_token;
use auth_conformance::{Table, TestDatabase};
use auth_core::time::OffsetDateTime;
use auth_core::{Error, RefreshTokenStore, UserDirectory, UserId};
use auth_sqlite::TestDb;

#[tokio::test]
async fn foreign_keys_are_enforced() {
    let db = TestDb::create().await;
    let orphan = first_refresh_token(UserId(42), OffsetDateTime::now_utc());
    assert!(matches!(
        db.store().insert_refresh_token(&orphan).await,
        Err(Error::Storage(_))
    ));
    assert_eq!(db.count_rows(Table::RefreshTokens).await, 0);
    db.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_keeps_at_most_half_its_pool_checked_out() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pool = auth_sqlite::SqliteTokenStore::pool_builder(dir.path().join("auth.db"))
        .max_size(4)
        .wait_timeout(Some(std::time::Duration::from_secs(2)))
        .build()
        .expect("pool");
    let store = auth_sqlite::SqliteTokenStore::from_pool(pool);
    store.migrate().await.expect("migrate");
    let user = store
        .create_user(&auth_core::NewUser {
            email: "kept@example.com".into(),
            password_hash: None,
            created_at: OffsetDateTime::now_utc(),
        })
        .await
        .expect("user");
    let token = first_refresh_token(user, OffsetDateTime::now_utc());
    store.insert_refresh_token(&token).await.expect("insert");
    // Concurrent reads and a write, so the store keeps all it may.
    let reads = (0..8).map(|_| {
        let store = store.clone();
        let hash = token.hash;
        tokio::spawn(async move { store.find_refresh_token(&hash).await })
    });
    for read in reads.collect::<Vec<_>>() {
        assert!(read.await.expect("read task").expect("read").is_some());
    }
    let status = store.pool().status();
    assert!(
        status.size - status.available <= 2,
        "the store keeps at most half the pool: {status:?}"
    );
    // The other half is there for code sharing the pool, and the store still reads
    // and writes while it is held.
    let held = [
        store.pool().get().await.expect("first connection"),
        store.pool().get().await.expect("second connection"),
    ];
    let second = first_refresh_token(user, OffsetDateTime::now_utc());
    store.insert_refresh_token(&second).await.expect("write");
    assert!(
        store
            .find_refresh_token(&second.hash)
            .await
            .expect("read")
            .is_some()
    );
    drop(held);
}
