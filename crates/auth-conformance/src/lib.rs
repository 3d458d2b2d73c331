//! The shared behaviour suite every auth-tokens storage backend must pass.
//!
//! Each scenario is a plain `pub async fn` in [`scenarios`] taking a [`TestDatabase`];
//! a backend's test file implements [`TestDatabase`] (a fresh, migrated database per
//! test) and invokes [`conformance_tests!`], which expands to one `#[tokio::test]` per
//! scenario so each failure is reported by name. The backend crate needs `tokio` (with
//! `macros` and `rt-multi-thread`) as a dev-dependency.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod database;
pub mod fixtures;
pub mod harness;
pub mod otp_scenarios;
pub mod scenarios;

pub use database::{Table, TestDatabase};
