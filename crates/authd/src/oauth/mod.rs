//! The OAuth 2.0 surface: registered clients, the token endpoint (RFC 6749),
//! introspection (RFC 7662), the revocation feed, metadata (RFC 8414, OpenID
//! discovery) and the JWKS with ETag. One file per flow.

pub(crate) mod clients;
mod feed;
mod form;
mod introspect;
mod jwks;
pub(crate) mod metadata;
mod token;

use auth_core::TokenStore;
use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;
use clients::ClientRegistry;
pub(crate) use form::is_form;
use metadata::{
    FEED_PATH, INTROSPECT_PATH, JWKS_PATH, METADATA_PATH, OPENID_PATH, REVOKE_PATH, TOKEN_PATH,
};

/// What the OAuth endpoints share.
#[derive(Debug, Clone, Default)]
pub struct OAuth {
    /// The registered clients.
    pub clients: ClientRegistry,
}

/// Every OAuth route (for the metrics' `route` label).
pub(crate) const OAUTH_ROUTES: [&str; 7] = [
    TOKEN_PATH,
    INTROSPECT_PATH,
    REVOKE_PATH,
    FEED_PATH,
    METADATA_PATH,
    OPENID_PATH,
    JWKS_PATH,
];

/// The OAuth routes; `revoke` is the RFC 7009 handler shared with `/v1/auth/revoke`.
pub(crate) fn routes<S: TokenStore, H, T>(revoke: H) -> Router<AppState<S>>
where
    H: axum::handler::Handler<T, AppState<S>>,
    T: 'static,
{
    Router::new()
        .route(TOKEN_PATH, post(token::token::<S>))
        .route(INTROSPECT_PATH, post(introspect::introspect::<S>))
        .route(REVOKE_PATH, post(revoke))
        .route(FEED_PATH, get(feed::revocations::<S>))
        .route(METADATA_PATH, get(metadata::authorization_server::<S>))
        .route(OPENID_PATH, get(metadata::openid_configuration::<S>))
        .route(JWKS_PATH, get(jwks::jwks::<S>))
}
