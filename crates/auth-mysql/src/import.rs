//! [`UserAdmin`] over MySQL: phone lookup and batch import into `auth_user`.

use auth_core::{
    AdminChange, ImportedUser, PhoneNumber, RevocationKind, UserAdmin, UserId, UserImport,
    UserRecord,
};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Unsigned};
use diesel_async::RunQueryDsl;

use crate::MySqlConnection;
use crate::django::{self, DjangoUserTable};
use crate::error::MySqlError;
use crate::limits;
use crate::rows::{NewRevokedRow, UserRow};
use crate::schema::{auth_user, revoked_tokens};
use crate::store::{MySqlTokenStore, Tx, transaction, with_conn};

/// What one row of a batch did, before the rows are converted.
enum Imported {
    Created(u64),
    Existing(UserRow),
}

async fn find_by_email(
    conn: &mut MySqlConnection,
    email: &[u8],
) -> Result<Option<UserRow>, DieselError> {
    auth_user::table
        .filter(auth_user::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

async fn find_by_phone(
    conn: &mut MySqlConnection,
    phone: &str,
) -> Result<Option<UserRow>, DieselError> {
    auth_user::table
        .filter(auth_user::phone_number.eq(phone))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

async fn import(
    conn: &mut MySqlConnection,
    batch: &UserImport,
) -> Result<Tx<Vec<Imported>>, DieselError> {
    let mut outcome = Vec::with_capacity(batch.users.len());
    for user in &batch.users {
        let email = user.email.as_deref().map(str::as_bytes);
        let phone = user.phone.as_ref().map(|p| p.as_str());
        let mut existing = None;
        if let Some(email) = email {
            existing = find_by_email(conn, email).await?;
        }
        if let (None, Some(phone)) = (&existing, phone) {
            existing = find_by_phone(conn, phone).await?;
        }
        if let Some(row) = existing {
            outcome.push(Imported::Existing(row));
            continue;
        }
        diesel::insert_into(auth_user::table)
            .values((
                auth_user::email.eq(email),
                auth_user::phone_number.eq(phone),
                auth_user::password_hash.eq(user.password_hash.as_deref()),
                auth_user::is_active.eq(user.is_active),
                auth_user::is_admin.eq(user.is_admin),
                auth_user::created_at.eq(batch.at),
                auth_user::updated_at.eq(batch.at),
            ))
            .execute(conn)
            .await?;
        // LAST_INSERT_ID() is per connection, and the whole batch runs on one.
        let id = diesel::select(sql::<Unsigned<BigInt>>("LAST_INSERT_ID()"))
            .get_result(conn)
            .await?;
        outcome.push(Imported::Created(id));
    }
    Ok(Tx::Commit(outcome))
}

/// The same batch into an adopted Django table.
async fn import_into_django(
    conn: &mut MySqlConnection,
    django: &DjangoUserTable,
    batch: &UserImport,
) -> Result<Tx<Vec<ImportedUser>>, DieselError> {
    let mut outcome = Vec::with_capacity(batch.users.len());
    for user in &batch.users {
        let mut existing = None;
        if let Some(email) = &user.email {
            existing = django.find_by_email(conn, email).await?;
        }
        if let (None, Some(phone)) = (&existing, &user.phone) {
            existing = django.find_by_phone(conn, phone.as_str()).await?;
        }
        match existing {
            Some(record) => outcome.push(ImportedUser::Existing(record)),
            None => match django.insert_imported(conn, user, batch.at).await? {
                Some(id) => outcome.push(ImportedUser::Created(id)),
                None => return Err(DieselError::RollbackTransaction),
            },
        }
    }
    Ok(Tx::Commit(outcome))
}

impl MySqlTokenStore {
    async fn find_user_by_phone_inner(
        &self,
        phone: &PhoneNumber,
    ) -> Result<Option<UserRecord>, MySqlError> {
        if let Some(django) = self.django() {
            return Ok(with_conn!(self, |conn| django
                .find_by_phone(conn, phone.as_str())
                .await)?);
        }
        let row = with_conn!(self, |conn| find_by_phone(conn, phone.as_str()).await)?;
        row.map(UserRecord::try_from).transpose()
    }

    async fn set_user_admin_inner(&self, change: &AdminChange) -> Result<bool, MySqlError> {
        let AdminChange {
            user: id,
            admin,
            at,
            event_expires_at,
        } = *change;
        let django = self.django();
        Ok(transaction!(self, |conn| {
            let found = match django {
                Some(django) => django.set_admin(conn, id, admin).await?,
                None => {
                    diesel::update(auth_user::table.find(id.0))
                        .set((auth_user::is_admin.eq(admin), auth_user::updated_at.eq(at)))
                        .execute(conn)
                        .await?
                }
            };
            if found == 0 {
                return Ok(Tx::Commit(false));
            }
            diesel::insert_into(revoked_tokens::table)
                .values(NewRevokedRow {
                    kind: RevocationKind::User.as_str(),
                    user_id: id.0,
                    jti: None,
                    session_id: None,
                    revoked_at: at,
                    expires_at: event_expires_at,
                })
                .execute(conn)
                .await?;
            Ok(Tx::Commit(true))
        })?)
    }

    async fn import_users_inner(
        &self,
        batch: &UserImport,
    ) -> Result<Vec<ImportedUser>, MySqlError> {
        for user in &batch.users {
            limits::EMAIL.check_opt(user.email.as_deref())?;
            limits::PASSWORD_HASH.check_opt(user.password_hash.as_deref())?;
        }
        if let Some(django) = self.django() {
            for hash in batch
                .users
                .iter()
                .filter_map(|u| u.password_hash.as_deref())
            {
                django::check_password_fits(hash)?;
            }
            return Ok(transaction!(self, |conn| import_into_django(
                conn, django, batch
            )
            .await)?);
        }
        let rows = transaction!(self, |conn| import(conn, batch).await)?;
        rows.into_iter()
            .map(|row| match row {
                Imported::Created(id) => i64::try_from(id)
                    .map(|id| ImportedUser::Created(UserId(id)))
                    .map_err(|_| MySqlError::InvalidRow("user id out of range")),
                Imported::Existing(row) => UserRecord::try_from(row).map(ImportedUser::Existing),
            })
            .collect()
    }
}

impl UserAdmin for MySqlTokenStore {
    async fn find_user_by_phone(
        &self,
        phone: &PhoneNumber,
    ) -> auth_core::Result<Option<UserRecord>> {
        Ok(self.find_user_by_phone_inner(phone).await?)
    }

    async fn set_user_admin(&self, change: &AdminChange) -> auth_core::Result<bool> {
        Ok(self.set_user_admin_inner(change).await?)
    }

    async fn import_users(&self, batch: &UserImport) -> auth_core::Result<Vec<ImportedUser>> {
        Ok(self.import_users_inner(batch).await?)
    }
}
