//! The tables as diesel sees them (see `migrations-mysql/`).

diesel::table! {
    /// Seed 000's table, extended: refresh-token rows (`token_type = 'refresh'`) and
    /// allowlisted access tokens (`token_type = 'access'`).
    auth_user_tokens (id) {
        id -> Unsigned<Integer>,
        user_id -> BigInt,
        disabled -> Nullable<Bool>,
        access_token -> Nullable<Varchar>,
        created_at -> Datetime,
        updated_at -> Datetime,
        token_type -> Varchar,
        token_id -> Nullable<Binary>,
        token_hash -> Nullable<Binary>,
        jti -> Nullable<Varbinary>,
        session_id -> Nullable<Binary>,
        generation -> Integer,
        issued_at -> Nullable<Datetime>,
        expires_at -> Nullable<Datetime>,
        session_created_at -> Nullable<Datetime>,
        session_expires_at -> Nullable<Datetime>,
        rotated_at -> Nullable<Datetime>,
        replaced_by -> Nullable<Binary>,
        revoked_at -> Nullable<Datetime>,
        revoke_reason -> Nullable<Varchar>,
        reuse_count -> Integer,
        last_used_at -> Nullable<Datetime>,
        user_agent -> Nullable<Varchar>,
        ip -> Nullable<Varchar>,
        successor_seed -> Nullable<Binary>,
        client_id -> Nullable<Varchar>,
        scope -> Nullable<Varchar>,
        device_id -> Nullable<Varchar>,
        device_name -> Nullable<Varchar>,
        dpop_jkt -> Nullable<Varchar>,
    }
}

diesel::table! {
    /// Users.
    auth_user (id) {
        id -> BigInt,
        email -> Nullable<Varbinary>,
        password_hash -> Nullable<Varchar>,
        is_admin -> Bool,
        is_active -> Bool,
        is_verified -> Bool,
        last_login -> Nullable<Datetime>,
        tokens_valid_after -> Nullable<Datetime>,
        created_at -> Datetime,
        updated_at -> Datetime,
        phone_number -> Nullable<Varchar>,
    }
}

diesel::table! {
    /// The revocation feed and denylist.
    revoked_tokens (id) {
        id -> BigInt,
        kind -> Varchar,
        user_id -> BigInt,
        jti -> Nullable<Varbinary>,
        session_id -> Nullable<Binary>,
        revoked_at -> Datetime,
        expires_at -> Datetime,
    }
}

diesel::table! {
    /// The audit log; `details` is a JSON column, read and written as text.
    audit_logs (id) {
        id -> BigInt,
        event_type -> Varchar,
        user_id -> Nullable<BigInt>,
        session_id -> Nullable<Binary>,
        ip -> Nullable<Varchar>,
        user_agent -> Nullable<Varchar>,
        details -> Text,
        created_at -> Datetime,
    }
}

/// Value of `auth_user_tokens.token_type` for refresh tokens.
pub(crate) const REFRESH: &str = "refresh";
/// Value of `auth_user_tokens.token_type` for allowlisted access tokens.
pub(crate) const ACCESS: &str = "access";
