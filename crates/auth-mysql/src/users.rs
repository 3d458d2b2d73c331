//! [`UserDirectory`] over MySQL: the store's `auth_user` table, or an adopted Django
//! `auth_user` through [`crate::django`].

use auth_core::{
    ActivationChange, LoginRecord, NewUser, PasswordChange, RevocationKind, UserClaimColumns,
    UserDirectory, UserId, UserRecord,
};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Unsigned};
use diesel_async::RunQueryDsl;

use crate::django;
use crate::error::MySqlError;
use crate::limits;
use crate::rows::{NewRevokedRow, UserRow};
use crate::schema::{auth_user, revoked_tokens};
use crate::store::{MySqlTokenStore, Tx, transaction, with_conn};
use crate::user_columns::{UserRead, user_record};

impl MySqlTokenStore {
    async fn create_user_inner(&self, user: &NewUser) -> Result<UserId, MySqlError> {
        limits::EMAIL.check(&user.email)?;
        limits::PASSWORD_HASH.check_opt(user.password_hash.as_deref())?;
        if let Some(django) = self.django() {
            if let Some(hash) = &user.password_hash {
                django::check_password_fits(hash)?;
            }
            let id = with_conn!(self, |conn| django.insert_by_email(conn, user).await)?;
            return id.ok_or(MySqlError::EmailTaken);
        }
        let insert = diesel::insert_into(auth_user::table).values((
            auth_user::email.eq(user.email.as_bytes()),
            auth_user::password_hash.eq(user.password_hash.as_deref()),
            auth_user::created_at.eq(user.created_at),
            auth_user::updated_at.eq(user.created_at),
        ));
        // LAST_INSERT_ID() is per connection: both statements run on the same one.
        let id: Option<u64> = with_conn!(self, |conn| {
            match insert.execute(conn).await {
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
                Err(e) => Err(e),
                Ok(_) => diesel::select(sql::<Unsigned<BigInt>>("LAST_INSERT_ID()"))
                    .get_result(conn)
                    .await
                    .map(Some),
            }
        })?;
        let id = id.ok_or(MySqlError::EmailTaken)?;
        Ok(UserId(i64::try_from(id).map_err(|_| {
            MySqlError::InvalidRow("user id out of range")
        })?))
    }

    async fn find_user_by_email_inner(
        &self,
        email: &str,
    ) -> Result<Option<UserRecord>, MySqlError> {
        if !limits::EMAIL.fits(email) {
            return Ok(None);
        }
        if let Some(django) = self.django() {
            return Ok(with_conn!(self, |conn| django
                .find_by_email(conn, email)
                .await)?);
        }
        let row: Option<UserRead> = with_conn!(self, |conn| auth_user::table
            .filter(auth_user::email.eq(email.as_bytes()))
            .select((UserRow::as_select(), self.user_reads().object()))
            .first(conn)
            .await
            .optional())?;
        row.map(user_record).transpose()
    }

    async fn find_user_inner(&self, id: UserId) -> Result<Option<UserRecord>, MySqlError> {
        if let Some(django) = self.django() {
            return Ok(with_conn!(self, |conn| django.find_by_id(conn, id).await)?);
        }
        let row: Option<UserRead> = with_conn!(self, |conn| auth_user::table
            .find(id.0)
            .select((UserRow::as_select(), self.user_reads().object()))
            .first(conn)
            .await
            .optional())?;
        row.map(user_record).transpose()
    }

    async fn set_password_hash_inner(&self, change: &PasswordChange) -> Result<(), MySqlError> {
        let phc = change.password_hash.as_str();
        limits::PASSWORD_HASH.check(phc)?;
        if let Some(django) = self.django() {
            django::check_password_fits(phc)?;
            with_conn!(self, |conn| django
                .set_password(conn, change.user, phc)
                .await)?;
            return Ok(());
        }
        with_conn!(self, |conn| diesel::update(
            auth_user::table.find(change.user.0)
        )
        .set((
            auth_user::password_hash.eq(phc),
            auth_user::updated_at.eq(change.at),
        ))
        .execute(conn)
        .await)?;
        Ok(())
    }

    async fn record_login_inner(&self, login: &LoginRecord) -> Result<(), MySqlError> {
        let at = login.at;
        if let Some(django) = self.django() {
            with_conn!(self, |conn| django.record_login(conn, login.user, at).await)?;
            return Ok(());
        }
        with_conn!(self, |conn| diesel::update(
            auth_user::table.find(login.user.0)
        )
        .set((auth_user::last_login.eq(at), auth_user::updated_at.eq(at)))
        .execute(conn)
        .await)?;
        Ok(())
    }

    async fn set_user_active_inner(&self, change: &ActivationChange) -> Result<bool, MySqlError> {
        let ActivationChange {
            user: id,
            active,
            at,
            event_expires_at,
        } = *change;
        Ok(transaction!(self, |conn| {
            let found = match self.django() {
                Some(django) => django.set_active(conn, id, active).await?,
                None => {
                    diesel::update(auth_user::table.find(id.0))
                        .set((
                            auth_user::is_active.eq(active),
                            auth_user::updated_at.eq(at),
                        ))
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
}

impl UserDirectory for MySqlTokenStore {
    async fn create_user(&self, user: &NewUser) -> auth_core::Result<UserId> {
        Ok(self.create_user_inner(user).await?)
    }

    async fn find_user_by_email(&self, email: &str) -> auth_core::Result<Option<UserRecord>> {
        Ok(self.find_user_by_email_inner(email).await?)
    }

    async fn find_user(&self, id: UserId) -> auth_core::Result<Option<UserRecord>> {
        Ok(self.find_user_inner(id).await?)
    }

    async fn set_password_hash(&self, change: &PasswordChange) -> auth_core::Result<()> {
        Ok(self.set_password_hash_inner(change).await?)
    }

    async fn record_login(&self, login: &LoginRecord) -> auth_core::Result<()> {
        Ok(self.record_login_inner(login).await?)
    }

    async fn set_user_active(&self, change: &ActivationChange) -> auth_core::Result<bool> {
        Ok(self.set_user_active_inner(change).await?)
    }

    fn user_claim_columns(&self) -> &UserClaimColumns {
        self.user_reads().columns()
    }
}
