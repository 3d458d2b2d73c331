//! The application's own user columns in a [`MemoryStore`] (seed 002's `market`), and
//! the [`UserClaimColumns`] it reads from them, as a database's users table would hold
//! and a backend's `with_user_claim_columns` would read them.

use serde_json::{Map, Value};

use super::state::State;
use super::{MemoryStore, MemoryUser};
use crate::error::{Error, Result};
use crate::user_columns::UserClaimColumns;
use crate::users::{UserId, UserRecord};

/// The users table, as the memory store names it in errors (the PostgreSQL layout).
const USERS: &str = "users";

impl MemoryStore {
    /// Adds a nullable column of the application's own to the users "table" (as
    /// `ALTER TABLE users ADD COLUMN ... DEFAULT` would): every user holds `default`
    /// in it until [`set_user_column`](Self::set_user_column). Adding an existing name
    /// does nothing. Column names ignore case, as in SQLite and MySQL.
    pub fn add_user_column(&self, name: &str, default: Value) {
        let mut state = self.lock();
        if !state
            .user_columns
            .iter()
            .any(|(c, _)| c.eq_ignore_ascii_case(name))
        {
            state.user_columns.push((name.to_owned(), default));
        }
    }

    /// Sets a user's value in a column added by [`add_user_column`](Self::add_user_column)
    /// (`Value::Null` clears it). [`Error::NotFound`] for an unknown user or column.
    pub fn set_user_column(&self, user: UserId, column: &str, value: Value) -> Result<()> {
        let mut state = self.lock();
        let Some((column, _)) = state
            .user_columns
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(column))
            .cloned()
        else {
            return Err(Error::NotFound);
        };
        let user = state
            .users
            .iter_mut()
            .find(|u| u.record.id == user)
            .ok_or(Error::NotFound)?;
        user.columns.insert(column, value);
        Ok(())
    }

    /// This store (sharing its data) reading `columns` into every user's
    /// [`UserRecord::column_claims`]. [`Error::MissingUserColumns`] names the ones the
    /// users table lacks.
    pub fn with_user_claim_columns(self, columns: UserClaimColumns) -> Result<Self> {
        let missing = {
            let state = self.lock();
            columns.missing_from(state.user_columns.iter().map(|(c, _)| c.as_str()), true)
        };
        if !missing.is_empty() {
            return Err(Error::MissingUserColumns {
                table: USERS,
                columns: missing,
            });
        }
        Ok(Self {
            claim_columns: columns,
            ..self
        })
    }

    /// The user as a read returns it: the record with the configured columns' values
    /// (the column's default where the user has none set).
    pub(super) fn read_user(&self, state: &State, user: &MemoryUser) -> UserRecord {
        let mut record = user.record.clone();
        let value = |name: &str| {
            let set = user
                .columns
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(name))
                .map(|(_, v)| v);
            let default = state
                .user_columns
                .iter()
                .find(|(c, _)| c.eq_ignore_ascii_case(name))
                .map(|(_, v)| v);
            set.or(default).cloned().unwrap_or(Value::Null)
        };
        record.column_claims = self
            .claim_columns
            .names()
            .map(|name| (name.to_owned(), value(name)))
            .collect::<Map<_, _>>();
        record
    }
}
