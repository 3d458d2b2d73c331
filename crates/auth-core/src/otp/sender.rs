//! Delivery of one-time codes: the [`CodeSender`] trait a service implements (or
//! takes from authd: a signed webhook, or a development sender).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use time::OffsetDateTime;

use crate::otp::code::OneTimeCode;
use crate::otp::phone::PhoneNumber;

/// One code to deliver.
#[derive(Debug, Clone)]
pub struct CodeMessage {
    /// Where to: E.164.
    pub phone: PhoneNumber,
    /// The code (its `Debug` form is hidden).
    pub code: OneTimeCode,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// Why a code could not be delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The gateway did not answer in time (after every retry).
    #[error("code delivery timed out")]
    Timeout,
    /// The gateway answered with a non-success HTTP status.
    #[error("code delivery refused with HTTP status {status}")]
    Status {
        /// The last status received.
        status: u16,
    },
    /// The connection or the local medium (file, stream) failed.
    #[error("code delivery failed")]
    Transport(#[source] Box<dyn StdError + Send + Sync + 'static>),
}

impl SendError {
    /// Whether trying again later may succeed (time-outs, server errors, transport);
    /// a 4xx answer will not change by retrying.
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Timeout | SendError::Transport(_) => true,
            SendError::Status { status } => *status >= 500 || *status == 429,
        }
    }
}

/// The future a [`CodeSender`] returns.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Delivers codes (SMS gateway, webhook, development file). The service calls it after
/// storing the code's hash; when it fails the code is withdrawn and the caller sees the
/// error.
pub trait CodeSender: Send + Sync + fmt::Debug {
    /// Delivers one code; resolves when the gateway accepted it.
    fn send<'a>(&'a self, message: &'a CodeMessage) -> SendFuture<'a>;
}
