//! The embedded migrations (`migrations-mysql/`), run on a dedicated connection through
//! diesel-async's `AsyncConnectionWrapper` in a blocking task.

use std::num::ParseIntError;

use auth_core::{
    AppliedMigration, EmbeddedMigration, MigrationDirection, MigrationError, MigrationLedger,
    MigrationStatus, Migrations,
};
use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::migration::{Migration, MigrationSource};
use diesel::mysql::Mysql;
use diesel::sql_types::{Nullable, Text, Timestamp};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use time::PrimitiveDateTime;

use crate::django::DjangoUsers;
use crate::pool::{MySqlConnection, MySqlPooledConnection};
use crate::store::MySqlTokenStore;

/// The schema, embedded from `migrations-mysql/` at the repository root. The first
/// migration (`20240227010724_met_14854`) is seed 000's `auth_user_tokens`; the later
/// ones extend it and hash legacy plaintext tokens in place.
pub const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations-mysql");

type Harness = AsyncConnectionWrapper<MySqlConnection>;

/// How a migration's own check declines to run (`SIGNAL SQLSTATE '45000'` with this
/// message): the Django adoption's down when it cannot restore the table's definition.
const REFUSAL: &str = "refusing to revert";

/// The stored procedures the adoption migrations create and drop; one left behind by a
/// failed or refused run is dropped after it.
const MIGRATION_PROCEDURES: [&str; 2] = ["auth_tokens_adopt_users", "auth_tokens_revert_adoption"];

/// Tells the migrations which Django table to adopt (`migrations-mysql/20260301000000`):
/// session variables of the migration connection, NULL when the store keeps its own users.
fn pass_users_table(h: &mut Harness, users: Option<&DjangoUsers>) -> Result<(), MigrationError> {
    diesel::sql_query("SET @auth_tokens_users_schema = ?, @auth_tokens_users_table = ?")
        .bind::<Nullable<Text>, _>(users.and_then(DjangoUsers::database))
        .bind::<Nullable<Text>, _>(users.map(DjangoUsers::table))
        .execute(h)
        .map_err(MigrationError::database)?;
    Ok(())
}

fn drop_leftover_procedures(h: &mut Harness) {
    for name in MIGRATION_PROCEDURES {
        if let Err(e) = diesel::sql_query(format!("DROP PROCEDURE IF EXISTS `{name}`")).execute(h) {
            tracing::warn!(error = %e, procedure = name, "could not drop a migration's procedure");
        }
    }
}

type Embedded = Box<dyn Migration<Mysql>>;

/// One row of diesel's bookkeeping table.
#[derive(QueryableByName)]
struct AppliedRow {
    #[diesel(sql_type = Text)]
    version: String,
    /// A `TIMESTAMP`, read in the pool's UTC session time zone.
    #[diesel(sql_type = Timestamp)]
    run_on: PrimitiveDateTime,
}

fn version_of(text: &str) -> Result<i64, MigrationError> {
    text.parse()
        .map_err(|e: ParseIntError| MigrationError::database(e))
}

/// Every embedded migration, by version, with its description (the folder name
/// after the version).
fn embedded() -> Result<Vec<(i64, String, Embedded)>, MigrationError> {
    let all = MigrationSource::<Mysql>::migrations(&MYSQL_MIGRATIONS)
        .map_err(MigrationError::Database)?;
    let mut out = Vec::with_capacity(all.len());
    for m in all {
        let name = m.name().to_string();
        let version_text = m.name().version().to_string();
        let description = name
            .strip_prefix(&version_text)
            .map_or(name.as_str(), |rest| rest.trim_start_matches('_'))
            .to_owned();
        out.push((version_of(&version_text)?, description, m));
    }
    out.sort_by_key(|(version, _, _)| *version);
    Ok(out)
}

/// The embedded migrations against those diesel's bookkeeping records (created here if missing).
fn ledger(
    h: &mut Harness,
    embedded: &[(i64, String, Embedded)],
) -> Result<MigrationLedger, MigrationError> {
    // Creates `__diesel_schema_migrations` if needed.
    h.applied_migrations().map_err(MigrationError::Database)?;
    let rows: Vec<AppliedRow> =
        diesel::sql_query("SELECT version, run_on FROM __diesel_schema_migrations")
            .load(h)
            .map_err(MigrationError::database)?;
    let mut applied = Vec::with_capacity(rows.len());
    for row in rows {
        applied.push(AppliedMigration {
            version: version_of(&row.version)?,
            description: None,
            checksum: None,
            applied_at: Some(row.run_on.assume_utc()),
        });
    }
    let embedded = embedded
        .iter()
        .map(|(version, description, _)| EmbeddedMigration {
            version: *version,
            description: description.clone(),
            checksum: None,
        })
        .collect();
    Ok(MigrationLedger::new(embedded, applied))
}

/// Runs each of `versions` in `direction`, in the order given.
fn run(
    h: &mut Harness,
    embedded: &[(i64, String, Embedded)],
    versions: Vec<i64>,
    direction: MigrationDirection,
) -> Result<Vec<i64>, MigrationError> {
    let mut done = Vec::with_capacity(versions.len());
    for version in versions {
        let Some((_, description, m)) = embedded.iter().find(|(v, _, _)| *v == version) else {
            continue;
        };
        let result = match direction {
            MigrationDirection::Up => h.run_migration(&**m),
            MigrationDirection::Down => h.revert_migration(&**m),
        };
        if let Err(source) = result {
            drop_leftover_procedures(h);
            let description = description.clone();
            return Err(
                if direction == MigrationDirection::Down && source.to_string().contains(REFUSAL) {
                    MigrationError::Refused {
                        version,
                        description,
                        source,
                    }
                } else {
                    MigrationError::Failed {
                        version,
                        description,
                        direction,
                        source,
                    }
                },
            );
        }
        tracing::info!(version, %description, %direction, "ran MySQL migration");
        done.push(version);
    }
    Ok(done)
}

/// Applies at most `limit` pending migrations in order; returns the versions applied.
fn up(h: &mut Harness, limit: usize) -> Result<Vec<i64>, MigrationError> {
    let embedded = embedded()?;
    let versions = ledger(h, &embedded)?
        .pending()?
        .iter()
        .take(limit)
        .map(|m| m.version)
        .collect();
    run(h, &embedded, versions, MigrationDirection::Up)
}

fn down(h: &mut Harness, steps: u32) -> Result<Vec<i64>, MigrationError> {
    let embedded = embedded()?;
    let versions = ledger(h, &embedded)?
        .to_revert(steps)?
        .iter()
        .map(|m| m.version)
        .collect();
    run(h, &embedded, versions, MigrationDirection::Down)
}

fn status(h: &mut Harness) -> Result<Vec<MigrationStatus>, MigrationError> {
    Ok(ledger(h, &embedded()?)?.status())
}

/// Runs `f` with a migration harness over a connection of its own, taken out of the
/// store's pool (so it keeps the pool's session setup), in a blocking task, after
/// telling the migrations the store's Django table.
async fn with_harness<T, F>(store: &MySqlTokenStore, f: F) -> Result<T, MigrationError>
where
    T: Send + 'static,
    F: FnOnce(&mut Harness) -> Result<T, MigrationError> + Send + 'static,
{
    let pooled = store.pool().get().await.map_err(MigrationError::database)?;
    let conn = MySqlPooledConnection::take(pooled);
    let users = store.django_users().cloned();
    tokio::task::spawn_blocking(move || {
        let mut harness = Harness::from(conn);
        pass_users_table(&mut harness, users.as_ref())?;
        f(&mut harness)
    })
    .await
    .map_err(MigrationError::database)?
}

impl MySqlTokenStore {
    /// Applies at most `n` pending migrations, oldest first; returns the versions applied.
    pub async fn migrate_up_steps(&self, n: usize) -> Result<Vec<i64>, MigrationError> {
        with_harness(self, move |h| up(h, n)).await
    }
}

impl Migrations for MySqlTokenStore {
    async fn migrate_up(&self) -> Result<Vec<i64>, MigrationError> {
        self.migrate_up_steps(usize::MAX).await
    }

    async fn migrate_down(&self, steps: u32) -> Result<Vec<i64>, MigrationError> {
        with_harness(self, move |h| down(h, steps)).await
    }

    async fn migration_status(&self) -> Result<Vec<MigrationStatus>, MigrationError> {
        with_harness(self, status).await
    }
}
