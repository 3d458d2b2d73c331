//! User columns an application configures as access-token claims (seed 002's `market`):
//! which names are acceptable is decided here, once, for every backend.

use std::sync::Arc;

use crate::claims::RESERVED_CLAIMS;
use crate::error::{Error, Result};

/// Longest accepted column name: PostgreSQL's identifier limit (MySQL allows 64).
pub const MAX_USER_COLUMN_NAME: usize = 63;

/// Most columns one service may configure (each is a claim in every access token).
pub const MAX_USER_CLAIM_COLUMNS: usize = 32;

/// Columns of the users tables the library reads or writes itself, and the password
/// column of Django-style tables (seed 000): never a claim.
const OWN_COLUMNS: [&str; 12] = [
    "id",
    "email",
    "password_hash",
    "password",
    "is_active",
    "is_admin",
    "is_verified",
    "tokens_valid_after",
    "last_login",
    "created_at",
    "updated_at",
    "phone_number",
];

/// Claim names with a meaning of their own in access tokens (RFC 7519, RFC 9068,
/// RFC 7800, RFC 8693) beyond the ones the library sets ([`RESERVED_CLAIMS`]): a user
/// column may not pose as one.
const REGISTERED_CLAIMS: [&str; 9] = [
    "cnf",
    "act",
    "may_act",
    "azp",
    "auth_time",
    "acr",
    "amr",
    "roles",
    "groups",
];

const FIELD: &str = "user_claim_columns";

fn refuse(reason: &'static str) -> Error {
    Error::InvalidInput {
        field: FIELD,
        reason,
    }
}

/// The user columns whose values a store puts on every [`UserRecord`](crate::UserRecord)
/// it reads ([`UserRecord::column_claims`](crate::UserRecord::column_claims)), and so
/// into every access token issued for the user, each under its column's name.
///
/// Each name is a plain SQL identifier (ASCII letters, digits and `_`, not starting
/// with a digit, at most [`MAX_USER_COLUMN_NAME`] characters), so a backend can quote
/// it and build its query from it; none is one of the library's own columns (`id`,
/// `email`, `password_hash`, `is_admin`, ...) or a claim name the library sets or that
/// has a registered meaning (`sub`, `iss`, `scope`, `cnf`, ...), compared without case.
/// Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserClaimColumns(Option<Arc<[String]>>);

static NONE: UserClaimColumns = UserClaimColumns(None);

impl UserClaimColumns {
    /// No columns: tokens carry no column claims.
    pub fn none() -> &'static Self {
        &NONE
    }

    /// Checks every name (see the type's docs) and that none repeats; at most
    /// [`MAX_USER_CLAIM_COLUMNS`]. [`Error::InvalidInput`] (`user_claim_columns`)
    /// otherwise.
    pub fn new<I>(names: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut checked: Vec<String> = Vec::new();
        for name in names {
            let name = name.as_ref();
            Self::check_name(name)?;
            if checked.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(refuse("names a column twice"));
            }
            if checked.len() == MAX_USER_CLAIM_COLUMNS {
                return Err(refuse("names more than 32 columns"));
            }
            checked.push(name.to_owned());
        }
        Ok(Self((!checked.is_empty()).then(|| checked.into())))
    }

    /// A comma-separated list (`market,language`); blanks around names are ignored and
    /// an empty list is [`none`](Self::none). Checked as [`new`](Self::new) does.
    pub fn parse(list: &str) -> Result<Self> {
        Self::new(list.split(',').map(str::trim).filter(|n| !n.is_empty()))
    }

    /// Checks one column name (see the type's docs).
    pub fn check_name(name: &str) -> Result<()> {
        if name.is_empty() || name.len() > MAX_USER_COLUMN_NAME {
            return Err(refuse("a column name must be 1 to 63 characters"));
        }
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(refuse(
                "a column name is ASCII letters, digits and `_`, not starting with a digit",
            ));
        }
        let is = |list: &[&str]| list.iter().any(|n| n.eq_ignore_ascii_case(name));
        if is(&OWN_COLUMNS) {
            return Err(refuse("is a column the library reads itself"));
        }
        if is(&RESERVED_CLAIMS) || is(&REGISTERED_CLAIMS) {
            return Err(refuse("is a claim name the library reserves"));
        }
        Ok(())
    }

    /// The names, in the configured order.
    pub fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
    }

    /// Whether no column is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// How many columns are configured.
    pub fn len(&self) -> usize {
        self.names().len()
    }

    /// The configured names that are not in `existing` (a table's columns), compared
    /// exactly or, for databases whose column names ignore case, without case.
    pub fn missing_from<'a>(
        &self,
        existing: impl IntoIterator<Item = &'a str> + Clone,
        ignore_case: bool,
    ) -> Vec<String> {
        self.names()
            .filter(|name| {
                !existing.clone().into_iter().any(|e| match ignore_case {
                    true => e.eq_ignore_ascii_case(name),
                    false => e == *name,
                })
            })
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(names: &[&str]) -> &'static str {
        match UserClaimColumns::new(names) {
            Err(Error::InvalidInput { field, reason }) => {
                assert_eq!(field, FIELD);
                reason
            }
            other => panic!("{names:?} accepted: {other:?}"),
        }
    }

    #[test]
    fn plain_identifiers_are_accepted_in_order() {
        let cols = UserClaimColumns::new(["market", "language", "_tier2", "Country"]).unwrap();
        assert_eq!(
            cols.names().collect::<Vec<_>>(),
            ["market", "language", "_tier2", "Country"]
        );
        assert_eq!(cols.len(), 4);
        assert!(
            UserClaimColumns::new(Vec::<String>::new())
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            UserClaimColumns::parse(" market , language ,").unwrap(),
            UserClaimColumns::new(["market", "language"]).unwrap()
        );
        assert_eq!(
            &UserClaimColumns::parse("").unwrap(),
            UserClaimColumns::none()
        );
    }

    #[test]
    fn anything_but_a_plain_identifier_is_refused() {
        let long = "m".repeat(64);
        for bad in [
            "",
            "1market",
            "market-x",
            "market x",
            "market\"",
            "market`",
            "m'",
            "mär",
            "a;DROP TABLE users",
            "market)",
            long.as_str(),
        ] {
            refused(&[bad]);
        }
        assert!(UserClaimColumns::new(["m".repeat(63)]).is_ok());
    }

    #[test]
    fn own_columns_and_reserved_claims_are_refused_whatever_the_case() {
        for own in [
            "id",
            "password_hash",
            "PASSWORD",
            "is_admin",
            "Tokens_Valid_After",
        ] {
            assert_eq!(refused(&[own]), "is a column the library reads itself");
        }
        for &claim in RESERVED_CLAIMS.iter().chain(&REGISTERED_CLAIMS) {
            assert_eq!(
                refused(&[claim]),
                "is a claim name the library reserves",
                "{claim}"
            );
            refused(&[claim.to_uppercase().as_str()]);
        }
    }

    #[test]
    fn repeats_and_too_many_are_refused() {
        assert_eq!(refused(&["market", "Market"]), "names a column twice");
        let many: Vec<String> = (0..=MAX_USER_CLAIM_COLUMNS)
            .map(|i| format!("c{i}"))
            .collect();
        assert!(UserClaimColumns::new(&many[..MAX_USER_CLAIM_COLUMNS]).is_ok());
        assert!(UserClaimColumns::new(&many).is_err());
    }

    #[test]
    fn missing_columns_are_named() {
        let cols = UserClaimColumns::new(["market", "Language"]).unwrap();
        let table = ["id", "market", "language"];
        assert_eq!(cols.missing_from(table, true), Vec::<String>::new());
        assert_eq!(cols.missing_from(table, false), ["Language"]);
        assert_eq!(cols.missing_from(["id"], true), ["market", "Language"]);
    }
}
