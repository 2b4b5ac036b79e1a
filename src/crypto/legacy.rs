//! The original Pierre server's encryption, read for adoption and never
//! written: one AES-256-GCM data key per database, wrapped by the master
//! key, and ciphertexts stored as standard base64 of
//! `nonce (12) ‖ ciphertext ‖ tag (16)` under a `|`-joined associated-data
//! string.
//!
//! A legacy value is opened here and sealed again as this crate's envelope
//! under the target's keys; nothing in the legacy format survives adoption.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, LessSafeKey, NONCE_LEN, UnboundKey};
use zeroize::Zeroizing;

use super::CryptoError;
use super::envelope::open_raw;
use super::master::MasterKey;

/// The `system_secrets.secret_type` of the original's wrapped data key.
pub(crate) const DATA_KEY_SECRET_TYPE: &str = "database_encryption_key";

/// The original's data key, unwrapped.
pub(crate) struct LegacyDataKey {
    key: LessSafeKey,
    /// Its bytes: the original also used it as the HMAC key of some
    /// credentials, which adoption keeps it for.
    raw: Zeroizing<Vec<u8>>,
}

impl LegacyDataKey {
    /// The key as standard base64, the form adoption seals it in.
    pub(crate) fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.raw.as_slice()))
    }
}

impl std::fmt::Debug for LegacyDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LegacyDataKey(<redacted>)")
    }
}

/// Unwraps the data key the original stored in `system_secrets` (empty
/// associated data). [`CryptoError::WrongMasterKey`] when `master` is not
/// the key that wrapped it.
pub(crate) fn unwrap_data_key(
    master: &MasterKey,
    stored: &str,
) -> Result<LegacyDataKey, CryptoError> {
    let master = aes_key(master.expose())?;
    let bytes = open_with(&master, "", stored).map_err(|err| match err {
        CryptoError::Authentication => CryptoError::WrongMasterKey,
        other => other,
    })?;
    Ok(LegacyDataKey {
        key: aes_key(&bytes)?,
        raw: bytes,
    })
}

/// Opens a legacy ciphertext under its associated data
/// ([`token_aad`], [`credential_aad`], or `""` for the original's values
/// encrypted without context).
pub(crate) fn open(
    key: &LegacyDataKey,
    aad: &str,
    stored: &str,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    open_with(&key.key, aad, stored)
}

/// The associated data of `user_oauth_tokens.access_token` and
/// `.refresh_token`: ids as stored (lowercase hyphenated), provider as
/// stored.
pub(crate) fn token_aad(tenant_id: &str, user_id: &str, provider: &str) -> String {
    format!("{tenant_id}|{user_id}|{provider}|user_oauth_tokens")
}

/// The associated data of `tenant_oauth_credentials.client_secret_encrypted`.
pub(crate) fn credential_aad(tenant_id: &str, provider: &str) -> String {
    format!("{tenant_id}|{provider}|tenant_oauth_credentials")
}

fn aes_key(bytes: &[u8]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::KeyLength)
}

fn open_with(
    key: &LessSafeKey,
    aad: &str,
    stored: &str,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let raw = Zeroizing::new(
        STANDARD
            .decode(stored.trim())
            .map_err(|_| CryptoError::Malformed)?,
    );
    // A tag of 16 bytes follows the nonce even for an empty plaintext.
    if raw.len() < NONCE_LEN + 16 {
        return Err(CryptoError::Truncated);
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated)?;
    open_raw(key, nonce, aad.as_bytes(), sealed)
}

#[cfg(test)]
mod tests {
    //! Values written here the way the original wrote them (ring directly,
    //! not this module), then opened by this module.
    #![allow(
        clippy::unwrap_used,
        reason = "a test that cannot go on fails by panicking"
    )]

    use super::*;
    use ring::aead::{Aad, Nonce};

    fn legacy_seal(key: &[u8], aad: &str, plaintext: &[u8]) -> String {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap());
        let nonce = [7u8; NONCE_LEN];
        let mut in_out = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut in_out,
        )
        .unwrap();
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&in_out);
        STANDARD.encode(raw)
    }

    #[test]
    fn a_wrapped_data_key_and_its_ciphertexts_open_under_their_context() {
        let master = MasterKey::generate().unwrap();
        let data_key = [42u8; 32];
        let wrapped = legacy_seal(master.expose(), "", &data_key);
        let key = unwrap_data_key(&master, &wrapped).unwrap();

        let aad = token_aad("t-1", "u-1", "strava");
        let sealed = legacy_seal(&data_key, &aad, b"access");
        assert_eq!(open(&key, &aad, &sealed).unwrap().as_slice(), b"access");
        // Another row's context, or the other column's, does not open it.
        assert_eq!(
            open(&key, &token_aad("t-2", "u-1", "strava"), &sealed).unwrap_err(),
            CryptoError::Authentication
        );
        assert_eq!(
            open(&key, &credential_aad("t-1", "strava"), &sealed).unwrap_err(),
            CryptoError::Authentication
        );
        // A value the original encrypted without context.
        let plain = legacy_seal(&data_key, "", b"no context");
        assert_eq!(open(&key, "", &plain).unwrap().as_slice(), b"no context");
    }

    #[test]
    fn a_wrong_master_key_or_a_damaged_value_is_named() {
        let master = MasterKey::generate().unwrap();
        let wrapped = legacy_seal(master.expose(), "", &[1u8; 32]);
        let other = MasterKey::generate().unwrap();
        assert_eq!(
            unwrap_data_key(&other, &wrapped).unwrap_err(),
            CryptoError::WrongMasterKey
        );
        let key = unwrap_data_key(&master, &wrapped).unwrap();
        assert_eq!(
            open(&key, "", "not base64!").unwrap_err(),
            CryptoError::Malformed
        );
        assert_eq!(open(&key, "", "AAAA").unwrap_err(), CryptoError::Truncated);
        let mut sealed = STANDARD.decode(legacy_seal(&[1u8; 32], "", b"x")).unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert_eq!(
            open(&key, "", &STANDARD.encode(sealed)).unwrap_err(),
            CryptoError::Authentication
        );
        // A wrapped key of the wrong length is not a data key.
        let short = legacy_seal(master.expose(), "", &[1u8; 16]);
        assert_eq!(
            unwrap_data_key(&master, &short).unwrap_err(),
            CryptoError::KeyLength
        );
    }
}
