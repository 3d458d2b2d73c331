//! The SQL text of the hot-path statements, shared by the store and its benchmark.

/// The columns of a user read (a select list or a `RETURNING` list), as
/// [`PgStatements::FIND_USER`] documents them.
macro_rules! user_columns {
    () => {
        "id::bigint AS id, email, password_hash, \
         COALESCE(is_active, FALSE) AS is_active, COALESCE(is_admin, FALSE) AS is_admin, \
         tokens_valid_after, last_login::timestamptz AS last_login"
    };
}
pub(crate) use user_columns;

/// The SQL the store runs on the refresh path, published so the same statements can be
/// inspected (`EXPLAIN`) or timed through the bare driver. Parameters are listed per
/// statement.
#[derive(Debug, Clone, Copy)]
pub struct PgStatements;

impl PgStatements {
    /// A refresh-token row by hash. `$1` token_hash (bytea).
    pub const FIND_REFRESH_TOKEN: &'static str = "SELECT id, user_id, session_id, generation, \
        token_hash, issued_at, expires_at, session_created_at, session_expires_at, rotated_at, \
        replaced_by, revoked_at, revoke_reason, reuse_count, user_agent, ip, successor_seed, \
        client_id, scope, device_id, device_name, dpop_jkt FROM refresh_tokens WHERE token_hash = $1";

    /// A refresh-token row by id. `$1` id (uuid).
    pub const FIND_REFRESH_TOKEN_BY_ID: &'static str = "SELECT id, user_id, session_id, generation, \
        token_hash, issued_at, expires_at, session_created_at, session_expires_at, rotated_at, \
        replaced_by, revoked_at, revoke_reason, reuse_count, user_agent, ip, successor_seed, \
        client_id, scope, device_id, device_name, dpop_jkt FROM refresh_tokens WHERE id = $1";

    /// A user by id. `$1` id (bigint). Written for adopted tables too (migration
    /// `adopt_users`): an `integer` id, a nullable `is_active` (NULL reads as inactive,
    /// fail closed), a `timestamp without time zone` last_login (read as UTC, the
    /// session time zone sqlx sets). The store adds its claim columns' object.
    pub const FIND_USER: &'static str =
        concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

    /// A user by normalised email. `$1` email. Columns as [`Self::FIND_USER`].
    pub const FIND_USER_BY_EMAIL: &'static str =
        concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");

    /// Rotation in one statement: retire the current token only if it is still live
    /// (and of the successor's user and session), storing the successor's seed on it, and
    /// insert the successor only from the retired row, so nothing is written unless the
    /// current token was live. Concurrent callers serialise on the current row's lock;
    /// under READ COMMITTED a waiter re-checks `rotated_at IS NULL` on the committed row
    /// and retires nothing. Returns the number of successors inserted (0 or 1).
    ///
    /// `$1` current id, `$2` rotated_at, `$3` successor id, `$4` user_id, `$5` session_id,
    /// `$6` generation, `$7` token_hash, `$8` issued_at, `$9` expires_at,
    /// `$10` session_created_at, `$11` session_expires_at, `$12` user_agent, `$13` ip,
    /// `$14` client_id, `$15` scope, `$16` successor_seed; the audit row (written only
    /// with the successor): `$17` event_type, `$18` user_id, `$19` session_id, `$20` ip,
    /// `$21` user_agent, `$22` details, `$23` created_at; the successor's device:
    /// `$24` device_id, `$25` device_name, `$26` dpop_jkt.
    pub const ROTATE: &'static str = "WITH cur AS ( \
            UPDATE refresh_tokens SET rotated_at = $2, replaced_by = $3, successor_seed = $16 \
            WHERE id = $1 AND user_id = $4 AND session_id = $5 \
              AND rotated_at IS NULL AND revoked_at IS NULL \
            RETURNING id \
        ), ins AS ( \
            INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, issued_at, \
                expires_at, session_created_at, session_expires_at, user_agent, ip, client_id, scope, \
                device_id, device_name, dpop_jkt) \
            SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $24, $25, $26 FROM cur \
            RETURNING id \
        ), aud AS ( \
            INSERT INTO audit_logs (event_type, user_id, session_id, ip, user_agent, details, created_at) \
            SELECT $17::varchar, $18::bigint, $19::uuid, $20::varchar, $21::varchar, $22::jsonb, $23::timestamptz \
            FROM ins \
            RETURNING id \
        ) \
        SELECT count(*) FROM ins";

    /// A replay in one statement: with a budget (`$3` not null), spend one unit of the
    /// predecessor's `reuse_count` only while it is below `$3` and `replaced_by` is still
    /// the successor; append the audit row only if the budget was spent or there is
    /// none. Returns the number of audit rows written (0 or 1).
    ///
    /// `$1` predecessor id, `$2` successor id, `$3` budget (nullable integer), then the
    /// audit row's seven as `$4`-`$10`.
    pub const REPLAY: &'static str = "WITH spent AS ( \
            UPDATE refresh_tokens SET reuse_count = reuse_count + 1 \
            WHERE id = $1 AND replaced_by = $2 AND reuse_count < $3::integer \
            RETURNING id \
        ), ok AS ( \
            SELECT 1 WHERE $3::integer IS NULL OR EXISTS (SELECT 1 FROM spent) \
        ), aud AS ( \
            INSERT INTO audit_logs (event_type, user_id, session_id, ip, user_agent, details, created_at) \
            SELECT $4::varchar, $5::bigint, $6::uuid, $7::varchar, $8::varchar, $9::jsonb, $10::timestamptz \
            FROM ok \
            RETURNING id \
        ) \
        SELECT count(*) FROM aud";

    /// An audit row. `$1` event_type, `$2` user_id, `$3` session_id, `$4` ip,
    /// `$5` user_agent, `$6` details (jsonb), `$7` created_at.
    pub const APPEND_AUDIT: &'static str = "INSERT INTO audit_logs \
        (event_type, user_id, session_id, ip, user_agent, details, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7)";

    // Each batch picks at most $2 rows through an index range scan and deletes them by
    // `= ANY(ARRAY(...))`, never by `IN (SELECT ... LIMIT n)`, which was planned as a
    // semi-join scanning the whole table per batch. Measured on 1M expired rows:
    // - rows are addressed by `ctid` (a TID scan of the heap pages the index scan just
    //   visited), not by the random UUIDv4 primary key: by `id`, a 1000-row batch made
    //   ~1000 random primary-key page reads (5-10 ms), by `ctid` 0.7 ms;
    // - each batch starts at the previous batch's last key (`>= $3`, keyset pagination):
    //   starting from the low end, batch k stepped over the k*1000 index entries of the
    //   rows already deleted, so batches slowed down as the run went on.
    // The ctids are read and used within one statement, hence one snapshot; a row
    // updated meanwhile has moved and is skipped (the next run takes it), and the outer
    // predicate repeats the rule, so only matching rows are ever deleted.
    // The deletes are idempotent: should a crash lose the last batches' commits, the next
    // run deletes those rows again. So a batch does not wait for its WAL flush (an fsync
    // per batch dominated the run): `set_config(..., true)` turns synchronous_commit off
    // for the statement's own implicit transaction only, never for the pooled session.
    // One statement per batch, so its locks are held for the statement's execution only.
    // Each returns the rows deleted and the highest key among them.

    /// Refresh-token rows of sessions past their absolute expiry before the cutoff `$1`,
    /// from `session_expires_at >= $3` up; at most `$2` rows.
    pub const DELETE_EXPIRED_SESSIONS: &'static str = "WITH async AS MATERIALIZED ( \
            SELECT set_config('synchronous_commit', 'off', true) \
        ), batch AS ( \
            DELETE FROM refresh_tokens WHERE ctid = ANY(ARRAY( \
                SELECT ctid FROM refresh_tokens WHERE session_expires_at < $1 AND session_expires_at >= $3 \
                ORDER BY session_expires_at LIMIT $2)) \
              AND session_expires_at < $1 \
            RETURNING session_expires_at AS key \
        ) SELECT (SELECT count(*) FROM batch), (SELECT max(key) FROM batch) FROM async";

    /// Refresh-token rows of sessions revoked before the cutoff `$1`, from
    /// `revoked_at >= $3` up; at most `$2` rows.
    pub const DELETE_REVOKED_SESSIONS: &'static str = "WITH async AS MATERIALIZED ( \
            SELECT set_config('synchronous_commit', 'off', true) \
        ), batch AS ( \
            DELETE FROM refresh_tokens WHERE ctid = ANY(ARRAY( \
                SELECT ctid FROM refresh_tokens WHERE revoked_at < $1 AND revoked_at >= $3 \
                ORDER BY revoked_at LIMIT $2)) \
              AND revoked_at < $1 \
            RETURNING revoked_at AS key \
        ) SELECT (SELECT count(*) FROM batch), (SELECT max(key) FROM batch) FROM async";

    /// Revocation rows that expired before `$1` (no token they concern can still be
    /// valid), from `expires_at >= $3` up; at most `$2` rows.
    pub const DELETE_EXPIRED_REVOCATIONS: &'static str = "WITH async AS MATERIALIZED ( \
            SELECT set_config('synchronous_commit', 'off', true) \
        ), batch AS ( \
            DELETE FROM revoked_tokens WHERE ctid = ANY(ARRAY( \
                SELECT ctid FROM revoked_tokens WHERE expires_at < $1 AND expires_at >= $3 \
                ORDER BY expires_at LIMIT $2)) \
              AND expires_at < $1 \
            RETURNING expires_at AS key \
        ) SELECT (SELECT count(*) FROM batch), (SELECT max(key) FROM batch) FROM async";

    /// Allowlist rows of access tokens that expired before `$1`, from `expires_at >= $3`
    /// up; at most `$2` rows.
    pub const DELETE_EXPIRED_ACCESS_TOKENS: &'static str = "WITH async AS MATERIALIZED ( \
            SELECT set_config('synchronous_commit', 'off', true) \
        ), batch AS ( \
            DELETE FROM auth_user_tokens WHERE ctid = ANY(ARRAY( \
                SELECT ctid FROM auth_user_tokens WHERE expires_at < $1 AND expires_at >= $3 \
                ORDER BY expires_at LIMIT $2)) \
              AND expires_at < $1 \
            RETURNING expires_at AS key \
        ) SELECT (SELECT count(*) FROM batch), (SELECT max(key) FROM batch) FROM async";

    /// One-time-code rows created before the cutoff `$1` that are spent (consumed,
    /// revoked, out of attempts, or expired before `$1`), from `created_at >= $3` up; at
    /// most `$2` rows.
    pub const DELETE_SPENT_ONE_TIME_CODES: &'static str = "WITH async AS MATERIALIZED ( \
            SELECT set_config('synchronous_commit', 'off', true) \
        ), batch AS ( \
            DELETE FROM one_time_codes WHERE ctid = ANY(ARRAY( \
                SELECT ctid FROM one_time_codes WHERE created_at < $1 AND created_at >= $3 \
                  AND (consumed_at IS NOT NULL OR revoked_at IS NOT NULL \
                       OR attempts >= max_attempts OR expires_at < $1) \
                ORDER BY created_at LIMIT $2)) \
              AND created_at < $1 \
              AND (consumed_at IS NOT NULL OR revoked_at IS NOT NULL \
                   OR attempts >= max_attempts OR expires_at < $1) \
            RETURNING created_at AS key \
        ) SELECT (SELECT count(*) FROM batch), (SELECT max(key) FROM batch) FROM async";
}
