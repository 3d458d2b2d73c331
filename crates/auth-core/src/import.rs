//! Bulk import of users (authd's `users import`): one checked row per user, batches
//! written by [`UserAdmin::import_users`](crate::UserAdmin::import_users).

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::otp::phone::PhoneNumber;
use crate::password::{HashFamily, UnusableHash, identify_password_hash};
use crate::users::{UserId, UserRecord, normalize_email};

/// Why a row of an import cannot be imported. Nothing of a file with such a row is
/// written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportRowError {
    /// Neither an email nor a phone number.
    #[error("a user needs an email or a phone number")]
    NoIdentifier,
    /// The email is not one.
    #[error("email: {0}")]
    Email(&'static str),
    /// The phone number is not an international (E.164) number.
    #[error("phone: {0}")]
    Phone(&'static str),
    /// The password hash is in no format the password module verifies, or malformed.
    #[error("password hash: {0}")]
    PasswordHash(#[source] UnusableHash),
    /// A field is missing, of the wrong type, or the row does not parse.
    #[error("{0}")]
    Malformed(String),
    /// The email or phone of an earlier row of the same file.
    #[error("same {field} as line {first_line}")]
    Duplicate {
        /// `email` or `phone`.
        field: &'static str,
        /// The earlier row's line.
        first_line: u64,
    },
}

fn present(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// One user to import, checked: normalised email, E.164 phone, a password hash the
/// password module can verify (legacy formats are rehashed at the user's first login).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportUser {
    /// Normalised email.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<PhoneNumber>,
    /// The stored hash, unchanged; `None`: no password login (phone-only users).
    pub password_hash: Option<String>,
    /// Whether the user may log in.
    pub is_active: bool,
    /// Whether the user is an admin.
    pub is_admin: bool,
}

impl ImportUser {
    /// Checks one row's fields. Empty strings count as absent.
    pub fn new(
        email: Option<&str>,
        phone: Option<&str>,
        password_hash: Option<&str>,
        is_active: bool,
        is_admin: bool,
    ) -> Result<Self, ImportRowError> {
        let (email, phone) = (present(email), present(phone));
        if email.is_none() && phone.is_none() {
            return Err(ImportRowError::NoIdentifier);
        }
        let field_reason = |e: crate::Error| match e {
            crate::Error::InvalidInput { reason, .. } => reason,
            _ => "invalid",
        };
        let email = email
            .map(normalize_email)
            .transpose()
            .map_err(|e| ImportRowError::Email(field_reason(e)))?;
        let phone = phone
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(|e| ImportRowError::Phone(field_reason(e)))?;
        let password_hash = match present(password_hash) {
            Some(hash) => {
                identify_password_hash(hash).map_err(ImportRowError::PasswordHash)?;
                Some(hash.to_owned())
            }
            None => None,
        };
        Ok(Self {
            email,
            phone,
            password_hash,
            is_active,
            is_admin,
        })
    }

    /// The password hash's family, if it has one.
    pub fn hash_family(&self) -> Option<HashFamily> {
        self.password_hash
            .as_deref()
            .and_then(|h| identify_password_hash(h).ok())
    }

    /// Whether a stored user holds exactly what this row would have written (the
    /// phone is not part of a [`UserRecord`] and is not compared).
    pub fn matches(&self, stored: &UserRecord) -> bool {
        stored.email == self.email
            && stored.password_hash == self.password_hash
            && stored.is_active == self.is_active
            && stored.is_admin == self.is_admin
    }
}

/// The rows of a file that repeat an earlier row's email or phone: `(index, error)`
/// for each, in order. `lines[i]` is row `i`'s line number.
pub fn duplicate_rows(rows: &[ImportUser], lines: &[u64]) -> Vec<(usize, ImportRowError)> {
    let mut emails: HashMap<&str, u64> = HashMap::new();
    let mut phones: HashMap<&str, u64> = HashMap::new();
    let mut duplicates = Vec::new();
    for (i, (row, &line)) in rows.iter().zip(lines).enumerate() {
        let email = row.email.as_deref().and_then(|e| emails.get(e).copied());
        let phone = row
            .phone
            .as_ref()
            .and_then(|p| phones.get(p.as_str()).copied());
        let clash = match (email, phone) {
            (Some(first_line), _) => Some(("email", first_line)),
            (None, Some(first_line)) => Some(("phone", first_line)),
            (None, None) => None,
        };
        if let Some((field, first_line)) = clash {
            duplicates.push((i, ImportRowError::Duplicate { field, first_line }));
            continue;
        }
        if let Some(e) = &row.email {
            emails.insert(e, line);
        }
        if let Some(p) = &row.phone {
            phones.insert(p.as_str(), line);
        }
    }
    duplicates
}

/// A batch of users to import in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserImport {
    /// The users, in file order.
    pub users: Vec<ImportUser>,
    /// When: `created_at` and `updated_at` of every user inserted.
    pub at: OffsetDateTime,
}

/// What importing one user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportedUser {
    /// Inserted with this id.
    Created(UserId),
    /// A user with this email (else phone) was already stored; it was left unchanged.
    Existing(UserRecord),
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHC: &str = "$pbkdf2-sha256$i=600000,l=32$c2FsdHNhbHRzYWx0c2FsdA$\
                       AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn rows_are_checked_and_normalised() {
        let row = ImportUser::new(
            Some(" A@X.io "),
            Some("+44 20 7946 0000"),
            None,
            true,
            false,
        )
        .unwrap();
        assert_eq!(row.email.as_deref(), Some("a@x.io"));
        assert_eq!(row.phone.as_ref().unwrap().as_str(), "+442079460000");
        assert_eq!(
            ImportUser::new(Some(""), Some(" "), None, true, false),
            Err(ImportRowError::NoIdentifier)
        );
        assert!(matches!(
            ImportUser::new(Some("nope"), None, None, true, false),
            Err(ImportRowError::Email(_))
        ));
        assert!(matches!(
            ImportUser::new(None, Some("12"), None, true, false),
            Err(ImportRowError::Phone(_))
        ));
        assert!(matches!(
            ImportUser::new(Some("a@x.io"), None, Some("md5$x$y"), true, false),
            Err(ImportRowError::PasswordHash(_))
        ));
        assert!(matches!(
            ImportUser::new(Some("a@x.io"), None, Some("plaintext"), true, false),
            Err(ImportRowError::PasswordHash(UnusableHash::Unrecognised))
        ));
        let hashed = ImportUser::new(Some("a@x.io"), None, Some(PHC), false, true).unwrap();
        assert_eq!(hashed.hash_family(), Some(HashFamily::Phc));
    }

    #[test]
    fn duplicates_name_the_first_line() {
        let rows = [
            ImportUser::new(Some("a@x.io"), Some("+13128050001"), None, true, false),
            ImportUser::new(Some("b@x.io"), None, None, true, false),
            ImportUser::new(Some("A@x.io"), None, None, true, false),
            ImportUser::new(None, Some("+1 312 805 0001"), None, true, false),
        ]
        .map(Result::unwrap);
        let found = duplicate_rows(&rows, &[2, 3, 5, 9]);
        assert_eq!(
            found,
            vec![
                (
                    2,
                    ImportRowError::Duplicate {
                        field: "email",
                        first_line: 2
                    }
                ),
                (
                    3,
                    ImportRowError::Duplicate {
                        field: "phone",
                        first_line: 2
                    }
                ),
            ]
        );
    }
}
