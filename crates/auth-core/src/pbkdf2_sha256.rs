//! PBKDF2-HMAC-SHA256 in PHC strings through aws-lc (compiled C, optimised in every
//! cargo profile): the generic `pbkdf2` crate is monomorphised in whichever crate calls
//! it, so in a debug build it ran unoptimised and a 600,000-round hash took seconds.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2::{PBKDF2_HMAC_SHA256, derive};
use password_hash::{Ident, Output, ParamsString, PasswordHash, SaltString};

/// The PHC algorithm identifier.
pub(crate) const IDENT: &str = "pbkdf2-sha256";

/// Output length of new hashes (the pbkdf2 crate's default, and the PHC `l` param).
const OUTPUT_LEN: usize = 32;

/// Hashes `password` with `salt` into a PHC string the `pbkdf2` crate reads as well.
pub(crate) fn hash(
    password: &[u8],
    salt: &SaltString,
    rounds: u32,
) -> Result<String, password_hash::Error> {
    let rounds = NonZeroU32::new(rounds).ok_or(password_hash::Error::ParamValueInvalid(
        password_hash::errors::InvalidValue::InvalidFormat,
    ))?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let mut out = [0u8; OUTPUT_LEN];
    derive(PBKDF2_HMAC_SHA256, rounds, salt_bytes, password, &mut out);
    let mut params = ParamsString::new();
    params.add_decimal("i", rounds.get())?;
    params.add_decimal("l", OUTPUT_LEN as u32)?;
    let phc = PasswordHash {
        algorithm: Ident::new(IDENT)?,
        version: None,
        params,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches a parsed `pbkdf2-sha256` PHC hash (constant time).
pub(crate) fn matches(password: &[u8], phc: &PasswordHash<'_>) -> bool {
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return false;
    };
    let Some(rounds) = phc.params.get_decimal("i").and_then(NonZeroU32::new) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    aws_lc_rs::pbkdf2::verify(
        PBKDF2_HMAC_SHA256,
        rounds,
        salt_bytes,
        password,
        expected.as_bytes(),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use password_hash::PasswordHasher as _;
    use password_hash::rand_core::OsRng;

    #[test]
    fn agrees_with_the_pbkdf2_crate_both_ways() {
        let salt = SaltString::generate(&mut OsRng);
        let ours = hash(b"correct horse", &salt, 1_000).unwrap();
        let params = pbkdf2::Params {
            rounds: 1_000,
            output_length: 32,
        };
        let theirs = pbkdf2::Pbkdf2
            .hash_password_customized(
                b"correct horse",
                Some(pbkdf2::Algorithm::Pbkdf2Sha256.ident()),
                None,
                params,
                &salt,
            )
            .unwrap()
            .to_string();
        assert_eq!(ours, theirs);
        let parsed = PasswordHash::new(&theirs).unwrap();
        assert!(matches(b"correct horse", &parsed));
        assert!(!matches(b"correct hors", &parsed));
    }

    #[test]
    fn hashes_of_other_lengths_and_broken_params_are_handled() {
        // 64-byte output, as some other PBKDF2 implementations store.
        let salt = SaltString::generate(&mut OsRng);
        let params = pbkdf2::Params {
            rounds: 1_000,
            output_length: 64,
        };
        let long = pbkdf2::Pbkdf2
            .hash_password_customized(
                b"pw",
                Some(pbkdf2::Algorithm::Pbkdf2Sha256.ident()),
                None,
                params,
                &salt,
            )
            .unwrap()
            .to_string();
        assert!(matches(b"pw", &PasswordHash::new(&long).unwrap()));
        let zero_rounds = long.replace("i=1000", "i=0");
        assert!(!matches(b"pw", &PasswordHash::new(&zero_rounds).unwrap()));
        assert!(hash(b"pw", &salt, 0).is_err());
    }
}
