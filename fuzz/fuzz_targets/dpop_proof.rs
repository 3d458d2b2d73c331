//! DPoP proof verification (RFC 9449) on arbitrary input. First byte even: the rest
//! is the `DPoP` header as received. Odd: the rest is `header JSON \n claims JSON`,
//! signed with the fuzz P-256 key (its public JWK put in the header), so the claim,
//! `ath`, window and replay checks behind the signature are reached too. Nothing may
//! panic, and whatever verifies must be bound to the fixed request.
#![no_main]

use std::sync::LazyLock;

use auth_core::{DpopConfig, DpopRequest, DpopVerifier};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

static VERIFIER: LazyLock<DpopVerifier> =
    LazyLock::new(|| DpopVerifier::new(DpopConfig::default()).expect("default DPoP config"));

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let proof = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        }
    } else {
        let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let (header, claims) = rest.split_at(split);
        match auth_tokens_fuzz::sign_dpop(header, claims.get(1..).unwrap_or_default()) {
            Some(proof) => proof,
            None => return,
        }
    };
    let now = OffsetDateTime::from_unix_timestamp(auth_tokens_fuzz::FUZZ_NOW).expect("instant");
    // With an access token on odd second bytes, so `ath` is checked both ways.
    let access_token = (rest.get(1).copied().unwrap_or(0) % 2 == 1).then_some("fuzz-access-token");
    let request = DpopRequest {
        method: "POST",
        url: auth_tokens_fuzz::DPOP_URL,
        access_token,
    };
    if let Ok(verified) = VERIFIER.verify(&proof, &request, now) {
        // An RFC 7638 SHA-256 thumbprint, base64url without padding.
        assert_eq!(verified.jkt.len(), 43);
        assert!((verified.iat.unix_timestamp() - auth_tokens_fuzz::FUZZ_NOW).abs() <= 60);
    }
});
