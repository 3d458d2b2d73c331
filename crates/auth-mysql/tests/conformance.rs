//! The shared conformance suite against MySQL (MariaDB here), one database per test.

mod common;

use common::MySqlTestDb;

auth_conformance::conformance_tests!(MySqlTestDb);
auth_conformance::otp_conformance_tests!(MySqlTestDb);
