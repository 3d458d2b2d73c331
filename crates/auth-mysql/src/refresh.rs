//! [`RefreshTokenStore`] over MySQL: sessions and their `auth_user_tokens` rows of type refresh.

use std::collections::BTreeMap;

use auth_core::time::OffsetDateTime;
use auth_core::{
    NewRefreshToken, RefreshTokenRecord, RefreshTokenStore, Replay, RevocationKind, Rotation,
    SessionId, SessionRevocation, TokenHash, TokenId, UserId, UserRevocation,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::audit::audit_insert;
use crate::error::MySqlError;
use crate::limits;
use crate::rows::{NewRevokedRow, RefreshRow};
use crate::schema::{ACCESS, REFRESH, auth_user, auth_user_tokens as tokens, revoked_tokens};
use crate::statements::{InsertRefreshToken, RetireToken, SpendReplayBudget};
use crate::store::{MySqlTokenStore, Tx, transaction, uuid_bytes, with_conn};

pub(crate) fn check_refresh(token: &NewRefreshToken) -> Result<(), MySqlError> {
    limits::USER_AGENT.check_opt(token.user_agent.as_deref())?;
    limits::IP.check_opt(token.ip.as_deref())?;
    limits::CLIENT_ID.check_opt(token.client_id.as_deref())?;
    limits::SCOPE.check_opt(token.scope.as_deref())?;
    limits::DEVICE_ID.check_opt(token.device.device_id.as_deref())?;
    limits::DEVICE_NAME.check_opt(token.device.device_name.as_deref())?;
    limits::DPOP_JKT.check_opt(token.device.dpop_jkt.as_deref())
}

impl MySqlTokenStore {
    async fn insert_refresh_token_inner(&self, token: &NewRefreshToken) -> Result<(), MySqlError> {
        check_refresh(token)?;
        with_conn!(self, |conn| InsertRefreshToken(token).execute(conn).await)?;
        Ok(())
    }

    async fn find_refresh_by_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, MySqlError> {
        let row = with_conn!(self, |conn| tokens::table
            .filter(tokens::token_hash.eq(hash.as_bytes().as_slice()))
            .filter(tokens::token_type.eq(REFRESH))
            .select(RefreshRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    async fn find_refresh_by_id(
        &self,
        id: TokenId,
    ) -> Result<Option<RefreshTokenRecord>, MySqlError> {
        let row = with_conn!(self, |conn| tokens::table
            .filter(tokens::token_id.eq(uuid_bytes(&id.0)))
            .filter(tokens::token_type.eq(REFRESH))
            .select(RefreshRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    async fn rotate_inner(&self, rotation: &Rotation) -> Result<bool, MySqlError> {
        check_refresh(&rotation.successor)?;
        let audit = audit_insert(&rotation.audit)?;
        let successor = uuid_bytes(&rotation.successor.id.0);
        let current = uuid_bytes(&rotation.current.0);
        let seed = rotation.successor_seed.as_bytes().as_slice();
        let at = rotation.at;
        Ok(transaction!(self, |conn| {
            // Conditional update checked by the rows it matched (the connection reports
            // found rows): of concurrent rotations of one token exactly one matches.
            let retired = RetireToken {
                current,
                successor,
                successor_seed: seed,
                at: &at,
            }
            .execute(conn)
            .await?;
            if retired == 0 {
                return Ok(Tx::Rollback(false));
            }
            InsertRefreshToken(&rotation.successor)
                .execute(conn)
                .await?;
            audit.clone().execute(conn).await?;
            Ok(Tx::Commit(true))
        })?)
    }

    async fn replay_inner(&self, replay: &Replay) -> Result<bool, MySqlError> {
        let audit = audit_insert(&replay.audit)?;
        let predecessor = uuid_bytes(&replay.predecessor.0);
        let successor = uuid_bytes(&replay.successor.0);
        Ok(transaction!(self, |conn| {
            if let Some(budget) = &replay.budget {
                let spent = SpendReplayBudget {
                    predecessor,
                    successor,
                    budget,
                }
                .execute(conn)
                .await?;
                if spent == 0 {
                    return Ok(Tx::Rollback(false));
                }
            }
            audit.clone().execute(conn).await?;
            Ok(Tx::Commit(true))
        })?)
    }

    async fn live_refresh_tokens_inner(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<RefreshTokenRecord>, MySqlError> {
        let rows = with_conn!(self, |conn| tokens::table
            .filter(tokens::user_id.eq(user.0))
            .filter(tokens::token_type.eq(REFRESH))
            .filter(tokens::rotated_at.is_null())
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::session_expires_at.gt(now))
            .order(tokens::id.asc())
            .select(RefreshRow::as_select())
            .load(conn)
            .await)?;
        rows.into_iter().map(RefreshTokenRecord::try_from).collect()
    }

    async fn live_refresh_token_of_session_inner(
        &self,
        session: SessionId,
    ) -> Result<Option<RefreshTokenRecord>, MySqlError> {
        let row = with_conn!(self, |conn| tokens::table
            .filter(tokens::session_id.eq(uuid_bytes(&session.0)))
            .filter(tokens::token_type.eq(REFRESH))
            .filter(tokens::rotated_at.is_null())
            .filter(tokens::revoked_at.is_null())
            .order(tokens::id.desc())
            .select(RefreshRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(RefreshTokenRecord::try_from).transpose()
    }

    async fn revoke_session_inner(
        &self,
        revocation: &SessionRevocation,
    ) -> Result<bool, MySqlError> {
        let SessionRevocation {
            session,
            reason,
            at,
            event_expires_at,
        } = *revocation;
        limits::REVOKE_REASON.check(reason.as_str())?;
        let sid = uuid_bytes(&session.0);
        Ok(transaction!(self, |conn| {
            let unrevoked: Vec<(i64, Option<OffsetDateTime>)> = tokens::table
                .filter(tokens::session_id.eq(sid))
                .filter(tokens::token_type.eq(REFRESH))
                .filter(tokens::revoked_at.is_null())
                .select((tokens::user_id, tokens::rotated_at))
                .for_update()
                .load(conn)
                .await?;
            let Some(&(user_id, _)) = unrevoked.as_slice().first() else {
                return Ok(Tx::Commit(false));
            };
            diesel::update(
                tokens::table
                    .filter(tokens::session_id.eq(sid))
                    .filter(tokens::token_type.eq(REFRESH))
                    .filter(tokens::revoked_at.is_null()),
            )
            .set((
                tokens::revoked_at.eq(at),
                tokens::revoke_reason.eq(reason.as_str()),
                tokens::updated_at.eq(at),
            ))
            .execute(conn)
            .await?;
            diesel::update(
                tokens::table
                    .filter(tokens::session_id.eq(sid))
                    .filter(tokens::token_type.eq(ACCESS)),
            )
            .set((tokens::disabled.eq(true), tokens::updated_at.eq(at)))
            .execute(conn)
            .await?;
            diesel::insert_into(revoked_tokens::table)
                .values(NewRevokedRow {
                    kind: RevocationKind::Session.as_str(),
                    user_id,
                    jti: None,
                    session_id: Some(sid),
                    revoked_at: at,
                    expires_at: event_expires_at,
                })
                .execute(conn)
                .await?;
            Ok(Tx::Commit(
                unrevoked.iter().any(|(_, rotated_at)| rotated_at.is_none()),
            ))
        })?)
    }

    async fn revoke_user_sessions_inner(
        &self,
        revocation: &UserRevocation,
    ) -> Result<u64, MySqlError> {
        let UserRevocation {
            user,
            reason,
            at,
            event_expires_at,
            tokens_valid_after,
        } = *revocation;
        limits::REVOKE_REASON.check(reason.as_str())?;
        Ok(transaction!(self, |conn| {
            let unrevoked: Vec<(Option<Vec<u8>>, Option<OffsetDateTime>)> = tokens::table
                .filter(tokens::user_id.eq(user.0))
                .filter(tokens::token_type.eq(REFRESH))
                .filter(tokens::revoked_at.is_null())
                .select((tokens::session_id, tokens::rotated_at))
                .for_update()
                .load(conn)
                .await?;
            // Session -> whether it had a live (unrotated) row.
            let mut sessions: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
            for (sid, rotated_at) in unrevoked {
                *sessions.entry(sid.unwrap_or_default()).or_default() |= rotated_at.is_none();
            }
            if !sessions.is_empty() {
                diesel::update(
                    tokens::table
                        .filter(tokens::user_id.eq(user.0))
                        .filter(tokens::token_type.eq(REFRESH))
                        .filter(tokens::revoked_at.is_null()),
                )
                .set((
                    tokens::revoked_at.eq(at),
                    tokens::revoke_reason.eq(reason.as_str()),
                    tokens::updated_at.eq(at),
                ))
                .execute(conn)
                .await?;
                let ids: Vec<&[u8]> = sessions.keys().map(Vec::as_slice).collect();
                diesel::update(
                    tokens::table
                        .filter(tokens::session_id.eq_any(&ids))
                        .filter(tokens::token_type.eq(ACCESS)),
                )
                .set((tokens::disabled.eq(true), tokens::updated_at.eq(at)))
                .execute(conn)
                .await?;
                let events: Vec<NewRevokedRow<'_>> = ids
                    .iter()
                    .map(|sid| NewRevokedRow {
                        kind: RevocationKind::Session.as_str(),
                        user_id: user.0,
                        jti: None,
                        session_id: Some(sid),
                        revoked_at: at,
                        expires_at: event_expires_at,
                    })
                    .collect();
                diesel::insert_into(revoked_tokens::table)
                    .values(&events)
                    .execute(conn)
                    .await?;
            }
            if let Some(tva) = tokens_valid_after {
                let found = match self.django() {
                    Some(django) => django.set_tokens_valid_after(conn, user, tva).await?,
                    None => {
                        diesel::update(auth_user::table.find(user.0))
                            .set((
                                auth_user::tokens_valid_after.eq(tva),
                                auth_user::updated_at.eq(at),
                            ))
                            .execute(conn)
                            .await?
                    }
                };
                if found > 0 {
                    diesel::insert_into(revoked_tokens::table)
                        .values(NewRevokedRow {
                            kind: RevocationKind::User.as_str(),
                            user_id: user.0,
                            jti: None,
                            session_id: None,
                            revoked_at: at,
                            expires_at: event_expires_at,
                        })
                        .execute(conn)
                        .await?;
                }
            }
            Ok(Tx::Commit(
                sessions.values().filter(|live| **live).count() as u64
            ))
        })?)
    }
}

impl RefreshTokenStore for MySqlTokenStore {
    async fn insert_refresh_token(&self, token: &NewRefreshToken) -> auth_core::Result<()> {
        Ok(self.insert_refresh_token_inner(token).await?)
    }

    async fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        Ok(self.find_refresh_by_hash(hash).await?)
    }

    async fn find_refresh_token_by_id(
        &self,
        id: TokenId,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        Ok(self.find_refresh_by_id(id).await?)
    }

    async fn rotate_refresh_token(&self, rotation: &Rotation) -> auth_core::Result<bool> {
        Ok(self.rotate_inner(rotation).await?)
    }

    async fn replay_refresh_token(&self, replay: &Replay) -> auth_core::Result<bool> {
        Ok(self.replay_inner(replay).await?)
    }

    async fn live_refresh_tokens(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> auth_core::Result<Vec<RefreshTokenRecord>> {
        Ok(self.live_refresh_tokens_inner(user, now).await?)
    }

    async fn live_refresh_token_of_session(
        &self,
        session: SessionId,
    ) -> auth_core::Result<Option<RefreshTokenRecord>> {
        Ok(self.live_refresh_token_of_session_inner(session).await?)
    }

    async fn revoke_session(&self, revocation: &SessionRevocation) -> auth_core::Result<bool> {
        Ok(self.revoke_session_inner(revocation).await?)
    }

    async fn revoke_user_sessions(&self, revocation: &UserRevocation) -> auth_core::Result<u64> {
        Ok(self.revoke_user_sessions_inner(revocation).await?)
    }
}
