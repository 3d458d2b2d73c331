//! bcrypt: `$2a$`, `$2b$` and `$2y$` (what GoTrue and Auth0 exports and PHP hold). `$2x$`
//! (crypt_blowfish's buggy variant) is refused. Passwords longer than bcrypt's 72 bytes
//! never match, as the `bcrypt` Python package (5.0) and Go's bcrypt refuse them too.

use super::stored::{HashFamily, Unusable, UnusableHash, bounds, malformed, out_of_bounds};

/// bcrypt reads at most this many password bytes.
const MAX_PASSWORD_BYTES: usize = 72;

/// A bcrypt hash whose shape and cost were checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BcryptHash<'a>(&'a str);

/// Whether `text` looks like a bcrypt hash of any variant.
pub(crate) fn claims(text: &str) -> bool {
    text.len() >= 4 && text.starts_with("$2") && text.as_bytes()[3] == b'$'
}

pub(crate) fn parse(family: HashFamily, text: &str) -> Unusable<BcryptHash<'_>> {
    let variant = text.get(1..3).unwrap_or("");
    if !matches!(variant, "2a" | "2b" | "2y") {
        return Err(UnusableHash::Unsupported {
            family,
            algorithm: format!("bcrypt ${variant}$"),
        });
    }
    // $2b$NN$ + 22 characters of salt + 31 of hash.
    if text.len() != 60 || !text.is_ascii() || text.as_bytes()[6] != b'$' {
        return malformed(family, "expected 60 characters: $2b$<cost>$<salt><hash>");
    }
    let cost = &text[4..6];
    if !cost.bytes().all(|b| b.is_ascii_digit()) {
        return malformed(family, "cost is not a number");
    }
    let cost: u32 = cost.parse().unwrap_or(u32::MAX);
    if !(4..=31).contains(&cost) {
        return malformed(family, "cost outside 4..=31");
    }
    if cost > bounds::MAX_BCRYPT_COST {
        return out_of_bounds(family, "cost");
    }
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'/';
    if !text.as_bytes()[7..].iter().all(|b| alphabet(*b)) {
        return malformed(family, "salt or hash outside bcrypt's base64 alphabet");
    }
    Ok(BcryptHash(text))
}

impl BcryptHash<'_> {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        ::bcrypt::verify(password, self.0).unwrap_or(false)
    }
}
