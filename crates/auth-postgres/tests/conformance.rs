//! The shared auth-tokens conformance suite against a real PostgreSQL, one fresh
//! database per scenario.

auth_conformance::conformance_tests!(auth_postgres::TestDb);
auth_conformance::otp_conformance_tests!(auth_postgres::TestDb);
auth_conformance::migration_conformance_tests!(auth_postgres::TestDb);
