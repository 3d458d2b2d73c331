//! The shared conformance suite against MySQL (MariaDB here), one database per test.

auth_conformance::conformance_tests!(auth_mysql::TestDb);
auth_conformance::otp_conformance_tests!(auth_mysql::TestDb);
auth_conformance::migration_conformance_tests!(auth_mysql::TestDb);
