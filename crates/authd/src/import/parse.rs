//! The two file formats of `users import`: JSON Lines (one object per line) and CSV
//! with a header row. Both name the same fields; blank lines are skipped.

use serde::Deserialize;

/// One row as written in the file, before its values are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRow {
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default, alias = "phone_number")]
    pub(crate) phone: Option<String>,
    #[serde(default, alias = "password")]
    pub(crate) password_hash: Option<String>,
    #[serde(default, alias = "is_active")]
    pub(crate) active: Option<bool>,
    #[serde(default, alias = "is_admin")]
    pub(crate) admin: Option<bool>,
}

/// A file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    JsonLines,
    /// A header row naming the columns, then one row per line.
    Csv,
}

impl Format {
    /// `.jsonl`/`.ndjson`/`.json` files are JSON Lines, `.csv` files CSV; otherwise a
    /// first non-blank character `{` means JSON Lines.
    pub fn detect(path: &std::path::Path, text: &str) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson" | "json") => Format::JsonLines,
            Some("csv") => Format::Csv,
            _ if text.trim_start().starts_with('{') => Format::JsonLines,
            _ => Format::Csv,
        }
    }
}

/// Every row of the file with its line number (1-based), or why that line does not
/// parse.
pub(crate) fn parse(format: Format, text: &str) -> Vec<(u64, Result<RawRow, String>)> {
    let lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    match format {
        Format::JsonLines => lines
            .map(|(n, l)| (n, serde_json::from_str(l).map_err(|e| json_reason(&e))))
            .collect(),
        Format::Csv => parse_csv(lines),
    }
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde's message without its "at line 1 column N" suffix: the line is ours.
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message,
    }
}

const CSV_COLUMNS: [&str; 5] = ["email", "phone", "password_hash", "active", "admin"];

fn column(name: &str) -> Option<usize> {
    let name = name.trim().to_ascii_lowercase();
    let name = match name.as_str() {
        "phone_number" => "phone",
        "password" => "password_hash",
        "is_active" => "active",
        "is_admin" => "admin",
        other => other,
    };
    CSV_COLUMNS.iter().position(|c| *c == name)
}

fn parse_csv<'a>(
    mut lines: impl Iterator<Item = (u64, &'a str)>,
) -> Vec<(u64, Result<RawRow, String>)> {
    let Some((header_line, header)) = lines.next() else {
        return Vec::new();
    };
    let columns: Result<Vec<usize>, String> = csv_fields(header).and_then(|names| {
        names
            .iter()
            .map(|n| column(n).ok_or_else(|| format!("unknown column `{n}`")))
            .collect()
    });
    let columns = match columns {
        Ok(c) => c,
        Err(e) => return vec![(header_line, Err(format!("header: {e}")))],
    };
    lines
        .map(|(n, line)| (n, csv_row(&columns, line)))
        .collect()
}

fn csv_row(columns: &[usize], line: &str) -> Result<RawRow, String> {
    let fields = csv_fields(line)?;
    if fields.len() != columns.len() {
        return Err(format!(
            "{} fields, the header has {}",
            fields.len(),
            columns.len()
        ));
    }
    let mut row = RawRow::default();
    for (&c, value) in columns.iter().zip(fields) {
        let text = (!value.is_empty()).then_some(value);
        match c {
            0 => row.email = text,
            1 => row.phone = text,
            2 => row.password_hash = text,
            3 => row.active = text.map(|v| boolean("active", &v)).transpose()?,
            _ => row.admin = text.map(|v| boolean("admin", &v)).transpose()?,
        }
    }
    Ok(row)
}

fn boolean(field: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Ok(true),
        "false" | "f" | "0" | "no" => Ok(false),
        _ => Err(format!("{field}: `{value}` is not true or false")),
    }
}

/// The fields of one CSV line (RFC 4180 quoting: `"a,b"`, `""` inside quotes; a quoted
/// field does not span lines).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("text after a quoted field".into()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim().to_owned());
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("a quote inside an unquoted field".into()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field.trim().to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_aliases_and_blank_lines() {
        let text = "Email,phone_number,password,is_active,admin\r\n\
                    a@x.io,,\"bcrypt$2b$x,y\",true,\n\
                    \n\
                    ,+13128050001,,0,yes\n\
                    b@x.io,,,maybe,\n\
                    c@x.io,,\"open\n";
        let rows = parse(Format::Csv, text);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[0],
            (
                2,
                Ok(RawRow {
                    email: Some("a@x.io".into()),
                    password_hash: Some("bcrypt$2b$x,y".into()),
                    active: Some(true),
                    ..RawRow::default()
                })
            )
        );
        assert_eq!(rows[1].0, 4);
        let second = rows[1].1.as_ref().unwrap();
        assert_eq!(second.phone.as_deref(), Some("+13128050001"));
        assert_eq!((second.active, second.admin), (Some(false), Some(true)));
        assert_eq!(
            rows[2],
            (5, Err("active: `maybe` is not true or false".into()))
        );
        assert_eq!(rows[3], (6, Err("unterminated quoted field".into())));
    }

    #[test]
    fn csv_header_must_name_known_columns() {
        let rows = parse(Format::Csv, "email,pasword\na@x.io,x\n");
        assert_eq!(
            rows,
            vec![(1, Err("header: unknown column `pasword`".into()))]
        );
    }

    #[test]
    fn json_lines_refuse_unknown_fields_and_wrong_types() {
        let text = "{\"email\":\"a@x.io\",\"is_admin\":true}\n{\"emial\":\"x\"}\n{\"email\":\"b@x.io\",\"active\":\"yes\"}\nnot json\n";
        let rows = parse(Format::JsonLines, text);
        assert_eq!(rows[0].1.as_ref().unwrap().admin, Some(true));
        assert!(
            rows[1]
                .1
                .as_ref()
                .unwrap_err()
                .contains("unknown field `emial`")
        );
        assert!(rows[2].1.as_ref().unwrap_err().contains("invalid type"));
        assert_eq!(rows[3].0, 4);
        assert!(rows[3].1.is_err());
    }

    #[test]
    fn format_by_extension_then_content() {
        use std::path::Path;
        assert_eq!(Format::detect(Path::new("u.csv"), "{"), Format::Csv);
        assert_eq!(
            Format::detect(Path::new("u.jsonl"), "email"),
            Format::JsonLines
        );
        assert_eq!(
            Format::detect(Path::new("u"), "  {\"email\":1}"),
            Format::JsonLines
        );
        assert_eq!(
            Format::detect(Path::new("u.txt"), "email,phone"),
            Format::Csv
        );
    }
}
