//! Encryption of secret columns, and hashing of credentials.
//!
//! - [`aad`]: the canonical encoding of a row's context, bound into every
//!   ciphertext as associated data.
//! - [`envelope`]: AES-256-GCM (ring) under a data key, in a versioned,
//!   self-describing text format.
//! - [`keyring`]: data keys (DEKs), wrapped by the master key and stored in
//!   the database, with rotation.
//! - [`hashing`]: credentials that only need checking (API keys, tokens,
//!   client secrets), stored as SHA-256 and compared in constant time.
//! - [`secret`]: a string type whose `Debug` and `Display` redact.
//! - `master`: the master key (MEK) that wraps the data keys, from the
//!   environment or a file (`pierre_db::MasterKey`).
//!
//! Nothing here is hand-rolled cryptography: ring provides AES-GCM, SHA-256,
//! HMAC and the random generator; `subtle` the constant-time comparison.

pub mod aad;
pub mod columns;
pub mod envelope;
pub mod hashing;
pub mod keyring;
#[cfg(feature = "adopt")]
pub(crate) mod legacy;
pub(crate) mod legacy_hash;
pub(crate) mod master;
pub mod secret;

use thiserror::Error;

/// Why a secret could not be sealed or opened. No variant carries plaintext
/// or key bytes.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The stored text is not an envelope (wrong prefix, bad base64).
    #[error("not an encrypted value of this format")]
    Malformed,
    /// The envelope is shorter than its header, nonce and tag.
    #[error("encrypted value is truncated")]
    Truncated,
    /// The envelope's format version is not one this build reads.
    #[error("unknown envelope format version {0}")]
    UnknownFormat(u8),
    /// The envelope names a data key version this database does not hold
    /// (never created here, or retired).
    #[error("unknown data key version {0}")]
    UnknownKey(u32),
    /// Authentication failed: the value was altered, belongs to another row
    /// or column, or was sealed under a different key.
    #[error(
        "decryption failed: the value was altered, moved from another row or column, or sealed under another key"
    )]
    Authentication,
    /// The master key cannot unwrap the stored data keys.
    #[error(
        "the master key does not unwrap the stored data keys: PIERRE_MASTER_ENCRYPTION_KEY (or the key file) is not this database's master key (the key it was created with, or the one its last `keys rewrap` moved it to)"
    )]
    WrongMasterKey,
    /// The system random generator failed.
    #[error("the system random generator failed")]
    Random,
    /// Key material has the wrong length.
    #[error("key material has the wrong length")]
    KeyLength,
    /// A value's context does not have the shape its column binds (a bug
    /// in the calling code, caught before anything is written).
    #[error(
        "the encryption context given for {table}.{column} does not match the column's definition"
    )]
    ContextShape {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
    },
}
