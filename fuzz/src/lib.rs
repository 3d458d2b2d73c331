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

/// The request the DPoP target's proofs are checked for (`POST` on this URL).
pub const DPOP_URL: &str = "https://authd.fuzz/v1/auth/refresh";

/// A test-only P-256 key (never used outside the fuzz targets): the DPoP target signs
/// fuzzed header and claims with it, so the checks behind the signature are reached.
pub const DPOP_KEY_PEM: &str = include_str!("../dpop-key.pem");

/// The public JWK of [`DPOP_KEY_PEM`].
pub fn dpop_public_jwk() -> serde_json::Value {
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": "_qZSI0NMKYQe2ueRfLoowbETLD1nrBGqYPcdQJV495Q",
        "y": "OuAis_XcfYZpOdk_vaExBEy83-2EpRUAZ75QXHEtfeA",
    })
}

/// A DPoP proof from fuzzed header and claims JSON: the header's `jwk` is replaced by
/// [`dpop_public_jwk`] and the result signed ES256 with [`DPOP_KEY_PEM`]. `None` when
/// the header is not a JSON object.
pub fn sign_dpop(header: &[u8], claims: &[u8]) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(header).ok()?;
    header.insert("jwk".into(), dpop_public_jwk());
    let header = serde_json::to_vec(&header).ok()?;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = jsonwebtoken::EncodingKey::from_ec_pem(DPOP_KEY_PEM.as_bytes()).expect("fuzz key");
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::ES256)
            .expect("ES256 signs");
    Some(format!("{message}.{signature}"))
}
