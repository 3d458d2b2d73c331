//! PHC strings: `$pbkdf2-sha256$i=…,l=…$salt$hash` (what the library writes) and
//! `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (argon2i and argon2d too). Django's
//! `argon2$argon2id$…` is this format behind a prefix.

use password_hash::{PasswordHash, PasswordVerifier as _};
use pbkdf2::Pbkdf2;

use super::stored::{HashFamily, Unusable, UnusableHash, bounds, malformed, out_of_bounds};

/// A parsed PHC string the library can verify.
#[derive(Debug)]
pub(crate) enum PhcHash<'a> {
    Pbkdf2(PasswordHash<'a>),
    Argon2(PasswordHash<'a>),
}

/// Parses a PHC string; `family` is the one reported in errors (Django for `argon2$…`).
pub(crate) fn parse(family: HashFamily, text: &str) -> Unusable<PhcHash<'_>> {
    let Ok(hash) = PasswordHash::new(text) else {
        return malformed(family, "not a valid PHC string");
    };
    if hash.hash.is_none() {
        return malformed(family, "no hash value");
    }
    match hash.algorithm.as_str() {
        "pbkdf2-sha256" | "pbkdf2-sha512" => {
            let Ok(params) = pbkdf2::Params::try_from(&hash) else {
                return malformed(family, "invalid pbkdf2 parameters");
            };
            if params.rounds == 0 || params.rounds > bounds::MAX_PBKDF2_ITERATIONS {
                return out_of_bounds(family, "iteration count");
            }
            Ok(PhcHash::Pbkdf2(hash))
        }
        "argon2id" | "argon2i" | "argon2d" => {
            let Ok(params) = argon2::Params::try_from(&hash) else {
                return malformed(family, "invalid argon2 parameters");
            };
            if params.m_cost() > bounds::MAX_ARGON2_MEMORY_KIB
                || params.t_cost() > bounds::MAX_ARGON2_TIME
                || params.p_cost() > bounds::MAX_ARGON2_PARALLELISM
            {
                return out_of_bounds(family, "argon2 memory, passes or lanes");
            }
            Ok(PhcHash::Argon2(hash))
        }
        other => Err(UnusableHash::Unsupported {
            family,
            algorithm: other.to_owned(),
        }),
    }
}

impl PhcHash<'_> {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match self {
            // What the library writes goes through aws-lc, optimised in every profile
            // (the generic crate runs unoptimised in a debug build: seconds per login).
            PhcHash::Pbkdf2(hash) if hash.algorithm.as_str() == crate::pbkdf2_sha256::IDENT => {
                crate::pbkdf2_sha256::matches(password, hash)
            }
            PhcHash::Pbkdf2(hash) => Pbkdf2.verify_password(password, hash).is_ok(),
            PhcHash::Argon2(hash) => argon2::Argon2::default()
                .verify_password(password, hash)
                .is_ok(),
        }
    }

    /// PBKDF2-SHA256 rounds, if this is the scheme the library writes.
    pub(crate) fn pbkdf2_sha256_rounds(&self) -> Option<u32> {
        match self {
            PhcHash::Pbkdf2(hash) if hash.algorithm.as_str() == "pbkdf2-sha256" => {
                pbkdf2::Params::try_from(hash).ok().map(|p| p.rounds)
            }
            _ => None,
        }
    }
}
