//! Telling the families apart and dispatching to each one's parser and verifier.

use super::bcrypt::{self, BcryptHash};
use super::django::{self, DjangoHash};
use super::passlib;
use super::phc::{self, PhcHash};
use super::stored::{HashFamily, Pbkdf2Hash, Unusable, UnusableHash, bounds, malformed};
use super::werkzeug::{self, WerkzeugHash};

/// A stored hash that parsed and whose parameters are within [`bounds`].
#[derive(Debug)]
pub(crate) enum StoredHash<'a> {
    Phc(PhcHash<'a>),
    Django(DjangoHash<'a>),
    Werkzeug(WerkzeugHash<'a>),
    Passlib(Pbkdf2Hash),
    Bcrypt(BcryptHash<'a>),
}

/// Parses a stored hash of any supported family.
pub(crate) fn parse(text: &str) -> Unusable<StoredHash<'_>> {
    let family = family_of(text).ok_or(UnusableHash::Unrecognised)?;
    if text.len() > bounds::MAX_HASH_LEN {
        return malformed(family, "longer than 512 bytes");
    }
    if text.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return malformed(
            family,
            "contains whitespace, control or non-ASCII characters",
        );
    }
    Ok(match family {
        HashFamily::Phc => StoredHash::Phc(phc::parse(family, text)?),
        HashFamily::Django => StoredHash::Django(django::parse(text)?),
        HashFamily::Werkzeug => StoredHash::Werkzeug(werkzeug::parse(text)?),
        HashFamily::Passlib => StoredHash::Passlib(passlib::parse(text)?),
        HashFamily::Bcrypt => StoredHash::Bcrypt(bcrypt::parse(family, text)?),
    })
}

/// The family a hash claims by its prefix, before any field is parsed.
fn family_of(text: &str) -> Option<HashFamily> {
    if bcrypt::claims(text) {
        Some(HashFamily::Bcrypt)
    } else if passlib::claims(text) {
        Some(HashFamily::Passlib)
    } else if text.starts_with('$') {
        Some(HashFamily::Phc)
    } else if django::claims(text) {
        Some(HashFamily::Django)
    } else if werkzeug::claims(text) {
        Some(HashFamily::Werkzeug)
    } else {
        None
    }
}

impl StoredHash<'_> {
    pub(crate) fn family(&self) -> HashFamily {
        match self {
            StoredHash::Phc(_) => HashFamily::Phc,
            StoredHash::Django(_) => HashFamily::Django,
            StoredHash::Werkzeug(_) => HashFamily::Werkzeug,
            StoredHash::Passlib(_) => HashFamily::Passlib,
            StoredHash::Bcrypt(_) => HashFamily::Bcrypt,
        }
    }

    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match self {
            StoredHash::Phc(h) => h.verify(password),
            StoredHash::Django(h) => h.verify(password),
            StoredHash::Werkzeug(h) => h.verify(password),
            StoredHash::Passlib(h) => h.verify(password),
            StoredHash::Bcrypt(h) => h.verify(password),
        }
    }

    /// PBKDF2-SHA256 rounds when this is the PHC scheme the library writes.
    pub(crate) fn native_pbkdf2_rounds(&self) -> Option<u32> {
        match self {
            StoredHash::Phc(h) => h.pbkdf2_sha256_rounds(),
            _ => None,
        }
    }
}
