//! The user reads, with the configured [`UserClaimColumns`] as one `json_object`
//! (ARCHITECTURE.md, "Claims from user columns"), and the check that those columns
//! exist.

use auth_core::UserClaimColumns;
use deadpool_sqlite::rusqlite;

use crate::store::{SqliteTokenStore, run};

/// The users table.
const USERS: &str = "users";

/// The statements that read a user, built once for the store's claim columns.
#[derive(Debug)]
pub(crate) struct UserReads {
    columns: UserClaimColumns,
    /// `?1` id.
    pub(crate) by_id: String,
    /// `?1` normalised email.
    pub(crate) by_email: String,
    /// `?1` E.164 phone number.
    pub(crate) by_phone: String,
}

/// `json_object('market', "market", ...)`, or NULL without columns. The names are
/// plain identifiers (checked by [`UserClaimColumns`]), so quoting them is enough.
fn claims_object(columns: &UserClaimColumns) -> String {
    if columns.is_empty() {
        return "NULL".to_owned();
    }
    let pairs: Vec<String> = columns.names().map(|n| format!("'{n}', \"{n}\"")).collect();
    format!("json_object({})", pairs.join(", "))
}

impl UserReads {
    pub(crate) fn new(columns: UserClaimColumns) -> Self {
        // An adopted table's nullable is_active/is_admin read fail-closed (NULL: inactive,
        // not admin), its legacy text last_login as microseconds (ARCHITECTURE.md,
        // "Existing deployments").
        let select = format!(
            "SELECT id, email, password_hash, COALESCE(is_active, 0), COALESCE(is_admin, 0), \
             tokens_valid_after, CASE typeof(last_login) WHEN 'text' \
             THEN CAST(round(unixepoch(last_login, 'subsec') * 1000000) AS INTEGER) \
             ELSE last_login END, {} FROM {USERS} WHERE",
            claims_object(&columns)
        );
        Self {
            by_id: format!("{select} id = ?1"),
            by_email: format!("{select} email = ?1"),
            by_phone: format!("{select} phone_number = ?1"),
            columns,
        }
    }

    pub(crate) fn columns(&self) -> &UserClaimColumns {
        &self.columns
    }
}

impl Default for UserReads {
    /// No claim columns.
    fn default() -> Self {
        Self::new(UserClaimColumns::default())
    }
}

impl SqliteTokenStore {
    /// This store (sharing its pool) with `columns` read into every user's
    /// [`UserRecord::column_claims`](auth_core::UserRecord::column_claims), so they
    /// become access-token claims. Checks now that the `users` table has each column
    /// ([`auth_core::Error::MissingUserColumns`] names the ones it lacks), so run it
    /// after migrating. SQLite gives integers (and so booleans, stored as 0/1) as JSON
    /// numbers.
    pub async fn with_user_claim_columns(
        self,
        columns: UserClaimColumns,
    ) -> auth_core::Result<Self> {
        if !columns.is_empty() {
            let existing: Vec<String> = run(self.connections(), |conn| {
                let names = conn
                    .prepare("SELECT name FROM pragma_table_info(?1)")?
                    .query_map([USERS], |row| row.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(names)
            })
            .await?;
            // SQLite compares column names without case.
            let missing = columns.missing_from(existing.iter().map(String::as_str), true);
            if !missing.is_empty() {
                return Err(auth_core::Error::MissingUserColumns {
                    table: USERS,
                    columns: missing,
                });
            }
        }
        Ok(self.with_user_reads(UserReads::new(columns)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_names_each_column_as_a_quoted_identifier() {
        let cols = UserClaimColumns::new(["market", "language"]).unwrap();
        assert_eq!(
            claims_object(&cols),
            r#"json_object('market', "market", 'language', "language")"#
        );
        assert_eq!(claims_object(UserClaimColumns::none()), "NULL");
    }
}
