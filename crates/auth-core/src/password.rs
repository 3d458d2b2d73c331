//! Password hashing: PHC strings, PBKDF2-HMAC-SHA256 by default, argon2id accepted.

use password_hash::rand_core::OsRng;
use password_hash::{PasswordHash, PasswordVerifier as _, SaltString};
use pbkdf2::Params;

use crate::error::{Error, Result};
use crate::pbkdf2_sha256;

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

    /// Checks a password against a PHC string (PBKDF2 or argon2id). A hash that does
    /// not parse, or of another scheme, is a mismatch.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        if password.len() > self.max_length {
            return false;
        }
        let Ok(hash) = PasswordHash::new(phc) else {
            return false;
        };
        match hash.algorithm.as_str() {
            pbkdf2_sha256::IDENT => pbkdf2_sha256::matches(password.as_bytes(), &hash),
            "argon2id" => argon2::Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok(),
            _ => false,
        }
    }

    /// Whether a stored hash should be replaced after a successful login: another
    /// scheme, or fewer PBKDF2 rounds than the policy.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return true;
        };
        if hash.algorithm.as_str() != pbkdf2_sha256::IDENT {
            return true;
        }
        match Params::try_from(&hash) {
            Ok(params) => params.rounds < self.pbkdf2_rounds,
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
