//! One-time codes in a [`MemoryStore`]: the same contract as the database backends,
//! each operation under the store's one lock.

use time::OffsetDateTime;

use super::{MemoryCode, MemoryStore, MemoryUser};
use crate::error::Result;
use crate::otp::store::{
    AttemptTicket, CodeAttempt, CodeId, CodeLimit, IssueCode, IssueOutcome, OneTimeCodeStore,
    RedeemCode,
};
use crate::users::{UserId, UserRecord};

fn live(code: &MemoryCode, at: OffsetDateTime) -> bool {
    code.consumed_at.is_none()
        && code.revoked_at.is_none()
        && at < code.code.expires_at
        && code.attempts < code.code.max_attempts
}

impl OneTimeCodeStore for MemoryStore {
    async fn issue_code(&self, cmd: &IssueCode) -> Result<IssueOutcome> {
        let mut state = self.lock();
        let codes = &mut state.codes;
        let new = &cmd.code;
        let limits = &cmd.limits;
        let of_phone = || codes.iter().filter(|c| c.code.phone == new.phone);
        if let Some(newest) = of_phone()
            .map(|c| c.code.created_at)
            .filter(|t| *t > limits.resend_after)
            .max()
        {
            return Ok(IssueOutcome::Limited {
                limit: CodeLimit::Resend,
                since: newest,
            });
        }
        let in_window = |c: &&MemoryCode| c.code.created_at > limits.window_start;
        let phone_window: Vec<_> = of_phone()
            .filter(in_window)
            .map(|c| c.code.created_at)
            .collect();
        if phone_window.len() >= limits.max_per_phone as usize {
            return Ok(IssueOutcome::Limited {
                limit: CodeLimit::Phone,
                since: phone_window.into_iter().min().unwrap_or(new.created_at),
            });
        }
        if new.ip.is_some() {
            let ip_window: Vec<_> = codes
                .iter()
                .filter(|c| c.code.ip == new.ip)
                .filter(in_window)
                .map(|c| c.code.created_at)
                .collect();
            if ip_window.len() >= limits.max_per_ip as usize {
                return Ok(IssueOutcome::Limited {
                    limit: CodeLimit::Ip,
                    since: ip_window.into_iter().min().unwrap_or(new.created_at),
                });
            }
        }
        for c in codes.iter_mut().filter(|c| c.code.phone == new.phone) {
            if c.consumed_at.is_none() && c.revoked_at.is_none() {
                c.revoked_at = Some(new.created_at);
            }
        }
        codes.push(MemoryCode {
            code: new.clone(),
            attempts: 0,
            consumed_at: None,
            revoked_at: None,
        });
        Ok(IssueOutcome::Issued)
    }

    async fn withdraw_code(&self, id: CodeId, at: OffsetDateTime) -> Result<()> {
        let mut state = self.lock();
        if let Some(c) = state.codes.iter_mut().find(|c| c.code.id == id)
            && c.revoked_at.is_none()
        {
            c.revoked_at = Some(at);
        }
        Ok(())
    }

    async fn begin_code_attempt(&self, cmd: &CodeAttempt) -> Result<Option<AttemptTicket>> {
        let mut state = self.lock();
        let Some(c) = state
            .codes
            .iter_mut()
            .rev()
            .find(|c| c.code.phone == cmd.phone && live(c, cmd.at))
        else {
            return Ok(None);
        };
        c.attempts += 1;
        Ok(Some(AttemptTicket {
            id: c.code.id,
            hash: c.code.hash,
            attempts: c.attempts,
            max_attempts: c.code.max_attempts,
        }))
    }

    async fn redeem_code(&self, cmd: &RedeemCode) -> Result<Option<UserRecord>> {
        let mut state = self.lock();
        let Some(code) = state.codes.iter_mut().find(|c| {
            c.code.id == cmd.id
                && c.consumed_at.is_none()
                && c.revoked_at.is_none()
                && cmd.at < c.code.expires_at
        }) else {
            return Ok(None);
        };
        code.consumed_at = Some(cmd.at);
        let phone = Some(cmd.phone.as_str().to_owned());
        let index = match state.users.iter().position(|u| u.phone_number == phone) {
            Some(index) => index,
            None => {
                state.last_user_id += 1;
                let id = UserId(state.last_user_id);
                state.users.push(MemoryUser {
                    record: UserRecord {
                        id,
                        email: None,
                        password_hash: None,
                        is_active: true,
                        is_admin: false,
                        tokens_valid_after: None,
                        last_login: None,
                        column_claims: Default::default(),
                    },
                    created_at: cmd.at,
                    phone_number: phone,
                    is_verified: false,
                    columns: Default::default(),
                });
                state.users.len() - 1
            }
        };
        let user = &mut state.users[index];
        user.is_verified = true;
        user.record.last_login = Some(cmd.at);
        Ok(Some(self.read_user(&state, &state.users[index])))
    }
}
