//! [`MemoryTestDb`]: the suite's fourth store, auth-core's [`MemoryStore`].

use auth_core::time::OffsetDateTime;
use auth_core::{
    MemoryStore, MemoryTables, NewRefreshToken, RefreshTokenStore, RevokedItem, UserClaimColumns,
    UserId,
};
use serde_json::Value;

use crate::database::{Table, TestDatabase, TimestampCell, UserColumnType};

/// A fresh [`MemoryStore`] per test; its "tables" are those of [`MemoryTables`], named
/// after the PostgreSQL layout.
#[derive(Debug, Default)]
pub struct MemoryTestDb {
    store: MemoryStore,
}

/// One row: its table and its cells, by column.
struct Row {
    table: &'static str,
    cells: Vec<(&'static str, Cell)>,
}

enum Cell {
    Bytes(Vec<u8>),
    Time(OffsetDateTime),
    Null,
}

fn text(s: impl ToString) -> Cell {
    Cell::Bytes(s.to_string().into_bytes())
}

fn opt_text(s: Option<impl ToString>) -> Cell {
    s.map_or(Cell::Null, text)
}

fn opt_time(t: Option<OffsetDateTime>) -> Cell {
    t.map_or(Cell::Null, Cell::Time)
}

/// Every row of every table, as a database would show it.
fn rows(tables: MemoryTables) -> Vec<Row> {
    let mut rows = Vec::new();
    for u in tables.users {
        let r = u.record;
        rows.push(Row {
            table: "users",
            cells: vec![
                ("id", text(r.id)),
                ("email", opt_text(r.email)),
                ("password_hash", opt_text(r.password_hash)),
                ("is_active", text(r.is_active)),
                ("is_admin", text(r.is_admin)),
                ("tokens_valid_after", opt_time(r.tokens_valid_after)),
                ("last_login", opt_time(r.last_login)),
                ("created_at", Cell::Time(u.created_at)),
                ("phone_number", opt_text(u.phone_number)),
                ("is_verified", text(u.is_verified)),
            ],
        });
    }
    for c in tables.codes {
        let code = c.code;
        rows.push(Row {
            table: "one_time_codes",
            cells: vec![
                ("id", text(code.id.0)),
                ("phone_number", text(code.phone.as_str())),
                ("code_hash", Cell::Bytes(code.hash.0.to_vec())),
                ("ip", opt_text(code.ip)),
                ("created_at", Cell::Time(code.created_at)),
                ("expires_at", Cell::Time(code.expires_at)),
                ("attempts", text(c.attempts)),
                ("max_attempts", text(code.max_attempts)),
                ("consumed_at", opt_time(c.consumed_at)),
                ("revoked_at", opt_time(c.revoked_at)),
            ],
        });
    }
    for r in tables.refresh_tokens {
        let t = r.token;
        rows.push(Row {
            table: "refresh_tokens",
            cells: vec![
                ("id", text(t.id.0)),
                ("token_hash", Cell::Bytes(t.hash.as_bytes().to_vec())),
                ("user_id", text(t.user_id)),
                ("session_id", text(t.session_id)),
                ("generation", text(t.generation)),
                ("issued_at", Cell::Time(t.issued_at)),
                ("expires_at", Cell::Time(t.expires_at)),
                ("session_created_at", Cell::Time(t.session_created_at)),
                ("session_expires_at", Cell::Time(t.session_expires_at)),
                ("user_agent", opt_text(t.user_agent)),
                ("ip", opt_text(t.ip)),
                ("rotated_at", opt_time(r.rotated_at)),
                ("replaced_by", opt_text(r.replaced_by.map(|id| id.0))),
                ("revoked_at", opt_time(r.revoked_at)),
                ("revoke_reason", opt_text(r.revoke_reason)),
                ("reuse_count", text(r.reuse_count)),
            ],
        });
    }
    for e in tables.access_tokens {
        rows.push(Row {
            table: "auth_user_tokens",
            cells: vec![
                ("jti", text(e.jti)),
                ("user_id", text(e.user_id)),
                ("session_id", text(e.session_id)),
                ("issued_at", Cell::Time(e.issued_at)),
                ("expires_at", Cell::Time(e.expires_at)),
                ("disabled", text(e.disabled)),
            ],
        });
    }
    for e in tables.revocation_events {
        let (jti, session) = match e.item {
            RevokedItem::Token(jti) => (Some(jti), None),
            RevokedItem::Session(session) => (None, Some(session)),
            RevokedItem::User(_) => (None, None),
        };
        rows.push(Row {
            table: "revoked_tokens",
            cells: vec![
                ("id", text(e.id)),
                ("user_id", text(e.user_id)),
                ("jti", opt_text(jti)),
                ("session_id", opt_text(session)),
                ("revoked_at", Cell::Time(e.revoked_at)),
                ("expires_at", Cell::Time(e.expires_at)),
            ],
        });
    }
    for a in tables.audit {
        let e = a.event;
        rows.push(Row {
            table: "audit_logs",
            cells: vec![
                ("id", text(a.id)),
                ("event_type", text(e.kind.as_str())),
                ("user_id", opt_text(e.user_id)),
                ("session_id", opt_text(e.session_id)),
                ("ip", opt_text(e.ip)),
                ("user_agent", opt_text(e.user_agent)),
                ("details", text(e.details)),
                ("created_at", Cell::Time(e.at)),
            ],
        });
    }
    rows
}

impl TestDatabase for MemoryTestDb {
    type Store = MemoryStore;

    async fn create() -> Self {
        Self::default()
    }

    fn store(&self) -> MemoryStore {
        self.store.clone()
    }

    async fn count_rows(&self, table: Table) -> u64 {
        let t = self.store.tables();
        let n = match table {
            Table::Users => t.users.len(),
            Table::RefreshTokens => t.refresh_tokens.len(),
            Table::RevokedTokens => t.revocation_events.len(),
            Table::AccessTokens => t.access_tokens.len(),
            Table::AuditLogs => t.audit.len(),
            Table::OneTimeCodes => t.codes.len(),
            Table::CodeLocks => 0,
        };
        n as u64
    }

    async fn dump_cells(&self) -> Vec<Vec<u8>> {
        rows(self.store.tables())
            .into_iter()
            .flat_map(|row| row.cells)
            .filter_map(|(_, cell)| match cell {
                Cell::Bytes(bytes) => Some(bytes),
                Cell::Time(t) => Some(t.to_string().into_bytes()),
                Cell::Null => None,
            })
            .collect()
    }

    async fn dump_timestamps(&self) -> Vec<TimestampCell> {
        rows(self.store.tables())
            .into_iter()
            .flat_map(|row| {
                row.cells
                    .into_iter()
                    .filter_map(move |(column, cell)| match cell {
                        Cell::Time(value) => Some(TimestampCell {
                            table: row.table.to_owned(),
                            column: column.to_owned(),
                            value,
                        }),
                        _ => None,
                    })
            })
            .collect()
    }

    /// The store is the database here: its insert is the schema's check.
    async fn insert_refresh_token_row(&self, token: &NewRefreshToken) -> Result<(), String> {
        self.store
            .insert_refresh_token(token)
            .await
            .map_err(|e| format!("{e:?}"))
    }

    async fn store_with_user_claim_columns(
        &self,
        columns: UserClaimColumns,
    ) -> auth_core::Result<MemoryStore> {
        self.store.clone().with_user_claim_columns(columns)
    }

    /// The memory store's columns are untyped.
    async fn add_user_column(&self, name: &'static str, _: UserColumnType, default: Option<Value>) {
        self.store
            .add_user_column(name, default.unwrap_or(Value::Null));
    }

    async fn set_user_column(&self, user: UserId, name: &'static str, value: Value) {
        self.store
            .set_user_column(user, name, value)
            .expect("the user and the column exist");
    }

    async fn teardown(self) {}
}
