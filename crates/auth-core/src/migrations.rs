//! The migrations contract: every backend applies, reverts and lists its embedded
//! schema migrations through [`Migrations`], and decides what to apply, what to revert
//! and what state each migration is in with one [`MigrationLedger`] (ARCHITECTURE.md,
//! "Migrations").

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;

use time::OffsetDateTime;

/// A backend's error kept as the source of a [`MigrationError`].
pub type MigrationSource = Box<dyn StdError + Send + Sync + 'static>;

/// Which way a migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationDirection {
    /// Applying it.
    Up,
    /// Reverting it.
    Down,
}

impl fmt::Display for MigrationDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MigrationDirection::Up => "up",
            MigrationDirection::Down => "down",
        })
    }
}

/// Why migrating failed. Every variant but [`MigrationError::Failed`] and
/// [`MigrationError::Database`] is raised before anything was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// A migration's own down refused to revert (it checks the data first, e.g. an
    /// adopted table whose restored constraint its rows no longer meet). That
    /// migration changed nothing and stays applied; the ones reverted before it stay
    /// reverted. The source says why and what to do.
    #[error("migration {version} ({description}) refused to revert")]
    Refused {
        /// The migration's version.
        version: i64,
        /// The migration's description.
        description: String,
        /// What the database said.
        #[source]
        source: MigrationSource,
    },
    /// Applying or reverting one migration failed.
    #[error("migration {version} ({description}) failed while migrating {direction}")]
    Failed {
        /// The migration's version.
        version: i64,
        /// The migration's description.
        description: String,
        /// Up or down.
        direction: MigrationDirection,
        /// What the database said.
        #[source]
        source: MigrationSource,
    },
    /// The database has a migration applied that this build does not embed: it was
    /// migrated by a newer build.
    #[error("the database has migration {version} applied, which this build does not know")]
    UnknownApplied {
        /// The unknown applied version.
        version: i64,
    },
    /// An applied migration differs from the embedded one of the same version (its
    /// file was edited after it was applied).
    #[error("applied migration {version} differs from the embedded one")]
    Modified {
        /// The migration's version.
        version: i64,
    },
    /// A migration was left partially applied by an earlier failed run (databases
    /// without transactional DDL); repair it by hand first.
    #[error("migration {version} is partially applied")]
    Dirty {
        /// The migration's version.
        version: i64,
    },
    /// More steps down were asked for than migrations are applied.
    #[error("cannot revert {steps} migration(s): only {applied} applied")]
    TooManySteps {
        /// The steps asked for.
        steps: u32,
        /// How many migrations are applied.
        applied: usize,
    },
    /// The migration bookkeeping could not be read or written, or no connection could be had.
    #[error("migration bookkeeping failed")]
    Database(#[source] MigrationSource),
}

impl MigrationError {
    /// Wraps a backend error met outside any one migration.
    pub fn database(err: impl StdError + Send + Sync + 'static) -> Self {
        MigrationError::Database(Box::new(err))
    }
}

impl From<MigrationError> for crate::Error {
    fn from(err: MigrationError) -> Self {
        crate::Error::storage(err)
    }
}

/// Where one migration stands in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigrationState {
    /// Embedded, not applied.
    Pending,
    /// Applied, and the embedded migration is the one that was applied.
    Applied,
    /// Applied, but the embedded migration has changed since.
    Modified,
    /// Applied by a build that embeds migrations this one does not know.
    Unknown,
}

impl fmt::Display for MigrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MigrationState::Pending => "pending",
            MigrationState::Applied => "applied",
            MigrationState::Modified => "modified",
            MigrationState::Unknown => "unknown",
        })
    }
}

/// One line of [`Migrations::migration_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The version (the file's number or timestamp).
    pub version: i64,
    /// What the migration does (its file name after the version); empty for an unknown one.
    pub description: String,
    /// Pending, applied, modified or unknown.
    pub state: MigrationState,
    /// When it was applied, if it was.
    pub applied_at: Option<OffsetDateTime>,
}

/// Applying, reverting and listing a store's embedded schema migrations. Every
/// backend implements it; authd's `migrate up|down|status` only dispatch to it.
pub trait Migrations: Send + Sync {
    /// Applies every pending migration in version order; returns the versions applied
    /// (empty when the schema is current: running it again changes nothing).
    fn migrate_up(&self) -> impl Future<Output = Result<Vec<i64>, MigrationError>> + Send;

    /// Reverts the `steps` highest applied migrations, highest first; returns the
    /// versions reverted. Refuses ([`MigrationError::TooManySteps`]) more steps than
    /// migrations are applied, reverting nothing.
    fn migrate_down(
        &self,
        steps: u32,
    ) -> impl Future<Output = Result<Vec<i64>, MigrationError>> + Send;

    /// Every embedded migration and every applied one this build does not know, by
    /// version. Changes nothing.
    fn migration_status(
        &self,
    ) -> impl Future<Output = Result<Vec<MigrationStatus>, MigrationError>> + Send;
}

/// One migration a build embeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedMigration {
    /// Its version.
    pub version: i64,
    /// Its description.
    pub description: String,
    /// Its checksum, where the backend's bookkeeping records one.
    pub checksum: Option<Vec<u8>>,
}

/// One migration the database's bookkeeping says is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// Its version.
    pub version: i64,
    /// Its description as recorded, if the bookkeeping records one.
    pub description: Option<String>,
    /// The checksum recorded when it was applied, if the bookkeeping records one.
    pub checksum: Option<Vec<u8>>,
    /// When it was applied, if recorded.
    pub applied_at: Option<OffsetDateTime>,
}

/// The embedded migrations against the applied ones: what is pending, what to revert
/// for a number of steps, what state each is in. Backends build it from their own
/// bookkeeping and only run what it returns.
#[derive(Debug, Clone)]
pub struct MigrationLedger {
    embedded: Vec<EmbeddedMigration>,
    applied: BTreeMap<i64, AppliedMigration>,
}

impl MigrationLedger {
    /// The ledger of `embedded` migrations (any order) and the `applied` ones.
    pub fn new(
        mut embedded: Vec<EmbeddedMigration>,
        applied: impl IntoIterator<Item = AppliedMigration>,
    ) -> Self {
        embedded.sort_by_key(|m| m.version);
        Self {
            embedded,
            applied: applied.into_iter().map(|m| (m.version, m)).collect(),
        }
    }

    fn embedded(&self, version: i64) -> Option<&EmbeddedMigration> {
        self.embedded.iter().find(|m| m.version == version)
    }

    fn modified(embedded: &EmbeddedMigration, applied: &AppliedMigration) -> bool {
        matches!((&embedded.checksum, &applied.checksum), (Some(a), Some(b)) if a != b)
    }

    /// The applied migrations, by version.
    pub fn applied(&self) -> impl Iterator<Item = &AppliedMigration> {
        self.applied.values()
    }

    /// Refuses a database with a migration applied that this build does not embed, or
    /// one whose embedded checksum differs from the recorded one.
    pub fn check(&self) -> Result<(), MigrationError> {
        for (version, applied) in &self.applied {
            match self.embedded(*version) {
                None => return Err(MigrationError::UnknownApplied { version: *version }),
                Some(m) if Self::modified(m, applied) => {
                    return Err(MigrationError::Modified { version: *version });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The embedded migrations not applied, in version order, after [`check`](Self::check).
    pub fn pending(&self) -> Result<Vec<&EmbeddedMigration>, MigrationError> {
        self.check()?;
        Ok(self
            .embedded
            .iter()
            .filter(|m| !self.applied.contains_key(&m.version))
            .collect())
    }

    /// The `steps` highest applied migrations, highest first, after
    /// [`check`](Self::check); more steps than applied migrations is refused.
    pub fn to_revert(&self, steps: u32) -> Result<Vec<&EmbeddedMigration>, MigrationError> {
        self.check()?;
        let wanted = usize::try_from(steps).unwrap_or(usize::MAX);
        if wanted > self.applied.len() {
            return Err(MigrationError::TooManySteps {
                steps,
                applied: self.applied.len(),
            });
        }
        Ok(self
            .applied
            .keys()
            .rev()
            .take(wanted)
            .filter_map(|v| self.embedded(*v))
            .collect())
    }

    /// Every embedded migration and every unknown applied one, by version.
    pub fn status(&self) -> Vec<MigrationStatus> {
        let mut lines: Vec<MigrationStatus> = self
            .embedded
            .iter()
            .map(|m| {
                let applied = self.applied.get(&m.version);
                MigrationStatus {
                    version: m.version,
                    description: m.description.clone(),
                    state: match applied {
                        None => MigrationState::Pending,
                        Some(a) if Self::modified(m, a) => MigrationState::Modified,
                        Some(_) => MigrationState::Applied,
                    },
                    applied_at: applied.and_then(|a| a.applied_at),
                }
            })
            .collect();
        lines.extend(
            self.applied
                .values()
                .filter(|a| self.embedded(a.version).is_none())
                .map(|a| MigrationStatus {
                    version: a.version,
                    description: a.description.clone().unwrap_or_default(),
                    state: MigrationState::Unknown,
                    applied_at: a.applied_at,
                }),
        );
        lines.sort_by_key(|s| s.version);
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded(version: i64, checksum: u8) -> EmbeddedMigration {
        EmbeddedMigration {
            version,
            description: format!("m{version}"),
            checksum: Some(vec![checksum]),
        }
    }

    fn applied(version: i64, checksum: u8) -> AppliedMigration {
        AppliedMigration {
            version,
            description: None,
            checksum: Some(vec![checksum]),
            applied_at: Some(OffsetDateTime::UNIX_EPOCH),
        }
    }

    fn versions(ms: &[&EmbeddedMigration]) -> Vec<i64> {
        ms.iter().map(|m| m.version).collect()
    }

    #[test]
    fn pending_and_revert_follow_version_order() {
        let ledger = MigrationLedger::new(
            vec![embedded(3, 0), embedded(1, 0), embedded(2, 0)],
            [applied(1, 0), applied(2, 0)],
        );
        assert_eq!(versions(&ledger.pending().unwrap()), [3]);
        assert_eq!(versions(&ledger.to_revert(1).unwrap()), [2]);
        assert_eq!(versions(&ledger.to_revert(2).unwrap()), [2, 1]);
        assert!(ledger.to_revert(0).unwrap().is_empty());
        assert!(matches!(
            ledger.to_revert(3),
            Err(MigrationError::TooManySteps {
                steps: 3,
                applied: 2
            })
        ));
        let states: Vec<MigrationState> = ledger.status().iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            [
                MigrationState::Applied,
                MigrationState::Applied,
                MigrationState::Pending
            ]
        );
    }

    #[test]
    fn unknown_and_modified_migrations_are_refused_and_listed() {
        let unknown = MigrationLedger::new(vec![embedded(1, 0)], [applied(1, 0), applied(9, 0)]);
        assert!(matches!(
            unknown.pending(),
            Err(MigrationError::UnknownApplied { version: 9 })
        ));
        assert!(matches!(
            unknown.to_revert(1),
            Err(MigrationError::UnknownApplied { version: 9 })
        ));
        assert_eq!(unknown.status()[1].state, MigrationState::Unknown);

        let modified = MigrationLedger::new(vec![embedded(1, 0)], [applied(1, 7)]);
        assert!(matches!(
            modified.pending(),
            Err(MigrationError::Modified { version: 1 })
        ));
        assert_eq!(modified.status()[0].state, MigrationState::Modified);
    }

    #[test]
    fn a_bookkeeping_without_checksums_never_reads_as_modified() {
        let mut m = embedded(1, 0);
        m.checksum = None;
        let ledger = MigrationLedger::new(vec![m], [applied(1, 5)]);
        assert!(ledger.check().is_ok());
        assert_eq!(ledger.status()[0].state, MigrationState::Applied);
    }
}
