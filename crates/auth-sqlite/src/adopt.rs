//! Adopting a `users` table that existed before migration 1 (seed 002's phone users,
//! seed 004's `users (id, username, created_at)`; ARCHITECTURE.md, "Existing
//! deployments"). Run by the migration runner in the transaction of migration 1, in
//! place of its `CREATE TABLE users`:
//!
//! - only the columns and indexes of migrations 1 and 7 that the table lacks are added,
//!   each recorded in `auth_schema_adoptions`; migrations 1 and 7 are then recorded as
//!   applied (the table has everything they create);
//! - a NOT NULL column without a default that sign-up does not write (seed 002's
//!   `phone_number`, seed 004's `username`) loses NOT NULL: SQLite cannot drop a
//!   constraint, so the table's definition in `sqlite_schema` is rewritten, the
//!   procedure SQLite documents for removing NOT NULL constraints; the original
//!   definition is recorded verbatim;
//! - down drops the recorded indexes and columns and puts the recorded definition back,
//!   so `sqlite_schema` and the original rows are byte for byte what they were; it
//!   refuses while a column that was NOT NULL holds NULLs (users who signed up by email).

use deadpool_sqlite::rusqlite::{self, Connection, OptionalExtension, params};

/// Columns every sign-up writes; any other NOT NULL column without a default blocks it.
const WRITTEN: [&str; 5] = ["id", "email", "password_hash", "created_at", "updated_at"];

/// What migrations 1 and 7 create, in their order: (column, definition added when missing).
const WANTED: [(&str, &str); 10] = [
    (
        "email",
        "TEXT CHECK (email IS NULL OR length(email) BETWEEN 1 AND 254)",
    ),
    (
        "password_hash",
        "TEXT CHECK (password_hash IS NULL OR length(password_hash) <= 512)",
    ),
    (
        "is_admin",
        "INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1))",
    ),
    (
        "is_active",
        "INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1))",
    ),
    (
        "is_verified",
        "INTEGER NOT NULL DEFAULT 0 CHECK (is_verified IN (0, 1))",
    ),
    ("last_login", "INTEGER"),
    ("tokens_valid_after", "INTEGER"),
    ("created_at", "INTEGER"),
    ("updated_at", "INTEGER"),
    (
        "phone_number",
        "TEXT CHECK (phone_number IS NULL OR length(phone_number) BETWEEN 2 AND 16)",
    ),
];

/// Unique indexes of migrations 1 (`email UNIQUE`) and 7: (name, column).
const INDEXES: [(&str, &str); 2] = [
    ("users_email_key", "email"),
    ("users_phone_number_key", "phone_number"),
];

/// Migration 7 (`users.phone_number`), recorded as applied by the adoption.
pub(crate) const PHONE_NUMBER_MIGRATION: i64 = 7;

const CREATE_ADOPTIONS: &str = "CREATE TABLE IF NOT EXISTS auth_schema_adoptions (
    table_name  TEXT NOT NULL,
    object_kind TEXT NOT NULL CHECK (object_kind IN ('table', 'column', 'index', 'not_null_dropped')),
    object_name TEXT NOT NULL,
    definition  TEXT,
    PRIMARY KEY (table_name, object_kind, object_name)
) STRICT";

/// Why down declined to run.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to revert the adoption of table users: {rows} row(s) have no {column}, which was NOT NULL before the upgrade (users created since, e.g. by email sign-up); set it or delete those rows, then run down again"
)]
pub(crate) struct Refusal {
    rows: i64,
    column: String,
}

fn record(
    tx: &Connection,
    kind: &str,
    name: &str,
    definition: Option<&str>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO auth_schema_adoptions (table_name, object_kind, object_name, definition) \
         VALUES ('users', ?1, ?2, ?3)",
        params![kind, name, definition],
    )?;
    Ok(())
}

/// The `users` table's definition, if the table exists.
fn users_sql(tx: &Connection) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'users'",
        [],
        |r| r.get(0),
    )
    .optional()
}

/// `(name, NOT NULL, has a default, part of the primary key)` of each column.
fn columns(tx: &Connection) -> rusqlite::Result<Vec<(String, bool, bool, bool)>> {
    let mut stmt = tx.prepare(
        "SELECT name, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info('users')",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get::<_, i64>(1)? != 0,
            r.get(2)?,
            r.get::<_, i64>(3)? != 0,
        ))
    })?;
    rows.collect()
}

/// Whether a users table exists that migration 1 did not create: then it is adopted.
pub(crate) fn needed(tx: &Connection) -> rusqlite::Result<bool> {
    Ok(users_sql(tx)?.is_some())
}

/// Whether the users table is an adopted one.
pub(crate) fn adopted(tx: &Connection) -> rusqlite::Result<bool> {
    let exists: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'auth_schema_adoptions')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(false);
    }
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM auth_schema_adoptions WHERE object_kind = 'table')",
        [],
        |r| r.get(0),
    )
}

/// Sets the table's definition in `sqlite_schema` (SQLite's procedure for removing
/// NOT NULL constraints: writable schema, bumped schema version).
fn rewrite_definition(tx: &Connection, sql: &str) -> rusqlite::Result<()> {
    let version: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    tx.execute_batch("PRAGMA writable_schema = ON")?;
    let result = tx
        .execute(
            "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = 'users'",
            [sql],
        )
        .and_then(|_| tx.execute_batch(&format!("PRAGMA schema_version = {}", version + 1)));
    tx.execute_batch("PRAGMA writable_schema = OFF")?;
    result
}

/// Adopts the existing users table (see the module docs).
pub(crate) fn adopt(tx: &Connection) -> rusqlite::Result<()> {
    let original = users_sql(tx)?.unwrap_or_default();
    tx.execute_batch(CREATE_ADOPTIONS)?;
    record(tx, "table", "users", Some(&original))?;
    let existing = columns(tx)?;
    let blocking: Vec<String> = existing
        .iter()
        .filter(|(name, not_null, default, pk)| {
            *not_null && !*default && !*pk && !WRITTEN.contains(&name.as_str())
        })
        .map(|(name, ..)| name.clone())
        .collect();
    if !blocking.is_empty() {
        let mut sql = original.clone();
        for column in &blocking {
            sql = without_not_null(&sql, column).ok_or_else(|| {
                rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                    Some(format!(
                        "cannot adopt table users: the NOT NULL of column {column} was not found in its definition"
                    )),
                )
            })?;
            record(tx, "not_null_dropped", column, None)?;
        }
        rewrite_definition(tx, &sql)?;
    }
    for (column, definition) in WANTED {
        if existing.iter().any(|(name, ..)| name == column) {
            continue;
        }
        tx.execute_batch(&format!(
            "ALTER TABLE users ADD COLUMN {column} {definition}"
        ))?;
        record(tx, "column", column, None)?;
    }
    for (index, column) in INDEXES {
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1)",
            [index],
            |r| r.get(0),
        )?;
        if !exists {
            tx.execute_batch(&format!("CREATE UNIQUE INDEX {index} ON users ({column})"))?;
            record(tx, "index", index, None)?;
        }
    }
    Ok(())
}

/// Reverts the adoption: `Ok(Err(refusal))` when it declines, having changed nothing.
pub(crate) fn revert(tx: &Connection) -> rusqlite::Result<Result<(), Refusal>> {
    let recorded = |kind: &str| -> rusqlite::Result<Vec<(String, Option<String>)>> {
        let mut stmt = tx.prepare(
            "SELECT object_name, definition FROM auth_schema_adoptions WHERE object_kind = ?1 ORDER BY object_name",
        )?;
        let rows = stmt.query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    };
    for (column, _) in recorded("not_null_dropped")? {
        let rows: i64 = tx.query_row(
            &format!("SELECT count(*) FROM users WHERE \"{column}\" IS NULL"),
            [],
            |r| r.get(0),
        )?;
        if rows > 0 {
            return Ok(Err(Refusal { rows, column }));
        }
    }
    for (index, _) in recorded("index")? {
        tx.execute_batch(&format!("DROP INDEX IF EXISTS \"{index}\""))?;
    }
    for (column, _) in recorded("column")? {
        tx.execute_batch(&format!("ALTER TABLE users DROP COLUMN \"{column}\""))?;
    }
    if let Some((_, Some(original))) = recorded("table")?.into_iter().next()
        && users_sql(tx)?.as_deref() != Some(original.as_str())
    {
        rewrite_definition(tx, &original)?;
    }
    tx.execute_batch("DROP TABLE auth_schema_adoptions")?;
    Ok(Ok(()))
}

/// `sql` (a `CREATE TABLE`) with the `NOT NULL` of `column`'s definition removed.
fn without_not_null(sql: &str, column: &str) -> Option<String> {
    let open = sql.find('(')?;
    let close = sql.rfind(')')?;
    let body = &sql[open + 1..close];
    // Top-level commas split the column definitions and table constraints.
    let mut start = 0;
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut parts = Vec::new();
    for (i, c) in body.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '[') => quote = Some(']'),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(start..i);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(start..body.len());
    for range in parts {
        let def = &body[range.clone()];
        let name = def
            .trim_start()
            .split(|c: char| c.is_whitespace())
            .next()?
            .trim_matches(|c| matches!(c, '"' | '`' | '[' | ']'));
        if !name.eq_ignore_ascii_case(column) {
            continue;
        }
        let upper = def.to_ascii_uppercase();
        let at = find_words(&upper, "NOT", "NULL")?;
        let (from, to) = at;
        let new_def = format!("{}{}", &def[..from].trim_end(), &def[to..]);
        let offset = open + 1;
        return Some(format!(
            "{}{}{}",
            &sql[..offset + range.start],
            new_def,
            &sql[offset + range.end..]
        ));
    }
    None
}

/// Byte range of `first` followed by whitespace and `second`, as whole words.
fn find_words(text: &str, first: &str, second: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let word_edge =
        |i: usize| i >= bytes.len() || !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_');
    let mut from = 0;
    while let Some(pos) = text[from..].find(first) {
        let start = from + pos;
        let after = start + first.len();
        let before_ok = start == 0 || word_edge(start - 1);
        let rest = &text[after..];
        let gap = rest.len() - rest.trim_start().len();
        if before_ok
            && gap > 0
            && rest.trim_start().starts_with(second)
            && word_edge(after + gap + second.len())
        {
            return Some((start, after + gap + second.len()));
        }
        from = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::without_not_null;

    #[test]
    fn removes_only_that_columns_not_null() {
        let sql = "CREATE TABLE users (\n    id SERIAL PRIMARY KEY,\n    phone_number VARCHAR(20) UNIQUE NOT NULL,\n    note TEXT NOT NULL DEFAULT 'a, NOT NULL'\n)";
        assert_eq!(
            without_not_null(sql, "phone_number").unwrap(),
            "CREATE TABLE users (\n    id SERIAL PRIMARY KEY,\n    phone_number VARCHAR(20) UNIQUE,\n    note TEXT NOT NULL DEFAULT 'a, NOT NULL'\n)"
        );
        assert!(without_not_null(sql, "id").is_none());
        assert!(without_not_null(sql, "missing").is_none());
    }
}
