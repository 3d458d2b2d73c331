//! [`UserDirectory`] over SQLite: the `users` table.

use auth_core::{
    ActivationChange, LoginRecord, NewUser, PasswordChange, UserClaimColumns, UserDirectory,
    UserId, UserRecord,
};
use deadpool_sqlite::rusqlite::{self, OptionalExtension, Row, params};

use crate::access::insert_user_event;
use crate::convert::{micros, opt_time_at};
use crate::error::SqliteError;
use crate::store::{SqliteTokenStore, run, write};

/// A user from a row of [`UserReads`](crate::user_columns::UserReads): the record's
/// columns, then the claim columns' JSON object (NULL without claim columns).
pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let column_claims = match row.get::<_, Option<String>>(7)? {
        None => Default::default(),
        Some(object) => serde_json::from_str(&object).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, e.into())
        })?,
    };
    Ok(UserRecord {
        id: UserId(row.get(0)?),
        email: row.get(1)?,
        password_hash: row.get(2)?,
        is_active: row.get(3)?,
        is_admin: row.get(4)?,
        tokens_valid_after: opt_time_at(row, 5)?,
        last_login: opt_time_at(row, 6)?,
        column_claims,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl UserDirectory for SqliteTokenStore {
    async fn create_user(&self, user: &NewUser) -> auth_core::Result<UserId> {
        let user = user.clone();
        let id = write(self.connections(), move |tx| {
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
        let reads = self.user_reads().clone();
        let user = run(self.connections(), move |conn| {
            Ok(conn
                .prepare_cached(&reads.by_email)?
                .query_row([email], user_from_row)
                .optional()?)
        })
        .await?;
        Ok(user)
    }

    async fn find_user(&self, id: UserId) -> auth_core::Result<Option<UserRecord>> {
        let reads = self.user_reads().clone();
        let user = run(self.connections(), move |conn| {
            Ok(conn
                .prepare_cached(&reads.by_id)?
                .query_row([id.0], user_from_row)
                .optional()?)
        })
        .await?;
        Ok(user)
    }

    async fn set_password_hash(&self, change: &PasswordChange) -> auth_core::Result<()> {
        let (id, phc, at) = (change.user, change.password_hash.clone(), micros(change.at));
        write(self.connections(), move |tx| {
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
        write(self.connections(), move |tx| {
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
        let found = write(self.connections(), move |tx| {
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

    fn user_claim_columns(&self) -> &UserClaimColumns {
        self.user_reads().columns()
    }
}
