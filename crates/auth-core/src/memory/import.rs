//! [`UserAdmin`] over [`MemoryStore`]: phone lookup and batch import under one lock.

use super::{MemoryError, MemoryStore, MemoryUser};
use crate::commands::AdminChange;
use crate::error::Result;
use crate::import::{ImportedUser, UserImport};
use crate::otp::phone::PhoneNumber;
use crate::store::UserAdmin;
use crate::users::{UserId, UserRecord};

impl UserAdmin for MemoryStore {
    async fn find_user_by_phone(&self, phone: &PhoneNumber) -> Result<Option<UserRecord>> {
        let state = self.lock();
        Ok(state
            .users
            .iter()
            .find(|u| u.phone_number.as_deref() == Some(phone.as_str()))
            .map(|u| u.record.clone()))
    }

    async fn set_user_admin(&self, change: &AdminChange) -> Result<bool> {
        Ok(self.lock().set_user_admin(change))
    }

    /// The whole batch is applied to a copy of the users and kept only if every row
    /// went in, as a database transaction would.
    async fn import_users(&self, batch: &UserImport) -> Result<Vec<ImportedUser>> {
        let mut state = self.lock();
        let mut users = state.users.clone();
        let mut last_id = state.last_user_id;
        let mut outcome = Vec::with_capacity(batch.users.len());
        for row in &batch.users {
            if row.email.as_ref().is_some_and(|e| e.len() > 254) {
                return Err(MemoryError::CheckViolation("email longer than 254 bytes").into());
            }
            if row.phone.as_ref().is_some_and(|p| p.as_str().len() > 16) {
                return Err(MemoryError::CheckViolation("phone longer than 16 characters").into());
            }
            let phone = row.phone.as_ref().map(|p| p.as_str().to_owned());
            let by_email = row
                .email
                .as_ref()
                .and_then(|e| users.iter().find(|u| u.record.email.as_ref() == Some(e)));
            let by_phone = || {
                phone
                    .as_ref()
                    .and_then(|p| users.iter().find(|u| u.phone_number.as_ref() == Some(p)))
            };
            if let Some(existing) = by_email.or_else(by_phone) {
                outcome.push(ImportedUser::Existing(existing.record.clone()));
                continue;
            }
            last_id += 1;
            let id = UserId(last_id);
            users.push(MemoryUser {
                record: UserRecord {
                    id,
                    email: row.email.clone(),
                    password_hash: row.password_hash.clone(),
                    is_active: row.is_active,
                    is_admin: row.is_admin,
                    tokens_valid_after: None,
                    last_login: None,
                    column_claims: Default::default(),
                },
                created_at: batch.at,
                phone_number: phone,
                is_verified: false,
                columns: Default::default(),
            });
            outcome.push(ImportedUser::Created(id));
        }
        state.users = users;
        state.last_user_id = last_id;
        Ok(outcome)
    }
}
