//! The [`Authenticated`] extractor and the state it verifies with.

use std::ops::Deref;
use std::sync::Arc;

use auth_core::{TokenService, TokenStore};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::bearer::access_token;
use crate::dpop::{DpopCheck, check_sender};
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

    /// How DPoP proofs are checked (default `None`: a DPoP-bound token is refused
    /// with [`AuthError::DpopUnsupported`]; unbound bearer tokens work as before).
    fn dpop(&self) -> Option<&DpopCheck> {
        None
    }
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

/// A request whose access token passed its verifier: signature, claims, the route's
/// [`Revocation`] checking and its sender constraint (an unbound token as
/// `Authorization: Bearer`; a DPoP-bound one, `cnf.jkt`, as `Authorization: DPoP`
/// with a valid `DPoP` proof by that key, see [`AuthState::dpop`]). Rejects with 401
/// and `WWW-Authenticate: Bearer ...` or `DPoP ...` ([`AuthError`]). Dereferences to
/// the verified claims.
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

/// Verifies the access token of a request (`parts`: method, URI and headers) with
/// `state`, reporting the outcome.
pub(crate) async fn authenticate<St: AuthState>(
    parts: &Parts,
    state: &St,
    revocation: Revocation,
) -> Result<Authenticated, AuthError> {
    let headers = &parts.headers;
    let (scheme, token) = match access_token(headers) {
        Ok(Some(found)) => found,
        Ok(None) => {
            state.observe_authentication(AuthOutcome::Missing);
            return Err(AuthError::Missing);
        }
        Err(e) => {
            state.observe_authentication(AuthOutcome::Refused(&e));
            return Err(e);
        }
    };
    let verified = match state.verifier().verify(token, revocation).await {
        Ok(auth) => check_sender(
            &auth,
            scheme,
            token,
            state.dpop(),
            &parts.method,
            &parts.uri,
            headers,
        )
        .map(|()| auth),
        Err(e) => Err(e),
    };
    match verified {
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
        authenticate(parts, state, state.default_revocation()).await
    }
}
