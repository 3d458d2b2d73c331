//! The harness's environment settings: where test servers come from
//! (`AUTH_TEST_DATABASES`) and which image a container runs (`AUTH_TEST_*_IMAGE`).

/// The variable choosing where the test servers come from.
pub const DATABASES_VAR: &str = "AUTH_TEST_DATABASES";

/// Where the test servers come from (`AUTH_TEST_DATABASES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `auto` (the default): the URL variable if set, else the local default if it
    /// answers, else a container.
    Auto,
    /// `local`: the URL variable if set, else the local default; never a container.
    Local,
    /// `containers`: always a container started for this test process.
    Containers,
}

impl Mode {
    /// The mode `AUTH_TEST_DATABASES` asks for; unset or empty is [`Mode::Auto`]. An
    /// unknown value is a loud failure, never a silent fallback.
    pub fn from_env() -> Self {
        match std::env::var(DATABASES_VAR) {
            Ok(value) => Self::parse(&value).unwrap_or_else(|| {
                panic!("{DATABASES_VAR}={value:?} is not one of `auto`, `local`, `containers`")
            }),
            Err(std::env::VarError::NotPresent) => Self::Auto,
            Err(std::env::VarError::NotUnicode(value)) => {
                panic!("{DATABASES_VAR}={value:?} is not one of `auto`, `local`, `containers`")
            }
        }
    }

    /// The setting's value for this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Local => "local",
            Self::Containers => "containers",
        }
    }

    /// Parses a setting value (case-insensitive; empty is `auto`).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Some(Self::Auto),
            "local" => Some(Self::Local),
            "containers" | "container" => Some(Self::Containers),
            _ => None,
        }
    }
}

/// An image reference `name[:tag]`, as `docker run` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    pub(crate) name: String,
    pub(crate) tag: String,
}

impl ImageRef {
    /// Splits `name[:tag]`; a colon before the last `/` belongs to a registry's port,
    /// and a missing tag is `latest`.
    pub(crate) fn parse(reference: &str) -> Self {
        let reference = reference.trim();
        let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
        match reference[last_slash..].rfind(':') {
            Some(colon) => Self {
                name: reference[..last_slash + colon].to_owned(),
                tag: reference[last_slash + colon + 1..].to_owned(),
            },
            None => Self {
                name: reference.to_owned(),
                tag: "latest".to_owned(),
            },
        }
    }

    /// The image named by `var`, else `default`.
    pub(crate) fn from_env(var: &str, default: &str) -> Self {
        match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => Self::parse(&value),
            _ => Self::parse(default),
        }
    }

    /// Whether this is a MariaDB image (its repository's last segment says so), which
    /// announces readiness differently from MySQL's.
    pub(crate) fn is_mariadb(&self) -> bool {
        self.name
            .rsplit('/')
            .next()
            .is_some_and(|repository| repository.contains("mariadb"))
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_case_insensitively_and_empty_is_auto() {
        assert_eq!(Mode::parse(""), Some(Mode::Auto));
        assert_eq!(Mode::parse("AUTO"), Some(Mode::Auto));
        assert_eq!(Mode::parse(" local "), Some(Mode::Local));
        assert_eq!(Mode::parse("containers"), Some(Mode::Containers));
        assert_eq!(Mode::parse("docker"), None);
    }

    #[test]
    fn image_references_split_at_the_tag_colon_only() {
        let plain = ImageRef::parse("postgres:16-alpine");
        assert_eq!(
            (plain.name.as_str(), plain.tag.as_str()),
            ("postgres", "16-alpine")
        );
        let untagged = ImageRef::parse("auth-tokens-test/mariadb");
        assert_eq!(untagged.tag, "latest");
        let registry = ImageRef::parse("registry.local:5000/db/postgres");
        assert_eq!(registry.name, "registry.local:5000/db/postgres");
        assert_eq!(registry.tag, "latest");
        let both = ImageRef::parse("registry.local:5000/mariadb:10.11");
        assert_eq!(both.to_string(), "registry.local:5000/mariadb:10.11");
        assert!(both.is_mariadb());
        assert!(!ImageRef::parse("mysql:8.4").is_mariadb());
        assert!(!ImageRef::parse("mariadb-mirror/mysql:8.4").is_mariadb());
    }
}
