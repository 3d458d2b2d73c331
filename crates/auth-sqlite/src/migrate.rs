//! The embedded migrations and the runner that applies and reverts them, one
//! transaction per migration, recording applied versions in `schema_migrations`.

use auth_core::time::OffsetDateTime;
use auth_core::{
    AppliedMigration, EmbeddedMigration, MigrationDirection, MigrationError, MigrationLedger,
    MigrationStatus, Migrations,
};
use deadpool_sqlite::rusqlite::{self, Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use crate::adopt;
use crate::convert::{micros, opt_time_at};
use crate::store::{SqliteTokenStore, run};

/// One embedded migration (from `migrations-sqlite/NNNN_name.{up,down}.sql`).
#[derive(Debug)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) up: &'static str,
    pub(crate) down: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL,
    checksum   BLOB    NOT NULL CHECK (length(checksum) = 32),
    applied_at INTEGER NOT NULL
) STRICT";

fn checksum(sql: &str) -> [u8; 32] {
    Sha256::digest(sql.as_bytes()).into()
}

/// The applied migrations; none if `schema_migrations` does not exist yet (not created here).
fn applied(conn: &Connection) -> rusqlite::Result<Vec<AppliedMigration>> {
    let exists = conn
        .prepare_cached(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        )?
        .query_row([], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(Vec::new());
    }
    let mut stmt =
        conn.prepare_cached("SELECT version, name, checksum, applied_at FROM schema_migrations")?;
    let rows = stmt.query_map([], |row| {
        Ok(AppliedMigration {
            version: row.get(0)?,
            description: Some(row.get(1)?),
            checksum: Some(row.get(2)?),
            applied_at: opt_time_at(row, 3)?,
        })
    })?;
    rows.collect()
}

fn embedded(version: i64) -> Option<&'static Migration> {
    MIGRATIONS.iter().find(|m| m.version == version)
}

/// The embedded migrations against the applied ones.
fn ledger(conn: &Connection) -> Result<MigrationLedger, MigrationError> {
    let embedded = MIGRATIONS
        .iter()
        .map(|m| EmbeddedMigration {
            version: m.version,
            description: m.name.to_owned(),
            checksum: Some(checksum(m.up).to_vec()),
        })
        .collect();
    Ok(MigrationLedger::new(
        embedded,
        applied(conn).map_err(MigrationError::database)?,
    ))
}

fn failed(m: &Migration, direction: MigrationDirection, e: rusqlite::Error) -> MigrationError {
    MigrationError::Failed {
        version: m.version,
        description: m.name.to_owned(),
        direction,
        source: Box::new(e),
    }
}

/// Migration 1 (`users`): where an existing users table is adopted instead.
const ADOPTING_MIGRATION: i64 = 1;

fn record_applied(tx: &Connection, m: &Migration) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        m.version,
        m.name,
        &checksum(m.up)[..],
        micros(OffsetDateTime::now_utc())
    ])?;
    Ok(())
}

fn is_applied(tx: &Connection, version: i64) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT 1 FROM schema_migrations WHERE version = ?1")?
        .query_row([version], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

/// Applies every pending migration in version order, each in its own `BEGIN
/// IMMEDIATE` transaction; returns the versions applied (empty if none was pending).
pub(crate) fn up(conn: &mut Connection) -> Result<Vec<i64>, MigrationError> {
    conn.execute(CREATE_SCHEMA_MIGRATIONS, [])
        .map_err(MigrationError::database)?;
    let pending: Vec<i64> = ledger(conn)?.pending()?.iter().map(|m| m.version).collect();
    let mut done = Vec::new();
    for m in pending.into_iter().filter_map(embedded) {
        let fail = |e| failed(m, MigrationDirection::Up, e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        // Checked again inside the write lock: another process may have applied it.
        if is_applied(&tx, m.version).map_err(fail)? {
            continue;
        }
        let mut applied = vec![m];
        if m.version == ADOPTING_MIGRATION && adopt::needed(&tx).map_err(fail)? {
            // An existing users table: adopted instead of created; it then has what
            // migration 7 adds too (ARCHITECTURE.md, "Existing deployments").
            adopt::adopt(&tx).map_err(fail)?;
            applied.extend(embedded(adopt::PHONE_NUMBER_MIGRATION));
        } else if !(m.version == adopt::PHONE_NUMBER_MIGRATION
            && adopt::adopted(&tx).map_err(fail)?)
        {
            // (An adopted table got migration 7's column from the adoption.)
            tx.execute_batch(m.up).map_err(fail)?;
        }
        for a in applied {
            record_applied(&tx, a).map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied SQLite migration"
        );
        done.push(m.version);
    }
    Ok(done)
}

/// Reverts the given applied versions in the order given, each in its own
/// transaction; returns the versions reverted.
fn revert(conn: &mut Connection, versions: Vec<i64>) -> Result<Vec<i64>, MigrationError> {
    let mut done = Vec::new();
    for m in versions.into_iter().filter_map(embedded) {
        let fail = |e| failed(m, MigrationDirection::Down, e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        if !is_applied(&tx, m.version).map_err(fail)? {
            continue;
        }
        let adopted = adopt::adopted(&tx).map_err(fail)?;
        if adopted && m.version == ADOPTING_MIGRATION {
            if let Err(refusal) = adopt::revert(&tx).map_err(fail)? {
                // Dropping the transaction rolls it back: nothing changed.
                return Err(MigrationError::Refused {
                    version: m.version,
                    description: m.name.to_owned(),
                    source: Box::new(refusal),
                });
            }
        } else if !(adopted && m.version == adopt::PHONE_NUMBER_MIGRATION) {
            tx.execute_batch(m.down).map_err(fail)?;
        }
        tx.prepare_cached("DELETE FROM schema_migrations WHERE version = ?1")
            .and_then(|mut stmt| stmt.execute([m.version]))
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "reverted SQLite migration"
        );
        done.push(m.version);
    }
    Ok(done)
}

/// Reverts every applied migration above `target` (0 reverts all), highest first.
pub(crate) fn down_to(conn: &mut Connection, target: i64) -> Result<Vec<i64>, MigrationError> {
    let ledger = ledger(conn)?;
    let above = ledger.applied().filter(|m| m.version > target).count();
    let steps = u32::try_from(above).unwrap_or(u32::MAX);
    let versions = ledger.to_revert(steps)?.iter().map(|m| m.version).collect();
    revert(conn, versions)
}

/// Reverts the `steps` highest applied migrations.
pub(crate) fn down_steps(conn: &mut Connection, steps: u32) -> Result<Vec<i64>, MigrationError> {
    let versions = ledger(conn)?
        .to_revert(steps)?
        .iter()
        .map(|m| m.version)
        .collect();
    revert(conn, versions)
}

/// Every embedded migration and every applied one, by version.
pub(crate) fn status(conn: &mut Connection) -> Result<Vec<MigrationStatus>, MigrationError> {
    Ok(ledger(conn)?.status())
}

/// The highest embedded version.
fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

impl Migrations for SqliteTokenStore {
    async fn migrate_up(&self) -> Result<Vec<i64>, MigrationError> {
        on_connection(self, up).await
    }

    async fn migrate_down(&self, steps: u32) -> Result<Vec<i64>, MigrationError> {
        on_connection(self, move |conn| down_steps(conn, steps)).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationStatus>, MigrationError> {
        on_connection(self, status).await
    }
}

impl SqliteTokenStore {
    /// The highest migration version this build embeds.
    pub fn latest_migration() -> i64 {
        latest()
    }

    /// Reverts every applied migration above `version`, highest first, each in its
    /// own transaction; `0` reverts them all. Returns the versions reverted.
    pub async fn migrate_down_to(&self, version: i64) -> Result<Vec<i64>, MigrationError> {
        on_connection(self, move |conn| down_to(conn, version)).await
    }
}

/// Runs `f` on a pooled connection in the blocking pool.
async fn on_connection<R, F>(store: &SqliteTokenStore, f: F) -> Result<R, MigrationError>
where
    F: FnOnce(&mut Connection) -> Result<R, MigrationError> + Send + 'static,
    R: Send + 'static,
{
    run(store.connections(), move |conn| Ok(f(conn)))
        .await
        .map_err(MigrationError::database)?
}
