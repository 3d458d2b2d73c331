//! The shared auth-tokens conformance suite against a real PostgreSQL, one fresh
//! database per scenario.

mod common;

use common::PgTestDb;

auth_conformance::conformance_tests!(PgTestDb);
auth_conformance::otp_conformance_tests!(PgTestDb);
