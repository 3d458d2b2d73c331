//! The writes on the refresh path as statements with constant SQL.
//!
//! diesel never caches the prepared form of its own `UPDATE` statements, nor of
//! `INSERT`s built from `Insertable` values (a value may turn into `DEFAULT`), so each
//! would cost a `PREPARE` round trip per execution. These fragments push constant SQL
//! and bound parameters only, so diesel-async prepares each once per connection.

use auth_core::time::OffsetDateTime;
use auth_core::{AccessTokenEntry, NewRefreshToken};
use diesel::QueryResult;
use diesel::mysql::Mysql;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Binary, Bool, Datetime, Integer, Nullable, Text, Varchar};

macro_rules! static_query_id {
    ($name:ident) => {
        impl QueryId for $name<'_> {
            type QueryId = $name<'static>;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
    };
}

/// `INSERT` of a refresh-token row (first of a session, or a rotation successor).
pub(crate) struct InsertRefreshToken<'a>(pub(crate) &'a NewRefreshToken);

static_query_id!(InsertRefreshToken);

impl QueryFragment<Mysql> for InsertRefreshToken<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        let t = self.0;
        out.push_sql(
            "INSERT INTO auth_user_tokens (token_type, user_id, token_id, token_hash, session_id, generation, \
             issued_at, expires_at, session_created_at, session_expires_at, created_at, updated_at, \
             user_agent, ip, client_id, scope, device_id, device_name, dpop_jkt) VALUES ('refresh', ",
        );
        out.push_bind_param::<BigInt, _>(&t.user_id.0)?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, _>(t.id.0.as_bytes().as_slice())?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, _>(t.hash.as_bytes().as_slice())?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, _>(t.session_id.0.as_bytes().as_slice())?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&t.generation)?;
        // The legacy row times are the issue time, not the columns' server-clock defaults.
        for at in [
            &t.issued_at,
            &t.expires_at,
            &t.session_created_at,
            &t.session_expires_at,
            &t.issued_at,
            &t.issued_at,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Datetime, _>(at)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Varchar>, _>(&t.user_agent)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Varchar>, _>(&t.ip)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Varchar>, _>(&t.client_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Varchar>, _>(&t.scope)?;
        for device_field in [
            &t.device.device_id,
            &t.device.device_name,
            &t.device.dpop_jkt,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Varchar>, _>(device_field)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

/// Retires the live token `current`, storing its successor's seed: matches only while
/// it is neither rotated nor revoked.
pub(crate) struct RetireToken<'a> {
    pub(crate) current: &'a [u8],
    pub(crate) successor: &'a [u8],
    pub(crate) successor_seed: &'a [u8],
    pub(crate) at: &'a OffsetDateTime,
}

static_query_id!(RetireToken);

impl QueryFragment<Mysql> for RetireToken<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.push_sql("UPDATE auth_user_tokens SET rotated_at = ");
        out.push_bind_param::<Datetime, _>(self.at)?;
        out.push_sql(", replaced_by = ");
        out.push_bind_param::<Binary, _>(self.successor)?;
        out.push_sql(", successor_seed = ");
        out.push_bind_param::<Binary, _>(self.successor_seed)?;
        out.push_sql(", last_used_at = ");
        out.push_bind_param::<Datetime, _>(self.at)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<Datetime, _>(self.at)?;
        out.push_sql(" WHERE token_id = ");
        out.push_bind_param::<Binary, _>(self.current)?;
        out.push_sql(" AND token_type = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL");
        Ok(())
    }
}

/// A retry replay: spends one unit of the predecessor's `reuse_count`, only while it is
/// under the budget and `replaced_by` is still the successor.
pub(crate) struct SpendReplayBudget<'a> {
    pub(crate) predecessor: &'a [u8],
    pub(crate) successor: &'a [u8],
    pub(crate) budget: &'a i32,
}

static_query_id!(SpendReplayBudget);

impl QueryFragment<Mysql> for SpendReplayBudget<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.push_sql("UPDATE auth_user_tokens SET reuse_count = reuse_count + 1 WHERE token_id = ");
        out.push_bind_param::<Binary, _>(self.predecessor)?;
        out.push_sql(" AND token_type = 'refresh' AND replaced_by = ");
        out.push_bind_param::<Binary, _>(self.successor)?;
        out.push_sql(" AND reuse_count < ");
        out.push_bind_param::<Integer, _>(self.budget)?;
        Ok(())
    }
}

/// `INSERT` of an allowlisted access token.
pub(crate) struct InsertAccessToken<'a>(pub(crate) &'a AccessTokenEntry);

static_query_id!(InsertAccessToken);

impl QueryFragment<Mysql> for InsertAccessToken<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        let e = self.0;
        out.push_sql(
            "INSERT INTO auth_user_tokens (token_type, user_id, jti, session_id, issued_at, expires_at, \
             created_at, updated_at, disabled) VALUES ('access', ",
        );
        out.push_bind_param::<BigInt, _>(&e.user_id.0)?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, _>(e.jti.as_bytes())?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, _>(e.session_id.0.as_bytes().as_slice())?;
        out.push_sql(", ");
        out.push_bind_param::<Datetime, _>(&e.issued_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Datetime, _>(&e.expires_at)?;
        for at in [&e.issued_at, &e.issued_at] {
            out.push_sql(", ");
            out.push_bind_param::<Datetime, _>(at)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&e.disabled)?;
        out.push_sql(")");
        Ok(())
    }
}

/// `INSERT` of an audit row.
#[derive(Clone)]
pub(crate) struct InsertAudit<'a> {
    pub(crate) event_type: &'a str,
    pub(crate) user_id: Option<i64>,
    pub(crate) session_id: Option<&'a [u8]>,
    pub(crate) ip: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) details: String,
    pub(crate) created_at: &'a OffsetDateTime,
}

static_query_id!(InsertAudit);

impl QueryFragment<Mysql> for InsertAudit<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO audit_logs (event_type, user_id, session_id, ip, user_agent, details, created_at) VALUES (",
        );
        out.push_bind_param::<Varchar, _>(self.event_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Binary>, _>(&self.session_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Varchar>, _>(&self.ip)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Varchar>, _>(&self.user_agent)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.details)?;
        out.push_sql(", ");
        out.push_bind_param::<Datetime, _>(self.created_at)?;
        out.push_sql(")");
        Ok(())
    }
}
