//! The shared conformance suite, run against a fresh, migrated SQLite file per test.

auth_conformance::conformance_tests!(auth_sqlite::TestDb);
auth_conformance::otp_conformance_tests!(auth_sqlite::TestDb);
auth_conformance::migration_conformance_tests!(auth_sqlite::TestDb);
