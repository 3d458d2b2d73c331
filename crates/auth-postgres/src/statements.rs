//! The SQL text of the hot-path statements, shared by the store and its benchmark.

/// The SQL the store runs on the refresh path, published so the same statements can be
/// inspected (`EXPLAIN`) or timed through the bare driver. Parameters are listed per
/// statement.
#[derive(Debug, Clone, Copy)]
pub struct PgStatements;

impl PgStatements {
    /// A refresh-token row by hash. `$1` token_hash (bytea).
    pub const FIND_REFRESH_TOKEN: &'static str = "SELECT id, user_id, session_id, generation, \
        token_hash, issued_at, expires_at, session_created_at, session_expires_at, rotated_at, \
        replaced_by, revoked_at, revoke_reason, reuse_count, user_agent, ip \
        FROM refresh_tokens WHERE token_hash = $1";

    /// A refresh-token row by id. `$1` id (uuid).
    pub const FIND_REFRESH_TOKEN_BY_ID: &'static str = "SELECT id, user_id, session_id, generation, \
        token_hash, issued_at, expires_at, session_created_at, session_expires_at, rotated_at, \
        replaced_by, revoked_at, revoke_reason, reuse_count, user_agent, ip \
        FROM refresh_tokens WHERE id = $1";

    /// A user by id. `$1` id (bigint).
    pub const FIND_USER: &'static str = "SELECT id, email, password_hash, is_active, is_admin, \
        tokens_valid_after, last_login FROM users WHERE id = $1";

    /// A user by normalised email. `$1` email.
    pub const FIND_USER_BY_EMAIL: &'static str = "SELECT id, email, password_hash, is_active, \
        is_admin, tokens_valid_after, last_login FROM users WHERE email = $1";

    /// Strict rotation in one statement: retire the current token only if it is still live
    /// (and of the successor's user and session), and insert the successor only from the
    /// retired row, so nothing is written unless the current token was live. Concurrent
    /// callers serialise on the current row's lock; under READ COMMITTED a waiter re-checks
    /// `rotated_at IS NULL` on the committed row and retires nothing.
    /// Returns the number of successors inserted (0 or 1).
    ///
    /// `$1` current id, `$2` rotated_at, `$3` successor id, `$4` user_id, `$5` session_id,
    /// `$6` generation, `$7` token_hash, `$8` issued_at, `$9` expires_at,
    /// `$10` session_created_at, `$11` session_expires_at, `$12` user_agent, `$13` ip.
    pub const ROTATE: &'static str = "WITH cur AS ( \
            UPDATE refresh_tokens SET rotated_at = $2, replaced_by = $3 \
            WHERE id = $1 AND user_id = $4 AND session_id = $5 \
              AND rotated_at IS NULL AND revoked_at IS NULL \
            RETURNING id \
        ), ins AS ( \
            INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, issued_at, \
                expires_at, session_created_at, session_expires_at, user_agent, ip) \
            SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM cur \
            RETURNING id \
        ) \
        SELECT count(*) FROM ins";

    /// Grace re-exchange in one statement. `lk` locks both rows (in id order, so two
    /// re-exchanges cannot deadlock each other) and reads their committed state; `ok` holds
    /// only if the current token is live and of the right user and session, and the
    /// predecessor is of that session with reuse budget left. The predecessor's update
    /// requires `ok`, the current token's update requires the predecessor's update to have
    /// happened, and the successor is inserted only from the retired current row: with both
    /// rows locked, either all three writes happen or none. Returns 0 or 1.
    ///
    /// Parameters as [`ROTATE`](Self::ROTATE), plus `$14` predecessor id and `$15` max_reuse.
    pub const ROTATE_WITH_GRACE: &'static str = "WITH lk AS ( \
            SELECT id, user_id, session_id, rotated_at, revoked_at, reuse_count \
            FROM refresh_tokens WHERE id = $1 OR id = $14 ORDER BY id FOR UPDATE \
        ), ok AS ( \
            SELECT 1 FROM lk c JOIN lk p ON p.id = $14 AND p.session_id = $5 \
            WHERE c.id = $1 AND c.user_id = $4 AND c.session_id = $5 \
              AND c.rotated_at IS NULL AND c.revoked_at IS NULL AND p.reuse_count < $15 \
        ), grace AS ( \
            UPDATE refresh_tokens SET replaced_by = $3, reuse_count = reuse_count + 1 \
            WHERE id = $14 AND session_id = $5 AND reuse_count < $15 AND EXISTS (SELECT 1 FROM ok) \
            RETURNING id \
        ), cur AS ( \
            UPDATE refresh_tokens SET rotated_at = $2, replaced_by = $3 \
            WHERE id = $1 AND user_id = $4 AND session_id = $5 \
              AND rotated_at IS NULL AND revoked_at IS NULL AND EXISTS (SELECT 1 FROM grace) \
            RETURNING id \
        ), ins AS ( \
            INSERT INTO refresh_tokens (id, user_id, session_id, generation, token_hash, issued_at, \
                expires_at, session_created_at, session_expires_at, user_agent, ip) \
            SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM cur \
            RETURNING id \
        ) \
        SELECT count(*) FROM ins";

    /// An audit row. `$1` event_type, `$2` user_id, `$3` session_id, `$4` ip,
    /// `$5` user_agent, `$6` details (jsonb), `$7` created_at.
    pub const APPEND_AUDIT: &'static str = "INSERT INTO audit_logs \
        (event_type, user_id, session_id, ip, user_agent, details, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7)";

    // Each batch picks at most $2 ids through an index range scan (ORDER BY the indexed
    // column keeps the planner on the index, so a batch never seq-scans the dead rows of the
    // batches before it) and deletes them by `id = ANY(ARRAY(...))`, which the planner runs
    // as an index lookup per id; `id IN (SELECT ... LIMIT n)` was planned as a semi-join that
    // scanned the whole table per batch.

    /// Refresh-token rows of sessions past their absolute expiry before the cutoff `$1`.
    pub const DELETE_EXPIRED_SESSIONS: &'static str = "DELETE FROM refresh_tokens WHERE id = ANY(ARRAY( \
            SELECT id FROM refresh_tokens WHERE session_expires_at < $1 \
            ORDER BY session_expires_at LIMIT $2))";

    /// Refresh-token rows of sessions revoked before the cutoff `$1`.
    pub const DELETE_REVOKED_SESSIONS: &'static str = "DELETE FROM refresh_tokens WHERE id = ANY(ARRAY( \
            SELECT id FROM refresh_tokens WHERE revoked_at IS NOT NULL AND revoked_at < $1 \
            ORDER BY revoked_at LIMIT $2))";

    /// Revocation rows after which no token they concern can be valid.
    pub const DELETE_EXPIRED_REVOCATIONS: &'static str = "DELETE FROM revoked_tokens WHERE id = ANY(ARRAY( \
            SELECT id FROM revoked_tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2))";

    /// Allowlist rows of expired access tokens.
    pub const DELETE_EXPIRED_ACCESS_TOKENS: &'static str = "DELETE FROM auth_user_tokens WHERE id = ANY(ARRAY( \
            SELECT id FROM auth_user_tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2))";
}
