//! `authd users import FILE`: users from a JSON Lines or CSV file (email and/or phone,
//! password hash, active, admin) written through
//! [`TokenService::import_users`](auth_core::TokenService::import_users).
//!
//! The whole file is read and every row checked first (fields, hash format,
//! duplicates within the file); a file with any bad row is refused with each bad
//! row's line number and nothing is written. A good file is then written in batches of
//! [`BATCH_SIZE`] rows, each one transaction: a database failure leaves nothing of its
//! batch, and the batches before it stay. Users already stored (same email, else same
//! phone) are left unchanged, so importing the same file again changes nothing and
//! reports every row as already present; running it again after a failure finishes
//! the rest.

mod parse;

use std::path::Path;
use std::time::Instant;

use auth_core::{ImportRowError, ImportUser, ImportedUser, TokenService, TokenStore};

pub use parse::Format;

/// Rows written per transaction.
pub const BATCH_SIZE: usize = 500;

/// A progress line is printed after every this many rows.
pub const PROGRESS_EVERY: usize = 5_000;

/// A row that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// Its line in the file (1-based).
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// Why an import wrote nothing or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Rows failed their checks; nothing was written.
    #[error("{} bad row(s); nothing was imported", .0.len())]
    BadRows(Vec<BadRow>),
    /// A batch failed; it was rolled back, the `written` rows before it stay.
    #[error("writing rows {} to {}: batch rolled back, {written} row(s) before it imported", .written + 1, .written + .batch)]
    Batch {
        /// Rows of the earlier batches, committed.
        written: usize,
        /// Rows in the failed batch.
        batch: usize,
        /// The store's error.
        #[source]
        source: auth_core::Error,
    },
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows in the file.
    pub rows: usize,
    /// Users created.
    pub created: usize,
    /// Rows whose user was already stored with the same values.
    pub unchanged: usize,
    /// Lines whose user was already stored with other values (left as stored).
    pub differing: Vec<u64>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} row(s): {} created, {} already present and unchanged, {} already present with other values (left as stored)",
            self.rows,
            self.created,
            self.unchanged,
            self.differing.len()
        )
    }
}

/// Checks every row of a file's text; the checked users with their lines, or every
/// bad row.
pub fn check_rows(format: Format, text: &str) -> Result<Vec<(u64, ImportUser)>, Vec<BadRow>> {
    let mut bad = Vec::new();
    let mut good = Vec::new();
    for (line, raw) in parse::parse(format, text) {
        let checked = raw.and_then(|r| {
            ImportUser::new(
                r.email.as_deref(),
                r.phone.as_deref(),
                r.password_hash.as_deref(),
                r.active.unwrap_or(true),
                r.admin.unwrap_or(false),
            )
            .map_err(|e| reason(&e))
        });
        match checked {
            Ok(user) => good.push((line, user)),
            Err(reason) => bad.push(BadRow { line, reason }),
        }
    }
    let (lines, users): (Vec<u64>, Vec<ImportUser>) = good.iter().cloned().unzip();
    for (i, e) in auth_core::duplicate_rows(&users, &lines) {
        bad.push(BadRow {
            line: lines[i],
            reason: reason(&e),
        });
    }
    if bad.is_empty() {
        Ok(good)
    } else {
        bad.sort_by_key(|b| b.line);
        Err(bad)
    }
}

fn reason(e: &ImportRowError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Imports a file: checks every row, then writes batches; `progress` gets a line every
/// [`PROGRESS_EVERY`] rows.
pub async fn import_file<S: TokenStore>(
    service: &TokenService<S>,
    path: &Path,
    mut progress: impl FnMut(String),
) -> Result<ImportSummary, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let rows = check_rows(Format::detect(path, &text), &text).map_err(ImportError::BadRows)?;
    let mut summary = ImportSummary {
        rows: rows.len(),
        ..ImportSummary::default()
    };
    let started = Instant::now();
    let mut written = 0;
    for chunk in rows.chunks(BATCH_SIZE) {
        let users = chunk.iter().map(|(_, u)| u.clone()).collect();
        let outcome = service
            .import_users(users)
            .await
            .map_err(|source| ImportError::Batch {
                written,
                batch: chunk.len(),
                source,
            })?;
        for ((line, user), done) in chunk.iter().zip(outcome) {
            match done {
                ImportedUser::Created(_) => summary.created += 1,
                ImportedUser::Existing(stored) if user.matches(&stored) => summary.unchanged += 1,
                ImportedUser::Existing(_) => summary.differing.push(*line),
            }
        }
        let before = written;
        written += chunk.len();
        if written / PROGRESS_EVERY > before / PROGRESS_EVERY && written < rows.len() {
            let rate = written as f64 / started.elapsed().as_secs_f64().max(1e-9);
            progress(format!(
                "  {written}/{} rows ({:.0} users/s)",
                rows.len(),
                rate
            ));
        }
    }
    Ok(summary)
}
