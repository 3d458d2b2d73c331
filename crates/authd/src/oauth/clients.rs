//! Registered OAuth clients (from the settings file) and client authentication
//! (RFC 6749 section 2.3: HTTP Basic or `client_id`/`client_secret` in the form).

use std::collections::{HashMap, HashSet};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::ApiError;

/// The `grant_type` of phone sign-in by one-time code: an extension grant (RFC 6749
/// section 4.5) with the form parameters `phone` and `code`.
pub const PHONE_CODE_GRANT: &str = "urn:authd:params:oauth:grant-type:phone-code";

/// A grant type of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// RFC 6749 section 4.3: the resource owner's email and password.
    Password,
    /// RFC 6749 section 6.
    RefreshToken,
    /// [`PHONE_CODE_GRANT`]: a phone number and the one-time code sent to it (only
    /// while phone sign-in is enabled).
    PhoneCode,
}

impl GrantType {
    /// Every grant type authd issues tokens for.
    pub const ALL: [GrantType; 3] = [
        GrantType::Password,
        GrantType::RefreshToken,
        GrantType::PhoneCode,
    ];

    /// The `grant_type` value: the registered name, or the extension URI.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::Password => "password",
            GrantType::RefreshToken => "refresh_token",
            GrantType::PhoneCode => PHONE_CODE_GRANT,
        }
    }

    /// Parses a `grant_type` value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The grant types on offer: the phone-code grant only when phone sign-in is on.
    pub fn supported(phone_sign_in: bool) -> impl Iterator<Item = GrantType> {
        Self::ALL
            .into_iter()
            .filter(move |g| phone_sign_in || *g != GrantType::PhoneCode)
    }
}

fn all_grants() -> Vec<GrantType> {
    GrantType::ALL.to_vec()
}

/// One `[[clients]]` entry of the settings file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// The `client_id`.
    pub id: String,
    /// Confidential clients: SHA-256 of the secret, hex (`authd clients secret` prints
    /// one). Secrets are 256 random bits, so a plain digest cannot be brute-forced.
    /// Absent: a public client.
    #[serde(default)]
    pub secret_sha256: Option<String>,
    /// Grants it may use [default: all].
    #[serde(default = "all_grants")]
    pub grants: Vec<GrantType>,
    /// Browser origins it may call from (CORS, with credentials).
    #[serde(default)]
    pub origins: Vec<String>,
    /// Scopes it may ask for.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// The `client_id`.
    pub id: String,
    secret_sha256: Option<[u8; 32]>,
    /// Allowed grants.
    pub grants: Vec<GrantType>,
    /// Allowed browser origins.
    pub origins: Vec<String>,
    /// Allowed scopes.
    pub scopes: HashSet<String>,
}

impl Client {
    /// Whether it authenticates with a secret.
    pub fn is_confidential(&self) -> bool {
        self.secret_sha256.is_some()
    }
}

/// The registered clients.
#[derive(Debug, Clone, Default)]
pub struct ClientRegistry {
    clients: HashMap<String, Client>,
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A new random client secret and the hex SHA-256 to put in the settings file.
pub fn generate_client_secret() -> anyhow::Result<(String, String)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = Sha256::digest(secret.as_bytes());
    let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((secret, hex))
}

/// Checks that an origin is `scheme://host[:port]` with nothing else.
pub(crate) fn valid_origin(origin: &str) -> bool {
    match url::Url::parse(origin) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.origin().ascii_serialization() == origin
        }
        Err(_) => false,
    }
}

/// The credentials a request presents.
struct Presented {
    id: String,
    secret: Option<String>,
}

fn form_decode(s: &str) -> Option<String> {
    // RFC 6749 section 2.3.1: Basic credentials are form-encoded first.
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()?
        .pop()
        .map(|(_, v)| v)
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<Presented>, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::invalid_client())?;
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(ApiError::invalid_client)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(ApiError::invalid_client)?;
    let id = form_decode(id).ok_or_else(ApiError::invalid_client)?;
    let secret = form_decode(secret).ok_or_else(ApiError::invalid_client)?;
    Ok(Some(Presented {
        id,
        secret: Some(secret),
    }))
}

impl ClientRegistry {
    /// Loads and checks the `[[clients]]` of the settings.
    pub fn from_settings(settings: &[ClientSettings]) -> anyhow::Result<Self> {
        let mut clients = HashMap::new();
        for c in settings {
            if c.id.is_empty() || c.id.len() > 128 || c.id.chars().any(|ch| ch.is_control()) {
                anyhow::bail!("client id `{}` must be 1 to 128 printable characters", c.id);
            }
            let secret_sha256 = match &c.secret_sha256 {
                Some(hex) => Some(decode_hex32(hex).ok_or_else(|| {
                    anyhow::anyhow!("client `{}`: secret_sha256 must be 64 hex digits", c.id)
                })?),
                None => None,
            };
            if let Some(bad) = c.origins.iter().find(|o| !valid_origin(o)) {
                anyhow::bail!(
                    "client `{}`: `{bad}` is not an origin (scheme://host[:port])",
                    c.id
                );
            }
            let client = Client {
                id: c.id.clone(),
                secret_sha256,
                grants: c.grants.clone(),
                origins: c.origins.clone(),
                scopes: c.scopes.iter().cloned().collect(),
            };
            if clients.insert(c.id.clone(), client).is_some() {
                anyhow::bail!("client `{}` is listed twice", c.id);
            }
        }
        Ok(Self { clients })
    }

    /// Every origin some client may call from.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.clients
            .values()
            .flat_map(|c| c.origins.iter().map(String::as_str))
    }

    /// Every scope some client may ask for, sorted.
    pub fn scopes(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .clients
            .values()
            .flat_map(|c| c.scopes.iter().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Authenticates the client of a request: HTTP Basic, or `client_id` (and
    /// `client_secret`) form parameters; both at once is `invalid_request`. Unknown
    /// client, wrong or missing secret: 401 `invalid_client`.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<&Client, ApiError> {
        let basic = basic_credentials(headers)?;
        let presented = match (basic, form.get("client_id")) {
            (Some(_), Some(_)) if form.contains_key("client_secret") => {
                return Err(ApiError::invalid_request(
                    "use one client authentication method",
                ));
            }
            (Some(basic), _) => basic,
            (None, Some(id)) => Presented {
                id: id.clone(),
                secret: form.get("client_secret").cloned(),
            },
            (None, None) => return Err(ApiError::invalid_client()),
        };
        let client = self
            .clients
            .get(&presented.id)
            .ok_or_else(ApiError::invalid_client)?;
        match (&client.secret_sha256, &presented.secret) {
            (None, None) => Ok(client),
            (Some(expected), Some(secret)) => {
                let digest = Sha256::digest(secret.as_bytes());
                if constant_time_eq(expected, &digest) {
                    Ok(client)
                } else {
                    Err(ApiError::invalid_client())
                }
            }
            _ => Err(ApiError::invalid_client()),
        }
    }

    /// Like [`authenticate`](Self::authenticate), but only confidential clients pass
    /// (introspection, the revocation feed).
    pub fn authenticate_confidential(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<&Client, ApiError> {
        let client = self.authenticate(headers, form)?;
        if client.is_confidential() {
            Ok(client)
        } else {
            Err(ApiError::invalid_client())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn registry() -> (ClientRegistry, String) {
        let (secret, hash) = generate_client_secret().unwrap();
        let settings = vec![
            ClientSettings {
                id: "rs".into(),
                secret_sha256: Some(hash),
                grants: vec![],
                origins: vec![],
                scopes: vec![],
            },
            ClientSettings {
                id: "spa".into(),
                secret_sha256: None,
                grants: all_grants(),
                origins: vec!["https://app.example".into()],
                scopes: vec!["read".into()],
            },
        ];
        (ClientRegistry::from_settings(&settings).unwrap(), secret)
    }

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        h.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        h
    }

    #[test]
    fn client_authentication() {
        let (reg, secret) = registry();
        let none = HashMap::new();
        assert_eq!(
            reg.authenticate(&basic("rs", &secret), &none).unwrap().id,
            "rs"
        );
        assert!(reg.authenticate(&basic("rs", "wrong"), &none).is_err());
        assert!(reg.authenticate(&basic("nobody", &secret), &none).is_err());
        assert!(reg.authenticate(&HeaderMap::new(), &none).is_err());
        let post: HashMap<String, String> =
            [("client_id", "rs"), ("client_secret", secret.as_str())]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        assert!(
            reg.authenticate_confidential(&HeaderMap::new(), &post)
                .is_ok()
        );
        let public: HashMap<String, String> = [("client_id".to_owned(), "spa".to_owned())].into();
        assert!(reg.authenticate(&HeaderMap::new(), &public).is_ok());
        assert!(
            reg.authenticate_confidential(&HeaderMap::new(), &public)
                .is_err()
        );
        // A confidential client without its secret is refused.
        let no_secret: HashMap<String, String> = [("client_id".to_owned(), "rs".to_owned())].into();
        assert!(reg.authenticate(&HeaderMap::new(), &no_secret).is_err());
    }

    #[test]
    fn grant_type_names() {
        assert_eq!(
            GrantType::parse(PHONE_CODE_GRANT),
            Some(GrantType::PhoneCode)
        );
        assert_eq!(GrantType::parse("phone_code"), None);
        let off: Vec<_> = GrantType::supported(false).collect();
        assert_eq!(off, [GrantType::Password, GrantType::RefreshToken]);
        assert_eq!(GrantType::supported(true).count(), GrantType::ALL.len());
        let settings: ClientSettings =
            toml::from_str("id = \"app\"\ngrants = [\"phone_code\"]").unwrap();
        assert_eq!(settings.grants, [GrantType::PhoneCode]);
    }

    #[test]
    fn settings_are_checked() {
        let bad_origin = ClientSettings {
            id: "x".into(),
            secret_sha256: None,
            grants: all_grants(),
            origins: vec!["https://app.example/path".into()],
            scopes: vec![],
        };
        assert!(ClientRegistry::from_settings(&[bad_origin]).is_err());
        let bad_hash = ClientSettings {
            id: "x".into(),
            secret_sha256: Some("abc".into()),
            grants: all_grants(),
            origins: vec![],
            scopes: vec![],
        };
        assert!(ClientRegistry::from_settings(&[bad_hash]).is_err());
        assert!(valid_origin("http://127.0.0.1:3000"));
        assert!(!valid_origin("null"));
    }
}
