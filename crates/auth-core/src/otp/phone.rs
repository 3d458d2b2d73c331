//! Phone numbers as one-time-code sign-in names them: E.164, validated against the
//! libphonenumber metadata (the `phonenumber` crate), never a regex.

use std::fmt;

use crate::error::{Error, Result};

/// Longest input accepted before parsing (formatted numbers carry spaces and dashes).
const MAX_INPUT_CHARS: usize = 64;

/// A valid phone number in E.164 form (`+` and up to 15 digits), e.g. `+13128059851`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses and validates a number in international form (`+` and the country code;
    /// spaces, dashes and parentheses allowed) and normalises it to E.164. Anything
    /// else is [`Error::InvalidInput`] on the field `phone`.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason| {
            Err(Error::InvalidInput {
                field: "phone",
                reason,
            })
        };
        let input = input.trim();
        if input.is_empty() || input.chars().count() > MAX_INPUT_CHARS {
            return bad("must be 1 to 64 characters");
        }
        if input.chars().any(char::is_control) {
            return bad("must not contain control characters");
        }
        if !input.starts_with('+') {
            return bad("must be in international form, starting with + and the country code");
        }
        let Ok(number) = phonenumber::parse(None, input) else {
            return bad("is not a phone number");
        };
        if number.extension().is_some() {
            return bad("must not carry an extension");
        }
        if !phonenumber::is_valid(&number) {
            return bad("is not a valid phone number");
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        if e164.len() > 16 {
            return bad("is longer than E.164 allows");
        }
        Ok(Self(e164))
    }

    /// The E.164 text, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A number read back from storage, where only [`parse`](Self::parse)d values are
    /// written. Backends use it for rows they return.
    pub fn from_stored(e164: String) -> Self {
        Self(e164)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_to_e164() {
        for (input, e164) in [
            ("+13128059851", "+13128059851"),
            (" +1 (312) 805-9851 ", "+13128059851"),
            ("+996 555 123 456", "+996555123456"),
            ("+44 20 7946 0958", "+442079460958"),
        ] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), e164, "{input}");
        }
    }

    #[test]
    fn anything_else_is_invalid_input() {
        for bad in [
            "",
            "   ",
            "13128059851",
            "+1",
            "+1312",
            "+999 1234567",
            "+1 312 805 9851 ext. 12",
            "+1312805985\u{0}",
            "not a number",
            "+123456789012345678",
            &"+1".repeat(40),
        ] {
            assert!(
                matches!(
                    PhoneNumber::parse(bad),
                    Err(Error::InvalidInput { field: "phone", .. })
                ),
                "{bad:?}"
            );
        }
    }
}
