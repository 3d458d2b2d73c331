//! [`AuditLog`] over MySQL: the append-only `audit_logs` table.

use auth_core::{AuditEvent, AuditLog, AuditQuery, AuditRecord};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::MySqlError;
use crate::limits;
use crate::rows::AuditRow;
use crate::schema::audit_logs;
use crate::statements::InsertAudit;
use crate::store::{MySqlTokenStore, uuid_bytes, with_conn};

impl MySqlTokenStore {
    async fn append_audit_inner(&self, event: &AuditEvent) -> Result<(), MySqlError> {
        let insert = audit_insert(event)?;
        with_conn!(self, |conn| insert.execute(conn).await)?;
        Ok(())
    }

    async fn audit_page_inner(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>, MySqlError> {
        let mut query = audit_logs::table.select(AuditRow::as_select()).into_boxed();
        if let Some(user) = q.user {
            query = query.filter(audit_logs::user_id.eq(user.0));
        }
        if let Some(kind) = q.kind {
            query = query.filter(audit_logs::event_type.eq(kind.as_str()));
        }
        if let Some(since) = q.since {
            query = query.filter(audit_logs::created_at.ge(since));
        }
        if let Some(until) = q.until {
            query = query.filter(audit_logs::created_at.lt(until));
        }
        if let Some(before) = q.before_id {
            query = query.filter(audit_logs::id.lt(before));
        }
        let query = query.order(audit_logs::id.desc()).limit(i64::from(q.limit));
        let rows = with_conn!(self, |conn| query.load(conn).await)?;
        rows.into_iter().map(AuditRecord::try_from).collect()
    }
}

impl AuditLog for MySqlTokenStore {
    async fn append_audit(&self, event: &AuditEvent) -> auth_core::Result<()> {
        Ok(self.append_audit_inner(event).await?)
    }

    async fn audit_page(&self, query: &AuditQuery) -> auth_core::Result<Vec<AuditRecord>> {
        Ok(self.audit_page_inner(query).await?)
    }
}

/// The checked insert of an audit row.
pub(crate) fn audit_insert(event: &AuditEvent) -> Result<InsertAudit<'_>, MySqlError> {
    let event_type = event.kind.as_str();
    limits::EVENT_TYPE.check(event_type)?;
    limits::IP.check_opt(event.ip.as_deref())?;
    limits::USER_AGENT.check_opt(event.user_agent.as_deref())?;
    Ok(InsertAudit {
        event_type,
        user_id: event.user_id.map(|u| u.0),
        session_id: event.session_id.as_ref().map(|s| uuid_bytes(&s.0)),
        ip: event.ip.as_deref(),
        user_agent: event.user_agent.as_deref(),
        details: event.details.to_string(),
        created_at: &event.at,
    })
}

// After the transaction macros, which it uses.
