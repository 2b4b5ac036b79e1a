//! Credentials that only need checking: stored as SHA-256, never encrypted.
//!
//! API keys, admin and MCP tokens, OAuth client secrets, authorization
//! codes, refresh tokens and A2A session tokens are all generated here from
//! 256 bits of the system CSPRNG. For such inputs a plain SHA-256 is as
//! strong as a keyed hash: nobody can guess a preimage of 2^256 candidates,
//! so a leaked table reveals nothing usable. Plain SHA-256 was chosen over
//! HMAC because it ties nothing to the master key: changing or losing the
//! master key never invalidates a credential, and lookups stay a simple
//! equality on an indexed hash column. (Low-entropy secrets, i.e. user
//! passwords, are the application's job with a password hash such as
//! Argon2, and never pass through here.)
//!
//! Verification compares digests in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

use super::CryptoError;
use super::secret::Secret;

/// Random bytes in a generated token.
pub const TOKEN_BYTES: usize = 32;

/// The lowercase hex SHA-256 of `credential`, as stored.
pub fn hash(credential: &str) -> String {
    let d = digest(&SHA256, credential.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in d.as_ref() {
        out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    out
}

/// Whether `credential` hashes to `stored`, compared in constant time.
pub fn verify(credential: &str, stored: &str) -> bool {
    let computed = hash(credential);
    computed.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// A new random credential: `prefix` followed by 256 random bits in
/// base64url.
pub fn generate(prefix: &str) -> Result<Secret, CryptoError> {
    let mut bytes = zeroize::Zeroizing::new([0u8; TOKEN_BYTES]);
    SystemRandom::new()
        .fill(bytes.as_mut())
        .map_err(|_| CryptoError::Random)?;
    Ok(Secret::new(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(bytes.as_ref())
    )))
}

// The examples of this internal module (public only to the crate's own
// tests, under `internals`) are unit tests, so that the doc tests check
// what an application can write.
#[cfg(test)]
mod tests {
    use super::{generate, hash, verify};

    #[test]
    fn hash_is_the_lowercase_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verify_accepts_the_credential_and_nothing_else() {
        let stored = hash("pk_live_secret");
        assert!(verify("pk_live_secret", &stored));
        assert!(!verify("pk_live_secreT", &stored));
    }

    #[test]
    fn generate_is_the_prefix_and_256_bits_in_base64url() {
        let token = generate("pk_").unwrap();
        assert!(token.expose().starts_with("pk_"));
        assert_eq!(token.expose().len(), 3 + 43);
    }
}
