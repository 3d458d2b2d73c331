//! A Django `auth_user` adopted as the store's users table (ARCHITECTURE.md, "Existing
//! deployments"): the user statements over Django's columns, written once per store.
//!
//! Django's names map onto the store's: `password` holds the hash (Django's own formats
//! verify in auth-core and are rehashed on login), `is_staff OR is_superuser` is admin,
//! `date_joined` is the creation time, an empty `email` is none. Django's unusable
//! passwords (`!...`) read as no password. A user the store creates is a valid Django
//! row: Django's NOT NULL columns get values (username = the email, or the phone number,
//! names empty, password `!` when there is none), so the adoption changes no Django
//! constraint. `updated_at` and `is_verified` have no Django column and are not stored.

use std::fmt;
use std::str::FromStr;

use auth_core::time::OffsetDateTime;
use auth_core::{ImportUser, NewUser, UserId, UserRecord};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool, Datetime, Nullable, Text, Unsigned, Varchar};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::RunQueryDsl;

use crate::error::MySqlError;
use crate::pool::MySqlConnection;

/// Where the Django `auth_user` to adopt lives: a table of the store's own database
/// (`auth_user`) or of another database on the same server (`hybrid.auth_user`).
/// Given to the store ([`MySqlOptions::users_table`](crate::MySqlOptions)), it makes
/// both the migrations (which adopt it) and the user queries use that table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoUsers {
    database: Option<String>,
    table: String,
}

/// MySQL's longest identifier, in characters.
const IDENTIFIER_MAX: usize = 64;

fn identifier(part: &str) -> Result<String, MySqlError> {
    let fits = !part.is_empty()
        && part.chars().count() <= IDENTIFIER_MAX
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if fits {
        Ok(part.to_owned())
    } else {
        Err(MySqlError::InvalidUsersTable(part.to_owned()))
    }
}

impl DjangoUsers {
    /// `table` or `database.table`; each part 1 to 64 of `[A-Za-z0-9_$]`.
    pub fn parse(name: &str) -> Result<Self, MySqlError> {
        match name.split_once('.') {
            Some((database, table)) => Ok(Self {
                database: Some(identifier(database)?),
                table: identifier(table)?,
            }),
            None => Ok(Self {
                database: None,
                table: identifier(name)?,
            }),
        }
    }

    /// The database, when it is not the store's own.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The table's name as SQL, quoted.
    fn quoted(&self) -> String {
        match &self.database {
            Some(db) => format!("`{db}`.`{}`", self.table),
            None => format!("`{}`", self.table),
        }
    }
}

impl FromStr for DjangoUsers {
    type Err = MySqlError;

    fn from_str(s: &str) -> Result<Self, MySqlError> {
        Self::parse(s)
    }
}

impl fmt::Display for DjangoUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.database {
            Some(db) => write!(f, "{db}.{}", self.table),
            None => f.write_str(&self.table),
        }
    }
}

/// Django's `password` column is `varchar(128)`.
const PASSWORD_MAX: usize = 128;

/// A user as read from the Django table, under the store's names.
#[derive(QueryableByName)]
pub(crate) struct DjangoUserRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    password_hash: Option<String>,
    #[diesel(sql_type = Bool)]
    is_active: bool,
    #[diesel(sql_type = Bool)]
    is_admin: bool,
    #[diesel(sql_type = Nullable<Datetime>)]
    tokens_valid_after: Option<OffsetDateTime>,
    #[diesel(sql_type = Nullable<Datetime>)]
    last_login: Option<OffsetDateTime>,
}

impl From<DjangoUserRow> for UserRecord {
    fn from(r: DjangoUserRow) -> Self {
        UserRecord {
            id: UserId(r.id),
            email: r.email,
            password_hash: r.password_hash,
            is_active: r.is_active,
            is_admin: r.is_admin,
            tokens_valid_after: r.tokens_valid_after,
            last_login: r.last_login,
            column_claims: Default::default(),
        }
    }
}

/// The statements over one adopted table.
#[derive(Debug)]
pub(crate) struct DjangoUserTable {
    users: DjangoUsers,
    by_id: String,
    by_email: String,
    by_phone: String,
    insert_by_email: String,
    insert_by_phone: String,
    set_password: String,
    record_login: String,
    set_active: String,
    set_tokens_valid_after: String,
    set_admin: String,
    insert_imported: String,
}

impl DjangoUserTable {
    pub(crate) fn new(users: DjangoUsers) -> Self {
        let t = users.quoted();
        let select = format!(
            "SELECT CAST(id AS SIGNED) AS id, NULLIF(email, '') AS email, \
             IF(password = '' OR password LIKE '!%', NULL, password) AS password_hash, \
             is_active <> 0 AS is_active, (is_staff <> 0 OR is_superuser <> 0) AS is_admin, \
             tokens_valid_after, last_login FROM {t}"
        );
        let columns = "password, last_login, is_superuser, username, first_name, last_name, \
                       email, is_staff, is_active, date_joined";
        Self {
            by_id: format!("{select} WHERE id = ?"),
            // Django does not keep emails unique: two matches are refused (see `find_by_email`).
            by_email: format!("{select} WHERE email = ? LIMIT 2"),
            by_phone: format!("{select} WHERE phone_number = ?"),
            // The username is the email (Django's UNIQUE username then also keeps new
            // emails unique under concurrent sign-ups), or a digest of a longer one.
            insert_by_email: format!(
                "INSERT INTO {t} ({columns}) \
                 SELECT COALESCE(?, '!'), NULL, 0, \
                        IF(CHAR_LENGTH(?) <= 150, ?, CONCAT('authd-', SHA2(?, 256))), \
                        '', '', ?, 0, 1, ? \
                   FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE email = ?)"
            ),
            insert_by_phone: format!(
                "INSERT INTO {t} ({columns}, phone_number) VALUES ('!', ?, 0, ?, '', '', '', 0, 1, ?, ?) \
                 ON DUPLICATE KEY UPDATE last_login = VALUES(last_login)"
            ),
            set_password: format!("UPDATE {t} SET password = ? WHERE id = ?"),
            record_login: format!("UPDATE {t} SET last_login = ? WHERE id = ?"),
            set_active: format!("UPDATE {t} SET is_active = ? WHERE id = ?"),
            set_tokens_valid_after: format!("UPDATE {t} SET tokens_valid_after = ? WHERE id = ?"),
            // Admin is `is_staff OR is_superuser`: granting sets is_staff, withdrawing
            // clears both.
            set_admin: format!(
                "UPDATE {t} SET is_staff = ?, is_superuser = IF(?, is_superuser, 0) WHERE id = ?"
            ),
            // An imported user: the username is its email, else its phone number (or a
            // digest of a longer one), as for sign-ups.
            insert_imported: format!(
                "INSERT INTO {t} ({columns}, phone_number) \
                 VALUES (COALESCE(?, '!'), NULL, 0, \
                         IF(CHAR_LENGTH(?) <= 150, ?, CONCAT('authd-', SHA2(?, 256))), \
                         '', '', ?, ?, ?, ?, ?)"
            ),
            users,
        }
    }

    /// The table this store adopted.
    pub(crate) fn users(&self) -> &DjangoUsers {
        &self.users
    }

    pub(crate) async fn find_by_id(
        &self,
        conn: &mut MySqlConnection,
        id: UserId,
    ) -> Result<Option<UserRecord>, DieselError> {
        let row: Option<DjangoUserRow> = diesel::sql_query(&self.by_id)
            .bind::<BigInt, _>(id.0)
            .get_result(conn)
            .await
            .optional()?;
        Ok(row.map(UserRecord::from))
    }

    /// The one user with this email; none when two users share it (Django allows that),
    /// so such an email cannot log in by password until one of them changes it.
    pub(crate) async fn find_by_email(
        &self,
        conn: &mut MySqlConnection,
        email: &str,
    ) -> Result<Option<UserRecord>, DieselError> {
        if email.is_empty() {
            return Ok(None);
        }
        let mut rows: Vec<DjangoUserRow> = diesel::sql_query(&self.by_email)
            .bind::<Varchar, _>(email)
            .load(conn)
            .await?;
        if rows.len() > 1 {
            tracing::warn!(
                table = %self.users,
                "more than one user has this email: password login refused"
            );
            return Ok(None);
        }
        Ok(rows.pop().map(UserRecord::from))
    }

    /// Inserts an email user; `None` when the email (or the username made from it) is taken.
    pub(crate) async fn insert_by_email(
        &self,
        conn: &mut MySqlConnection,
        user: &NewUser,
    ) -> Result<Option<UserId>, DieselError> {
        let email = user.email.as_str();
        let inserted = diesel::sql_query(&self.insert_by_email)
            .bind::<Nullable<Varchar>, _>(user.password_hash.as_deref())
            .bind::<Varchar, _>(email)
            .bind::<Varchar, _>(email)
            .bind::<Varchar, _>(email)
            .bind::<Varchar, _>(email)
            .bind::<Datetime, _>(user.created_at)
            .bind::<Varchar, _>(email)
            .execute(conn)
            .await;
        match inserted {
            Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) | Ok(0) => {
                Ok(None)
            }
            Err(e) => Err(e),
            Ok(_) => {
                let id: u64 =
                    diesel::select(diesel::dsl::sql::<Unsigned<BigInt>>("LAST_INSERT_ID()"))
                        .get_result(conn)
                        .await?;
                Ok(i64::try_from(id).ok().map(UserId))
            }
        }
    }

    /// Finds or creates the user of a phone number (one-time-code sign-in) and records
    /// the login at `at`.
    pub(crate) async fn upsert_by_phone(
        &self,
        conn: &mut MySqlConnection,
        phone: &str,
        at: OffsetDateTime,
    ) -> Result<UserRecord, DieselError> {
        diesel::sql_query(&self.insert_by_phone)
            .bind::<Datetime, _>(at)
            .bind::<Varchar, _>(phone)
            .bind::<Datetime, _>(at)
            .bind::<Varchar, _>(phone)
            .execute(conn)
            .await?;
        let row: DjangoUserRow = diesel::sql_query(&self.by_phone)
            .bind::<Varchar, _>(phone)
            .get_result(conn)
            .await?;
        Ok(row.into())
    }

    pub(crate) async fn find_by_phone(
        &self,
        conn: &mut MySqlConnection,
        phone: &str,
    ) -> Result<Option<UserRecord>, DieselError> {
        let row: Option<DjangoUserRow> = diesel::sql_query(&self.by_phone)
            .bind::<Varchar, _>(phone)
            .get_result(conn)
            .await
            .optional()?;
        Ok(row.map(UserRecord::from))
    }

    /// Grants or withdraws admin; rows matched.
    pub(crate) async fn set_admin(
        &self,
        conn: &mut MySqlConnection,
        id: UserId,
        admin: bool,
    ) -> Result<usize, DieselError> {
        diesel::sql_query(&self.set_admin)
            .bind::<Bool, _>(admin)
            .bind::<Bool, _>(admin)
            .bind::<BigInt, _>(id.0)
            .execute(conn)
            .await
    }

    /// Inserts an imported user; its id.
    pub(crate) async fn insert_imported(
        &self,
        conn: &mut MySqlConnection,
        user: &ImportUser,
        at: OffsetDateTime,
    ) -> Result<Option<UserId>, DieselError> {
        let phone = user.phone.as_ref().map(|p| p.as_str());
        let name = user.email.as_deref().or(phone).unwrap_or_default();
        diesel::sql_query(&self.insert_imported)
            .bind::<Nullable<Varchar>, _>(user.password_hash.as_deref())
            .bind::<Varchar, _>(name)
            .bind::<Varchar, _>(name)
            .bind::<Varchar, _>(name)
            .bind::<Varchar, _>(user.email.as_deref().unwrap_or_default())
            .bind::<Bool, _>(user.is_admin)
            .bind::<Bool, _>(user.is_active)
            .bind::<Datetime, _>(at)
            .bind::<Nullable<Varchar>, _>(phone)
            .execute(conn)
            .await?;
        let id: u64 = diesel::select(diesel::dsl::sql::<Unsigned<BigInt>>("LAST_INSERT_ID()"))
            .get_result(conn)
            .await?;
        Ok(i64::try_from(id).ok().map(UserId))
    }

    pub(crate) async fn set_password(
        &self,
        conn: &mut MySqlConnection,
        id: UserId,
        hash: &str,
    ) -> Result<usize, DieselError> {
        diesel::sql_query(&self.set_password)
            .bind::<Varchar, _>(hash)
            .bind::<BigInt, _>(id.0)
            .execute(conn)
            .await
    }

    pub(crate) async fn record_login(
        &self,
        conn: &mut MySqlConnection,
        id: UserId,
        at: OffsetDateTime,
    ) -> Result<usize, DieselError> {
        diesel::sql_query(&self.record_login)
            .bind::<Datetime, _>(at)
            .bind::<BigInt, _>(id.0)
            .execute(conn)
            .await
    }

    /// Rows matched (the pool counts found rows, not changed ones).
    pub(crate) async fn set_active(
        &self,
        conn: &mut MySqlConnection,
        id: UserId,
        active: bool,
    ) -> Result<usize, DieselError> {
        diesel::sql_query(&self.set_active)
            .bind::<Bool, _>(active)
            .bind::<BigInt, _>(id.0)
            .execute(conn)
            .await
    }

    pub(crate) async fn set_tokens_valid_after(
        &self,
        conn: &mut MySqlConnection,
        id: UserId,
        tokens_valid_after: OffsetDateTime,
    ) -> Result<usize, DieselError> {
        diesel::sql_query(&self.set_tokens_valid_after)
            .bind::<Datetime, _>(tokens_valid_after)
            .bind::<BigInt, _>(id.0)
            .execute(conn)
            .await
    }
}

/// Checks a hash against Django's `password` column before it is written.
pub(crate) fn check_password_fits(hash: &str) -> Result<(), MySqlError> {
    if hash.chars().count() > PASSWORD_MAX {
        return Err(MySqlError::ValueTooLong {
            field: "password",
            reason: "must be at most 128 characters (Django's auth_user.password)",
        });
    }
    Ok(())
}
