//! [`AuditLog`] over SQLite: the append-only `audit_logs` table.

use auth_core::{AuditEvent, AuditKind, AuditLog, AuditQuery, AuditRecord, SessionId, UserId};
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
        write(self.connections(), move |tx| Ok(insert_audit(tx, &e)?)).await?;
        Ok(())
    }

    async fn audit_page(&self, query: &AuditQuery) -> auth_core::Result<Vec<AuditRecord>> {
        let q = query.clone();
        let records = run(self.connections(), move |conn| {
            let rows = conn
                .prepare_cached(audit_select!(
                    "WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR event_type = ?2) \
                     AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at < ?4) \
                     AND (?5 IS NULL OR id < ?5) ORDER BY id DESC LIMIT ?6"
                ))?
                .query_map(
                    params![
                        q.user.map(|u| u.0),
                        q.kind.map(AuditKind::as_str),
                        q.since.map(micros),
                        q.until.map(micros),
                        q.before_id,
                        i64::from(q.limit),
                    ],
                    audit_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
        Ok(records)
    }
}
