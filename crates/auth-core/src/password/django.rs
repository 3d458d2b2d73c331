//! Django's `algorithm$…` hashes (django.contrib.auth.hashers):
//! `pbkdf2_sha256$<iterations>$<salt>$<base64 key>`, `pbkdf2_sha1$…`,
//! `argon2$argon2id$v=19$m=…` (a PHC string behind the prefix), `bcrypt_sha256$$2b$…`
//! (bcrypt of the hex SHA-256 of the password) and `bcrypt$$2b$…`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::bcrypt::{self, BcryptHash};
use super::phc::{self, PhcHash};
use super::stored::{
    HashFamily, Pbkdf2Digest, Pbkdf2Hash, Unusable, UnusableHash, malformed, pbkdf2_iterations,
};

const FAMILY: HashFamily = HashFamily::Django;

/// The Django algorithm names the library verifies.
pub(crate) const PREFIXES: [&str; 5] = [
    "pbkdf2_sha256$",
    "pbkdf2_sha1$",
    "argon2$",
    "bcrypt_sha256$",
    "bcrypt$",
];

/// Django algorithms refused (unsalted or broken digests): a clear error, not "unknown".
const REFUSED: [&str; 6] = [
    "md5$",
    "sha1$",
    "unsalted_md5$",
    "unsalted_sha1$",
    "crypt$",
    "scrypt$",
];

/// A parsed Django hash.
#[derive(Debug)]
pub(crate) enum DjangoHash<'a> {
    Pbkdf2(Pbkdf2Hash),
    Argon2(PhcHash<'a>),
    /// `prehash`: bcrypt over the lower-case hex SHA-256 of the password.
    Bcrypt {
        hash: BcryptHash<'a>,
        prehash: bool,
    },
}

/// Whether `text` names a Django algorithm, supported or not.
pub(crate) fn claims(text: &str) -> bool {
    PREFIXES
        .iter()
        .chain(REFUSED.iter())
        .any(|p| text.starts_with(p))
}

pub(crate) fn parse(text: &str) -> Unusable<DjangoHash<'_>> {
    let (algorithm, rest) = text.split_once('$').unwrap_or((text, ""));
    match algorithm {
        "pbkdf2_sha256" => pbkdf2(Pbkdf2Digest::Sha256, rest),
        "pbkdf2_sha1" => pbkdf2(Pbkdf2Digest::Sha1, rest),
        // "argon2" + "$argon2id$v=19$…": the PHC string keeps its leading '$'.
        "argon2" => phc::parse(FAMILY, &text["argon2".len()..]).and_then(|h| match h {
            PhcHash::Argon2(_) => Ok(DjangoHash::Argon2(h)),
            PhcHash::Pbkdf2(_) => malformed(FAMILY, "argon2$ prefix on a non-argon2 hash"),
        }),
        "bcrypt_sha256" | "bcrypt" => {
            let Some(inner) = rest.strip_prefix('$') else {
                return malformed(FAMILY, "bcrypt hash not behind '$$'");
            };
            Ok(DjangoHash::Bcrypt {
                hash: bcrypt::parse(FAMILY, &text[text.len() - inner.len() - 1..])?,
                prehash: algorithm == "bcrypt_sha256",
            })
        }
        other => Err(UnusableHash::Unsupported {
            family: FAMILY,
            algorithm: other.to_owned(),
        }),
    }
}

fn pbkdf2(digest: Pbkdf2Digest, rest: &str) -> Unusable<DjangoHash<'static>> {
    let mut fields = rest.split('$');
    let (Some(iterations), Some(salt), Some(key), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return malformed(FAMILY, "expected <algorithm>$<iterations>$<salt>$<hash>");
    };
    let iterations = pbkdf2_iterations(FAMILY, iterations)?;
    if salt.is_empty() {
        return malformed(FAMILY, "empty salt");
    }
    let Ok(key) = STANDARD.decode(key) else {
        return malformed(FAMILY, "hash is not base64");
    };
    Pbkdf2Hash::new(FAMILY, digest, iterations, salt.as_bytes().to_vec(), key)
        .map(DjangoHash::Pbkdf2)
}

impl DjangoHash<'_> {
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match self {
            DjangoHash::Pbkdf2(hash) => hash.verify(password),
            DjangoHash::Argon2(hash) => hash.verify(password),
            DjangoHash::Bcrypt { hash, prehash } => {
                if *prehash {
                    use sha2::Digest as _;
                    let hex = hex_lower(&sha2::Sha256::digest(password));
                    hash.verify(hex.as_bytes())
                } else {
                    hash.verify(password)
                }
            }
        }
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
