//! The internal (admin) surface: who may use it, finding users, reading the audit log
//! and importing users. Sessions, activation and revocation of any user are in
//! `admin.rs` and `revoke.rs`; the caller passes the target user.

use crate::audit::{AuditPage, AuditQuery, MAX_AUDIT_PAGE};
use crate::claims::{ADMIN_ROLE, Authenticated, ROLES_CLAIM};
use crate::commands::AdminChange;
use crate::error::{Error, Result};
use crate::import::{ImportUser, ImportedUser, UserImport};
use crate::otp::phone::PhoneNumber;
use crate::revocation::RevokedItem;
use crate::store::TokenStore;
use crate::users::{UserId, UserRecord, normalize_email};

use super::TokenService;

/// How an administrator names a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    /// By id.
    Id(UserId),
    /// By email (normalised before the lookup).
    Email(String),
    /// By phone number.
    Phone(PhoneNumber),
}

impl<S: TokenStore> TokenService<S> {
    /// Whether an authenticated token may use the internal endpoints: its `roles`
    /// claim holds `admin` and the user, read from the store now, is still active
    /// and an admin. So a demotion or deactivation takes effect at the next request,
    /// whatever the token says. [`Error::Forbidden`] otherwise.
    pub async fn require_admin(&self, token: &Authenticated) -> Result<UserRecord> {
        let roles: Vec<String> = token.claim(ROLES_CLAIM).unwrap_or_default();
        if !roles.iter().any(|r| r == ADMIN_ROLE) {
            return Err(Error::Forbidden);
        }
        match self.inner.store.find_user(token.user_id).await? {
            Some(user) if user.is_admin && user.is_active => Ok(user),
            _ => Err(Error::Forbidden),
        }
    }

    /// Grants or withdraws a user's admin flag. The internal endpoints see the change at
    /// the user's next request; the `roles` claim at the next issue (login or refresh),
    /// since the user event drops the user from every cache. `Ok(false)` if the user is
    /// unknown.
    pub async fn set_user_admin(&self, user: UserId, admin: bool) -> Result<bool> {
        let now = self.now();
        let found = self
            .inner
            .store
            .set_user_admin(&AdminChange {
                user,
                admin,
                at: now,
                event_expires_at: self.event_expiry(now),
            })
            .await?;
        if found {
            self.apply_locally(user, RevokedItem::User(user), now, self.event_expiry(now));
        }
        Ok(found)
    }

    /// Finds a user by id, email or phone.
    pub async fn find_user_by(&self, lookup: &UserLookup) -> Result<Option<UserRecord>> {
        let store = &self.inner.store;
        match lookup {
            UserLookup::Id(id) => store.find_user(*id).await,
            UserLookup::Email(email) => store.find_user_by_email(&normalize_email(email)?).await,
            UserLookup::Phone(phone) => store.find_user_by_phone(phone).await,
        }
    }

    /// A page of the audit log matching `query`, newest first; `limit` is clamped to
    /// 1..=[`MAX_AUDIT_PAGE`].
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage> {
        let query = AuditQuery {
            limit: query.limit.clamp(1, MAX_AUDIT_PAGE),
            ..query.clone()
        };
        let records = self.inner.store.audit_page(&query).await?;
        let full = records.len() >= query.limit as usize;
        let next_before = records.last().filter(|_| full).map(|r| r.id);
        Ok(AuditPage {
            records,
            next_before,
        })
    }

    /// Imports one batch of checked users in one transaction (see
    /// [`UserAdmin::import_users`](crate::UserAdmin::import_users)); users already
    /// stored are left as they are.
    pub async fn import_users(&self, users: Vec<ImportUser>) -> Result<Vec<ImportedUser>> {
        let batch = UserImport {
            users,
            at: self.now(),
        };
        self.inner.store.import_users(&batch).await
    }
}
