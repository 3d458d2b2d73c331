//! What a grant adds to the access tokens it issues: the RFC 9068 `client_id` of the
//! OAuth client that asked, and the `scope` it was granted.

use serde_json::{Map, Value};

/// Claims the token endpoint adds to an access token (RFC 9068 section 2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantClaims {
    /// The OAuth client the token was issued to.
    pub client_id: Option<String>,
    /// The granted scope, space-separated.
    pub scope: Option<String>,
}

impl GrantClaims {
    /// Sets `client_id` and `scope` in `claims` where given.
    pub(crate) fn insert_into(&self, claims: &mut Map<String, Value>) {
        if let Some(client_id) = &self.client_id {
            claims.insert("client_id".into(), client_id.clone().into());
        }
        if let Some(scope) = &self.scope {
            claims.insert("scope".into(), scope.clone().into());
        }
    }
}
