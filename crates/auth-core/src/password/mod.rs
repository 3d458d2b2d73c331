//! Password hashing: new hashes are PBKDF2-HMAC-SHA256 PHC strings; stored hashes of
//! the legacy families (Django, werkzeug, passlib, bcrypt, PHC argon2) verify, and are
//! replaced by the configured hash on the next successful login.

mod bcrypt;
mod django;
mod format;
mod passlib;
mod phc;
mod stored;
mod werkzeug;

use password_hash::SaltString;
use password_hash::rand_core::OsRng;

use crate::error::{Error, Result};
use crate::pbkdf2_sha256;

pub use stored::{HashFamily, UnusableHash, bounds as hash_bounds};

/// Parses a stored password hash without verifying anything: its family, or why a login
/// against it would be refused. Imports use it to reject bad rows up front.
pub fn identify_password_hash(stored: &str) -> std::result::Result<HashFamily, UnusableHash> {
    format::parse(stored).map(|h| h.family())
}

/// The iteration count OWASP recommends for PBKDF2-HMAC-SHA256, and the default.
pub const DEFAULT_PBKDF2_ROUNDS: u32 = 600_000;

/// How passwords are hashed and what is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// PBKDF2 iterations for new hashes; stored hashes with fewer are rehashed on login.
    pub pbkdf2_rounds: u32,
    /// Shortest password accepted when one is set.
    pub min_length: usize,
    /// Longest password accepted (bounds the hashing work an attacker can cause).
    pub max_length: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            pbkdf2_rounds: DEFAULT_PBKDF2_ROUNDS,
            min_length: 8,
            max_length: 1024,
        }
    }
}

impl PasswordPolicy {
    /// Checks a new password against the length rules.
    pub fn check_new_password(&self, password: &str) -> Result<()> {
        let n = password.chars().count();
        if n < self.min_length || password.len() > self.max_length {
            return Err(Error::InvalidInput {
                field: "password",
                reason: "length out of range",
            });
        }
        Ok(())
    }

    /// Hashes a password into a PBKDF2-SHA256 PHC string with a fresh salt.
    pub fn hash(&self, password: &str) -> Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        pbkdf2_sha256::hash(password.as_bytes(), &salt, self.pbkdf2_rounds)
            .map_err(Error::PasswordHash)
    }

    /// Checks a password against a stored hash of any supported family. `Err` when the
    /// hash cannot be used (unknown family, malformed, unsupported algorithm, parameters
    /// out of bounds): the caller must refuse the login.
    pub fn check(&self, password: &str, stored: &str) -> std::result::Result<bool, UnusableHash> {
        let hash = format::parse(stored)?;
        Ok(password.len() <= self.max_length && hash.verify(password.as_bytes()))
    }

    /// Whether a password matches a stored hash. An unusable hash never matches and is
    /// logged (with its family and the reason, never the hash itself).
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        match self.check(password, stored) {
            Ok(matched) => matched,
            Err(error) => {
                tracing::warn!(%error, "stored password hash is unusable: password login refused");
                false
            }
        }
    }

    /// Whether a stored hash should be replaced after a successful login: any scheme
    /// but the library's PBKDF2-SHA256 PHC string, or fewer rounds than the policy.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        match format::parse(stored) {
            Ok(hash) => hash
                .native_pbkdf2_rounds()
                .is_none_or(|rounds| rounds < self.pbkdf2_rounds),
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> PasswordPolicy {
        PasswordPolicy {
            pbkdf2_rounds: 1_000,
            ..PasswordPolicy::default()
        }
    }

    #[test]
    fn default_policy_uses_600k_pbkdf2_sha256() {
        let policy = PasswordPolicy::default();
        assert_eq!(policy.pbkdf2_rounds, 600_000);
        let phc = policy.hash("correct horse").unwrap();
        assert!(phc.starts_with("$pbkdf2-sha256$i=600000,l=32$"), "{phc}");
        assert!(policy.verify("correct horse", &phc));
        assert!(!policy.verify("correct hors", &phc));
        assert!(!policy.needs_rehash(&phc));
    }

    #[test]
    fn weaker_and_foreign_hashes_need_rehash() {
        let weak = fast().hash("pw-123456").unwrap();
        assert!(PasswordPolicy::default().needs_rehash(&weak));
        assert!(PasswordPolicy::default().verify("pw-123456", &weak));
        assert!(PasswordPolicy::default().needs_rehash("not a phc string"));
    }

    #[test]
    fn argon2id_is_accepted_and_rehashed() {
        let salt = SaltString::generate(&mut OsRng);
        let phc = password_hash::PasswordHasher::hash_password(
            &argon2::Argon2::default(),
            b"legacy-pass",
            &salt,
        )
        .unwrap()
        .to_string();
        assert!(phc.starts_with("$argon2id$"));
        assert!(fast().verify("legacy-pass", &phc));
        assert!(!fast().verify("other-pass", &phc));
        assert!(fast().needs_rehash(&phc));
    }

    #[test]
    fn garbage_and_oversized_inputs_never_verify() {
        let p = fast();
        assert!(!p.verify("x", ""));
        assert!(!p.verify("x", "$plain$abc"));
        let phc = p.hash("short-pw").unwrap();
        assert!(!p.verify(&"a".repeat(5000), &phc));
        assert!(p.check_new_password("short").is_err());
        assert!(p.check_new_password(&"a".repeat(2000)).is_err());
        assert!(p.check_new_password("long enough").is_ok());
    }
}
