//! Data keys: random AES-256 keys, each wrapped by the master key.
//!
//! Values are sealed under the *active* data key; every key still stored
//! stays usable for opening, so rotation never makes a row unreadable. The
//! database side (storing wrapped keys in `system_secrets`, their state in
//! `key_versions`, re-encryption) is in the `security` module, reached through
//! [`Database::security`](crate::Database::security).
//!
//! Raw key bytes live in zeroizing buffers; ring's expanded AES key
//! schedules are ring's own and are not zeroized by it.

use std::collections::BTreeMap;

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::CryptoError;
use super::aad::Context;
use super::envelope::{self, SealingKey};
use super::secret::Secret;
use crate::crypto::master::MasterKey;

/// Key version 0 is the master key; data keys start at 1.
pub const MASTER_KEY_VERSION: u32 = 0;

/// A data key: its version and raw bytes.
pub struct DataKey {
    version: u32,
    bytes: Zeroizing<[u8; 32]>,
}

impl DataKey {
    /// A new random data key.
    pub fn generate(version: u32) -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| CryptoError::Random)?;
        Ok(Self { version, bytes })
    }

    /// The version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Seals this key under the master key, bound to its version.
    pub fn wrap(&self, master: &MasterKey) -> Result<String, CryptoError> {
        let key = SealingKey::new(MASTER_KEY_VERSION, master.expose())?;
        envelope::seal(&key, &wrap_context(self.version), self.bytes.as_ref())
    }

    /// Opens a wrapped key; a wrong master key is [`CryptoError::WrongMasterKey`].
    pub fn unwrap(version: u32, wrapped: &str, master: &MasterKey) -> Result<Self, CryptoError> {
        let key = SealingKey::new(MASTER_KEY_VERSION, master.expose())?;
        let opened = envelope::open(wrapped, &wrap_context(version), |v| {
            (v == MASTER_KEY_VERSION).then_some(&key)
        })
        .map_err(|err| match err {
            CryptoError::Authentication => CryptoError::WrongMasterKey,
            other => other,
        })?;
        let bytes: [u8; 32] = opened
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::KeyLength)?;
        Ok(Self {
            version,
            bytes: Zeroizing::new(bytes),
        })
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey(v{}, <redacted>)", self.version)
    }
}

/// The AAD of a wrapped data key names its version, so a wrapped key cannot
/// be swapped for another version's.
fn wrap_context(version: u32) -> Context {
    Context::new("system_secrets", "secret_value")
        .part("data_key")
        .part(version.to_string())
}

/// The data keys a process holds: all readable ones, and which one seals.
#[derive(Debug)]
pub struct Keyring {
    active: u32,
    keys: BTreeMap<u32, SealingKey>,
}

impl Keyring {
    /// A keyring over `keys`, sealing with `active`.
    pub fn new(active: u32, keys: &[DataKey]) -> Result<Self, CryptoError> {
        let mut map = BTreeMap::new();
        for key in keys {
            map.insert(
                key.version,
                SealingKey::new(key.version, key.bytes.as_ref())?,
            );
        }
        if !map.contains_key(&active) {
            return Err(CryptoError::UnknownKey(active));
        }
        Ok(Self { active, keys: map })
    }

    /// The version new values are sealed under.
    pub fn active_version(&self) -> u32 {
        self.active
    }

    /// The versions this keyring can open.
    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    /// Seals a secret for `context` under the active key.
    pub fn seal(&self, context: &Context, secret: &Secret) -> Result<String, CryptoError> {
        let key = self
            .keys
            .get(&self.active)
            .ok_or(CryptoError::UnknownKey(self.active))?;
        envelope::seal(key, context, secret.expose().as_bytes())
    }

    /// Opens a sealed value for `context` with whichever key sealed it.
    pub fn open(&self, context: &Context, text: &str) -> Result<Secret, CryptoError> {
        let bytes = envelope::open(text, context, |v| self.keys.get(&v))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| CryptoError::Malformed)?;
        Ok(Secret::new(text))
    }
}
