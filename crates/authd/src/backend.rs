//! The storage backends authd can run on, chosen by the database URL's scheme.

use std::future::Future;

use anyhow::bail;
use auth_core::TokenStore;
use time::OffsetDateTime;

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
            Some("mysql" | "mariadb") => Ok(Self::Mysql),
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

    /// Connects without migrating.
    fn connect(url: &str) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Applies pending migrations; returns the versions applied.
    fn migrate_up(&self) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;

    /// Reverts the `steps` newest migrations; returns the versions reverted.
    fn migrate_down(&self, steps: u32) -> impl Future<Output = anyhow::Result<Vec<String>>> + Send;

    /// Every migration and its state.
    fn migration_status(&self) -> impl Future<Output = anyhow::Result<Vec<MigrationLine>>> + Send;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use anyhow::Context as _;
    use auth_sqlite::{SqliteMigrationState, SqliteTokenStore};

    use super::{Backend, MigrationLine, sqlite_path};

    fn versions(v: Vec<i64>) -> Vec<String> {
        v.into_iter().map(|v| v.to_string()).collect()
    }

    impl Backend for SqliteTokenStore {
        const NAME: &'static str = "SQLite";

        async fn connect(url: &str) -> anyhow::Result<Self> {
            let path = sqlite_path(url)?;
            SqliteTokenStore::connect(path)
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
