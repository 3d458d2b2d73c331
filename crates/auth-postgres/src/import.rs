//! [`UserAdmin`] over the `users` table: phone lookup and batch import.

use auth_core::{
    AdminChange, ImportedUser, PhoneNumber, Result, RevocationKind, UserAdmin, UserId, UserImport,
    UserRecord,
};

use crate::error::db;
use crate::store::PgTokenStore;
use crate::users::user_record;

/// A user by phone. `$1` E.164 number. Columns as [`PgStatements::FIND_USER`](crate::PgStatements::FIND_USER).
const FIND_USER_BY_PHONE: &str = "SELECT id::bigint AS id, email, password_hash, \
    COALESCE(is_active, FALSE) AS is_active, COALESCE(is_admin, FALSE) AS is_admin, \
    tokens_valid_after, last_login::timestamptz AS last_login FROM users WHERE phone_number = $1";

/// The user with email `$1`, else the one with phone `$2`.
const FIND_IMPORTED: &str = "SELECT id::bigint AS id, email, password_hash, \
    COALESCE(is_active, FALSE) AS is_active, COALESCE(is_admin, FALSE) AS is_admin, \
    tokens_valid_after, last_login::timestamptz AS last_login FROM users \
    WHERE email = $1 OR phone_number = $2 \
    ORDER BY (email IS NOT DISTINCT FROM $1) DESC LIMIT 1";

const INSERT_IMPORTED: &str = "INSERT INTO users (email, phone_number, password_hash, \
    is_active, is_admin, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
    RETURNING id::bigint";

impl UserAdmin for PgTokenStore {
    async fn find_user_by_phone(&self, phone: &PhoneNumber) -> Result<Option<UserRecord>> {
        let row = sqlx::query(FIND_USER_BY_PHONE)
            .bind(phone.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(user_record).transpose().map_err(db)
    }

    async fn set_user_admin(&self, change: &AdminChange) -> Result<bool> {
        // One statement, so the flag and its revocation event commit together.
        let found: bool = sqlx::query_scalar(
            "WITH u AS ( \
                 UPDATE users SET is_admin = $2, updated_at = $3 WHERE id = $1 RETURNING id \
             ), ev AS ( \
                 INSERT INTO revoked_tokens (kind, user_id, revoked_at, expires_at) \
                 SELECT $5::text, id, $3, $4 FROM u \
             ) \
             SELECT EXISTS (SELECT 1 FROM u)",
        )
        .bind(change.user.0)
        .bind(change.admin)
        .bind(change.at)
        .bind(change.event_expires_at)
        .bind(RevocationKind::User.as_str())
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        Ok(found)
    }

    async fn import_users(&self, batch: &UserImport) -> Result<Vec<ImportedUser>> {
        let mut tx = self.pool().begin().await.map_err(db)?;
        let mut outcome = Vec::with_capacity(batch.users.len());
        for user in &batch.users {
            let phone = user.phone.as_ref().map(|p| p.as_str());
            let existing = sqlx::query(FIND_IMPORTED)
                .bind(&user.email)
                .bind(phone)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if let Some(row) = existing {
                outcome.push(ImportedUser::Existing(user_record(&row).map_err(db)?));
                continue;
            }
            let id: i64 = sqlx::query_scalar(INSERT_IMPORTED)
                .bind(&user.email)
                .bind(phone)
                .bind(&user.password_hash)
                .bind(user.is_active)
                .bind(user.is_admin)
                .bind(batch.at)
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
            outcome.push(ImportedUser::Created(UserId(id)));
        }
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }
}
