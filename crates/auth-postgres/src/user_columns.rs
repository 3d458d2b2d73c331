//! The user reads with the configured [`UserClaimColumns`] as one `json_build_object`
//! (ARCHITECTURE.md, "Claims from user columns"), and the check that those columns
//! exist.

use std::sync::Arc;

use auth_core::{Result, UserClaimColumns};
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::error::db;
use crate::otp::REDEEM_CODE;
use crate::statements::PgStatements;
use crate::store::PgTokenStore;

/// The users table.
const USERS: &str = "users";

/// The statements that read a user: [`PgStatements`]' own without claim columns, else
/// the same with the columns' object as `column_claims`.
#[derive(Debug)]
pub(crate) struct UserReads {
    columns: UserClaimColumns,
    /// `$1` id.
    pub(crate) by_id: SqlStr,
    /// `$1` normalised email.
    pub(crate) by_email: SqlStr,
    /// The redemption of a one-time code, returning its user (see [`REDEEM_CODE`]).
    pub(crate) redeem_code: SqlStr,
}

/// Built from [`PgStatements`]' text and validated identifiers only.
fn audited(sql: String) -> SqlStr {
    AssertSqlSafe(Arc::<str>::from(sql)).into_sql_str()
}

/// `json_build_object('market', "market", ...)::text`. The names are plain identifiers
/// (checked by [`UserClaimColumns`]), so quoting them is enough; quoted, they match
/// the column's name exactly.
fn claims_object(columns: &UserClaimColumns) -> String {
    let pairs: Vec<String> = columns.names().map(|n| format!("'{n}', \"{n}\"")).collect();
    format!("json_build_object({})::text", pairs.join(", "))
}

impl UserReads {
    pub(crate) fn new(columns: UserClaimColumns) -> Self {
        if columns.is_empty() {
            return Self::default();
        }
        let object = claims_object(&columns);
        let with_object = |sql: &'static str| {
            let (select, filter) = sql.split_once(" FROM users ").expect("a user read");
            audited(format!(
                "{select}, {object} AS column_claims FROM users {filter}"
            ))
        };
        Self {
            by_id: with_object(PgStatements::FIND_USER),
            by_email: with_object(PgStatements::FIND_USER_BY_EMAIL),
            redeem_code: audited(format!("{REDEEM_CODE}, {object} AS column_claims")),
            columns,
        }
    }

    pub(crate) fn columns(&self) -> &UserClaimColumns {
        &self.columns
    }
}

impl Default for UserReads {
    /// No claim columns: the statements as [`PgStatements`] publishes them.
    fn default() -> Self {
        Self {
            columns: UserClaimColumns::default(),
            by_id: SqlStr::from_static(PgStatements::FIND_USER),
            by_email: SqlStr::from_static(PgStatements::FIND_USER_BY_EMAIL),
            redeem_code: SqlStr::from_static(REDEEM_CODE),
        }
    }
}

impl PgTokenStore {
    /// This store (sharing its pool) with `columns` read into every user's
    /// [`UserRecord::column_claims`](auth_core::UserRecord::column_claims), so they
    /// become access-token claims, with the JSON types PostgreSQL's `json_build_object`
    /// gives them. Checks now that the `users` table the search path finds has each
    /// column, named exactly ([`auth_core::Error::MissingUserColumns`] names the ones it
    /// lacks), so run it after migrating.
    pub async fn with_user_claim_columns(self, columns: UserClaimColumns) -> Result<Self> {
        if !columns.is_empty() {
            let existing: Vec<String> = sqlx::query_scalar(
                "SELECT attname::text FROM pg_attribute \
                 WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            )
            .bind(USERS)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
            let missing = columns.missing_from(existing.iter().map(String::as_str), false);
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
    fn the_object_is_added_to_each_read() {
        let reads = UserReads::new(UserClaimColumns::new(["market", "tier"]).unwrap());
        let object =
            r#"json_build_object('market', "market", 'tier', "tier")::text AS column_claims"#;
        for sql in [&reads.by_id, &reads.by_email, &reads.redeem_code] {
            assert!(sql.as_str().contains(object), "{}", sql.as_str());
        }
        assert!(reads.by_id.as_str().ends_with("FROM users WHERE id = $1"));
        assert!(
            reads
                .by_email
                .as_str()
                .ends_with("FROM users WHERE email = $1")
        );
        let none = UserReads::new(UserClaimColumns::default());
        assert_eq!(none.by_id.as_str(), PgStatements::FIND_USER);
        assert!(!none.redeem_code.as_str().contains("column_claims"));
    }
}
