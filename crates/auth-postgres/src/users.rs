//! [`UserDirectory`] over the `users` table.

use auth_core::{
    ActivationChange, LoginRecord, NewUser, PasswordChange, Result, RevocationKind,
    UserClaimColumns, UserDirectory, UserId, UserRecord,
};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::error::db;
use crate::store::PgTokenStore;

/// A user from a row of [`UserReads`](crate::user_columns::UserReads); the claim
/// columns' object is `column_claims`, absent without claim columns.
pub(crate) fn user_record(row: &PgRow) -> std::result::Result<UserRecord, sqlx::Error> {
    let column_claims = match row.try_get::<Option<String>, _>("column_claims") {
        Ok(Some(object)) => {
            serde_json::from_str(&object).map_err(|e| sqlx::Error::ColumnDecode {
                index: "column_claims".into(),
                source: e.into(),
            })?
        }
        Ok(None) | Err(sqlx::Error::ColumnNotFound(_)) => Default::default(),
        Err(e) => return Err(e),
    };
    Ok(UserRecord {
        id: UserId(row.try_get("id")?),
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        is_active: row.try_get("is_active")?,
        is_admin: row.try_get("is_admin")?,
        tokens_valid_after: row.try_get("tokens_valid_after")?,
        last_login: row.try_get("last_login")?,
        column_claims,
    })
}

impl UserDirectory for PgTokenStore {
    async fn create_user(&self, user: &NewUser) -> Result<UserId> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $3) RETURNING id::bigint",
        )
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        Ok(UserId(id))
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(self.user_reads().by_email.clone())
            .bind(email)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(user_record).transpose().map_err(db)
    }

    async fn find_user(&self, id: UserId) -> Result<Option<UserRecord>> {
        let row = sqlx::query(self.user_reads().by_id.clone())
            .bind(id.0)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(user_record).transpose().map_err(db)
    }

    async fn set_password_hash(&self, change: &PasswordChange) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(change.user.0)
            .bind(&change.password_hash)
            .bind(change.at)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn record_login(&self, login: &LoginRecord) -> Result<()> {
        sqlx::query("UPDATE users SET last_login = $2, updated_at = $2 WHERE id = $1")
            .bind(login.user.0)
            .bind(login.at)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn set_user_active(&self, change: &ActivationChange) -> Result<bool> {
        // One statement, so the state change and its revocation event commit together.
        let found: bool = sqlx::query_scalar(
            "WITH u AS ( \
                 UPDATE users SET is_active = $2, updated_at = $3 WHERE id = $1 RETURNING id \
             ), ev AS ( \
                 INSERT INTO revoked_tokens (kind, user_id, revoked_at, expires_at) \
                 SELECT $5::text, id, $3, $4 FROM u \
             ) \
             SELECT EXISTS (SELECT 1 FROM u)",
        )
        .bind(change.user.0)
        .bind(change.active)
        .bind(change.at)
        .bind(change.event_expires_at)
        .bind(RevocationKind::User.as_str())
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        Ok(found)
    }

    fn user_claim_columns(&self) -> &UserClaimColumns {
        self.user_reads().columns()
    }
}
