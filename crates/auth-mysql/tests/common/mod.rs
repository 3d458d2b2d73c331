//! The per-test MySQL database: created on the server the conformance harness resolves
//! (`AUTH_TEST_MYSQL_URL`, the local default, or a testcontainers `mysql:8.4`), migrated,
//! and dropped at teardown.

#![allow(dead_code, unreachable_pub)]

use auth_conformance::harness::{mysql_url, unique_database_name};
use auth_conformance::{Table, TestDatabase};
use auth_mysql::MySqlTokenStore;
use mysql_async::prelude::Queryable;

/// `server` with its database replaced by `name` (query options kept).
pub fn database_url(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut url = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// One test's database.
#[derive(Debug)]
pub struct MySqlTestDb {
    server: String,
    name: String,
    url: String,
    store: MySqlTokenStore,
    dropped: bool,
}

impl MySqlTestDb {
    /// A new, empty database with no migration applied.
    pub async fn create_empty() -> Self {
        let (server, _source) = mysql_url().await;
        let name = unique_database_name("auth_test");
        let mut admin = mysql_async::Conn::from_url(&server)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the MySQL test server: {e}"));
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

impl TestDatabase for MySqlTestDb {
    type Store = MySqlTokenStore;

    async fn create() -> Self {
        let db = Self::create_empty().await;
        db.store.run_pending_migrations().await.expect("migrations");
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
impl Drop for MySqlTestDb {
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
