//! The store-level contract scenarios: the store traits called directly, with the
//! exact rows they must leave behind (see ARCHITECTURE.md, "Conformance suite and harness").
//!
//! Like [`scenarios`](crate::scenarios), one `pub async fn` per rule, generic over the
//! backend's [`TestDatabase`](crate::TestDatabase), expanded by
//! [`conformance_tests!`](crate::conformance_tests).

mod admin;
mod cleanup;
mod feed;
mod records;
mod revocation;
mod rotation;
mod schema;

pub use admin::{
    a_failed_import_batch_writes_nothing, audit_page_applies_each_filter_and_pages_by_id,
    import_users_inserts_new_users_and_returns_stored_ones,
    set_user_admin_writes_a_user_event_only_for_known_users,
};
pub use cleanup::{
    cleanup_counts_and_keeps_rotated_rows_of_live_sessions,
    cleanup_removes_spent_codes_outside_the_limit_window,
};
pub use feed::{
    revocation_events_follow_the_cursor_and_the_recheck_window, revoke_access_token_is_idempotent,
};
pub use records::{
    audit_is_newest_first_and_filters_by_user, email_taken_is_its_own_error,
    records_round_trip_exactly,
};
pub use revocation::{
    revoke_session_revokes_rows_disables_access_tokens_and_writes_one_event,
    revoke_user_sessions_writes_an_event_per_session_and_moves_tokens_valid_after,
    set_user_active_writes_a_user_event_only_for_known_users,
};
pub use rotation::{
    a_failure_midway_writes_nothing, a_replay_spends_the_budget_only_for_its_successor,
    a_revocation_racing_rotations_leaves_no_live_token,
    concurrent_retry_replays_spend_at_most_the_budget,
    concurrent_rotations_have_exactly_one_winner, rotating_a_dead_token_writes_nothing,
};
pub use schema::a_second_live_token_for_a_session_is_refused;

use auth_core::time::OffsetDateTime;
use auth_core::{
    AuditEvent, AuditKind, NewRefreshToken, NewUser, RefreshTokenRecord, Replay, Rotation,
    SuccessorSeed, TokenId, TokenStore, UserId,
};

/// A fixed instant with a non-zero microsecond part (2027-01-15).
fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_123_456_000).expect("valid time")
}

async fn user<S: TokenStore>(store: &S, email: &str) -> UserId {
    let new = NewUser {
        email: email.into(),
        password_hash: Some("$pbkdf2-sha256$x".into()),
        created_at: t0(),
    };
    store.create_user(&new).await.expect("create user")
}

/// A rotation of `current` at `at` into a fresh successor, with its audit row.
fn rotation(current: &NewRefreshToken, at: OffsetDateTime) -> Rotation {
    Rotation {
        current: current.id,
        successor: crate::fixtures::successor_of(current, at),
        successor_seed: SuccessorSeed::generate(),
        at,
        audit: AuditEvent::new(AuditKind::TokenRefreshed, at),
    }
}

/// A replay of `predecessor` answered with `successor`, spending the budget if given.
fn replay(predecessor: &NewRefreshToken, successor: TokenId, budget: Option<i32>) -> Replay {
    Replay {
        predecessor: predecessor.id,
        successor,
        budget,
        audit: AuditEvent::new(AuditKind::TokenRefreshed, t0()),
    }
}

async fn get<S: TokenStore>(store: &S, id: TokenId) -> RefreshTokenRecord {
    store
        .find_refresh_token_by_id(id)
        .await
        .expect("find")
        .expect("row exists")
}

/// How many live tokens the session of `token` has (at `token`'s issue time, so an
/// unexpired session is counted).
async fn live_in_session<S: TokenStore>(store: &S, token: &NewRefreshToken) -> usize {
    store
        .live_refresh_tokens(token.user_id, token.issued_at)
        .await
        .expect("live tokens")
        .iter()
        .filter(|r| r.token.session_id == token.session_id)
        .count()
}
