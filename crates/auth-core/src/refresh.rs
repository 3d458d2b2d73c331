//! Opaque refresh tokens: 256 random bits shown once, stored only as SHA-256; a
//! rotation successor is derived from its predecessor under a per-rotation seed.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::fmt;
use uuid::Uuid;

use crate::error::{RefreshRejection, Result};

const PREFIX: &str = "rt_";
const SECRET_BYTES: usize = 32;
const ENCODED_LEN: usize = 43;

/// A refresh token in its text form (`rt_` + base64url of 32 random bytes).
///
/// `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// Draws a fresh token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Checks the text form without touching any storage.
    pub fn parse(text: &str) -> Result<Self, RefreshRejection> {
        let body = text
            .strip_prefix(PREFIX)
            .ok_or(RefreshRejection::Malformed)?;
        if body.len() != ENCODED_LEN {
            return Err(RefreshRejection::Malformed);
        }
        let mut out = [0u8; SECRET_BYTES + 2];
        match URL_SAFE_NO_PAD.decode_slice(body, &mut out) {
            Ok(SECRET_BYTES) => Ok(Self(text.to_owned())),
            _ => Err(RefreshRejection::Malformed),
        }
    }

    /// The text to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 under which the token is stored and looked up.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }
}

/// The 32 random bytes drawn at a rotation, stored on the retired token's row, from
/// which the successor's text is derived: `rt_` + base64url(HMAC-SHA256(key = seed,
/// message = the predecessor's text)). Whoever presents the predecessor's text again
/// can so be handed the same successor without the successor's text being stored
/// anywhere; the seed alone is useless, the predecessor's text being stored only as a
/// hash.
///
/// `Debug` never prints the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SuccessorSeed(pub [u8; SECRET_BYTES]);

impl SuccessorSeed {
    /// Draws a fresh seed from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self(bytes)
    }

    /// Reads a stored seed; `None` if the slice is not 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; SECRET_BYTES] {
        &self.0
    }

    /// The successor of `predecessor` under this seed.
    pub fn successor_of(&self, predecessor: &RefreshToken) -> RefreshToken {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let tag = hmac::sign(&key, predecessor.expose().as_bytes());
        RefreshToken(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(tag.as_ref())))
    }
}

impl fmt::Debug for SuccessorSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SuccessorSeed(***)")
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// SHA-256 of a bearer token, the only form in which tokens are stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes the bytes of a token.
    pub fn of(token: &[u8]) -> Self {
        Self(Sha256::digest(token).into())
    }

    /// Reads a stored hash; `None` if the slice is not 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// Identifier of one stored refresh token row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TokenId(pub Uuid);

impl TokenId {
    /// A new random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for TokenId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("rt_"));
        assert_eq!(a.expose().len(), 3 + 43);
        assert_eq!(RefreshToken::parse(a.expose()).unwrap(), a);
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "rt_",
            "xx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*",
            "rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        ] {
            assert_eq!(
                RefreshToken::parse(bad),
                Err(RefreshRejection::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn successors_are_derived_from_seed_and_predecessor() {
        let predecessor = RefreshToken::generate();
        let seed = SuccessorSeed::generate();
        let successor = seed.successor_of(&predecessor);
        assert_eq!(RefreshToken::parse(successor.expose()).unwrap(), successor);
        assert_eq!(seed.successor_of(&predecessor), successor);
        assert_ne!(
            SuccessorSeed::generate().successor_of(&predecessor),
            successor
        );
        assert_ne!(seed.successor_of(&RefreshToken::generate()), successor);
        assert_eq!(format!("{seed:?}"), "SuccessorSeed(***)");
    }

    #[test]
    fn debug_hides_the_secret() {
        let t = RefreshToken::generate();
        assert!(!format!("{t:?}").contains(&t.expose()[3..]));
    }
}
