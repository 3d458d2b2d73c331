//! [`TestDb`]: the conformance suite's [`TestDatabase`] on the test MySQL server
//! (feature `test-util`; see ARCHITECTURE.md, "Conformance suite and harness"). Each test gets a
//! database of its own on the server the conformance harness resolves
//! (`AUTH_TEST_MYSQL_URL`, the local default, or a testcontainers `mysql:8.4`), dropped
//! at teardown, or when a failed test drops it.

use auth_conformance::harness::{mysql_url, unique_database_name};
use auth_conformance::{
    MigrationTestDatabase, Table, TestDatabase, TimestampCell, UserColumnType, database_url,
    sql_literal,
};
use auth_core::{NewRefreshToken, UserClaimColumns, UserId};
use mysql_async::prelude::Queryable;
use serde_json::Value;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::store::MySqlTokenStore;

/// Diesel's migration bookkeeping tables start with this; left out of the timestamp dump.
const BOOKKEEPING_PREFIX: &str = "__diesel";

/// One test's database.
#[derive(Debug)]
pub struct TestDb {
    server: String,
    name: String,
    url: String,
    store: MySqlTokenStore,
    dropped: bool,
}

/// A time as the text form MySQL reads into a DATETIME(6), in UTC.
fn datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let format =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");
    t.format(&format).expect("a formattable time")
}

fn parse_datetime(text: &str) -> OffsetDateTime {
    let format =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");
    PrimitiveDateTime::parse(text, &format)
        .unwrap_or_else(|e| panic!("stored time {text:?}: {e}"))
        .assume_utc()
}

impl TestDb {
    /// A new, empty database with no migration applied.
    pub async fn create_unmigrated() -> Self {
        let (server, source) = mysql_url().await;
        let name = unique_database_name("auth_test");
        let mut admin = mysql_async::Conn::from_url(&server)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot connect to the MySQL test server ({source:?}) at {server}: {e}")
            });
        admin
            .query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .expect("CREATE DATABASE");
        admin.disconnect().await.expect("disconnect");
        let url = database_url(&server, &name);
        let store = MySqlTokenStore::connect(&url)
            .await
            .expect("connect to the test database");
        Self {
            server,
            name,
            url,
            store,
            dropped: false,
        }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A second, independent store (its own pool) over the same database.
    pub async fn another_store(&self) -> MySqlTokenStore {
        MySqlTokenStore::connect(&self.url)
            .await
            .expect("a second pool connects")
    }

    /// A plain driver connection to the database (no session setup of the store's pool).
    pub async fn raw(&self) -> mysql_async::Conn {
        mysql_async::Conn::from_url(&self.url)
            .await
            .expect("connect")
    }

    /// One number from a query.
    pub async fn scalar(&self, sql: &str) -> u64 {
        let mut conn = self.raw().await;
        let n: Option<u64> = conn
            .query_first(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        conn.disconnect().await.expect("disconnect");
        n.expect("one row")
    }

    /// The tables of the database, sorted.
    pub async fn tables(&self) -> Vec<String> {
        let mut conn = self.raw().await;
        let mut tables: Vec<String> = conn
            .query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
            )
            .await
            .expect("list tables");
        tables.sort();
        conn.disconnect().await.expect("disconnect");
        tables
    }
}

impl TestDatabase for TestDb {
    type Store = MySqlTokenStore;

    async fn create() -> Self {
        let db = Self::create_unmigrated().await;
        db.store.migrate().await.expect("migrations");
        db
    }

    fn store(&self) -> MySqlTokenStore {
        self.store.clone()
    }

    async fn count_rows(&self, table: Table) -> u64 {
        let sql = match table {
            Table::Users => "SELECT COUNT(*) FROM auth_user",
            Table::RefreshTokens => {
                "SELECT COUNT(*) FROM auth_user_tokens WHERE token_type = 'refresh'"
            }
            Table::AccessTokens => {
                "SELECT COUNT(*) FROM auth_user_tokens WHERE token_type = 'access'"
            }
            Table::RevokedTokens => "SELECT COUNT(*) FROM revoked_tokens",
            Table::AuditLogs => "SELECT COUNT(*) FROM audit_logs",
            Table::OneTimeCodes => "SELECT COUNT(*) FROM one_time_codes",
            Table::CodeLocks => "SELECT COUNT(*) FROM one_time_code_locks",
        };
        self.scalar(sql).await
    }

    async fn dump_cells(&self) -> Vec<Vec<u8>> {
        let mut conn = self.raw().await;
        let mut cells = Vec::new();
        for table in self.tables().await {
            // The text protocol returns every non-NULL cell as its bytes.
            let rows: Vec<mysql_async::Row> = conn
                .query(format!("SELECT * FROM `{table}`"))
                .await
                .expect("dump table");
            for row in rows {
                for value in row.unwrap() {
                    match value {
                        mysql_async::Value::NULL => {}
                        mysql_async::Value::Bytes(bytes) => cells.push(bytes),
                        other => cells.push(other.as_sql(true).into_bytes()),
                    }
                }
            }
        }
        conn.disconnect().await.expect("disconnect");
        cells
    }

    async fn dump_timestamps(&self) -> Vec<TimestampCell> {
        let mut conn = self.raw().await;
        let columns: Vec<(String, String)> = conn
            .query(
                "SELECT table_name, column_name FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND data_type IN ('datetime', 'timestamp') \
                 ORDER BY table_name, ordinal_position",
            )
            .await
            .expect("list time columns");
        let mut cells = Vec::new();
        for (table, column) in columns {
            if table.starts_with(BOOKKEEPING_PREFIX) {
                continue;
            }
            let values: Vec<String> = conn
                .query(format!(
                    "SELECT DATE_FORMAT(`{column}`, '%Y-%m-%d %H:%i:%s.%f') FROM `{table}` \
                     WHERE `{column}` IS NOT NULL"
                ))
                .await
                .expect("dump times");
            cells.extend(values.into_iter().map(|text| TimestampCell {
                table: table.clone(),
                column: column.clone(),
                value: parse_datetime(&text),
            }));
        }
        conn.disconnect().await.expect("disconnect");
        cells
    }

    async fn insert_refresh_token_row(&self, t: &NewRefreshToken) -> Result<(), String> {
        let mut conn = self.raw().await;
        let params: Vec<mysql_async::Value> = vec![
            t.user_id.0.into(),
            t.id.0.as_bytes().to_vec().into(),
            t.hash.as_bytes().to_vec().into(),
            t.session_id.0.as_bytes().to_vec().into(),
            t.generation.into(),
            datetime(t.issued_at).into(),
            datetime(t.expires_at).into(),
            datetime(t.session_created_at).into(),
            datetime(t.session_expires_at).into(),
            t.user_agent.clone().into(),
            t.ip.clone().into(),
        ];
        let inserted = conn
            .exec_drop(
                "INSERT INTO auth_user_tokens (token_type, user_id, token_id, token_hash, session_id, \
                 generation, issued_at, expires_at, session_created_at, session_expires_at, \
                 user_agent, ip) VALUES ('refresh', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params,
            )
            .await
            .map_err(|e| e.to_string());
        conn.disconnect().await.expect("disconnect");
        inserted
    }

    async fn store_with_user_claim_columns(
        &self,
        columns: UserClaimColumns,
    ) -> auth_core::Result<MySqlTokenStore> {
        self.store.clone().with_user_claim_columns(columns).await
    }

    async fn add_user_column(
        &self,
        name: &'static str,
        ty: UserColumnType,
        default: Option<Value>,
    ) {
        let default = default.map_or(String::new(), |d| format!(" DEFAULT {}", sql_literal(&d)));
        let mut conn = self.raw().await;
        conn.query_drop(format!(
            "ALTER TABLE auth_user ADD COLUMN `{name}` {} NULL{default}",
            ty.sql().2
        ))
        .await
        .expect("add a users column");
        conn.disconnect().await.expect("disconnect");
    }

    async fn set_user_column(&self, user: UserId, name: &'static str, value: Value) {
        let value: mysql_async::Value = match value {
            Value::String(s) => s.into(),
            Value::Number(n) => n.as_i64().expect("an integer").into(),
            Value::Null => mysql_async::Value::NULL,
            other => panic!("a test column holds a string, an integer or null, not {other}"),
        };
        let mut conn = self.raw().await;
        conn.exec_drop(
            format!("UPDATE auth_user SET `{name}` = ? WHERE id = ?"),
            (value, user.0),
        )
        .await
        .expect("set a users column");
        conn.disconnect().await.expect("disconnect");
    }

    async fn teardown(mut self) {
        self.store.pool().close();
        let mut admin = mysql_async::Conn::from_url(&self.server)
            .await
            .expect("connect");
        admin
            .query_drop(format!("DROP DATABASE `{}`", self.name))
            .await
            .expect("DROP DATABASE");
        admin.disconnect().await.expect("disconnect");
        self.dropped = true;
    }
}

/// A test that failed before its teardown still drops its database.
impl MigrationTestDatabase for TestDb {
    async fn create_unmigrated() -> Self {
        TestDb::create_unmigrated().await
    }

    async fn schema_tables(&self) -> Vec<String> {
        let mut tables = self.tables().await;
        tables.retain(|t| !t.starts_with(BOOKKEEPING_PREFIX));
        tables
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = mysql_async::Conn::from_url(&server).await.ok()?;
                admin
                    .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await
                    .ok()?;
                admin.disconnect().await.ok()
            })
        })
        .join();
    }
}
