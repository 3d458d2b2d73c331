//! RFC 7662 introspection: asks the authorization server whether a token is active.

use crate::error::AuthError;
use crate::remote::ClientCredentials;

/// An introspection client, authenticated as a confidential client (HTTP Basic).
#[derive(Debug, Clone)]
pub struct Introspector {
    http: reqwest::Client,
    url: String,
    client: ClientCredentials,
}

impl Introspector {
    /// A client of the introspection endpoint at `url`.
    pub fn new(http: reqwest::Client, url: impl Into<String>, client: ClientCredentials) -> Self {
        Self {
            http,
            url: url.into(),
            client,
        }
    }

    /// Whether the server says the access token is active now.
    pub async fn is_active(&self, token: &str) -> Result<bool, AuthError> {
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&self.client.id, Some(&self.client.secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| crate::transport::request_failed("calling introspection", e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(AuthError::Unavailable {
                what: "introspection answered an error",
                source: Some(format!("HTTP {status}").into()),
            });
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| AuthError::unavailable("reading introspection", e))?;
        Ok(body["active"].as_bool() == Some(true))
    }
}
