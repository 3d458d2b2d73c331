//! One-time codes: digits from the OS CSPRNG, stored only as HMAC-SHA256 under a
//! server secret, compared in constant time.

use std::fmt;

use aws_lc_rs::{constant_time, hmac};

use crate::error::{Error, Result};
use crate::otp::phone::PhoneNumber;

/// Shortest accepted server secret, in bytes.
pub const MIN_CODE_SECRET_BYTES: usize = 32;

/// A one-time code as sent to the user. Its `Debug` form hides the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    /// `length` decimal digits, each uniform (rejection sampling over OS random bytes).
    pub fn generate(length: usize) -> Self {
        let mut digits = String::with_capacity(length);
        let mut buf = [0u8; 32];
        while digits.len() < length {
            getrandom::fill(&mut buf).expect("the operating system's random source failed");
            // 250 = 25 * 10: bytes at or above it would bias the digits.
            for b in buf.iter().filter(|b| **b < 250) {
                if digits.len() == length {
                    break;
                }
                digits.push(char::from(b'0' + b % 10));
            }
        }
        Self(digits)
    }

    /// A code as the user typed it: surrounding spaces trimmed; it must be exactly
    /// `length` ASCII digits, otherwise [`Error::InvalidInput`] on the field `code`.
    pub fn parse(input: &str, length: usize) -> Result<Self> {
        let input = input.trim();
        if input.len() != length || !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidInput {
                field: "code",
                reason: "must be the digits of the code that was sent",
            });
        }
        Ok(Self(input.to_owned()))
    }

    /// The digits, for the sender only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(***)")
    }
}

/// The stored form of a code: HMAC-SHA256(secret, phone || 0x00 || code).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeHash(pub [u8; 32]);

impl fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHash(..)")
    }
}

/// The server secret codes are keyed with. Six digits have only a million values, so a
/// bare hash would fall to a table in a second; without the secret a stolen database
/// tells nothing. Its `Debug` form hides the key.
#[derive(Clone)]
pub struct CodeSecret(hmac::Key);

impl CodeSecret {
    /// A secret from at least [`MIN_CODE_SECRET_BYTES`] bytes (e.g. 32 random bytes).
    pub fn new(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < MIN_CODE_SECRET_BYTES {
            return Err(Error::Config(
                "the one-time-code secret must be at least 32 bytes",
            ));
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    /// A fresh random secret (codes then do not survive a restart of the process).
    pub fn generate() -> Self {
        let mut bytes = [0u8; MIN_CODE_SECRET_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    }

    /// The stored form of `code` sent to `phone`: binding the phone means one code's
    /// hash says nothing about the same digits sent to another number.
    pub fn hash(&self, phone: &PhoneNumber, code: &OneTimeCode) -> CodeHash {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(phone.as_str().as_bytes());
        ctx.update(&[0]);
        ctx.update(code.0.as_bytes());
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        CodeHash(out)
    }

    /// Whether `code` for `phone` is the one stored as `stored`, in constant time.
    pub fn matches(&self, phone: &PhoneNumber, code: &OneTimeCode, stored: &CodeHash) -> bool {
        let candidate = self.hash(phone, code);
        constant_time::verify_slices_are_equal(&candidate.0, &stored.0).is_ok()
    }
}

impl fmt::Debug for CodeSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeSecret(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[test]
    fn codes_have_the_requested_digits() {
        for length in [4, 6, 8, 10] {
            let code = OneTimeCode::generate(length);
            assert_eq!(code.expose().len(), length);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        }
        let first_digits: std::collections::HashSet<_> = (0..200)
            .map(|_| OneTimeCode::generate(6).expose().as_bytes()[0])
            .collect();
        assert!(first_digits.len() >= 8, "digits look uniform");
        assert_eq!(
            format!("{:?}", OneTimeCode::generate(6)),
            "OneTimeCode(***)"
        );
    }

    #[test]
    fn typed_codes_are_checked() {
        assert_eq!(
            OneTimeCode::parse(" 012345 ", 6).unwrap().expose(),
            "012345"
        );
        for bad in ["", "12345", "1234567", "12a456", "１２３４５６", "12 456"] {
            assert!(OneTimeCode::parse(bad, 6).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hashes_bind_secret_phone_and_code() {
        let secret = CodeSecret::new(&[7u8; 32]).unwrap();
        let other = CodeSecret::new(&[8u8; 32]).unwrap();
        let code = OneTimeCode::parse("123456", 6).unwrap();
        let a = phone("+13128059851");
        let stored = secret.hash(&a, &code);
        assert!(secret.matches(&a, &code, &stored));
        assert!(!other.matches(&a, &code, &stored));
        assert!(!secret.matches(&phone("+13128059852"), &code, &stored));
        assert!(!secret.matches(&a, &OneTimeCode::parse("123457", 6).unwrap(), &stored));
        assert!(CodeSecret::new(&[1u8; 31]).is_err());
    }
}
