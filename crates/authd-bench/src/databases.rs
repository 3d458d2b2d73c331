//! A fresh database per run: a SQLite file in a temporary directory, or a database
//! created on the local PostgreSQL / MariaDB (and dropped afterwards).

use anyhow::Context as _;
use sqlx::Connection as _;

/// The local defaults, as the test harness uses them (README, *Tests*).
const POSTGRES_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MYSQL_ADMIN: &str = "mysql://root@127.0.0.1:3306/test";

/// Which backend a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
    Mysql,
}

impl Db {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres => "postgres",
            Db::Mysql => "mysql",
        }
    }
}

/// A database made for this run.
pub(crate) struct FreshDatabase {
    pub(crate) db: Db,
    pub(crate) url: String,
    admin_url: String,
    name: String,
    /// Also the working directory of the authd child (key file, SQLite file).
    pub(crate) dir: tempfile::TempDir,
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl FreshDatabase {
    pub(crate) async fn create(db: Db) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let name = format!("authd_bench_{}", std::process::id());
        let (url, admin_url) = match db {
            Db::Sqlite => {
                let path = dir.path().join("bench.db");
                (format!("sqlite:{}", path.display()), String::new())
            }
            Db::Postgres => {
                let admin = std::env::var("AUTH_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| POSTGRES_ADMIN.to_owned());
                let mut c = sqlx::PgConnection::connect(&admin)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {admin}"))?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name}"
                )))
                .execute(&mut c)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut c)
                    .await?;
                (with_database(&admin, &name), admin)
            }
            Db::Mysql => {
                let admin =
                    std::env::var("AUTH_TEST_MYSQL_URL").unwrap_or_else(|_| MYSQL_ADMIN.to_owned());
                let pool = mysql_async::Pool::from_url(&admin)?;
                let mut c = pool
                    .get_conn()
                    .await
                    .with_context(|| format!("connecting to MySQL at {admin}"))?;
                use mysql_async::prelude::Queryable as _;
                c.query_drop(format!("DROP DATABASE IF EXISTS {name}"))
                    .await?;
                c.query_drop(format!("CREATE DATABASE {name}")).await?;
                drop(c);
                pool.disconnect().await?;
                (with_database(&admin, &name), admin)
            }
        };
        Ok(Self {
            db,
            url,
            admin_url,
            name,
            dir,
        })
    }

    /// Drops a server database (the SQLite directory goes with `self`).
    pub(crate) async fn drop_database(self) -> anyhow::Result<()> {
        match self.db {
            Db::Sqlite => {}
            Db::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .execute(&mut c)
                .await?;
            }
            Db::Mysql => {
                let pool = mysql_async::Pool::from_url(&self.admin_url)?;
                let mut c = pool.get_conn().await?;
                use mysql_async::prelude::Queryable as _;
                c.query_drop(format!("DROP DATABASE IF EXISTS {}", self.name))
                    .await?;
                drop(c);
                pool.disconnect().await?;
            }
        }
        Ok(())
    }
}
