//! The [`Authenticated`] extractor and the state it verifies with.

use std::ops::Deref;
use std::sync::Arc;

use auth_core::{TokenService, TokenStore};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::bearer::bearer_token;
use crate::error::AuthError;
use crate::remote::RemoteVerifier;
use crate::verifier::{Revocation, TokenVerifier};

/// How one bearer-token check ended; see [`AuthState::observe_authentication`].
#[derive(Debug, Clone, Copy)]
pub enum AuthOutcome<'a> {
    /// The token was accepted.
    Accepted,
    /// The request carried no bearer token.
    Missing,
    /// The token was refused, or the check failed.
    Refused(&'a AuthError),
}

/// Router state that can check bearer tokens. Implemented for every
/// [`TokenVerifier`] (a `TokenService`, a [`RemoteVerifier`], an `Arc` of either);
/// an application implements it for its own state in three lines:
///
/// ```
/// use auth_axum::{AuthState, Authenticated};
/// use auth_core::{TokenService, TokenStore};
///
/// #[derive(Clone)]
/// struct MyState<S: TokenStore> {
///     tokens: TokenService<S>,
///     greeting: &'static str,
/// }
///
/// impl<S: TokenStore> AuthState for MyState<S> {
///     type Verifier = TokenService<S>;
///     fn verifier(&self) -> &TokenService<S> {
///         &self.tokens
///     }
/// }
///
/// async fn hello<S: TokenStore>(
///     axum::extract::State(state): axum::extract::State<MyState<S>>,
///     auth: Authenticated,
/// ) -> String {
///     format!("{} user {}", state.greeting, auth.user_id)
/// }
///
/// fn routes<S: TokenStore>(state: MyState<S>) -> axum::Router {
///     axum::Router::new().route("/hello", axum::routing::get(hello::<S>)).with_state(state)
/// }
/// ```
pub trait AuthState: Send + Sync {
    /// What verifies the tokens.
    type Verifier: TokenVerifier;

    /// The verifier.
    fn verifier(&self) -> &Self::Verifier;

    /// The revocation checking of routes without a [`RequireAuth`](crate::RequireAuth)
    /// layer (default [`Revocation::Cached`]).
    fn default_revocation(&self) -> Revocation {
        Revocation::Cached
    }

    /// Called with every authentication's outcome (authd counts them for /metrics).
    fn observe_authentication(&self, _outcome: AuthOutcome<'_>) {}
}

impl<S: TokenStore> AuthState for TokenService<S> {
    type Verifier = Self;
    fn verifier(&self) -> &Self {
        self
    }
}

impl<S: TokenStore> AuthState for Arc<TokenService<S>> {
    type Verifier = Self;
    fn verifier(&self) -> &Self {
        self
    }
}

impl AuthState for RemoteVerifier {
    type Verifier = Self;
    fn verifier(&self) -> &Self {
        self
    }
}

/// A request whose `Authorization: Bearer` access token passed its verifier:
/// signature, claims and the route's [`Revocation`] checking. Rejects with 401 and
/// `WWW-Authenticate: Bearer ...` ([`AuthError`]). Dereferences to the verified claims.
#[derive(Debug, Clone)]
pub struct Authenticated(pub auth_core::Authenticated);

impl Deref for Authenticated {
    type Target = auth_core::Authenticated;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Authenticated {
    /// The `client_id` claim (RFC 9068 section 2.2), if the token has one.
    pub fn client_id(&self) -> Option<String> {
        self.0.claim("client_id")
    }

    /// Whether the space-separated `scope` claim contains `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0
            .claim::<String>("scope")
            .is_some_and(|s| s.split(' ').any(|s| s == scope))
    }
}

/// Verifies the bearer token of `headers` with `state`, reporting the outcome.
pub(crate) async fn authenticate<St: AuthState>(
    headers: &HeaderMap,
    state: &St,
    revocation: Revocation,
) -> Result<Authenticated, AuthError> {
    let token = match bearer_token(headers) {
        Ok(Some(token)) => token,
        Ok(None) => {
            state.observe_authentication(AuthOutcome::Missing);
            return Err(AuthError::Missing);
        }
        Err(e) => {
            state.observe_authentication(AuthOutcome::Refused(&e));
            return Err(e);
        }
    };
    match state.verifier().verify(token, revocation).await {
        Ok(auth) => {
            state.observe_authentication(AuthOutcome::Accepted);
            Ok(auth)
        }
        Err(e) => {
            state.observe_authentication(AuthOutcome::Refused(&e));
            Err(e)
        }
    }
}

impl<St: AuthState> FromRequestParts<St> for Authenticated {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        // A RequireAuth layer in front already verified the token with the route's mode.
        if let Some(auth) = parts.extensions.get::<Authenticated>() {
            return Ok(auth.clone());
        }
        authenticate(&parts.headers, state, state.default_revocation()).await
    }
}
