//! Conversions between auth-core types and SQLite values: times as INTEGER unix
//! microseconds, UUIDs as 16-byte BLOBs, hashes as 32-byte BLOBs.

use auth_core::time::OffsetDateTime;
use auth_core::{SessionId, SuccessorSeed, TokenHash, TokenId};
use deadpool_sqlite::rusqlite::types::{FromSqlError, Type};
use deadpool_sqlite::rusqlite::{self, Row};
use uuid::Uuid;

/// A time as unix microseconds (sub-microsecond digits are dropped, rounding down).
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    let m = t.unix_timestamp_nanos().div_euclid(1_000);
    i64::try_from(m).unwrap_or(if m < 0 { i64::MIN } else { i64::MAX })
}

/// Optional [`micros`].
pub(crate) fn opt_micros(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(micros)
}

fn conversion(
    idx: usize,
    ty: Type,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, ty, Box::new(e))
}

fn from_micros(idx: usize, m: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1_000)
        .map_err(|e| conversion(idx, Type::Integer, e))
}

/// Reads a time column.
pub(crate) fn time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<OffsetDateTime> {
    from_micros(idx, row.get(idx)?)
}

/// Reads a nullable time column.
pub(crate) fn opt_time_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<OffsetDateTime>> {
    row.get::<_, Option<i64>>(idx)?
        .map(|m| from_micros(idx, m))
        .transpose()
}

fn uuid_from(idx: usize, bytes: &[u8]) -> rusqlite::Result<Uuid> {
    Uuid::from_slice(bytes).map_err(|e| conversion(idx, Type::Blob, e))
}

/// Reads a UUID column.
pub(crate) fn uuid_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Uuid> {
    uuid_from(idx, &row.get::<_, Vec<u8>>(idx)?)
}

/// Reads a nullable UUID column.
pub(crate) fn opt_uuid_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Uuid>> {
    row.get::<_, Option<Vec<u8>>>(idx)?
        .map(|b| uuid_from(idx, &b))
        .transpose()
}

/// Reads a nullable 32-byte successor-seed column.
pub(crate) fn opt_seed_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<SuccessorSeed>> {
    let Some(bytes) = row.get::<_, Option<Vec<u8>>>(idx)? else {
        return Ok(None);
    };
    SuccessorSeed::from_slice(&bytes).map(Some).ok_or_else(|| {
        conversion(
            idx,
            Type::Blob,
            FromSqlError::InvalidBlobSize {
                expected_size: 32,
                blob_size: bytes.len(),
            },
        )
    })
}

/// Reads a 32-byte hash column.
pub(crate) fn hash_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<TokenHash> {
    let bytes: Vec<u8> = row.get(idx)?;
    TokenHash::from_slice(&bytes).ok_or_else(|| {
        conversion(
            idx,
            Type::Blob,
            FromSqlError::InvalidBlobSize {
                expected_size: 32,
                blob_size: bytes.len(),
            },
        )
    })
}

/// The bytes stored for a session id.
pub(crate) fn sid(s: SessionId) -> [u8; 16] {
    *s.0.as_bytes()
}

/// The bytes stored for a token id.
pub(crate) fn tid(t: TokenId) -> [u8; 16] {
    *t.0.as_bytes()
}

/// A value that is not one of the expected texts.
#[derive(Debug, thiserror::Error)]
#[error("unexpected value `{0}`")]
pub(crate) struct UnexpectedValue(pub(crate) String);

/// Converts an [`UnexpectedValue`] into a row-mapping error.
pub(crate) fn unexpected(idx: usize, value: String) -> rusqlite::Error {
    conversion(idx, Type::Text, UnexpectedValue(value))
}

/// Converts invalid JSON into a row-mapping error.
pub(crate) fn bad_json(idx: usize, e: serde_json::Error) -> rusqlite::Error {
    conversion(idx, Type::Text, e)
}
