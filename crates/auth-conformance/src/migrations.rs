//! The [`Migrations`] contract, the same on every SQL backend: up from an empty
//! database, status with times, down by steps, down to zero, and the refusals.
//! [`migration_conformance_tests!`](crate::migration_conformance_tests) runs each
//! scenario on a fresh, unmigrated database.

use std::future::Future;

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{MigrationError, MigrationState, MigrationStatus, Migrations};

use crate::TestDatabase;

/// A [`TestDatabase`] whose store runs migrations, created without them.
pub trait MigrationTestDatabase: TestDatabase<Store: Migrations> {
    /// Creates a new, empty database for one test with no migration applied.
    fn create_unmigrated() -> impl Future<Output = Self> + Send;

    /// Every table of the database but the migration bookkeeping, sorted.
    fn schema_tables(&self) -> impl Future<Output = Vec<String>> + Send;
}

/// How far a migration's recorded time may lie outside the run that applied it:
/// MySQL's bookkeeping `TIMESTAMP` keeps whole seconds.
const TIME_SLACK: Duration = Duration::seconds(2);

async fn status<D: MigrationTestDatabase>(db: &D) -> Vec<MigrationStatus> {
    db.store()
        .migration_status()
        .await
        .expect("migration status")
}

fn versions(status: &[MigrationStatus]) -> Vec<i64> {
    status.iter().map(|s| s.version).collect()
}

fn states(status: &[MigrationStatus]) -> Vec<MigrationState> {
    status.iter().map(|s| s.state).collect()
}

/// Up on an empty database applies every migration in version order; status then
/// lists each as applied with the time it was applied; a second up applies nothing.
pub async fn up_from_empty_applies_every_migration_with_its_time<D: MigrationTestDatabase>(db: &D) {
    let store = db.store();
    let before = status(db).await;
    assert!(!before.is_empty(), "the backend embeds migrations");
    assert!(
        before
            .iter()
            .all(|s| s.state == MigrationState::Pending && s.applied_at.is_none()),
        "{before:?}"
    );
    assert!(
        before.iter().all(|s| !s.description.is_empty()),
        "{before:?}"
    );
    assert!(
        db.schema_tables().await.is_empty(),
        "an unmigrated database has no tables of ours"
    );

    let started = OffsetDateTime::now_utc();
    let applied = store.migrate_up().await.expect("migrate up");
    let finished = OffsetDateTime::now_utc();
    let mut sorted = applied.clone();
    sorted.sort_unstable();
    assert_eq!(applied, sorted, "applied in version order");
    assert_eq!(applied, versions(&before));

    let after = status(db).await;
    assert_eq!(versions(&after), versions(&before));
    for line in &after {
        assert_eq!(line.state, MigrationState::Applied, "{line:?}");
        let at = line.applied_at.expect("an applied migration has its time");
        assert!(
            at >= started - TIME_SLACK && at <= finished + TIME_SLACK,
            "{line:?} applied between {started} and {finished}"
        );
    }
    assert!(!db.schema_tables().await.is_empty());
    assert_eq!(
        store.migrate_up().await.expect("second up"),
        Vec::<i64>::new()
    );
    assert_eq!(status(db).await, after, "a second up changes nothing");
}

/// Down one step reverts the highest migration only, which status then shows as
/// pending; up applies exactly it again and restores the same tables.
pub async fn down_one_step_reverts_the_last_and_up_reapplies_it<D: MigrationTestDatabase>(db: &D) {
    let store = db.store();
    let all = store.migrate_up().await.expect("migrate up");
    let last = *all.last().expect("at least one migration");
    let tables = db.schema_tables().await;

    assert_eq!(store.migrate_down(1).await.expect("down 1"), [last]);
    let after = status(db).await;
    let (last_line, rest) = after.split_last().expect("status lines");
    assert_eq!(last_line.version, last);
    assert_eq!(last_line.state, MigrationState::Pending);
    assert_eq!(last_line.applied_at, None);
    assert!(
        rest.iter().all(|s| s.state == MigrationState::Applied),
        "{rest:?}"
    );

    assert_eq!(store.migrate_up().await.expect("up again"), [last]);
    assert_eq!(db.schema_tables().await, tables);
    assert!(
        states(&status(db).await)
            .iter()
            .all(|s| *s == MigrationState::Applied)
    );
}

/// Down as many steps as are applied reverts them all, highest first, and leaves no
/// table of ours; up from there restores the same tables.
pub async fn down_to_zero_leaves_no_tables_and_up_restores_them<D: MigrationTestDatabase>(db: &D) {
    let store = db.store();
    let all = store.migrate_up().await.expect("migrate up");
    let tables = db.schema_tables().await;
    let steps = u32::try_from(all.len()).expect("a few migrations");

    let reverted = store.migrate_down(steps).await.expect("down to zero");
    let mut newest_first = all.clone();
    newest_first.reverse();
    assert_eq!(reverted, newest_first);
    assert_eq!(db.schema_tables().await, Vec::<String>::new());
    assert!(
        status(db)
            .await
            .iter()
            .all(|s| s.state == MigrationState::Pending && s.applied_at.is_none())
    );

    assert_eq!(store.migrate_up().await.expect("up from zero"), all);
    assert_eq!(db.schema_tables().await, tables);
}

/// More steps down than migrations are applied is refused with a typed error and
/// reverts nothing; zero steps reverts nothing and succeeds.
pub async fn an_impossible_step_count_is_refused_and_reverts_nothing<D: MigrationTestDatabase>(
    db: &D,
) {
    let store = db.store();
    assert!(matches!(
        store.migrate_down(1).await,
        Err(MigrationError::TooManySteps {
            steps: 1,
            applied: 0
        })
    ));
    let all = store.migrate_up().await.expect("migrate up");
    let before = status(db).await;
    let tables = db.schema_tables().await;
    let steps = u32::try_from(all.len() + 1).expect("a few migrations");

    match store.migrate_down(steps).await {
        Err(MigrationError::TooManySteps {
            steps: asked,
            applied,
        }) => {
            assert_eq!(asked, steps);
            assert_eq!(applied, all.len());
        }
        other => panic!("expected TooManySteps, got {other:?}"),
    }
    assert_eq!(
        store
            .migrate_down(u32::MAX)
            .await
            .err()
            .map(|e| e.to_string()),
        Some(format!(
            "cannot revert {} migration(s): only {} applied",
            u32::MAX,
            all.len()
        ))
    );
    assert_eq!(
        store.migrate_down(0).await.expect("zero steps"),
        Vec::<i64>::new()
    );
    assert_eq!(status(db).await, before);
    assert_eq!(db.schema_tables().await, tables);
}

/// One `#[tokio::test]` per migrations scenario, each on a fresh unmigrated database
/// of `$db` (a [`MigrationTestDatabase`]).
#[macro_export]
macro_rules! migration_conformance_tests {
    ($db:ty) => {
        $crate::migration_conformance_tests!(@each $db;
            up_from_empty_applies_every_migration_with_its_time,
            down_one_step_reverts_the_last_and_up_reapplies_it,
            down_to_zero_leaves_no_tables_and_up_restores_them,
            an_impossible_step_count_is_refused_and_reverts_nothing,
        );
    };
    (@each $db:ty; $($scenario:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let db = <$db as $crate::migrations::MigrationTestDatabase>::create_unmigrated().await;
                $crate::migrations::$scenario(&db).await;
                $crate::TestDatabase::teardown(db).await;
            }
        )*
    };
}
