//! [`UserAdmin`] over SQLite: phone lookup and batch import into `users`.

use auth_core::{
    AdminChange, ImportedUser, PhoneNumber, UserAdmin, UserId, UserImport, UserRecord,
};
use deadpool_sqlite::rusqlite::{OptionalExtension, params};

use crate::access::insert_user_event;
use crate::convert::micros;
use crate::store::{SqliteTokenStore, run, write};
use crate::users::user_from_row;

impl UserAdmin for SqliteTokenStore {
    async fn find_user_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> auth_core::Result<Option<UserRecord>> {
        let phone = phone.as_str().to_owned();
        let reads = self.user_reads().clone();
        let user = run(self.connections(), move |conn| {
            Ok(conn
                .prepare_cached(&reads.by_phone)?
                .query_row([phone], user_from_row)
                .optional()?)
        })
        .await?;
        Ok(user)
    }

    async fn set_user_admin(&self, change: &AdminChange) -> auth_core::Result<bool> {
        let (id, admin) = (change.user, change.admin);
        let (at, exp) = (micros(change.at), micros(change.event_expires_at));
        let found = write(self.connections(), move |tx| {
            let n = tx
                .prepare_cached("UPDATE users SET is_admin = ?1, updated_at = ?2 WHERE id = ?3")?
                .execute(params![admin, at, id.0])?;
            if n == 0 {
                return Ok(false);
            }
            insert_user_event(tx, id.0, at, exp)?;
            Ok(true)
        })
        .await?;
        Ok(found)
    }

    async fn import_users(&self, batch: &UserImport) -> auth_core::Result<Vec<ImportedUser>> {
        let batch = batch.clone();
        let reads = self.user_reads().clone();
        let outcome = write(self.connections(), move |tx| {
            let at = micros(batch.at);
            let mut outcome = Vec::with_capacity(batch.users.len());
            for user in &batch.users {
                let phone = user.phone.as_ref().map(|p| p.as_str());
                let mut existing = None;
                if let Some(email) = &user.email {
                    existing = tx
                        .prepare_cached(&reads.by_email)?
                        .query_row([email], user_from_row)
                        .optional()?;
                }
                if let (None, Some(phone)) = (&existing, phone) {
                    existing = tx
                        .prepare_cached(&reads.by_phone)?
                        .query_row([phone], user_from_row)
                        .optional()?;
                }
                if let Some(record) = existing {
                    outcome.push(ImportedUser::Existing(record));
                    continue;
                }
                tx.prepare_cached(
                    "INSERT INTO users (email, phone_number, password_hash, is_active, is_admin, \
                     created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                )?
                .execute(params![
                    user.email,
                    phone,
                    user.password_hash,
                    user.is_active,
                    user.is_admin,
                    at
                ])?;
                outcome.push(ImportedUser::Created(UserId(tx.last_insert_rowid())));
            }
            Ok(outcome)
        })
        .await?;
        Ok(outcome)
    }
}
