//! [`TestDb`]: the conformance suite's [`TestDatabase`] over a temporary SQLite file
//! (feature `test-util`; see ARCHITECTURE.md, "Conformance suite and harness").

use std::path::PathBuf;

use auth_conformance::{
    MigrationTestDatabase, Table, TestDatabase, TimestampCell, UserColumnType, sql_literal,
};
use auth_core::{NewRefreshToken, UserClaimColumns, UserId};
use deadpool_sqlite::rusqlite::types::ValueRef;
use deadpool_sqlite::rusqlite::{self, Connection, params};
use serde_json::Value;
use tempfile::TempDir;

use crate::convert::{micros, sid, tid};
use crate::store::SqliteTokenStore;

/// The migration bookkeeping table, left out of the timestamp dump.
const BOOKKEEPING: &str = "schema_migrations";

/// One test's database: a file in a temporary directory, and the store over it.
#[derive(Debug)]
pub struct TestDb {
    dir: TempDir,
    store: SqliteTokenStore,
}

fn path_in(dir: &TempDir) -> PathBuf {
    dir.path().join("auth.db")
}

impl TestDb {
    /// A new database file with no migration applied.
    pub async fn create_unmigrated() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory for the test database");
        let url = format!("sqlite:{}", path_in(&dir).display());
        let store = SqliteTokenStore::connect(&url)
            .await
            .expect("open the test database");
        Self { dir, store }
    }

    /// The database's URL as authd takes it (`sqlite:<path>`).
    pub fn url(&self) -> String {
        format!("sqlite:{}", self.path().display())
    }

    /// The database file.
    pub fn path(&self) -> PathBuf {
        path_in(&self.dir)
    }

    /// A second, independent store (its own pool) over the same file.
    pub async fn another_store(&self) -> SqliteTokenStore {
        SqliteTokenStore::connect(&self.url())
            .await
            .expect("a second pool opens")
    }

    /// Runs `f` on a connection of the store's pool.
    pub async fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> R + Send + 'static,
    ) -> R {
        let conn = self.store.pool().get().await.expect("test connection");
        conn.interact(f).await.expect("test query task")
    }
}

/// A table's name and its columns' names and declared types.
type TableColumns = (String, Vec<(String, String)>);

/// Every table and its columns with their declared types.
fn columns(c: &Connection) -> rusqlite::Result<Vec<TableColumns>> {
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for table in tables {
        let cols = c
            .prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")?
            .query_map([&table], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        out.push((table, cols));
    }
    Ok(out)
}

/// Times are INTEGER unix microseconds in columns named `*_at`, `last_login` or
/// `tokens_valid_after`.
fn is_time_column(name: &str, declared: &str) -> bool {
    declared.eq_ignore_ascii_case("INTEGER")
        && (name.ends_with("_at") || name == "last_login" || name == "tokens_valid_after")
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl TestDatabase for TestDb {
    type Store = SqliteTokenStore;

    async fn create() -> Self {
        let db = Self::create_unmigrated().await;
        db.store.migrate().await.expect("migrate the test database");
        db
    }

    fn store(&self) -> SqliteTokenStore {
        self.store.clone()
    }

    async fn count_rows(&self, table: Table) -> u64 {
        let sql = match table {
            Table::Users => "SELECT count(*) FROM users",
            Table::RefreshTokens => "SELECT count(*) FROM refresh_tokens",
            Table::RevokedTokens => "SELECT count(*) FROM revoked_tokens",
            Table::AccessTokens => "SELECT count(*) FROM auth_user_tokens",
            Table::AuditLogs => "SELECT count(*) FROM audit_logs",
            Table::OneTimeCodes => "SELECT count(*) FROM one_time_codes",
            // Code requests are serialised by `BEGIN IMMEDIATE`: there are no lock rows.
            Table::CodeLocks => return 0,
        };
        let n: i64 = self
            .query(move |c| c.query_row(sql, [], |r| r.get(0)))
            .await
            .expect("count rows");
        u64::try_from(n).expect("non-negative count")
    }

    async fn dump_cells(&self) -> Vec<Vec<u8>> {
        self.query(|c| {
            let mut cells = Vec::new();
            for (table, cols) in columns(c)? {
                let mut stmt = c.prepare(&format!("SELECT * FROM {}", quoted(&table)))?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    for i in 0..cols.len() {
                        cells.push(match row.get_ref(i)? {
                            ValueRef::Null => Vec::new(),
                            ValueRef::Integer(n) => n.to_string().into_bytes(),
                            ValueRef::Real(x) => x.to_string().into_bytes(),
                            ValueRef::Text(t) => t.to_vec(),
                            ValueRef::Blob(b) => b.to_vec(),
                        });
                    }
                }
            }
            Ok::<_, rusqlite::Error>(cells)
        })
        .await
        .expect("dump every cell")
    }

    async fn dump_timestamps(&self) -> Vec<TimestampCell> {
        self.query(|c| {
            let mut cells = Vec::new();
            for (table, cols) in columns(c)? {
                if table == BOOKKEEPING {
                    continue;
                }
                for (column, declared) in cols {
                    if !is_time_column(&column, &declared) {
                        continue;
                    }
                    let sql = format!(
                        "SELECT {col} FROM {t} WHERE {col} IS NOT NULL",
                        col = quoted(&column),
                        t = quoted(&table)
                    );
                    let values: Vec<i64> = c
                        .prepare(&sql)?
                        .query_map([], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                    for m in values {
                        let value = auth_core::time::OffsetDateTime::from_unix_timestamp_nanos(
                            i128::from(m) * 1_000,
                        )
                        .expect("a stored time in range");
                        cells.push(TimestampCell {
                            table: table.clone(),
                            column: column.clone(),
                            value,
                        });
                    }
                }
            }
            Ok::<_, rusqlite::Error>(cells)
        })
        .await
        .expect("dump every timestamp")
    }

    async fn insert_refresh_token_row(&self, t: &NewRefreshToken) -> Result<(), String> {
        let t = t.clone();
        self.query(move |c| {
            c.execute(
                "INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, \
                 issued_at, expires_at, session_created_at, session_expires_at, user_agent, ip) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    &tid(t.id)[..],
                    t.user_id.0,
                    &sid(t.session_id)[..],
                    t.generation,
                    &t.hash.as_bytes()[..],
                    micros(t.issued_at),
                    micros(t.expires_at),
                    micros(t.session_created_at),
                    micros(t.session_expires_at),
                    t.user_agent,
                    t.ip,
                ],
            )
        })
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    async fn store_with_user_claim_columns(
        &self,
        columns: UserClaimColumns,
    ) -> auth_core::Result<SqliteTokenStore> {
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
            "ALTER TABLE users ADD COLUMN {} {}{default}",
            quoted(name),
            ty.sql().0
        );
        self.query(move |c| c.execute(&sql, []))
            .await
            .expect("add a users column");
    }

    async fn set_user_column(&self, user: UserId, name: &'static str, value: Value) {
        let value = match value {
            Value::String(s) => rusqlite::types::Value::Text(s),
            Value::Number(n) => rusqlite::types::Value::Integer(n.as_i64().expect("an integer")),
            Value::Null => rusqlite::types::Value::Null,
            other => panic!("a test column holds a string, an integer or null, not {other}"),
        };
        let sql = format!("UPDATE users SET {} = ?1 WHERE id = ?2", quoted(name));
        let n = self
            .query(move |c| c.execute(&sql, params![value, user.0]))
            .await
            .expect("set a users column");
        assert_eq!(n, 1, "user {user} exists");
    }

    async fn teardown(self) {
        self.store.pool().close();
        drop(self.store);
        self.dir
            .close()
            .expect("remove the test database directory");
    }
}

impl MigrationTestDatabase for TestDb {
    async fn create_unmigrated() -> Self {
        TestDb::create_unmigrated().await
    }

    async fn schema_tables(&self) -> Vec<String> {
        self.query(|c| {
            c.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name <> ?1 AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )?
            .query_map([BOOKKEEPING], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()
        })
        .await
        .expect("list tables")
    }
}
