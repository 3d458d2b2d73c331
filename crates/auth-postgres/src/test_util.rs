//! [`TestDb`]: the conformance suite's [`TestDatabase`] on the test PostgreSQL server
//! (feature `test-util`; see ARCHITECTURE.md, "Conformance suite and harness"). Each test gets a
//! database of its own on the server the conformance harness resolves (env URL, local
//! default, testcontainers, else a loud failure), dropped `WITH (FORCE)` at teardown.

use auth_conformance::harness::{postgres_url, unique_database_name};
use auth_conformance::{
    MigrationTestDatabase, Table, TestDatabase, TimestampCell, UserColumnType, database_url,
    sql_literal,
};
use auth_core::{NewRefreshToken, UserClaimColumns, UserId};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Row};
use time::OffsetDateTime;

use crate::store::PgTokenStore;

/// The migration bookkeeping table, left out of the timestamp dump.
const BOOKKEEPING: &str = "_sqlx_migrations";

/// One test's database.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    options: PgConnectOptions,
    store: PgTokenStore,
}

/// The table behind `table`; `None` for one PostgreSQL does not have.
fn table_name(table: Table) -> Option<&'static str> {
    Some(match table {
        Table::Users => "users",
        Table::RefreshTokens => "refresh_tokens",
        Table::RevokedTokens => "revoked_tokens",
        Table::AccessTokens => "auth_user_tokens",
        Table::AuditLogs => "audit_logs",
        Table::OneTimeCodes => "one_time_codes",
        Table::CodeLocks => return None,
    })
}

/// `(table, column, data_type)` of every column of every base table of `public`.
async fn columns(pool: &sqlx::PgPool) -> Vec<(String, String, String)> {
    sqlx::query(
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
    .expect("list columns")
    .into_iter()
    .map(|r| {
        (
            r.get("table_name"),
            r.get("column_name"),
            r.get("data_type"),
        )
    })
    .collect()
}

impl TestDb {
    /// A connection to the server's admin database.
    pub async fn admin_connection() -> PgConnection {
        let (url, source) = postgres_url().await;
        PgConnection::connect(&url).await.unwrap_or_else(|e| {
            panic!("cannot connect to the test PostgreSQL server ({source:?}) at {url}: {e}")
        })
    }

    /// Runs one statement on the admin database.
    pub async fn admin_execute(sql: String) {
        let mut conn = Self::admin_connection().await;
        sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
        let _ = conn.close().await;
    }

    /// A new, empty database without the schema.
    pub async fn create_unmigrated() -> Self {
        let name = unique_database_name("auth_test");
        Self::admin_execute(format!(r#"CREATE DATABASE "{name}""#)).await;
        let (server, _) = postgres_url().await;
        let url = database_url(&server, &name);
        let options: PgConnectOptions = server.parse().expect("the test server URL parses");
        let options = options.database(&name);
        let pool = PgTokenStore::pool_options()
            .max_connections(8)
            .connect_with(options.clone())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the new test database {name}: {e}"));
        Self {
            name,
            url,
            options,
            store: PgTokenStore::from_pool(pool),
        }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
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

impl TestDatabase for TestDb {
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
        let Some(name) = table_name(table) else {
            return 0;
        };
        let sql = format!("SELECT count(*) FROM {name}");
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(self.store.pool())
            .await
            .expect("count_rows");
        u64::try_from(n).expect("non-negative count")
    }

    async fn dump_cells(&self) -> Vec<Vec<u8>> {
        let pool = self.store.pool();
        let mut cells = Vec::new();
        for (table, name, data_type) in columns(pool).await {
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

    async fn dump_timestamps(&self) -> Vec<TimestampCell> {
        let pool = self.store.pool();
        let mut cells = Vec::new();
        for (table, column, data_type) in columns(pool).await {
            if table == BOOKKEEPING || !data_type.starts_with("timestamp") {
                continue;
            }
            let sql = format!(
                r#"SELECT "{column}"::timestamptz FROM "{table}" WHERE "{column}" IS NOT NULL"#
            );
            let values: Vec<OffsetDateTime> = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .expect("dump timestamps");
            cells.extend(values.into_iter().map(|value| TimestampCell {
                table: table.clone(),
                column: column.clone(),
                value,
            }));
        }
        cells
    }

    async fn insert_refresh_token_row(&self, t: &NewRefreshToken) -> Result<(), String> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, \
             issued_at, expires_at, session_created_at, session_expires_at, user_agent, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(t.id.0)
        .bind(t.user_id.0)
        .bind(t.session_id.0)
        .bind(t.generation)
        .bind(&t.hash.as_bytes()[..])
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(t.session_created_at)
        .bind(t.session_expires_at)
        .bind(t.user_agent.as_deref())
        .bind(t.ip.as_deref())
        .execute(self.store.pool())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    async fn store_with_user_claim_columns(
        &self,
        columns: UserClaimColumns,
    ) -> auth_core::Result<PgTokenStore> {
        self.store.clone().with_user_claim_columns(columns).await
    }

    async fn add_user_column(
        &self,
        name: &'static str,
        ty: UserColumnType,
        default: Option<Value>,
    ) {
        let default = default.map_or(String::new(), |d| format!(" DEFAULT {}", sql_literal(&d)));
        let sql = format!(
            r#"ALTER TABLE users ADD COLUMN "{name}" {}{default}"#,
            ty.sql().1
        );
        sqlx::query(AssertSqlSafe(sql))
            .execute(self.store.pool())
            .await
            .expect("add a users column");
    }

    async fn set_user_column(&self, user: UserId, name: &'static str, value: Value) {
        let set = |value: &str| format!(r#"UPDATE users SET "{name}" = {value} WHERE id = $1"#);
        let query = match value {
            Value::String(s) => sqlx::query(AssertSqlSafe(set("$2"))).bind(user.0).bind(s),
            Value::Number(n) => sqlx::query(AssertSqlSafe(set("$2")))
                .bind(user.0)
                .bind(n.as_i64().expect("an integer")),
            Value::Null => sqlx::query(AssertSqlSafe(set("NULL"))).bind(user.0),
            other => panic!("a test column holds a string, an integer or null, not {other}"),
        };
        let done = query
            .execute(self.store.pool())
            .await
            .expect("set a users column");
        assert_eq!(done.rows_affected(), 1, "user {user} exists");
    }

    async fn teardown(mut self) {
        self.store.pool().close().await;
        let name = std::mem::take(&mut self.name);
        Self::admin_execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).await;
    }
}

/// A test that panicked never reaches `teardown`: drop its database anyway, from a
/// thread of its own (the test's runtime may be unwinding).
impl MigrationTestDatabase for TestDb {
    async fn create_unmigrated() -> Self {
        TestDb::create_unmigrated().await
    }

    async fn schema_tables(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name <> $1 ORDER BY 1",
        )
        .bind(BOOKKEEPING)
        .fetch_all(self.store.pool())
        .await
        .expect("list tables")
    }
}

impl Drop for TestDb {
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
