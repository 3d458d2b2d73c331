//! A fresh PostgreSQL database per test: created on the server the conformance harness
//! resolves (env URL, local default, testcontainers, else a loud failure) and dropped
//! with `WITH (FORCE)` at teardown.
#![allow(dead_code)]

use auth_conformance::harness::{postgres_url, unique_database_name};
use auth_conformance::{Table, TestDatabase};
use auth_postgres::PgTokenStore;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Row};

/// One test's database.
#[derive(Debug)]
pub struct PgTestDb {
    name: String,
    options: PgConnectOptions,
    store: PgTokenStore,
}

pub async fn admin_connection() -> PgConnection {
    let (url, source) = postgres_url().await;
    PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!("cannot connect to the test PostgreSQL server ({source:?}) at {url}: {e}")
    })
}

pub async fn admin_execute(sql: String) {
    let mut conn = admin_connection().await;
    sqlx::query(AssertSqlSafe(sql.clone()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
    let _ = conn.close().await;
}

impl PgTestDb {
    /// A new, empty database without the schema.
    pub async fn create_unmigrated() -> Self {
        let name = unique_database_name("auth_test");
        admin_execute(format!(r#"CREATE DATABASE "{name}""#)).await;
        let (url, _) = postgres_url().await;
        let options: PgConnectOptions = url.parse().expect("the test server URL parses");
        let options = options.database(&name);
        let pool = PgTokenStore::pool_options()
            .max_connections(8)
            .connect_with(options.clone())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the new test database {name}: {e}"));
        Self {
            name,
            options,
            store: PgTokenStore::new(pool),
        }
    }

    /// The connection options of this database.
    pub fn options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// A second, independent store (its own pool) over the same database.
    pub async fn another_store(&self) -> PgTokenStore {
        PgTokenStore::connect_with(self.options())
            .await
            .expect("a second pool connects")
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn table_name(table: Table) -> &'static str {
    match table {
        Table::Users => "users",
        Table::RefreshTokens => "refresh_tokens",
        Table::RevokedTokens => "revoked_tokens",
        Table::AccessTokens => "auth_user_tokens",
        Table::AuditLogs => "audit_logs",
        Table::OneTimeCodes => "one_time_codes",
    }
}

impl TestDatabase for PgTestDb {
    type Store = PgTokenStore;

    async fn create() -> Self {
        let db = Self::create_unmigrated().await;
        db.store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("migrating {} failed: {e:?}", db.name));
        db
    }

    fn store(&self) -> PgTokenStore {
        self.store.clone()
    }

    async fn count_rows(&self, table: Table) -> u64 {
        let sql = format!("SELECT count(*) FROM {}", table_name(table));
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(self.store.pool())
            .await
            .expect("count_rows");
        n as u64
    }

    async fn dump_cells(&self) -> Vec<Vec<u8>> {
        let pool = self.store.pool();
        let columns = sqlx::query(
            "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
                    c.data_type::text AS data_type \
             FROM information_schema.columns c \
             JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
             ORDER BY c.table_name, c.ordinal_position",
        )
        .fetch_all(pool)
        .await
        .expect("list columns");
        let mut cells = Vec::new();
        for column in columns {
            let table: String = column.get("table_name");
            let name: String = column.get("column_name");
            let data_type: String = column.get("data_type");
            if data_type == "bytea" {
                // Raw bytes, so a secret stored as bytes is found as itself.
                let sql = format!(r#"SELECT "{name}" FROM "{table}" WHERE "{name}" IS NOT NULL"#);
                let values: Vec<Vec<u8>> = sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .expect("dump bytea");
                cells.extend(values);
            } else {
                let sql =
                    format!(r#"SELECT "{name}"::text FROM "{table}" WHERE "{name}" IS NOT NULL"#);
                let values: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .expect("dump text");
                cells.extend(values.into_iter().map(String::into_bytes));
            }
        }
        cells
    }

    async fn teardown(mut self) {
        self.store.pool().close().await;
        let name = std::mem::take(&mut self.name);
        admin_execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).await;
    }
}

/// A test that panicked never reaches `teardown`: drop its database anyway, from a
/// thread of its own (the test's runtime may be unwinding).
impl Drop for PgTestDb {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        if name.is_empty() {
            return;
        }
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    let (url, _) = postgres_url().await;
                    if let Ok(mut conn) = PgConnection::connect(&url).await {
                        let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                        let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
                        let _ = conn.close().await;
                    }
                });
            }
        })
        .join();
    }
}
