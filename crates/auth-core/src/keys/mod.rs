//! The keyring: named keys, each pinned to one algorithm; one signs, all verify.

mod algorithm;
mod der;
mod error;
mod file;
mod jwks;
mod load;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

pub use algorithm::SigningAlgorithm;
pub use error::KeyError;
pub use file::{KeyMaterial, KeySpec, KeyringSpec};
pub(crate) use load::Key;

/// The loaded keys: one signs, every one verifies (key rotation).
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<Key>,
    by_kid: HashMap<String, usize>,
    active: usize,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.keys[self.active].kid)
            .field("keys", &self.keys)
            .finish()
    }
}

impl Keyring {
    /// Loads every key of the spec, refusing weak or broken keys.
    pub fn from_spec(spec: &KeyringSpec) -> Result<Self, KeyError> {
        let mut keys = Vec::with_capacity(spec.keys.len());
        let mut by_kid = HashMap::new();
        for key_spec in &spec.keys {
            let key = Key::load(key_spec)?;
            if by_kid.insert(key.kid.clone(), keys.len()).is_some() {
                return Err(KeyError::Keyring(format!("duplicate kid `{}`", key.kid)));
            }
            keys.push(key);
        }
        let active = *by_kid.get(&spec.active).ok_or_else(|| {
            KeyError::Keyring(format!("active kid `{}` is not listed", spec.active))
        })?;
        if keys[active].encoding.is_none() {
            return Err(KeyError::Keyring(format!(
                "active kid `{}` has no private key",
                spec.active
            )));
        }
        Ok(Self {
            keys,
            by_kid,
            active,
        })
    }

    /// Reads a JSON key file (see [`KeyringSpec`]).
    pub fn from_json(json: &str) -> Result<Self, KeyError> {
        let spec: KeyringSpec =
            serde_json::from_str(json).map_err(|e| KeyError::File(e.to_string()))?;
        Self::from_spec(&spec)
    }

    /// A keyring of one freshly generated key (tests, development).
    pub fn generate(kid: &str, alg: SigningAlgorithm) -> Result<Self, KeyError> {
        Self::from_spec(&KeyringSpec::generate(kid, alg)?)
    }

    pub(crate) fn signing_key(&self) -> &Key {
        &self.keys[self.active]
    }

    pub(crate) fn key(&self, kid: &str) -> Option<&Key> {
        self.by_kid.get(kid).map(|i| &self.keys[*i])
    }

    /// Kid of the signing key.
    pub fn active_kid(&self) -> &str {
        &self.keys[self.active].kid
    }
}
