//! The whole conformance suite on auth-core's MemoryStore, the reference store.

auth_conformance::conformance_tests!(auth_conformance::MemoryTestDb);
