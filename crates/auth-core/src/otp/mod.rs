//! One-time-code sign-in (DESIGN section 9): phone numbers, codes, settings,
//! delivery and the storage contract. The flow itself is `TokenService::request_code`
//! and `TokenService::verify_code`.

pub(crate) mod code;
pub(crate) mod config;
pub(crate) mod phone;
pub(crate) mod sender;
pub(crate) mod store;
