//! [`UserDirectory`] over SQLite: the `users` table.

use auth_core::{
    ActivationChange, LoginRecord, NewUser, PasswordChange, UserDirectory, UserId, UserRecord,
};
use deadpool_sqlite::rusqlite::{self, OptionalExtension, Row, params};

use crate::access::insert_user_event;
use crate::convert::{micros, opt_time_at};
use crate::error::SqliteError;
use crate::store::{SqliteTokenStore, run, write};

macro_rules! user_select {
    ($rest:literal) => {
        concat!(
            // An adopted table's nullable is_active/is_admin read fail-closed (NULL: inactive,
            // not admin), its legacy text last_login as microseconds (ARCHITECTURE.md,
            // "Existing deployments").
            "SELECT id, email, password_hash, COALESCE(is_active, 0), COALESCE(is_admin, 0), tokens_valid_after, \
             CASE typeof(last_login) WHEN 'text' THEN CAST(round(unixepoch(last_login, 'subsec') * 1000000) AS INTEGER) \
             ELSE last_login END FROM users ",
            $rest
        )
    };
}

/// The user with a phone number (one-time-code sign-in).
pub(crate) const USER_BY_PHONE: &str = user_select!("WHERE phone_number = ?1");
/// The user with an email.
pub(crate) const USER_BY_EMAIL: &str = user_select!("WHERE email = ?1");

pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: UserId(row.get(0)?),
        email: row.get(1)?,
        password_hash: row.get(2)?,
        is_active: row.get(3)?,
        is_admin: row.get(4)?,
        tokens_valid_after: opt_time_at(row, 5)?,
        last_login: opt_time_at(row, 6)?,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl UserDirectory for SqliteTokenStore {
    async fn create_user(&self, user: &NewUser) -> auth_core::Result<UserId> {
        let user = user.clone();
        let id = write(self.writers(), move |tx| {
            let at = micros(user.created_at);
            tx.prepare_cached(
                "INSERT INTO users (email, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            )?
            .execute(params![user.email, user.password_hash, at])
            .map_err(|e| if is_unique_violation(&e) { SqliteError::EmailTaken } else { e.into() })?;
            Ok(UserId(tx.last_insert_rowid()))
        })
        .await?;
        Ok(id)
    }

    async fn find_user_by_email(&self, email: &str) -> auth_core::Result<Option<UserRecord>> {
        let email = email.to_owned();
        let user = run(self.writers(), move |conn| {
            Ok(conn
                .prepare_cached(USER_BY_EMAIL)?
                .query_row([email], user_from_row)
                .optional()?)
        })
        .await?;
        Ok(user)
    }

    async fn find_user(&self, id: UserId) -> auth_core::Result<Option<UserRecord>> {
        let user = run(self.writers(), move |conn| {
            Ok(conn
                .prepare_cached(user_select!("WHERE id = ?1"))?
                .query_row([id.0], user_from_row)
                .optional()?)
        })
        .await?;
        Ok(user)
    }

    async fn set_password_hash(&self, change: &PasswordChange) -> auth_core::Result<()> {
        let (id, phc, at) = (change.user, change.password_hash.clone(), micros(change.at));
        write(self.writers(), move |tx| {
            tx.prepare_cached(
                "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
            )?
            .execute(params![phc, at, id.0])?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn record_login(&self, login: &LoginRecord) -> auth_core::Result<()> {
        let (id, at) = (login.user, micros(login.at));
        write(self.writers(), move |tx| {
            tx.prepare_cached("UPDATE users SET last_login = ?1, updated_at = ?1 WHERE id = ?2")?
                .execute(params![at, id.0])?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn set_user_active(&self, change: &ActivationChange) -> auth_core::Result<bool> {
        let (id, active) = (change.user, change.active);
        let (at, exp) = (micros(change.at), micros(change.event_expires_at));
        let found = write(self.writers(), move |tx| {
            let n = tx
                .prepare_cached("UPDATE users SET is_active = ?1, updated_at = ?2 WHERE id = ?3")?
                .execute(params![active, at, id.0])?;
            if n == 0 {
                return Ok(false);
            }
            insert_user_event(tx, id.0, at, exp)?;
            Ok(true)
        })
        .await?;
        Ok(found)
    }
}
