//! Access-token verification (header rules, signature, claims) on arbitrary input.
//! First byte even: the rest is the token text as received. Odd: the rest is
//! `header JSON \n claims JSON`, signed with the fuzz HS256 key, so the claim checks
//! behind the signature are reached too.
#![no_main]

use std::sync::LazyLock;

use auth_core::TokenService;
use auth_sqlite::SqliteTokenStore;
use libfuzzer_sys::fuzz_target;

static SERVICE: LazyLock<TokenService<SqliteTokenStore>> = LazyLock::new(auth_tokens_fuzz::service);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        }
    } else {
        let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let (header, payload) = rest.split_at(split);
        auth_tokens_fuzz::sign_hs256(header, payload.get(1..).unwrap_or_default())
    };
    if let Ok(auth) = SERVICE.verify_signature_and_claims(&token) {
        // Whatever verifies must be exactly what the rules allow.
        assert_eq!(auth.claims.iss, auth_tokens_fuzz::ISSUER);
        assert!(auth.claims.exp > auth.claims.iat - 10);
    }
});
