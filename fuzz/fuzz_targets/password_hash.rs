//! The password-hash parsers: `verify` and `needs_rehash` over any stored string.
//! Input: `password \0 stored hash`. Stored hashes come from the operator's database,
//! so their cost parameters are trusted; hashes asking for more than a fuzzing budget
//! (PBKDF2 rounds, argon2 memory/time) are only parsed, not run.
#![no_main]

use auth_core::PasswordPolicy;
use libfuzzer_sys::fuzz_target;

const MAX_ROUNDS: u64 = 2_000;
const MAX_ARGON2_KIB: u64 = 256;
const MAX_ARGON2_T: u64 = 3;

/// Whether every cost parameter of a PHC-looking string is within the fuzz budget.
fn cheap(phc: &str) -> bool {
    phc.split('$').filter(|s| s.contains('=')).all(|params| {
        params.split(',').all(|kv| {
            let Some((k, v)) = kv.split_once('=') else {
                return true;
            };
            let Ok(n) = v.parse::<u64>() else {
                return true;
            };
            match k {
                "i" => n <= MAX_ROUNDS,
                "m" => n <= MAX_ARGON2_KIB,
                "t" => n <= MAX_ARGON2_T,
                "p" => n <= 2,
                "l" => n <= 128,
                _ => true,
            }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (password, phc) = text.split_once('\0').unwrap_or(("password", text));
    let policy = PasswordPolicy::default();
    let _ = policy.needs_rehash(phc);
    if cheap(phc) {
        let _ = policy.verify(password, phc);
    }
});
