//! In-process verification with a [`TokenService`].

use auth_core::{TokenService, TokenStore};

use crate::error::AuthError;
use crate::extract::Authenticated;
use crate::verifier::{Revocation, TokenVerifier};

impl<S: TokenStore> TokenVerifier for TokenService<S> {
    async fn verify(
        &self,
        token: &str,
        revocation: Revocation,
    ) -> Result<Authenticated, AuthError> {
        let verified = match revocation {
            Revocation::Stateless => self.verify_signature_and_claims(token)?,
            Revocation::Cached => self.authenticate(token).await?,
            Revocation::Strict => {
                // Signature first, so a forged token never costs a store round trip.
                self.verify_signature_and_claims(token)?;
                self.sync_revocations().await?;
                self.authenticate(token).await?
            }
        };
        Ok(Authenticated(verified))
    }
}
