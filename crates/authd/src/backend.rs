//! The storage backends authd can run on, chosen by the database URL's scheme.

use std::future::Future;

use anyhow::bail;
use auth_core::{Migrations, TokenService, TokenStore, UserClaimColumns};

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

/// A store authd can open from a URL; migrating it is the store's
/// [`Migrations`] contract.
pub trait Backend: TokenStore + Migrations + Sized {
    /// Display name.
    const NAME: &'static str;

    /// Connects without migrating, every database call bounded by `timeouts`, keeping
    /// users in the adopted Django table `users_table` when one is named (MySQL only).
    fn connect(
        url: &str,
        timeouts: DatabaseTimeouts,
        users_table: Option<&str>,
    ) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// This store reading `columns` as access-token claims; refuses columns the users
    /// table lacks ([`auth_core::Error::MissingUserColumns`]).
    fn with_user_claim_columns(
        self,
        columns: UserClaimColumns,
    ) -> impl Future<Output = auth_core::Result<Self>> + Send;

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

/// Refuses `users_table` on a backend that adopts no Django table.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn no_users_table(backend: &str, users_table: Option<&str>) -> anyhow::Result<()> {
    match users_table {
        Some(table) => {
            bail!("users_table ({table}) adopts a Django auth_user on MySQL only, not on {backend}")
        }
        None => Ok(()),
    }
}

/// Keeps a backend's revocation push running until dropped.
pub type PushGuard = Box<dyn std::any::Any + Send + Sync>;

#[cfg(feature = "sqlite")]
mod sqlite {
    use anyhow::Context as _;
    use auth_core::UserClaimColumns;
    use auth_sqlite::{DEFAULT_BUSY_TIMEOUT, SqliteTimeouts, SqliteTokenStore};

    use super::{Backend, DatabaseTimeouts};

    impl Backend for SqliteTokenStore {
        const NAME: &'static str = "SQLite";

        async fn connect(
            url: &str,
            timeouts: DatabaseTimeouts,
            users_table: Option<&str>,
        ) -> anyhow::Result<Self> {
            super::no_users_table(Self::NAME, users_table)?;
            let timeouts = SqliteTimeouts {
                acquire: timeouts.acquire,
                busy: timeouts.statement.unwrap_or(DEFAULT_BUSY_TIMEOUT),
            };
            SqliteTokenStore::connect_with_timeouts(url, timeouts)
                .await
                .with_context(|| format!("opening SQLite database {url}"))
        }

        async fn with_user_claim_columns(
            self,
            columns: UserClaimColumns,
        ) -> auth_core::Result<Self> {
            SqliteTokenStore::with_user_claim_columns(self, columns).await
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use anyhow::Context as _;
    use auth_core::{TokenService, UserClaimColumns};
    use auth_postgres::{PgRevocationListener, PgTimeouts, PgTokenStore};

    use super::{Backend, DatabaseTimeouts, PushGuard};

    impl Backend for PgTokenStore {
        const NAME: &'static str = "PostgreSQL";

        async fn connect(
            url: &str,
            timeouts: DatabaseTimeouts,
            users_table: Option<&str>,
        ) -> anyhow::Result<Self> {
            super::no_users_table(Self::NAME, users_table)?;
            let timeouts = PgTimeouts {
                acquire: timeouts.acquire,
                statement: timeouts.statement,
            };
            Ok(PgTokenStore::connect_with_timeouts(url, timeouts).await?)
        }

        async fn with_user_claim_columns(
            self,
            columns: UserClaimColumns,
        ) -> auth_core::Result<Self> {
            PgTokenStore::with_user_claim_columns(self, columns).await
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
    use auth_core::UserClaimColumns;
    use auth_mysql::{DjangoUsers, MySqlOptions, MySqlTokenStore};

    use super::{Backend, DatabaseTimeouts};

    impl Backend for MySqlTokenStore {
        const NAME: &'static str = "MySQL";

        async fn connect(
            url: &str,
            timeouts: DatabaseTimeouts,
            users_table: Option<&str>,
        ) -> anyhow::Result<Self> {
            let mut options = MySqlOptions::new(url);
            options.wait_timeout = timeouts.acquire;
            options.connect_timeout = timeouts.acquire;
            options.statement_timeout = timeouts.statement;
            options.users_table = users_table.map(DjangoUsers::parse).transpose()?;
            Ok(MySqlTokenStore::connect_with(&options).await?)
        }

        async fn with_user_claim_columns(
            self,
            columns: UserClaimColumns,
        ) -> auth_core::Result<Self> {
            MySqlTokenStore::with_user_claim_columns(self, columns).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sqlite")]
    #[test]
    fn users_table_is_refused_outside_mysql() {
        let err = no_users_table("SQLite", Some("auth_user")).unwrap_err();
        assert!(err.to_string().contains("MySQL only"), "{err}");
        assert!(no_users_table("SQLite", None).is_ok());
    }

    #[test]
    fn schemes_and_redaction() {
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
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("mysql://root@h/test"), "mysql://root@h/test");
    }
}
