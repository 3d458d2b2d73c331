//! The embedded migrations and the runner that applies and reverts them, one
//! transaction per migration, recording applied versions in `schema_migrations`.

use std::collections::BTreeMap;

use auth_core::time::OffsetDateTime;
use deadpool_sqlite::rusqlite::{self, Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use crate::convert::{micros, opt_time_at};
use crate::error::SqliteError;

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

/// Where one migration stands in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqliteMigrationState {
    /// Embedded, not applied.
    Pending,
    /// Applied, and the embedded file is the one that was applied.
    Applied,
    /// Applied, but the embedded file has changed since.
    Modified,
    /// Applied by a build that embeds migrations this one does not know.
    Unknown,
}

/// One line of [`SqliteTokenStore::migration_status`](crate::SqliteTokenStore::migration_status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteMigrationStatus {
    /// The version (the file's number).
    pub version: i64,
    /// The name (the file name after the number).
    pub name: String,
    /// Pending, applied, modified or unknown.
    pub state: SqliteMigrationState,
    /// When it was applied, if it was.
    pub applied_at: Option<OffsetDateTime>,
}

fn checksum(sql: &str) -> [u8; 32] {
    Sha256::digest(sql.as_bytes()).into()
}

struct AppliedRow {
    name: String,
    checksum: Vec<u8>,
    applied_at: Option<OffsetDateTime>,
}

/// The applied migrations; none if `schema_migrations` does not exist yet (not created here).
fn applied(conn: &Connection) -> rusqlite::Result<BTreeMap<i64, AppliedRow>> {
    let exists = conn
        .prepare_cached(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        )?
        .query_row([], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Ok(BTreeMap::new());
    }
    let mut stmt =
        conn.prepare_cached("SELECT version, name, checksum, applied_at FROM schema_migrations")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get(0)?,
            AppliedRow {
                name: row.get(1)?,
                checksum: row.get(2)?,
                applied_at: opt_time_at(row, 3)?,
            },
        ))
    })?;
    rows.collect()
}

fn embedded(version: i64) -> Option<&'static Migration> {
    MIGRATIONS.iter().find(|m| m.version == version)
}

/// Refuses to touch a database migrated by a newer build or with edited files.
fn check_known(applied: &BTreeMap<i64, AppliedRow>) -> Result<(), SqliteError> {
    for (version, row) in applied {
        match embedded(*version) {
            None => return Err(SqliteError::UnknownMigration { version: *version }),
            Some(m) if row.checksum != checksum(m.up) => {
                return Err(SqliteError::ModifiedMigration {
                    version: m.version,
                    name: m.name,
                });
            }
            Some(_) => {}
        }
    }
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
pub(crate) fn up(conn: &mut Connection) -> Result<Vec<i64>, SqliteError> {
    conn.execute(CREATE_SCHEMA_MIGRATIONS, [])?;
    check_known(&applied(conn)?)?;
    let mut done = Vec::new();
    for m in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Checked again inside the write lock: another process may have applied it.
        if is_applied(&tx, m.version)? {
            continue;
        }
        let failed = |source| SqliteError::Migration {
            version: m.version,
            name: m.name,
            direction: "up",
            source,
        };
        tx.execute_batch(m.up).map_err(failed)?;
        tx.prepare_cached(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![m.version, m.name, &checksum(m.up)[..], micros(OffsetDateTime::now_utc())])?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied SQLite migration"
        );
        done.push(m.version);
    }
    Ok(done)
}

/// Reverts the given applied versions, highest first; returns the versions reverted.
fn revert(conn: &mut Connection, mut versions: Vec<i64>) -> Result<Vec<i64>, SqliteError> {
    versions.sort_unstable_by(|a, b| b.cmp(a));
    let mut done = Vec::new();
    for version in versions {
        let m = embedded(version).ok_or(SqliteError::UnknownMigration { version })?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !is_applied(&tx, m.version)? {
            continue;
        }
        let failed = |source| SqliteError::Migration {
            version: m.version,
            name: m.name,
            direction: "down",
            source,
        };
        tx.execute_batch(m.down).map_err(failed)?;
        tx.prepare_cached("DELETE FROM schema_migrations WHERE version = ?1")?
            .execute([m.version])?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "reverted SQLite migration"
        );
        done.push(m.version);
    }
    Ok(done)
}

/// Reverts every applied migration above `target` (0 reverts all).
pub(crate) fn down_to(conn: &mut Connection, target: i64) -> Result<Vec<i64>, SqliteError> {
    let applied = applied(conn)?;
    check_known(&applied)?;
    revert(
        conn,
        applied.keys().copied().filter(|v| *v > target).collect(),
    )
}

/// Reverts the `steps` most recently numbered applied migrations.
pub(crate) fn down_steps(conn: &mut Connection, steps: u32) -> Result<Vec<i64>, SqliteError> {
    let applied = applied(conn)?;
    check_known(&applied)?;
    revert(
        conn,
        applied.keys().rev().take(steps as usize).copied().collect(),
    )
}

/// Every embedded migration and every applied one, by version.
pub(crate) fn status(conn: &mut Connection) -> Result<Vec<SqliteMigrationStatus>, SqliteError> {
    let mut applied = applied(conn)?;
    let mut out: Vec<SqliteMigrationStatus> = MIGRATIONS
        .iter()
        .map(|m| {
            let (state, applied_at) = match applied.remove(&m.version) {
                None => (SqliteMigrationState::Pending, None),
                Some(row) if row.checksum == checksum(m.up) => {
                    (SqliteMigrationState::Applied, row.applied_at)
                }
                Some(row) => (SqliteMigrationState::Modified, row.applied_at),
            };
            SqliteMigrationStatus {
                version: m.version,
                name: m.name.to_owned(),
                state,
                applied_at,
            }
        })
        .collect();
    out.extend(
        applied
            .into_iter()
            .map(|(version, row)| SqliteMigrationStatus {
                version,
                name: row.name,
                state: SqliteMigrationState::Unknown,
                applied_at: row.applied_at,
            }),
    );
    out.sort_by_key(|s| s.version);
    Ok(out)
}

/// The highest embedded version.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}
