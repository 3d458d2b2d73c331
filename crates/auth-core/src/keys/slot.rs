//! The keyring a running service uses, replaceable while it runs (key reload without
//! restart: a standby key appears in the JWKS, an activated one starts signing, a
//! retired one keeps verifying as long as the key file lists it).

use std::sync::{Arc, RwLock};

use super::Keyring;

/// A keyring that can be swapped atomically; readers take a cheap `Arc` snapshot.
#[derive(Debug)]
pub(crate) struct KeySlot(RwLock<Arc<Keyring>>);

impl KeySlot {
    pub(crate) fn new(keys: Keyring) -> Self {
        Self(RwLock::new(Arc::new(keys)))
    }

    /// The current keyring.
    pub(crate) fn load(&self) -> Arc<Keyring> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the keyring; requests already holding the old one finish with it.
    pub(crate) fn replace(&self, keys: Keyring) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    }
}
