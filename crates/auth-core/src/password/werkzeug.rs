//! werkzeug.security's `method$salt$hex`: `pbkdf2:<digest>:<iterations>$…` (sha1, sha256,
//! sha512; a key as long as the digest) and `scrypt:<n>:<r>:<p>$…` (a 64-byte key). The
//! salt is used as its UTF-8 text. `pbkdf2:sha256$…` without an iteration count is
//! refused: its meaning changed between werkzeug versions.

use super::stored::{
    HashFamily, Pbkdf2Digest, Pbkdf2Hash, Unusable, UnusableHash, bounds, malformed, out_of_bounds,
    pbkdf2_iterations,
};

const FAMILY: HashFamily = HashFamily::Werkzeug;
const SCRYPT_KEY_LEN: usize = 64;

/// A parsed werkzeug hash.
#[derive(Debug)]
pub(crate) enum WerkzeugHash<'a> {
    Pbkdf2(Pbkdf2Hash),
    Scrypt {
        params: scrypt::Params,
        salt: &'a str,
        key: Vec<u8>,
    },
}

/// Whether `text` is in werkzeug's `method:…$salt$hash` shape.
pub(crate) fn claims(text: &str) -> bool {
    text.starts_with("pbkdf2:") || text.starts_with("scrypt:")
}

pub(crate) fn parse(text: &str) -> Unusable<WerkzeugHash<'_>> {
    let mut fields = text.split('$');
    let (Some(method), Some(salt), Some(key), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return malformed(FAMILY, "expected <method>$<salt>$<hex hash>");
    };
    if salt.is_empty() {
        return malformed(FAMILY, "empty salt");
    }
    let Some(key) = hex_decode(key) else {
        return malformed(FAMILY, "hash is not hexadecimal");
    };
    let parts: Vec<&str> = method.split(':').collect();
    match parts.as_slice() {
        ["pbkdf2", digest, iterations] => {
            let digest = match *digest {
                "sha1" => Pbkdf2Digest::Sha1,
                "sha256" => Pbkdf2Digest::Sha256,
                "sha512" => Pbkdf2Digest::Sha512,
                other => {
                    return Err(UnusableHash::Unsupported {
                        family: FAMILY,
                        algorithm: format!("pbkdf2:{other}"),
                    });
                }
            };
            let iterations = pbkdf2_iterations(FAMILY, iterations)?;
            Pbkdf2Hash::new(FAMILY, digest, iterations, salt.as_bytes().to_vec(), key)
                .map(WerkzeugHash::Pbkdf2)
        }
        ["pbkdf2", ..] => malformed(FAMILY, "expected pbkdf2:<digest>:<iterations>"),
        ["scrypt", n, r, p] => {
            let (Some(n), Some(r), Some(p)) = (number(n), number(r), number(p)) else {
                return malformed(FAMILY, "scrypt parameters are not numbers");
            };
            if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 {
                return malformed(FAMILY, "scrypt n must be a power of two, r and p positive");
            }
            if 128 * u64::from(r) * u64::from(n) > bounds::MAX_SCRYPT_MEMORY_BYTES || p > 16 {
                return out_of_bounds(FAMILY, "scrypt memory or parallelism");
            }
            if key.len() != SCRYPT_KEY_LEN {
                return malformed(FAMILY, "scrypt key is not 64 bytes");
            }
            let Ok(params) = scrypt::Params::new(n.trailing_zeros() as u8, r, p, SCRYPT_KEY_LEN)
            else {
                return malformed(FAMILY, "invalid scrypt parameters");
            };
            Ok(WerkzeugHash::Scrypt { params, salt, key })
        }
        ["scrypt", ..] => malformed(FAMILY, "expected scrypt:<n>:<r>:<p>"),
        [other, ..] => Err(UnusableHash::Unsupported {
            family: FAMILY,
            algorithm: (*other).to_owned(),
        }),
        [] => malformed(FAMILY, "no method"),
    }
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl WerkzeugHash<'_> {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match self {
            WerkzeugHash::Pbkdf2(hash) => hash.verify(password),
            WerkzeugHash::Scrypt { params, salt, key } => {
                let mut out = [0u8; SCRYPT_KEY_LEN];
                if scrypt::scrypt(password, salt.as_bytes(), params, &mut out).is_err() {
                    return false;
                }
                aws_lc_rs::constant_time::verify_slices_are_equal(&out, key).is_ok()
            }
        }
    }
}
