//! [`AccessTokenStore`] over MySQL: allowlisted access tokens (`auth_user_tokens` of type access) and the revocation feed (`revoked_tokens`).

use auth_core::{
    AccessTokenEntry, AccessTokenRevocation, AccessTokenStore, RevocationCursor, RevocationEvent,
    RevocationKind,
};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::RunQueryDsl;

use crate::error::MySqlError;
use crate::limits;
use crate::rows::{AccessRow, NewRevokedRow, RevokedRow};
use crate::schema::{ACCESS, auth_user_tokens as tokens, revoked_tokens};
use crate::statements::InsertAccessToken;
use crate::store::{MySqlTokenStore, Tx, transaction, with_conn};

impl MySqlTokenStore {
    async fn register_access_token_inner(
        &self,
        entry: &AccessTokenEntry,
    ) -> Result<(), MySqlError> {
        limits::JTI.check(&entry.jti)?;
        with_conn!(self, |conn| InsertAccessToken(entry).execute(conn).await)?;
        Ok(())
    }

    async fn find_access_token_inner(
        &self,
        jti: &str,
    ) -> Result<Option<AccessTokenEntry>, MySqlError> {
        if !limits::JTI.fits(jti) {
            return Ok(None);
        }
        let row = with_conn!(self, |conn| tokens::table
            .filter(tokens::jti.eq(jti.as_bytes()))
            .filter(tokens::token_type.eq(ACCESS))
            .select(AccessRow::as_select())
            .first(conn)
            .await
            .optional())?;
        row.map(AccessTokenEntry::try_from).transpose()
    }

    async fn revoke_access_token_inner(
        &self,
        revocation: &AccessTokenRevocation,
    ) -> Result<bool, MySqlError> {
        let (jti, user) = (revocation.jti.as_str(), revocation.user);
        let (at, expires_at) = (revocation.at, revocation.expires_at);
        limits::JTI.check(jti)?;
        Ok(transaction!(self, |conn| {
            diesel::update(
                tokens::table
                    .filter(tokens::jti.eq(jti.as_bytes()))
                    .filter(tokens::token_type.eq(ACCESS)),
            )
            .set((tokens::disabled.eq(true), tokens::updated_at.eq(at)))
            .execute(conn)
            .await?;
            let inserted = diesel::insert_into(revoked_tokens::table)
                .values(NewRevokedRow {
                    kind: RevocationKind::Token.as_str(),
                    user_id: user.0,
                    jti: Some(jti.as_bytes()),
                    session_id: None,
                    revoked_at: at,
                    expires_at,
                })
                .execute(conn)
                .await;
            match inserted {
                Ok(_) => Ok(Tx::Commit(true)),
                // Already revoked: the unique jti refused a second row.
                Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                    Ok(Tx::Commit(false))
                }
                Err(e) => Err(e),
            }
        })?)
    }

    async fn revocation_events_inner(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> Result<Vec<RevocationEvent>, MySqlError> {
        let mut query = revoked_tokens::table
            .select(RevokedRow::as_select())
            .into_boxed();
        query = match cursor.recheck_since {
            Some(since) => query.filter(
                revoked_tokens::id
                    .gt(cursor.after_id)
                    .or(revoked_tokens::revoked_at.ge(since)),
            ),
            None => query.filter(revoked_tokens::id.gt(cursor.after_id)),
        };
        let query = query
            .order(revoked_tokens::id.asc())
            .limit(i64::from(limit));
        let rows = with_conn!(self, |conn| query.load(conn).await)?;
        rows.into_iter().map(RevocationEvent::try_from).collect()
    }
}

impl AccessTokenStore for MySqlTokenStore {
    async fn register_access_token(&self, entry: &AccessTokenEntry) -> auth_core::Result<()> {
        Ok(self.register_access_token_inner(entry).await?)
    }

    async fn find_access_token(&self, jti: &str) -> auth_core::Result<Option<AccessTokenEntry>> {
        Ok(self.find_access_token_inner(jti).await?)
    }

    async fn revoke_access_token(
        &self,
        revocation: &AccessTokenRevocation,
    ) -> auth_core::Result<bool> {
        Ok(self.revoke_access_token_inner(revocation).await?)
    }

    async fn revocation_events(
        &self,
        cursor: &RevocationCursor,
        limit: u32,
    ) -> auth_core::Result<Vec<RevocationEvent>> {
        Ok(self.revocation_events_inner(cursor, limit).await?)
    }
}
