//! The master encryption key (MEK).
//!
//! 32 bytes, given as standard base64 in `PIERRE_MASTER_ENCRYPTION_KEY` (as
//! in the original design) or read from a key file. The bytes are zeroized
//! when the key is dropped and never appear in `Debug` output.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::{DatabaseError, Result};

/// Length of the master key in bytes (AES-256).
pub const MASTER_KEY_LEN: usize = 32;

/// The master encryption key.
///
/// ```
/// use pierre_db::MasterKey;
///
/// let key = MasterKey::generate().unwrap();
/// let again = MasterKey::from_base64(&key.to_base64()).unwrap();
/// assert_eq!(format!("{again:?}"), "MasterKey(<redacted>)");
/// assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
/// ```
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

impl MasterKey {
    /// Parses standard base64 of exactly 32 bytes (surrounding whitespace allowed).
    pub fn from_base64(text: &str) -> Result<Self> {
        let decoded = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| {
            DatabaseError::Config("the master key is not valid standard base64".to_owned())
        })?);
        Self::from_bytes(&decoded)
    }

    /// Takes exactly 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let array: [u8; MASTER_KEY_LEN] = bytes.try_into().map_err(|_| {
            DatabaseError::Config(format!(
                "the master key must be {MASTER_KEY_LEN} bytes, got {}",
                bytes.len()
            ))
        })?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// A new random key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LEN]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| DatabaseError::Config("the system random generator failed".to_owned()))?;
        Ok(Self(bytes))
    }

    /// Reads a key file holding the base64 key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|err| {
            DatabaseError::Config(format!(
                "cannot read the master key file {}: {err}",
                path.display()
            ))
        })?);
        Self::from_base64(&text)
    }

    /// Reads the key file, or creates it with a new random key (mode 0600 on
    /// Unix) when it does not exist. Meant for local development and demos;
    /// production passes the key in the environment.
    pub fn load_or_create_file(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::from_file(path);
        }
        let key = Self::generate()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|err| {
                DatabaseError::Config(format!("cannot create {}: {err}", dir.display()))
            })?;
        }
        write_private(path, key.to_base64().as_bytes()).map_err(|err| {
            DatabaseError::Config(format!(
                "cannot write the master key file {}: {err}",
                path.display()
            ))
        })?;
        Ok(key)
    }

    /// The key as standard base64, the form `PIERRE_MASTER_ENCRYPTION_KEY` takes.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_ref())
    }

    /// The raw key bytes, for the crate's key derivation only.
    pub(crate) fn expose(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
