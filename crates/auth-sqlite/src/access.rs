//! [`AccessTokenStore`] over SQLite: the allowlist (`auth_user_tokens`), the denylist and the revocation feed (`revoked_tokens`).

use auth_core::{
    AccessTokenEntry, AccessTokenRevocation, AccessTokenStore, RevocationCursor, RevocationEvent,
    RevocationKind, RevokedItem, SessionId, UserId,
};
use deadpool_sqlite::rusqlite::{self, Connection, OptionalExtension, Row, params};

use crate::convert::{micros, opt_uuid_at, sid, time_at, unexpected, uuid_at};
use crate::store::{SqliteTokenStore, run, write};

const INSERT_EVENT: &str = "INSERT INTO revoked_tokens (kind, user_id, jti, session_id, revoked_at, expires_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

pub(crate) fn insert_session_event(
    tx: &Connection,
    user: i64,
    session: &[u8],
    at: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_EVENT)?.execute(params![
        RevocationKind::Session.as_str(),
        user,
        None::<String>,
        session,
        at,
        expires_at
    ])?;
    Ok(())
}

pub(crate) fn insert_user_event(
    tx: &Connection,
    user: i64,
    at: i64,
    expires_at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_EVENT)?.execute(params![
        RevocationKind::User.as_str(),
        user,
        None::<String>,
        None::<Vec<u8>>,
        at,
        expires_at
    ])?;
    Ok(())
}

pub(crate) fn disable_session_access_tokens(
    tx: &Connection,
    session: &[u8],
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE auth_user_tokens SET disabled = 1 WHERE session_id = ?1 AND disabled = 0",
    )?
    .execute([session])?;
    Ok(())
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<RevocationEvent> {
    let user_id = UserId(row.get(2)?);
    let kind: String = row.get(1)?;
    let jti: Option<String> = row.get(3)?;
    let session = opt_uuid_at(row, 4)?.map(SessionId);
    let item = RevokedItem::from_stored(&kind, user_id, jti, session)
        .map_err(|e| unexpected(1, format!("{kind}: {e}")))?;
    Ok(RevocationEvent {
        id: row.get(0)?,
        user_id,
        item,
        revoked_at: time_at(row, 5)?,
        expires_at: time_at(row, 6)?,
    })
}

fn access_from_row(row: &Row<'_>) -> rusqlite::Result<AccessTokenEntry> {
    Ok(AccessTokenEntry {
        jti: row.get(0)?,
        user_id: UserId(row.get(1)?),
        session_id: SessionId(uuid_at(row, 2)?),
        issued_at: time_at(row, 3)?,
        expires_at: time_at(row, 4)?,
        disabled: row.get(5)?,
    })
}

impl AccessTokenStore for SqliteTokenStore {
    async fn register_access_token(&self, entry: &AccessTokenEntry) -> auth_core::Result<()> {
        let e = entry.clone();
        write(self.connections(), move |tx| {
            tx.prepare_cached(
                "INSERT INTO auth_user_tokens (jti, user_id, session_id, issued_at, expires_at, disabled) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![e.jti, e.user_id.0, &sid(e.session_id)[..], micros(e.issued_at), micros(e.expires_at), e.disabled])?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn find_access_token(&self, jti: &str) -> auth_core::Result<Option<AccessTokenEntry>> {
        let jti = jti.to_owned();
        let found = run(self.connections(), move |conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT jti, user_id, session_id, issued_at, expires_at, disabled FROM auth_user_tokens WHERE jti = ?1",
                )?
                .query_row([jti], access_from_row)
                .optional()?)
        })
        .await?;
        Ok(found)
    }

    async fn revoke_access_token(
        &self,
        revocation: &AccessTokenRevocation,
    ) -> auth_core::Result<bool> {
        let (jti, user) = (revocation.jti.clone(), revocation.user);
        let (at, exp) = (micros(revocation.at), micros(revocation.expires_at));
        let inserted = write(self.connections(), move |tx| {
            let n = tx
                .prepare_cached(
                    "INSERT INTO revoked_tokens (kind, user_id, jti, session_id, revoked_at, expires_at) \
                     VALUES (?1, ?2, ?3, NULL, ?4, ?5) ON CONFLICT (jti) DO NOTHING",
                )?
                .execute(params![RevocationKind::Token.as_str(), user.0, jti, at, exp])?;
            tx.prepare_cached("UPDATE auth_user_tokens SET disabled = 1 WHERE jti = ?1 AND disabled = 0")?
                .execute([&jti])?;
            Ok(n == 1)
        })
        .await?;
        Ok(inserted)
    }

    async fn revocation_events(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> auth_core::Result<Vec<RevocationEvent>> {
        let cursor = *cursor;
        let events = run(self.connections(), move |conn| {
            let limit = i64::from(limit);
            let rows = match cursor.recheck_since {
                None => conn
                    .prepare_cached(
                        "SELECT id, kind, user_id, jti, session_id, revoked_at, expires_at FROM revoked_tokens \
                         WHERE id > ?1 ORDER BY id LIMIT ?2",
                    )?
                    .query_map(params![cursor.after_id, limit], event_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
                Some(since) => conn
                    .prepare_cached(
                        "SELECT id, kind, user_id, jti, session_id, revoked_at, expires_at FROM revoked_tokens \
                         WHERE id > ?1 OR revoked_at >= ?2 ORDER BY id LIMIT ?3",
                    )?
                    .query_map(params![cursor.after_id, micros(since), limit], event_from_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            Ok(rows)
        })
        .await?;
        Ok(events)
    }
}
