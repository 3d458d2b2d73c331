//! The storage backends authd can run on, chosen by the database URL's scheme.

use std::future::Future;

use anyhow::bail;
use auth_core::{TokenService, TokenStore};
use time::OffsetDateTime;

use crate::resilience::DatabaseTimeouts;

/// The kinds of database a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// `sqlite:PATH`, `sqlite://PATH`, `sqlite:///ABSOLUTE/PATH`.
    Sqlite,
    /// `postgres://...` or `postgresql://...`.
    Postgres,
    /// `mysql://...` (MySQL or MariaDB).
    Mysql,
}

impl DatabaseKind {
    /// The kind named by the URL's scheme.
    pub fn of(url: &str) -> anyhow::Result<Self> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            Some("mysql") => Ok(Self::Mysql),
            _ => bail!(
                "database URL must start with sqlite:, postgres:// or mysql:// (got `{}`)",
                redact(url)
            ),
        }
    }
}

/// The file path of a `sqlite:` URL (`sqlite:./a.db`, `sqlite://./a.db`, `sqlite:///abs/a.db`;
/// a `?query` is ignored).
pub fn sqlite_path(url: &str) -> anyhow::Result<&str> {
    let rest = url
        .get(7..)
        .filter(|_| url[..7].eq_ignore_ascii_case("sqlite:"))
        .unwrap_or("");
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() {
        bail!("`{url}` names no file; use e.g. sqlite:./authd.db");
    }
    Ok(path)
}

/// A URL with its password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// One migration as `migrate status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationLine {
    /// Version (the file's number).
    pub version: String,
    /// Name.
    pub name: String,
    /// `applied`, `pending`, or a backend's other states (`modified`, `unknown`).
    pub state: String,
    /// When it was applied.
    pub applied_at: Option<OffsetDateTime>,
}

/// A store authd can open from a URL and migrate.
pub trait Backend: TokenStore + Sized {
    /// Display name.
    const NAME: &'static str;

    /// Connects without migrating, every database call bounded by `timeouts`.
    fn connect(
        url: &str,
        timeouts: DatabaseTimeouts,
    ) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Applies pending migrations; returns the versions applied.
    fn migrate_up(&self) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;

    /// Reverts the `steps` newest migrations; returns the versions reverted.
    fn migrate_down(&self, steps: u32) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;

    /// Every migration and its state.
    fn migration_status(&self) -> impl Future<Output = anyhow::Result<Vec<MigrationLine>>> + Send;

    /// Starts pushing revocations into `service`'s cache, where the backend can
    /// (PostgreSQL: LISTEN/NOTIFY); the push runs until the returned guard is dropped.
    fn push_revocations(
        &self,
        service: &TokenService<Self>,
    ) -> impl Future<Output = anyhow::Result<Option<PushGuard>>> + Send {
        let _ = service;
        async { Ok(None) }
    }
}

/// Keeps a backend's revocation push running until dropped.
pub type PushGuard = Box<dyn std::any::Any + Send + Sync>;

#[cfg(feature = "sqlite")]
mod sqlite {
    use anyhow::Context as _;
    use auth_sqlite::{
        DEFAULT_BUSY_TIMEOUT, SqliteMigrationState, SqliteTimeouts, SqliteTokenStore,
    };

    use super::{Backend, DatabaseTimeouts, MigrationLine, sqlite_path};

    fn versions(v: Vec<i64>) -> Vec<String> {
        v.into_iter().map(|v| v.to_string()).collect()
    }

    impl Backend for SqliteTokenStore {
        const NAME: &'static str = "SQLite";

        async fn connect(url: &str, timeouts: DatabaseTimeouts) -> anyhow::Result<Self> {
            let path = sqlite_path(url)?;
            let timeouts = SqliteTimeouts {
                acquire: timeouts.acquire,
                busy: timeouts.statement.unwrap_or(DEFAULT_BUSY_TIMEOUT),
            };
            SqliteTokenStore::connect_with_timeouts(path, timeouts)
                .with_context(|| format!("opening SQLite database {path}"))
        }

        async fn migrate_up(&self) -> anyhow::Result<Vec<String>> {
            Ok(versions(
                SqliteTokenStore::migrate_up(self)
                    .await
                    .context("migrating up")?,
            ))
        }

        async fn migrate_down(&self, steps: u32) -> anyhow::Result<Vec<String>> {
            Ok(versions(
                SqliteTokenStore::migrate_down(self, steps)
                    .await
                    .context("migrating down")?,
            ))
        }

        async fn migration_status(&self) -> anyhow::Result<Vec<MigrationLine>> {
            let lines = SqliteTokenStore::migration_status(self)
                .await
                .context("reading migration status")?;
            Ok(lines
                .into_iter()
                .map(|m| MigrationLine {
                    version: m.version.to_string(),
                    name: m.name,
                    state: match m.state {
                        SqliteMigrationState::Pending => "pending",
                        SqliteMigrationState::Applied => "applied",
                        SqliteMigrationState::Modified => "modified",
                        SqliteMigrationState::Unknown => "unknown",
                        _ => "other",
                    }
                    .to_owned(),
                    applied_at: m.applied_at,
                })
                .collect())
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::collections::BTreeMap;

    use anyhow::Context as _;
    use auth_core::TokenService;
    use auth_postgres::{MIGRATOR, PgRevocationListener, PgTimeouts, PgTokenStore};
    use time::OffsetDateTime;

    use super::{Backend, DatabaseTimeouts, MigrationLine, PushGuard};

    /// Applied migrations by version: checksum and time (none before the first run).
    async fn applied(
        store: &PgTokenStore,
    ) -> anyhow::Result<BTreeMap<i64, (Vec<u8>, OffsetDateTime)>> {
        let pool = store.pool();
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await
            .context("looking for _sqlx_migrations")?;
        if !exists {
            return Ok(BTreeMap::new());
        }
        let rows: Vec<(i64, Vec<u8>, OffsetDateTime)> = sqlx::query_as(
            "SELECT version, checksum, installed_on FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(pool)
        .await
        .context("reading _sqlx_migrations")?;
        Ok(rows.into_iter().map(|(v, c, t)| (v, (c, t))).collect())
    }

    impl Backend for PgTokenStore {
        const NAME: &'static str = "PostgreSQL";

        async fn connect(url: &str, timeouts: DatabaseTimeouts) -> anyhow::Result<Self> {
            let timeouts = PgTimeouts {
                acquire: timeouts.acquire,
                statement: timeouts.statement,
            };
            Ok(PgTokenStore::connect_with_timeouts(url, timeouts).await?)
        }

        async fn migrate_up(&self) -> anyhow::Result<Vec<String>> {
            let before = applied(self).await?;
            self.migrate().await.context("migrating up")?;
            Ok(MIGRATOR
                .iter()
                .filter(|m| m.migration_type.is_up_migration() && !before.contains_key(&m.version))
                .map(|m| m.version.to_string())
                .collect())
        }

        async fn migrate_down(&self, steps: u32) -> anyhow::Result<Vec<String>> {
            let newest_first: Vec<i64> = applied(self).await?.into_keys().rev().collect();
            let steps = (steps as usize).min(newest_first.len());
            let target = newest_first.get(steps).copied().unwrap_or(0);
            MIGRATOR
                .undo(self.pool(), target)
                .await
                .context("migrating down")?;
            Ok(newest_first[..steps].iter().map(i64::to_string).collect())
        }

        async fn migration_status(&self) -> anyhow::Result<Vec<MigrationLine>> {
            let mut applied = applied(self).await?;
            let mut lines: Vec<MigrationLine> = MIGRATOR
                .iter()
                .filter(|m| m.migration_type.is_up_migration())
                .map(|m| {
                    let (state, applied_at) = match applied.remove(&m.version) {
                        Some((sum, at)) if *sum == *m.checksum => ("applied", Some(at)),
                        Some((_, at)) => ("modified", Some(at)),
                        None => ("pending", None),
                    };
                    MigrationLine {
                        version: m.version.to_string(),
                        name: m.description.to_string(),
                        state: state.to_owned(),
                        applied_at,
                    }
                })
                .collect();
            lines.extend(applied.into_iter().map(|(v, (_, at))| MigrationLine {
                version: v.to_string(),
                name: String::new(),
                state: "unknown".to_owned(),
                applied_at: Some(at),
            }));
            Ok(lines)
        }

        async fn push_revocations(
            &self,
            service: &TokenService<Self>,
        ) -> anyhow::Result<Option<PushGuard>> {
            let listener = PgRevocationListener::start(self.pool(), service.clone())
                .await
                .context("starting the LISTEN/NOTIFY revocation listener")?;
            Ok(Some(Box::new(listener)))
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use anyhow::Context as _;
    use auth_mysql::{MySqlOptions, MySqlTokenStore};

    use super::{Backend, DatabaseTimeouts, MigrationLine};

    impl Backend for MySqlTokenStore {
        const NAME: &'static str = "MySQL";

        async fn connect(url: &str, timeouts: DatabaseTimeouts) -> anyhow::Result<Self> {
            let mut options = MySqlOptions::new(url);
            options.wait_timeout = timeouts.acquire;
            options.connect_timeout = timeouts.acquire;
            options.statement_timeout = timeouts.statement;
            Ok(MySqlTokenStore::connect_with(&options).await?)
        }

        async fn migrate_up(&self) -> anyhow::Result<Vec<String>> {
            self.run_pending_migrations().await.context("migrating up")
        }

        async fn migrate_down(&self, steps: u32) -> anyhow::Result<Vec<String>> {
            self.revert_migrations(steps as usize)
                .await
                .context("migrating down")
        }

        async fn migration_status(&self) -> anyhow::Result<Vec<MigrationLine>> {
            let lines = MySqlTokenStore::migration_status(self)
                .await
                .context("reading migration status")?;
            Ok(lines
                .into_iter()
                .map(|m| MigrationLine {
                    version: m.version,
                    name: m.name,
                    state: if m.applied { "applied" } else { "pending" }.to_owned(),
                    applied_at: None,
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_paths() {
        assert_eq!(
            DatabaseKind::of("sqlite:./a.db").unwrap(),
            DatabaseKind::Sqlite
        );
        assert_eq!(
            DatabaseKind::of("postgresql://u@h/db").unwrap(),
            DatabaseKind::Postgres
        );
        assert_eq!(
            DatabaseKind::of("mysql://root@127.0.0.1/test").unwrap(),
            DatabaseKind::Mysql
        );
        assert!(DatabaseKind::of("./authd.db").is_err());
        assert_eq!(sqlite_path("sqlite:./authd.db").unwrap(), "./authd.db");
        assert_eq!(sqlite_path("sqlite://./authd.db").unwrap(), "./authd.db");
        assert_eq!(
            sqlite_path("sqlite:///tmp/a.db?mode=rwc").unwrap(),
            "/tmp/a.db"
        );
        assert_eq!(sqlite_path("SQLITE:a.db").unwrap(), "a.db");
        assert!(sqlite_path("sqlite:").is_err());
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("mysql://root@h/test"), "mysql://root@h/test");
    }
}
