//! [`MySqlTokenStore`]: the pool, its transactions (deadlock victims run again) and the constructors and migrations.

use std::fmt;
use std::sync::Arc;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AnsiTransactionManager, TransactionManager};

use crate::django::{DjangoUserTable, DjangoUsers};
use crate::error::MySqlError;
use crate::pool::{MySqlConnection, MySqlOptions, MySqlPool, MySqlPooledConnection, build_pool};
use crate::user_columns::UserReads;

/// How often a transaction that InnoDB chose as a deadlock victim is run again. Each
/// victim was rolled back whole, so running it again is safe; after the last attempt
/// the deadlock is returned as an error.
pub(crate) const DEADLOCK_ATTEMPTS: u32 = 5;

/// The end of a transaction body: commit or roll back, and what to return.
pub(crate) enum Tx<T> {
    Commit(T),
    Rollback(T),
}

pub(crate) fn is_deadlock(e: &DieselError) -> bool {
    // diesel-async keeps the server's message, not its code (1213, ER_LOCK_DEADLOCK).
    matches!(e, DieselError::DatabaseError(_, info) if info.message().starts_with("Deadlock found"))
}

/// Whether a connection that returned `e` may go back to the pool. Constraint
/// violations and deadlocks leave it healthy; other database errors may come from a
/// broken link (the driver reports those as unclassified database errors), so such a
/// connection is dropped rather than handed to the next request.
fn keeps_connection(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, _) => is_deadlock(e),
        _ => true,
    }
}

/// Hands a connection back to the pool, or drops it after an error that may have broken it.
pub(crate) fn release<T>(pooled: MySqlPooledConnection, result: &Result<T, DieselError>) {
    if let Err(e) = result
        && !keeps_connection(e)
    {
        drop(MySqlPooledConnection::take(pooled));
    }
}

/// Runs `$body` (an expression of type `Result<T, DieselError>` using `$conn`) on a
/// pooled connection.
macro_rules! with_conn {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut pooled = $store.conn().await?;
        let $conn: &mut $crate::MySqlConnection = &mut pooled;
        let result = async { $body }.await;
        $crate::store::release(pooled, &result);
        result
    }};
}
pub(crate) use with_conn;

pub(crate) async fn finish<T>(
    conn: &mut MySqlConnection,
    body: Result<Tx<T>, DieselError>,
) -> Result<T, DieselError> {
    type Manager = AnsiTransactionManager;
    match body {
        Ok(Tx::Commit(value)) => {
            <Manager as TransactionManager<MySqlConnection>>::commit_transaction(conn).await?;
            Ok(value)
        }
        Ok(Tx::Rollback(value)) => {
            <Manager as TransactionManager<MySqlConnection>>::rollback_transaction(conn).await?;
            Ok(value)
        }
        Err(e) => {
            // A failed rollback leaves the connection marked broken; the pool drops it.
            let _ =
                <Manager as TransactionManager<MySqlConnection>>::rollback_transaction(conn).await;
            Err(e)
        }
    }
}

/// Runs `$body` (an expression of type `Result<Tx<T>, DieselError>` using `$conn`) in a
/// transaction on a pooled connection, again if InnoDB picked it as a deadlock victim.
macro_rules! transaction {
    ($store:expr, |$conn:ident| $body:expr) => {{
        let mut attempt = 1;
        loop {
            let mut pooled = $store.conn().await?;
            let $conn: &mut $crate::MySqlConnection = &mut pooled;
            let result = match <::diesel_async::AnsiTransactionManager as ::diesel_async::TransactionManager<$crate::MySqlConnection>>::begin_transaction(
                $conn,
            )
            .await
            {
                Ok(()) => async { $body }.await,
                Err(e) => Err(e),
            };
            let result = $crate::store::finish($conn, result).await;
            $crate::store::release(pooled, &result);
            match result {
                Err(e) if attempt < $crate::store::DEADLOCK_ATTEMPTS && $crate::store::is_deadlock(&e) => {
                    tracing::debug!(attempt, "MySQL deadlock victim; running the transaction again");
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use transaction;

/// The MySQL (and MariaDB) store: users in `auth_user`, refresh tokens and allowlisted
/// access tokens in `auth_user_tokens` (by `token_type`), the revocation feed in
/// `revoked_tokens`, the audit log in `audit_logs`. Cheap to clone; clones share the pool.
/// With [`MySqlOptions::users_table`] (or [`MySqlTokenStore::with_django_users`]) the
/// users are those of an adopted Django `auth_user` instead.
#[derive(Clone)]
pub struct MySqlTokenStore {
    pool: MySqlPool,
    django: Option<Arc<DjangoUserTable>>,
    users: Arc<UserReads>,
}

impl fmt::Debug for MySqlTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("MySqlTokenStore")
            .field("pool_size", &status.size)
            .field("pool_max_size", &status.max_size)
            .field("django_users", &self.django_users())
            .finish_non_exhaustive()
    }
}

impl MySqlTokenStore {
    /// Connects with default [`MySqlOptions`]; fails if no connection can be opened.
    pub async fn connect(url: &str) -> Result<Self, MySqlError> {
        Self::connect_with(&MySqlOptions::new(url)).await
    }

    /// Connects with the given options; fails if no connection can be opened.
    pub async fn connect_with(options: &MySqlOptions) -> Result<Self, MySqlError> {
        let mut store = Self::from_pool(build_pool(options)?);
        if let Some(users) = &options.users_table {
            store = store.with_django_users(users.clone());
        }
        drop(store.conn().await?);
        Ok(store)
    }

    /// A store over a pool made by [`build_pool`](crate::build_pool) (whose connections
    /// run in strict `sql_mode`, UTC: a pool set up otherwise breaks that guarantee).
    pub fn from_pool(pool: MySqlPool) -> Self {
        Self {
            pool,
            django: None,
            users: Arc::default(),
        }
    }

    /// The same store, keeping its users in the adopted Django table `users` (its
    /// migrations adopt that table; ARCHITECTURE.md, "Existing deployments").
    pub fn with_django_users(self, users: DjangoUsers) -> Self {
        Self {
            django: Some(Arc::new(DjangoUserTable::new(users))),
            ..self
        }
    }

    /// The adopted Django table, if the store keeps its users there.
    pub fn django_users(&self) -> Option<&DjangoUsers> {
        self.django.as_deref().map(DjangoUserTable::users)
    }

    pub(crate) fn django(&self) -> Option<&DjangoUserTable> {
        self.django.as_deref()
    }

    /// The claim columns read beside every user.
    pub(crate) fn user_reads(&self) -> &UserReads {
        &self.users
    }

    pub(crate) fn with_user_reads(self, reads: UserReads) -> Self {
        Self {
            users: Arc::new(reads),
            ..self
        }
    }

    /// Applies every pending migration ([`auth_core::Migrations::migrate_up`]);
    /// returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>, auth_core::MigrationError> {
        auth_core::Migrations::migrate_up(self).await
    }

    /// The pool.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    pub(crate) async fn conn(&self) -> Result<MySqlPooledConnection, MySqlError> {
        Ok(self.pool.get().await?)
    }
}

pub(crate) fn uuid_bytes(id: &uuid::Uuid) -> &[u8] {
    id.as_bytes().as_slice()
}
