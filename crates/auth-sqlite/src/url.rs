//! The database file a `sqlite:` URL names.

use crate::error::SqliteError;

/// The file path of a `sqlite:` URL (`sqlite:./a.db`, `sqlite://./a.db`,
/// `sqlite:///abs/a.db`; the scheme in any case; a `?query` is ignored).
pub(crate) fn sqlite_path(url: &str) -> Result<&str, SqliteError> {
    let invalid = || SqliteError::InvalidUrl {
        url: url.to_owned(),
    };
    let rest = url
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("sqlite:"))
        .and_then(|_| url.get(7..))
        .ok_or_else(invalid)?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() {
        return Err(invalid());
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_file() {
        assert_eq!(sqlite_path("sqlite:./authd.db").unwrap(), "./authd.db");
        assert_eq!(sqlite_path("sqlite://./authd.db").unwrap(), "./authd.db");
        assert_eq!(
            sqlite_path("sqlite:///tmp/a.db?mode=rwc").unwrap(),
            "/tmp/a.db"
        );
        assert_eq!(sqlite_path("SQLITE:a.db").unwrap(), "a.db");
        for bad in ["sqlite:", "sqlite://", "./authd.db", "postgres://h/db", ""] {
            assert!(
                matches!(sqlite_path(bad), Err(SqliteError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }
}
