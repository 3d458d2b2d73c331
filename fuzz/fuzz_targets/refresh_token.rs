//! Refresh-token parsing: any text is either refused as malformed or round-trips.
#![no_main]

use auth_core::{RefreshToken, TokenHash};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = RefreshToken::parse(text) {
        assert_eq!(token.expose(), text);
        assert_eq!(token.hash(), TokenHash::of(text.as_bytes()));
        assert!(RefreshToken::parse(token.expose()).is_ok());
    }
    let _ = TokenHash::from_slice(data);
});
