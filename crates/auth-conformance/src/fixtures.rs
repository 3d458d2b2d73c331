//! Rows for the backends' own store-level tests of the contract.

use auth_core::time::{Duration, OffsetDateTime};
use auth_core::{NewRefreshToken, RefreshToken, SessionDevice, SessionId, TokenId, UserId};

/// The generation-0 refresh token of a new session of `user`, issued at `at`
/// (14-day token, 30-day session).
pub fn first_refresh_token(user: UserId, at: OffsetDateTime) -> NewRefreshToken {
    NewRefreshToken {
        id: TokenId::new(),
        hash: RefreshToken::generate().hash(),
        user_id: user,
        session_id: SessionId::new(),
        generation: 0,
        issued_at: at,
        expires_at: at + Duration::days(14),
        session_created_at: at,
        session_expires_at: at + Duration::days(30),
        user_agent: Some("rotation-test".into()),
        ip: Some("192.0.2.1".into()),
        client_id: Some("rotation-client".into()),
        scope: Some("profile read".into()),
        device: SessionDevice {
            device_id: Some("device-7f3a".into()),
            device_name: Some("Ada's phone".into()),
            dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
        },
    }
}

/// The successor a rotation of `token` at `at` inserts.
pub fn successor_of(token: &NewRefreshToken, at: OffsetDateTime) -> NewRefreshToken {
    NewRefreshToken {
        id: TokenId::new(),
        hash: RefreshToken::generate().hash(),
        generation: token.generation + 1,
        issued_at: at,
        ..token.clone()
    }
}
