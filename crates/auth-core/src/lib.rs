//! JWT access tokens, rotating refresh tokens and sessions over a pluggable store.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod audit;
mod claims;
mod cleanup;
mod clock;
mod commands;
mod dpop;
mod error;
mod grant;
mod import;
mod keys;
#[cfg(any(test, feature = "memory"))]
mod memory;
mod migrations;
mod otp;
mod password;
mod pbkdf2_sha256;
mod profile;
mod refresh;
mod revocation;
mod service;
mod session;
mod store;
mod user_columns;
mod users;
mod verified_cache;

pub use audit::{AuditEvent, AuditKind, AuditPage, AuditQuery, AuditRecord, MAX_AUDIT_PAGE};
pub use claims::{
    ACCESS_TOKEN_TYPE, ADMIN_ROLE, AccessClaims, Authenticated, CONFIRMATION_CLAIM, Confirmation,
    RESERVED_CLAIMS, ROLES_CLAIM,
};
pub use cleanup::{CleanupBatch, CleanupPolicy, CleanupReport, CleanupRule, DeletedBatch};
pub use clock::{Clock, ManualClock, SystemClock};
pub use commands::{
    AccessTokenRevocation, ActivationChange, AdminChange, LoginRecord, PasswordChange,
    SessionRevocation, UserRevocation,
};
pub use dpop::{
    DPOP_PROOF_TYPE, DpopConfig, DpopConfigError, DpopError, DpopRequest, DpopVerifier,
    MAX_PROOF_BYTES, MIN_NONCE_SECRET_BYTES, NonceConfig, VerifiedProof, access_token_hash,
    jwk_thumbprint,
};
pub use error::{CodeRejection, Error, RefreshRejection, Result, TokenRejection};
pub use grant::GrantClaims;
pub use import::{ImportRowError, ImportUser, ImportedUser, UserImport, duplicate_rows};
pub use keys::{KeyError, KeyMaterial, KeySpec, Keyring, KeyringSpec, SigningAlgorithm};
#[cfg(any(test, feature = "memory"))]
pub use memory::{MemoryCode, MemoryError, MemoryStore, MemoryTables, MemoryUser};
pub use migrations::{
    AppliedMigration, EmbeddedMigration, MigrationDirection, MigrationError, MigrationLedger,
    MigrationSource, MigrationState, MigrationStatus, Migrations,
};
pub use otp::code::{CodeHash, CodeSecret, MIN_CODE_SECRET_BYTES, OneTimeCode};
pub use otp::config::OneTimeCodeConfig;
pub use otp::phone::PhoneNumber;
pub use otp::sender::{CodeMessage, CodeSender, SendError, SendFuture};
pub use otp::store::{
    AttemptTicket, CodeAttempt, CodeId, CodeLimit, CodeLimits, IssueCode, IssueOutcome, LimitProbe,
    NewCode, OneTimeCodeStore, ProbeKey, RedeemCode,
};
pub use password::{
    DEFAULT_PBKDF2_ROUNDS, HashFamily, PasswordPolicy, UnusableHash, hash_bounds,
    identify_password_hash,
};
pub use refresh::{RefreshToken, SuccessorSeed, TokenHash, TokenId};
pub use revocation::{
    AccessTokenEntry, RevocationCache, RevocationCursor, RevocationEvent, RevocationKind,
    RevokedItem, StoredRevocationError,
};
pub use service::{
    ClientInfo, CodeRequested, DEFAULT_RETRY_WINDOW, OneTimeCodes, REPLAY_DELAY_BUCKETS,
    RefreshCause, RefreshStats, RefreshTokenInspection, RevocationMode, TokenPair, TokenService,
    TokenServiceBuilder, TokenServiceConfig, UserLookup,
};
pub use session::{
    DEVICE_FIELD_MAX_CHARS, NewRefreshToken, RefreshTokenRecord, Replay, RevokeReason, Rotation,
    SessionDevice, SessionId, SessionInfo,
};
pub use store::{
    AccessTokenStore, AuditLog, Cleanup, RefreshTokenStore, TokenStore, UserAdmin, UserDirectory,
};
pub use user_columns::{MAX_USER_CLAIM_COLUMNS, MAX_USER_COLUMN_NAME, UserClaimColumns};
pub use users::{NewUser, UserId, UserProfile, UserRecord, UserState, normalize_email};
pub use verified_cache::{VerifiedCacheLimits, VerifiedCacheStats};

/// Re-exported so backends and services name the same versions.
pub use time;
