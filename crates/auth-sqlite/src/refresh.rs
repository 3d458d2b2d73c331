//! [`RefreshTokenStore`] over SQLite: sessions and their `refresh_tokens` rows.

use std::collections::BTreeMap;

use auth_core::time::OffsetDateTime;
use auth_core::{
    NewRefreshToken, RefreshTokenRecord, RefreshTokenStore, Replay, Rotation, SessionDevice,
    SessionId, SessionRevocation, TokenHash, TokenId, UserId, UserRevocation,
};
use deadpool_sqlite::rusqlite::{self, Connection, OptionalExtension, Row, params};

use crate::access::{disable_session_access_tokens, insert_session_event, insert_user_event};
use crate::audit::insert_audit;
use crate::convert::{
    hash_at, micros, opt_micros, opt_seed_at, opt_time_at, opt_uuid_at, sid, tid, time_at, uuid_at,
};
use crate::store::{SqliteTokenStore, run, write};

macro_rules! rt_select {
    ($($rest:literal)*) => {
        concat!(
            "SELECT id, user_id, session_id, generation, token_hash, issued_at, expires_at, ",
            "session_created_at, session_expires_at, rotated_at, replaced_by, revoked_at, ",
            "revoke_reason, reuse_count, user_agent, ip, successor_seed, client_id, scope, ",
            "device_id, device_name, dpop_jkt ",
            "FROM refresh_tokens ",
            $($rest),*
        )
    };
}

fn refresh_from_row(row: &Row<'_>) -> rusqlite::Result<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        token: NewRefreshToken {
            id: TokenId(uuid_at(row, 0)?),
            user_id: UserId(row.get(1)?),
            session_id: SessionId(uuid_at(row, 2)?),
            generation: row.get(3)?,
            hash: hash_at(row, 4)?,
            issued_at: time_at(row, 5)?,
            expires_at: time_at(row, 6)?,
            session_created_at: time_at(row, 7)?,
            session_expires_at: time_at(row, 8)?,
            user_agent: row.get(14)?,
            ip: row.get(15)?,
            client_id: row.get(17)?,
            scope: row.get(18)?,
            device: SessionDevice {
                device_id: row.get(19)?,
                device_name: row.get(20)?,
                dpop_jkt: row.get(21)?,
            },
        },
        rotated_at: opt_time_at(row, 9)?,
        replaced_by: opt_uuid_at(row, 10)?.map(TokenId),
        successor_seed: opt_seed_at(row, 16)?,
        revoked_at: opt_time_at(row, 11)?,
        revoke_reason: row.get(12)?,
        reuse_count: row.get(13)?,
    })
}

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, \
     issued_at, expires_at, session_created_at, session_expires_at, user_agent, ip, client_id, scope, \
     device_id, device_name, dpop_jkt) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

fn insert_refresh(tx: &Connection, t: &NewRefreshToken) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_REFRESH)?.execute(params![
        &tid(t.id)[..],
        t.user_id.0,
        &sid(t.session_id)[..],
        t.generation,
        &t.hash.as_bytes()[..],
        micros(t.issued_at),
        micros(t.expires_at),
        micros(t.session_created_at),
        micros(t.session_expires_at),
        t.user_agent,
        t.ip,
        t.client_id,
        t.scope,
        t.device.device_id,
        t.device.device_name,
        t.device.dpop_jkt,
    ])?;
    Ok(())
}

impl RefreshTokenStore for SqliteTokenStore {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> auth_core::Result<()> {
        let token = token.clone();
        write(self.connections(), move |tx| {
            Ok(insert_refresh(tx, &token)?)
        })
        .await?;
        Ok(())
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        let hash = *hash;
        let found = run(self.connections(), move |conn| {
            Ok(conn
                .prepare_cached(rt_select!("WHERE token_hash = ?1"))?
                .query_row([&hash.as_bytes()[..]], refresh_from_row)
                .optional()?)
        })
        .await?;
        Ok(found)
    }

    async fn find_refresh_token_by_id(
        &self,
        id: TokenId,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        let found = run(self.connections(), move |conn| {
            Ok(conn
                .prepare_cached(rt_select!("WHERE id = ?1"))?
                .query_row([&tid(id)[..]], refresh_from_row)
                .optional()?)
        })
        .await?;
        Ok(found)
    }

    async fn rotate_refresh_token(&self, rotation: &Rotation) -> auth_core::Result<bool> {
        let rotation = rotation.clone();
        let rotated = write(self.connections(), move |tx| {
            let retired = tx
                .prepare_cached(
                    "UPDATE refresh_tokens SET rotated_at = ?1, replaced_by = ?2, successor_seed = ?3 \
                     WHERE id = ?4 AND rotated_at IS NULL AND revoked_at IS NULL",
                )?
                .execute(params![
                    micros(rotation.at),
                    &tid(rotation.successor.id)[..],
                    &rotation.successor_seed.as_bytes()[..],
                    &tid(rotation.current)[..]
                ])?;
            if retired == 0 {
                return Ok(false); // nothing written: the empty transaction commits
            }
            insert_refresh(tx, &rotation.successor)?;
            insert_audit(tx, &rotation.audit)?;
            Ok(true)
        })
        .await?;
        Ok(rotated)
    }

    async fn replay_refresh_token(&self, replay: &Replay) -> auth_core::Result<bool> {
        let replay = replay.clone();
        let recorded = write(self.connections(), move |tx| {
            if let Some(budget) = replay.budget {
                let spent = tx
                    .prepare_cached(
                        "UPDATE refresh_tokens SET reuse_count = reuse_count + 1 \
                         WHERE id = ?1 AND replaced_by = ?2 AND reuse_count < ?3",
                    )?
                    .execute(params![
                        &tid(replay.predecessor)[..],
                        &tid(replay.successor)[..],
                        budget
                    ])?;
                if spent == 0 {
                    return Ok(false);
                }
            }
            insert_audit(tx, &replay.audit)?;
            Ok(true)
        })
        .await?;
        Ok(recorded)
    }

    async fn live_refresh_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> auth_core::Result<Vec<RefreshTokenRecord>> {
        let now = micros(now);
        let rows = run(self.connections(), move |conn| {
            let mut stmt = conn.prepare_cached(rt_select!(
                "WHERE user_id = ?1 AND rotated_at IS NULL AND revoked_at IS NULL AND session_expires_at > ?2 "
                "ORDER BY session_created_at, id"
            ))?;
            let rows = stmt.query_map(params![user.0, now], refresh_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
        Ok(rows)
    }

    async fn live_refresh_token_of_session(
        &self,
        session: SessionId,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        let found = run(self.connections(), move |conn| {
            Ok(conn
                .prepare_cached(rt_select!(
                    "WHERE session_id = ?1 AND rotated_at IS NULL AND revoked_at IS NULL "
                    "ORDER BY generation DESC LIMIT 1"
                ))?
                .query_row([&sid(session)[..]], refresh_from_row)
                .optional()?)
        })
        .await?;
        Ok(found)
    }

    async fn revoke_session(&self, revocation: &SessionRevocation) -> auth_core::Result<bool> {
        let reason = revocation.reason;
        let (at, exp, session) = (
            micros(revocation.at),
            micros(revocation.event_expires_at),
            sid(revocation.session),
        );
        let had_live = write(self.connections(), move |tx| {
            let rows = tx
                .prepare_cached(
                    "UPDATE refresh_tokens SET revoked_at = ?1, revoke_reason = ?2 \
                     WHERE session_id = ?3 AND revoked_at IS NULL \
                     RETURNING user_id, rotated_at IS NULL",
                )?
                .query_map(params![at, reason.as_str(), &session[..]], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let Some(&(user, _)) = rows.first() else {
                return Ok(false);
            };
            disable_session_access_tokens(tx, &session)?;
            insert_session_event(tx, user, &session, at, exp)?;
            Ok(rows.iter().any(|&(_, live)| live))
        })
        .await?;
        Ok(had_live)
    }

    async fn revoke_user_sessions(&self, revocation: &UserRevocation) -> auth_core::Result<u64> {
        let (user, reason) = (revocation.user, revocation.reason);
        let (at, exp, tva) = (
            micros(revocation.at),
            micros(revocation.event_expires_at),
            opt_micros(revocation.tokens_valid_after),
        );
        let revoked = write(self.connections(), move |tx| {
            let rows = tx
                .prepare_cached(
                    "UPDATE refresh_tokens SET revoked_at = ?1, revoke_reason = ?2 \
                     WHERE user_id = ?3 AND revoked_at IS NULL \
                     RETURNING session_id, rotated_at IS NULL",
                )?
                .query_map(params![at, reason.as_str(), user.0], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // One event per session, in a stable order.
            let mut sessions: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
            for (session, live) in rows {
                *sessions.entry(session).or_default() |= live;
            }
            for session in sessions.keys() {
                disable_session_access_tokens(tx, session)?;
                insert_session_event(tx, user.0, session, at, exp)?;
            }
            if let Some(tva) = tva {
                let found = tx
                    .prepare_cached(
                        "UPDATE users SET tokens_valid_after = ?1, updated_at = ?2 WHERE id = ?3",
                    )?
                    .execute(params![tva, at, user.0])?;
                if found == 1 {
                    insert_user_event(tx, user.0, at, exp)?;
                }
            }
            Ok(sessions.values().filter(|live| **live).count() as u64)
        })
        .await?;
        Ok(revoked)
    }
}
