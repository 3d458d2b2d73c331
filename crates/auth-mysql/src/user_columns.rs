//! The configured [`UserClaimColumns`] as one `JSON_OBJECT` beside every user read
//! (ARCHITECTURE.md, "Claims from user columns"), and the check that those columns
//! exist.

use auth_core::{UserClaimColumns, UserRecord};
use diesel::QueryableByName;
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::sql_types::{Nullable, Text};
use diesel_async::RunQueryDsl;

use crate::error::MySqlError;
use crate::rows::UserRow;
use crate::store::{MySqlTokenStore, with_conn};

/// The users table.
const USERS: &str = "auth_user";

/// The claim columns and the expression that reads them.
#[derive(Debug)]
pub(crate) struct UserReads {
    columns: UserClaimColumns,
    /// `CAST(JSON_OBJECT('market', `market`, ...) AS CHAR)`, or NULL without columns.
    object: String,
}

/// A user row and its claim columns' object.
pub(crate) type UserRead = (UserRow, Option<String>);

impl UserReads {
    pub(crate) fn new(columns: UserClaimColumns) -> Self {
        // The names are plain identifiers (checked by UserClaimColumns), so quoting
        // them is enough.
        let object = match columns.is_empty() {
            true => "NULL".to_owned(),
            false => {
                let pairs: Vec<String> = columns.names().map(|n| format!("'{n}', `{n}`")).collect();
                format!("CAST(JSON_OBJECT({}) AS CHAR)", pairs.join(", "))
            }
        };
        Self { columns, object }
    }

    pub(crate) fn columns(&self) -> &UserClaimColumns {
        &self.columns
    }

    /// The object, to select beside [`UserRow`].
    pub(crate) fn object(&self) -> SqlLiteral<Nullable<Text>> {
        sql::<Nullable<Text>>(&self.object)
    }
}

impl Default for UserReads {
    /// No claim columns.
    fn default() -> Self {
        Self::new(UserClaimColumns::default())
    }
}

/// The record of a [`UserRead`].
pub(crate) fn user_record((row, object): UserRead) -> Result<UserRecord, MySqlError> {
    let mut user = UserRecord::try_from(row)?;
    if let Some(object) = object {
        user.column_claims = serde_json::from_str(&object)
            .map_err(|_| MySqlError::InvalidRow("the claim columns' object is not JSON"))?;
    }
    Ok(user)
}

#[derive(QueryableByName)]
struct ColumnName {
    #[diesel(sql_type = Text)]
    name: String,
}

impl MySqlTokenStore {
    /// This store (sharing its pool) with `columns` read into every user's
    /// [`UserRecord::column_claims`](auth_core::UserRecord::column_claims), so they
    /// become access-token claims, with the JSON types `JSON_OBJECT` gives them
    /// (`TINYINT(1)` booleans are numbers). Checks now that `auth_user` has each column
    /// ([`auth_core::Error::MissingUserColumns`] names the ones it lacks), so run it
    /// after migrating.
    pub async fn with_user_claim_columns(
        self,
        columns: UserClaimColumns,
    ) -> auth_core::Result<Self> {
        if let Some(django) = self.django_users()
            && !columns.is_empty()
        {
            return Err(MySqlError::ClaimColumnsOnDjangoTable(django.to_string()).into());
        }
        if !columns.is_empty() {
            let query = diesel::sql_query(
                "SELECT CAST(COLUMN_NAME AS CHAR) AS name FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
            )
            .bind::<Text, _>(USERS);
            let existing: Vec<ColumnName> =
                with_conn!(self, |conn| query.load(conn).await).map_err(MySqlError::from)?;
            // MySQL compares column names without case.
            let missing = columns.missing_from(existing.iter().map(|c| c.name.as_str()), true);
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
        let reads = UserReads::new(UserClaimColumns::new(["market", "tier"]).unwrap());
        assert_eq!(
            reads.object,
            "CAST(JSON_OBJECT('market', `market`, 'tier', `tier`) AS CHAR)"
        );
        assert_eq!(UserReads::default().object, "NULL");
    }
}
