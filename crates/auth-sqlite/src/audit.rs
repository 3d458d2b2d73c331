//! [`AuditLog`] over SQLite: the append-only `audit_logs` table.

use auth_core::{AuditEvent, AuditKind, AuditLog, AuditRecord, SessionId, UserId};
use deadpool_sqlite::rusqlite::{self, Connection, Row, params};

use crate::convert::{bad_json, micros, opt_uuid_at, sid, time_at, unexpected};
use crate::store::{SqliteTokenStore, run, write};

macro_rules! audit_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, event_type, user_id, session_id, ip, user_agent, details, created_at FROM audit_logs ",
            $rest
        )
    };
}

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let kind: String = row.get(1)?;
    let kind = AuditKind::parse(&kind).ok_or_else(|| unexpected(1, kind))?;
    let details: String = row.get(6)?;
    Ok(AuditRecord {
        id: row.get(0)?,
        event: AuditEvent {
            kind,
            user_id: row.get::<_, Option<i64>>(2)?.map(UserId),
            session_id: opt_uuid_at(row, 3)?.map(SessionId),
            ip: row.get(4)?,
            user_agent: row.get(5)?,
            details: serde_json::from_str(&details).map_err(|e| bad_json(6, e))?,
            at: time_at(row, 7)?,
        },
    })
}

pub(crate) fn insert_audit(tx: &Connection, e: &AuditEvent) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_logs (event_type, user_id, session_id, ip, user_agent, details, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        e.kind.as_str(),
        e.user_id.map(|u| u.0),
        e.session_id.map(|s| sid(s).to_vec()),
        e.ip,
        e.user_agent,
        e.details.to_string(),
        micros(e.at),
    ])?;
    Ok(())
}

impl AuditLog for SqliteTokenStore {
    async fn append_audit(&self, event: &AuditEvent) -> auth_core::Result<()> {
        let e = event.clone();
        write(self.writers(), move |tx| Ok(insert_audit(tx, &e)?)).await?;
        Ok(())
    }

    async fn recent_audit(
        &self,
        user: Option<UserId>,
        limit: u32,
    ) -> auth_core::Result<Vec<AuditRecord>> {
        let records = run(self.writers(), move |conn| {
            let limit = i64::from(limit);
            let rows = match user {
                None => conn
                    .prepare_cached(audit_select!("ORDER BY id DESC LIMIT ?1"))?
                    .query_map([limit], audit_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                Some(user) => conn
                    .prepare_cached(audit_select!(
                        "WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2"
                    ))?
                    .query_map(params![user.0, limit], audit_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            Ok(rows)
        })
        .await?;
        Ok(records)
    }
}
