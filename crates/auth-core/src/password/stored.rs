//! What a stored password hash is: its family, why it may be unusable, and the bounds
//! on the work its parameters may ask for.

use std::fmt;
use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;

/// The families of stored hashes the library verifies (ARCHITECTURE.md, "Passwords").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashFamily {
    /// PHC strings: `$pbkdf2-sha256$i=…,l=…$…` (what the library writes), `$argon2id$…`.
    Phc,
    /// Django: `pbkdf2_sha256$…`, `pbkdf2_sha1$…`, `argon2$…`, `bcrypt_sha256$…`, `bcrypt$…`.
    Django,
    /// werkzeug: `pbkdf2:<digest>:<iterations>$…`, `scrypt:<n>:<r>:<p>$…`.
    Werkzeug,
    /// passlib: `$pbkdf2$…`, `$pbkdf2-sha256$<rounds>$…`, `$pbkdf2-sha512$…`.
    Passlib,
    /// bcrypt: `$2a$`, `$2b$`, `$2y$` (GoTrue, Auth0 and PHP exports).
    Bcrypt,
}

impl HashFamily {
    /// A short lower-case name, for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            HashFamily::Phc => "phc",
            HashFamily::Django => "django",
            HashFamily::Werkzeug => "werkzeug",
            HashFamily::Passlib => "passlib",
            HashFamily::Bcrypt => "bcrypt",
        }
    }
}

impl fmt::Display for HashFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a stored hash cannot be verified. A login against such a hash is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnusableHash {
    /// No known family's prefix (also Django's "unusable password" marker `!…`).
    #[error("password hash of an unrecognised format")]
    Unrecognised,
    /// A known family, an algorithm of it the library refuses (e.g. Django `md5$`).
    #[error("{family} password hash with unsupported algorithm {algorithm:?}")]
    Unsupported {
        /// The family.
        family: HashFamily,
        /// The algorithm or variant named in the hash.
        algorithm: String,
    },
    /// A known family whose fields do not parse.
    #[error("malformed {family} password hash: {reason}")]
    Malformed {
        /// The family.
        family: HashFamily,
        /// What is wrong.
        reason: &'static str,
    },
    /// Parameters asking for more work or memory than [`bounds`] allow (or none at all).
    #[error("{family} password hash parameters out of bounds: {reason}")]
    OutOfBounds {
        /// The family.
        family: HashFamily,
        /// Which parameter.
        reason: &'static str,
    },
}

/// Upper bounds on the work a stored hash may demand, so that one crafted or corrupt
/// row (or import line) cannot tie up a worker for minutes or exhaust memory.
pub mod bounds {
    /// PBKDF2 iterations (Django's default is 1,000,000 in 5.2).
    pub const MAX_PBKDF2_ITERATIONS: u32 = 20_000_000;
    /// bcrypt cost (2^cost rounds; 12 is a common default).
    pub const MAX_BCRYPT_COST: u32 = 18;
    /// argon2 memory in KiB (1 GiB; Django's default is 100 MiB).
    pub const MAX_ARGON2_MEMORY_KIB: u32 = 1 << 20;
    /// argon2 passes.
    pub const MAX_ARGON2_TIME: u32 = 64;
    /// argon2 lanes.
    pub const MAX_ARGON2_PARALLELISM: u32 = 64;
    /// scrypt memory, `128 * r * n` bytes (256 MiB; werkzeug's default needs 32 MiB).
    pub const MAX_SCRYPT_MEMORY_BYTES: u64 = 256 << 20;
    /// Stored hash length in bytes.
    pub const MAX_HASH_LEN: usize = 512;
}

pub(crate) type Unusable<T> = Result<T, UnusableHash>;

pub(crate) fn malformed<T>(family: HashFamily, reason: &'static str) -> Unusable<T> {
    Err(UnusableHash::Malformed { family, reason })
}

pub(crate) fn out_of_bounds<T>(family: HashFamily, reason: &'static str) -> Unusable<T> {
    Err(UnusableHash::OutOfBounds { family, reason })
}

/// Parses a decimal iteration count within `1..=MAX_PBKDF2_ITERATIONS`.
pub(crate) fn pbkdf2_iterations(family: HashFamily, text: &str) -> Unusable<NonZeroU32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 10 {
        return malformed(family, "iteration count is not a number");
    }
    let n: u64 = text.parse().unwrap_or(u64::MAX);
    if n == 0 || n > u64::from(bounds::MAX_PBKDF2_ITERATIONS) {
        return out_of_bounds(family, "iteration count");
    }
    NonZeroU32::new(n as u32).map_or_else(|| out_of_bounds(family, "iteration count"), Ok)
}

/// A PBKDF2-HMAC digest and its output length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pbkdf2Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Pbkdf2Digest {
    pub(crate) fn output_len(self) -> usize {
        match self {
            Pbkdf2Digest::Sha1 => 20,
            Pbkdf2Digest::Sha256 => 32,
            Pbkdf2Digest::Sha512 => 64,
        }
    }

    fn algorithm(self) -> pbkdf2::Algorithm {
        match self {
            Pbkdf2Digest::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            Pbkdf2Digest::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Pbkdf2Digest::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }
}

/// A parsed PBKDF2 hash of any family: verification compares in constant time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pbkdf2Hash {
    pub(crate) digest: Pbkdf2Digest,
    pub(crate) iterations: NonZeroU32,
    pub(crate) salt: Vec<u8>,
    pub(crate) derived: Vec<u8>,
}

impl Pbkdf2Hash {
    /// Checks that the derived key has the digest's length (every family writes that).
    pub(crate) fn new(
        family: HashFamily,
        digest: Pbkdf2Digest,
        iterations: NonZeroU32,
        salt: Vec<u8>,
        derived: Vec<u8>,
    ) -> Unusable<Self> {
        if derived.len() != digest.output_len() {
            return malformed(family, "derived key length does not match the digest");
        }
        Ok(Pbkdf2Hash {
            digest,
            iterations,
            salt,
            derived,
        })
    }

    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        pbkdf2::verify(
            self.digest.algorithm(),
            self.iterations,
            &self.salt,
            password,
            &self.derived,
        )
        .is_ok()
    }
}
