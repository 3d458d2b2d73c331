//! The embedded migrations (`migrations-mysql/`), run on a dedicated connection through
//! diesel-async's `AsyncConnectionWrapper` in a blocking task.

use diesel::migration::MigrationSource;
use diesel::mysql::Mysql;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::MySqlError;
use crate::pool::MySqlConnection;

/// The schema, embedded from `migrations-mysql/` at the repository root. The first
/// migration (`20240227010724_met_14854`) is seed 000's `auth_user_tokens`; the later
/// ones extend it and hash legacy plaintext tokens in place.
pub const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations-mysql");

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MySqlMigrationStatus {
    /// Version, e.g. `20240227010724`.
    pub version: String,
    /// Folder name, e.g. `20240227010724_met_14854`.
    pub name: String,
    /// Whether it is applied.
    pub applied: bool,
}

type Harness = AsyncConnectionWrapper<MySqlConnection>;

fn migration_error(e: Box<dyn std::error::Error + Send + Sync + 'static>) -> MySqlError {
    MySqlError::Migration(e)
}

/// Runs `f` with a migration harness over `conn` in a blocking task.
pub(crate) async fn with_harness<T, F>(conn: MySqlConnection, f: F) -> Result<T, MySqlError>
where
    T: Send + 'static,
    F: FnOnce(&mut Harness) -> Result<T, MySqlError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let mut harness = Harness::from(conn);
        f(&mut harness)
    })
    .await?
}

/// Applies up to `limit` pending migrations in order; returns the versions applied.
pub(crate) fn run_up(h: &mut Harness, limit: usize) -> Result<Vec<String>, MySqlError> {
    let mut applied = Vec::new();
    while applied.len() < limit
        && h.has_pending_migration(MYSQL_MIGRATIONS)
            .map_err(migration_error)?
    {
        let version = h
            .run_next_migration(MYSQL_MIGRATIONS)
            .map_err(migration_error)?;
        applied.push(version.to_string());
    }
    Ok(applied)
}

/// Reverts up to `limit` applied migrations, newest first; returns the versions reverted.
pub(crate) fn run_down(h: &mut Harness, limit: usize) -> Result<Vec<String>, MySqlError> {
    let mut reverted = Vec::new();
    while reverted.len() < limit && !h.applied_migrations().map_err(migration_error)?.is_empty() {
        let version = h
            .revert_last_migration(MYSQL_MIGRATIONS)
            .map_err(migration_error)?;
        reverted.push(version.to_string());
    }
    Ok(reverted)
}

/// Every embedded migration and whether it is applied.
pub(crate) fn status(h: &mut Harness) -> Result<Vec<MySqlMigrationStatus>, MySqlError> {
    let applied: Vec<String> = h
        .applied_migrations()
        .map_err(migration_error)?
        .into_iter()
        .map(|v| v.to_string())
        .collect();
    let all = MigrationSource::<Mysql>::migrations(&MYSQL_MIGRATIONS).map_err(migration_error)?;
    Ok(all
        .iter()
        .map(|m| {
            let name = m.name();
            let version = name.version().to_string();
            MySqlMigrationStatus {
                applied: applied.contains(&version),
                name: name.to_string(),
                version,
            }
        })
        .collect())
}
