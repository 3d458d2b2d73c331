//! [`AuditLog`] over `audit_logs`.

use auth_core::{
    AuditEvent, AuditKind, AuditLog, AuditQuery, AuditRecord, Result, SessionId, UserId,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::{corrupt, db};
use crate::statements::PgStatements;
use crate::store::PgTokenStore;

/// Every filter of an [`AuditQuery`]; a NULL parameter leaves its filter out.
const PAGE: &str = "SELECT id, event_type, user_id, session_id, ip, user_agent, details, created_at \
    FROM audit_logs WHERE ($1::bigint IS NULL OR user_id = $1) \
    AND ($2::text IS NULL OR event_type = $2) \
    AND ($3::timestamptz IS NULL OR created_at >= $3) \
    AND ($4::timestamptz IS NULL OR created_at < $4) \
    AND ($5::bigint IS NULL OR id < $5) ORDER BY id DESC LIMIT $6";

fn record(row: &PgRow) -> Result<AuditRecord> {
    let kind: String = row.try_get("event_type").map_err(db)?;
    let kind =
        AuditKind::parse(&kind).ok_or_else(|| corrupt("audit_logs", "unknown event_type"))?;
    let Json(details): Json<serde_json::Value> = row.try_get("details").map_err(db)?;
    Ok(AuditRecord {
        id: row.try_get("id").map_err(db)?,
        event: AuditEvent {
            kind,
            user_id: row
                .try_get::<Option<i64>, _>("user_id")
                .map_err(db)?
                .map(UserId),
            session_id: row
                .try_get::<Option<Uuid>, _>("session_id")
                .map_err(db)?
                .map(SessionId),
            ip: row.try_get("ip").map_err(db)?,
            user_agent: row.try_get("user_agent").map_err(db)?,
            details,
            at: row.try_get("created_at").map_err(db)?,
        },
    })
}

impl AuditLog for PgTokenStore {
    async fn append_audit(&self, event: &AuditEvent) -> Result<()> {
        sqlx::query(PgStatements::APPEND_AUDIT)
            .bind(event.kind.as_str())
            .bind(event.user_id.map(|u| u.0))
            .bind(event.session_id.map(|s| s.0))
            .bind(&event.ip)
            .bind(&event.user_agent)
            .bind(Json(&event.details))
            .bind(event.at)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(PAGE)
            .bind(query.user.map(|u| u.0))
            .bind(query.kind.map(AuditKind::as_str))
            .bind(query.since)
            .bind(query.until)
            .bind(query.before_id)
            .bind(i64::from(query.limit))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(record).collect()
    }
}
