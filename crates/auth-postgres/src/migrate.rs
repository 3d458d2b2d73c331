//! The embedded migrations (`migrations-postgres/`) run through sqlx's per-migration
//! primitives under its advisory lock, which is released on every path, a refused or
//! failed migration included.

use auth_core::time::OffsetDateTime;
use auth_core::{
    AppliedMigration, EmbeddedMigration, MigrationDirection, MigrationError, MigrationLedger,
    MigrationStatus, Migrations,
};
use sqlx::migrate::{Migrate, MigrateError, Migration, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnection;
use sqlx::{Postgres, Row};

use crate::store::PgTokenStore;

/// The migrations of `migrations-postgres/`, embedded at build time.
///
/// [`PgTokenStore`] runs them through [`auth_core::Migrations`]; the same folder works
/// with `sqlx migrate run --source migrations-postgres`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations-postgres");

/// sqlx's bookkeeping table.
const TABLE: &str = "_sqlx_migrations";

/// SQLSTATE of `RAISE EXCEPTION` without an explicit code: a migration's own check
/// refusing to run (the adoption's down while restored NOT NULL columns hold NULLs).
const RAISE_EXCEPTION: &str = "P0001";

fn up_migration(version: i64) -> Option<&'static Migration> {
    MIGRATOR
        .iter()
        .find(|m| m.version == version && m.migration_type.is_up_migration())
}

fn down_migration(version: i64) -> Option<&'static Migration> {
    MIGRATOR
        .iter()
        .find(|m| m.version == version && m.migration_type.is_down_migration())
}

/// The applied migrations with their checksums and times; none before the first run.
async fn applied(conn: &mut PgConnection) -> Result<Vec<AppliedMigration>, MigrationError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(TABLE)
        .fetch_one(&mut *conn)
        .await
        .map_err(MigrationError::database)?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT version, description, checksum, installed_on, success FROM _sqlx_migrations \
         ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(MigrationError::database)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let version: i64 = row.get("version");
        if !row.get::<bool, _>("success") {
            return Err(MigrationError::Dirty { version });
        }
        out.push(AppliedMigration {
            version,
            description: Some(row.get("description")),
            checksum: Some(row.get("checksum")),
            applied_at: Some(row.get::<OffsetDateTime, _>("installed_on")),
        });
    }
    Ok(out)
}

async fn ledger(conn: &mut PgConnection) -> Result<MigrationLedger, MigrationError> {
    let embedded = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| EmbeddedMigration {
            version: m.version,
            description: m.description.to_string(),
            checksum: Some(m.checksum.to_vec()),
        })
        .collect();
    Ok(MigrationLedger::new(embedded, applied(conn).await?))
}

/// A migration's failure as the contract's error: a `RAISE EXCEPTION` of its own
/// while reverting is a refusal.
fn failed(m: &Migration, direction: MigrationDirection, err: MigrateError) -> MigrationError {
    let raised = match &err {
        MigrateError::ExecuteMigration(e, _) | MigrateError::Execute(e) => e
            .as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|code| code == RAISE_EXCEPTION),
        _ => false,
    };
    let version = m.version;
    let description = m.description.to_string();
    if raised && direction == MigrationDirection::Down {
        MigrationError::Refused {
            version,
            description,
            source: Box::new(err),
        }
    } else {
        MigrationError::Failed {
            version,
            description,
            direction,
            source: Box::new(err),
        }
    }
}

async fn up(conn: &mut PgConnection) -> Result<Vec<i64>, MigrationError> {
    conn.ensure_migrations_table(TABLE)
        .await
        .map_err(MigrationError::database)?;
    let pending: Vec<i64> = ledger(conn)
        .await?
        .pending()?
        .iter()
        .map(|m| m.version)
        .collect();
    let mut done = Vec::new();
    for m in pending.into_iter().filter_map(up_migration) {
        conn.apply(TABLE, m)
            .await
            .map_err(|e| failed(m, MigrationDirection::Up, e))?;
        tracing::info!(version = m.version, description = %m.description, "applied PostgreSQL migration");
        done.push(m.version);
    }
    Ok(done)
}

async fn down(conn: &mut PgConnection, steps: u32) -> Result<Vec<i64>, MigrationError> {
    let versions: Vec<i64> = ledger(conn)
        .await?
        .to_revert(steps)?
        .iter()
        .map(|m| m.version)
        .collect();
    let mut done = Vec::new();
    for m in versions.into_iter().filter_map(down_migration) {
        conn.revert(TABLE, m)
            .await
            .map_err(|e| failed(m, MigrationDirection::Down, e))?;
        tracing::info!(version = m.version, description = %m.description, "reverted PostgreSQL migration");
        done.push(m.version);
    }
    Ok(done)
}

/// A pooled connection holding sqlx's migration advisory lock (session-level, so it
/// outlives a failed transaction and must be released by hand).
struct Locked(PoolConnection<Postgres>);

impl Locked {
    async fn acquire(store: &PgTokenStore) -> Result<Self, MigrationError> {
        let mut conn = store
            .pool()
            .acquire()
            .await
            .map_err(MigrationError::database)?;
        conn.lock().await.map_err(MigrationError::database)?;
        Ok(Self(conn))
    }

    /// Releases the lock; a connection whose unlock failed is closed instead of
    /// returning to the pool with the lock held.
    async fn release<T>(mut self, result: Result<T, MigrationError>) -> Result<T, MigrationError> {
        match self.0.unlock().await {
            Ok(()) => result,
            Err(e) => {
                let _ = self.0.close().await;
                result.and(Err(MigrationError::database(e)))
            }
        }
    }
}

impl Migrations for PgTokenStore {
    async fn migrate_up(&self) -> Result<Vec<i64>, MigrationError> {
        let mut locked = Locked::acquire(self).await?;
        let result = up(&mut locked.0).await;
        locked.release(result).await
    }

    async fn migrate_down(&self, steps: u32) -> Result<Vec<i64>, MigrationError> {
        let mut locked = Locked::acquire(self).await?;
        let result = down(&mut locked.0, steps).await;
        locked.release(result).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationStatus>, MigrationError> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(MigrationError::database)?;
        Ok(ledger(&mut conn).await?.status())
    }
}
