//! The key-file loader: any JSON text is a keyring or a typed error, never a panic.
#![no_main]

use auth_core::{Keyring, KeyringSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ring) = Keyring::from_json(text) {
        let _ = ring.jwks();
        let _ = ring.active_kid();
    }
    // The spec alone (what `authd keys generate --rotate` reads and rewrites).
    if let Ok(spec) = serde_json::from_str::<KeyringSpec>(text) {
        let again = serde_json::to_string(&spec).expect("a parsed spec serialises");
        let reparsed: KeyringSpec = serde_json::from_str(&again).expect("and parses back");
        assert_eq!(reparsed, spec);
    }
});
