//! Resource-server side of auth-tokens: an axum extractor and a tower layer that verify access tokens in-process or against a remote authd.
//!
//! A [`TokenVerifier`] checks a bearer token: a [`TokenService`](auth_core::TokenService)
//! in the same process, or a [`RemoteVerifier`] that fetches the issuer's JWKS (cached,
//! refreshed on an unknown `kid` at most once per `min_refresh_interval`) and, for
//! revocation, follows authd's revocation feed or asks RFC 7662 introspection.
//! Handlers take [`Authenticated`]; routes choose how much revocation checking they
//! need with [`RequireAuth`] (see [`Revocation`]).
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod bearer;
mod dpop;
mod error;
mod extract;
mod feed;
mod introspect;
mod jwks;
mod layer;
mod local;
mod remote;
mod transport;
mod verifier;

pub use bearer::{TokenScheme, access_token, bearer_token};
pub use dpop::{DPOP_HEADER, DpopCheck};
pub use error::{
    AuthError, BEARER_CHALLENGE, DPOP_NONCE_CHALLENGE, DPOP_PROOF_CHALLENGE, DPOP_TOKEN_CHALLENGE,
    INVALID_TOKEN_CHALLENGE,
};
pub use extract::{AuthOutcome, AuthState, Authenticated};
pub use feed::{FEED_POLL_WAIT, FeedEvent, FeedPage, RevocationFeed};
pub use introspect::Introspector;
pub use jwks::{JwksCache, JwksSettings};
pub use layer::{RequireAuth, RequireAuthService};
pub use remote::{ClientCredentials, RemoteVerifier, RemoteVerifierBuilder};
pub use verifier::{Revocation, TokenVerifier};
