//! The shared conformance suite, run against a fresh, migrated SQLite file per test.

use auth_conformance::{Table, TestDatabase};
use auth_sqlite::SqliteTokenStore;
use auth_sqlite::deadpool_sqlite::rusqlite::types::ValueRef;
use tempfile::TempDir;

/// A temporary directory holding one database file, and the store over it.
struct SqliteTestDb {
    dir: TempDir,
    store: SqliteTokenStore,
}

impl SqliteTestDb {
    async fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut auth_sqlite::deadpool_sqlite::rusqlite::Connection) -> R + Send + 'static,
    ) -> R {
        let conn = self
            .store
            .pool()
            .get()
            .await
            .expect("connection from the test pool");
        conn.interact(f).await.expect("test query task")
    }
}

impl TestDatabase for SqliteTestDb {
    type Store = SqliteTokenStore;

    async fn create() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory for the test database");
        let store = SqliteTokenStore::open(dir.path().join("auth.db"))
            .await
            .expect("open and migrate the test database");
        Self { dir, store }
    }

    fn store(&self) -> Self::Store {
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
        };
        let n: i64 = self
            .query(move |c| c.query_row(sql, [], |r| r.get(0)))
            .await
            .expect("count rows");
        u64::try_from(n).expect("non-negative count")
    }

    async fn dump_cells(&self) -> Vec<Vec<u8>> {
        self.query(|c| {
            let tables: Vec<String> = c
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut cells = Vec::new();
            for table in tables {
                let mut stmt =
                    c.prepare(&format!("SELECT * FROM \"{}\"", table.replace('"', "\"\"")))?;
                let columns = stmt.column_count();
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    for i in 0..columns {
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
            Ok::<_, auth_sqlite::deadpool_sqlite::rusqlite::Error>(cells)
        })
        .await
        .expect("dump every cell")
    }

    async fn teardown(self) {
        self.store.pool().close();
        drop(self.store);
        self.dir
            .close()
            .expect("remove the test database directory");
    }
}

auth_conformance::conformance_tests!(SqliteTestDb);
auth_conformance::otp_conformance_tests!(SqliteTestDb);
