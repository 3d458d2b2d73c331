//! What checks a bearer token, and how much revocation checking a route asks for.

use std::future::Future;
use std::sync::Arc;

use crate::error::AuthError;
use crate::extract::Authenticated;

/// How much a route checks beyond signature and claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Revocation {
    /// Signature and claims only: a revoked token passes until it expires.
    Stateless,
    /// The verifier's revocation state, at most its stated staleness old. In-process:
    /// the [`TokenService`](auth_core::TokenService)'s configured mode through its
    /// cache. Remote: the revocation feed the verifier follows (or introspection when
    /// it follows none).
    #[default]
    Cached,
    /// The source of truth for this very request. In-process: the revocation cache is
    /// synced first. Remote: RFC 7662 introspection.
    Strict,
}

/// Checks bearer access tokens. Implemented by [`TokenService`](auth_core::TokenService)
/// (in-process, over its store) and [`RemoteVerifier`](crate::RemoteVerifier).
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` with the given revocation checking.
    fn verify(
        &self,
        token: &str,
        revocation: Revocation,
    ) -> impl Future<Output = Result<Authenticated, AuthError>> + Send;
}

impl<V: TokenVerifier> TokenVerifier for Arc<V> {
    fn verify(
        &self,
        token: &str,
        revocation: Revocation,
    ) -> impl Future<Output = Result<Authenticated, AuthError>> + Send {
        (**self).verify(token, revocation)
    }
}
