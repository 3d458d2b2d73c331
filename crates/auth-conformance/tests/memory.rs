//! The whole conformance suite on auth-core's MemoryStore, the reference store:
//! the token scenarios and the one-time-code scenarios.

auth_conformance::conformance_tests!(auth_conformance::MemoryTestDb);
auth_conformance::otp_conformance_tests!(auth_conformance::MemoryTestDb);
