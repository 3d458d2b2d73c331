//! Issuing a token pair: the signed access token and, in Allowlist mode, its registration.

use time::OffsetDateTime;

use crate::claims::{
    ADMIN_ROLE, CONFIRMATION_CLAIM, RESERVED_CLAIMS, ROLES_CLAIM, sign_access_token,
};
use crate::error::Result;
use crate::grant::GrantClaims;
use crate::refresh::RefreshToken;
use crate::revocation::AccessTokenEntry;
use crate::session::SessionId;
use crate::store::TokenStore;

use super::{RevocationMode, Subject, TokenPair, TokenService, from_seconds, random_jti};

impl<S: TokenStore> TokenService<S> {
    pub(super) async fn issue_pair(
        &self,
        subject: Subject,
        session_id: SessionId,
        refresh_token: RefreshToken,
        now: OffsetDateTime,
        grant: &GrantClaims,
        dpop_jkt: Option<&str>,
    ) -> Result<TokenPair> {
        let cfg = &self.inner.config;
        let Subject {
            user_id,
            tokens_valid_after,
            is_admin,
            mut claims,
        } = subject;
        // Never before tokens_valid_after, so a token issued right after logout-all in
        // the same second is still valid.
        let iat = now
            .unix_timestamp()
            .max(tokens_valid_after.map_or(i64::MIN, |t| t.unix_timestamp()));
        let exp = iat + cfg.access_ttl.whole_seconds();
        let jti = random_jti();
        claims.retain(|k, _| !RESERVED_CLAIMS.contains(&k.as_str()));
        grant.insert_into(&mut claims);
        if is_admin {
            claims.insert(ROLES_CLAIM.into(), serde_json::json!([ADMIN_ROLE]));
        }
        claims.insert("iss".into(), cfg.issuer.clone().into());
        claims.insert("aud".into(), cfg.audience.clone().into());
        claims.insert("sub".into(), user_id.to_string().into());
        claims.insert("exp".into(), exp.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("nbf".into(), iat.into());
        claims.insert("jti".into(), jti.clone().into());
        claims.insert("sid".into(), session_id.to_string().into());
        if let Some(jkt) = dpop_jkt {
            claims.insert(CONFIRMATION_CLAIM.into(), serde_json::json!({ "jkt": jkt }));
        }

        let access_token = sign_access_token(&claims, &self.inner.keys.load())?;

        if cfg.revocation_mode == RevocationMode::Allowlist {
            let entry = AccessTokenEntry {
                jti: jti.clone(),
                user_id,
                session_id,
                issued_at: from_seconds(iat),
                expires_at: from_seconds(exp),
                disabled: false,
            };
            self.inner.store.register_access_token(&entry).await?;
        }
        Ok(TokenPair {
            access_token,
            token_type: if dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
            expires_in: exp - now.unix_timestamp(),
            refresh_token,
            session_id,
            user_id,
            jti,
            scope: grant.scope.clone(),
        })
    }
}
