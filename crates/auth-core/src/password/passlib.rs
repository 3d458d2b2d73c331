//! passlib's pbkdf2 family: `$pbkdf2-sha256$<rounds>$<salt>$<key>`, `$pbkdf2-sha512$…`
//! and `$pbkdf2$…` (SHA-1), salt and key in passlib's "adapted base64" (`.` for `+`, no
//! padding). Told apart from the PHC `$pbkdf2-sha256$i=…` by the bare rounds number.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use super::stored::{HashFamily, Pbkdf2Digest, Pbkdf2Hash, Unusable, malformed, pbkdf2_iterations};

const FAMILY: HashFamily = HashFamily::Passlib;

/// Whether `text` is in passlib's shape (a bare rounds field after the scheme).
pub(crate) fn claims(text: &str) -> bool {
    let mut fields = text.split('$');
    let (Some(""), Some(scheme), Some(rounds)) = (fields.next(), fields.next(), fields.next())
    else {
        return false;
    };
    matches!(scheme, "pbkdf2" | "pbkdf2-sha256" | "pbkdf2-sha512") && !rounds.contains('=')
}

pub(crate) fn parse(text: &str) -> Unusable<Pbkdf2Hash> {
    let mut fields = text.split('$');
    let (Some(""), Some(scheme), Some(rounds), Some(salt), Some(key), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return malformed(FAMILY, "expected $<scheme>$<rounds>$<salt>$<hash>");
    };
    let digest = match scheme {
        "pbkdf2" => Pbkdf2Digest::Sha1,
        "pbkdf2-sha256" => Pbkdf2Digest::Sha256,
        _ => Pbkdf2Digest::Sha512,
    };
    let iterations = pbkdf2_iterations(FAMILY, rounds)?;
    let (Some(salt), Some(key)) = (ab64_decode(salt), ab64_decode(key)) else {
        return malformed(FAMILY, "salt or hash is not adapted base64");
    };
    if salt.is_empty() {
        return malformed(FAMILY, "empty salt");
    }
    Pbkdf2Hash::new(FAMILY, digest, iterations, salt, key)
}

fn ab64_decode(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() {
        return None;
    }
    STANDARD_NO_PAD
        .decode(text.trim_end_matches('=').replace('.', "+"))
        .ok()
}
