//! A user's own profile (authd's `/v1/me`), answered from the revocation cache's user
//! entries instead of one store read per request.

use crate::error::Result;
use crate::service::TokenService;
use crate::store::TokenStore;
use crate::users::{UserId, UserProfile};

impl<S: TokenStore> TokenService<S> {
    /// The profile of `user`: from the cache, which is at most `cache_max_staleness`
    /// old exactly as [`authenticate`](Self::authenticate)'s user-state check is (a user
    /// event drops both), else from the store. `Ok(None)` if the user does not exist.
    pub async fn user_profile(&self, user: UserId) -> Result<Option<UserProfile>> {
        let cache = self.revocation_cache();
        cache.ensure_fresh(self.store(), self.now()).await?;
        if let Some((_, profile)) = cache.user_profile(user) {
            return Ok(Some(profile));
        }
        let epoch = cache.epoch();
        let Some(record) = self.store().find_user(user).await? else {
            return Ok(None);
        };
        cache.insert_user(&record, epoch);
        Ok(Some(UserProfile::from(&record)))
    }
}
