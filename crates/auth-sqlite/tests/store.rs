//! SQLite-only store behaviour: the schema's foreign keys (the shared store contract
//! runs in the conformance suite).

use auth_conformance::fixtures::first_refresh_token;
use auth_conformance::{Table, TestDatabase};
use auth_core::time::OffsetDateTime;
use auth_core::{Error, RefreshTokenStore, UserId};
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
