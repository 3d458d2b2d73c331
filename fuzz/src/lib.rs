//! What the fuzz targets share: a fixed keyring, a fixed clock and a service over a
//! throwaway SQLite file, so a seed token that verifies today verifies in every run.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

use auth_core::{Keyring, ManualClock, TokenService, TokenServiceConfig};
use auth_sqlite::SqliteTokenStore;
use time::OffsetDateTime;

/// The instant the fuzz service's clock stands at (the seeds' `iat`).
pub const FUZZ_NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
/// `iss` the fuzz service requires.
pub const ISSUER: &str = "https://authd.fuzz";
/// `aud` the fuzz service requires.
pub const AUDIENCE: &str = "authd-fuzz";

/// The key file the access-token target verifies with: an HS256 key that signs (the
/// seeds are signed with it, see `make_seeds.py`) and the public halves of the EdDSA,
/// ES256 and RS256 test keys, so every algorithm's verifier is reached.
pub const KEY_FILE: &str = include_str!("../keys.json");

/// A service over a fresh SQLite file in the temp directory, with the fixed keyring
/// and clock. Verification never touches the store.
pub fn service() -> TokenService<SqliteTokenStore> {
    let keys = Keyring::from_json(KEY_FILE).expect("fuzz key file loads");
    let path = std::env::temp_dir().join(format!("auth-tokens-fuzz-{}.db", std::process::id()));
    let pool = SqliteTokenStore::pool_builder(&path)
        .build()
        .expect("SQLite pool");
    let store = SqliteTokenStore::from_pool(pool);
    let now = OffsetDateTime::from_unix_timestamp(FUZZ_NOW).expect("fixed instant");
    TokenService::builder(store, keys, TokenServiceConfig::new(ISSUER, AUDIENCE))
        .clock(ManualClock::new(now))
        .build()
        .expect("fuzz service")
}

/// The HS256 secret of `keys.json` (bytes 0..32).
pub fn hs256_secret() -> Vec<u8> {
    (0u8..32).collect()
}

/// `header.payload.signature` for raw JSON header and payload bytes, signed with the
/// HS256 key of `keys.json`, so mutated claims get past the signature check.
pub fn sign_hs256(header: &[u8], payload: &[u8]) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let key = jsonwebtoken::EncodingKey::from_secret(&hs256_secret());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
        .expect("HS256 signs");
    format!("{message}.{signature}")
}
