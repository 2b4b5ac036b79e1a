//! The stored form of an encrypted value.
//!
//! ```text
//! text   = "pdb1:k" key_version ":" base64(bytes)        (standard base64)
//! bytes  = format (1 byte, = 1)
//!        ‖ key_version (4 bytes, big-endian)
//!        ‖ nonce (12 random bytes)
//!        ‖ ciphertext ‖ tag (16 bytes)
//! AEAD   = AES-256-GCM, key = the data key `key_version`
//! AAD    = format ‖ key_version ‖ canonical context (see [`super::aad`])
//! ```
//!
//! The readable prefix lets an operator (and the rotation job) see which key
//! sealed a value without decrypting it; it must agree with the
//! authenticated header, so editing it is detected like any other change.
//! Key version 0 is the master key itself, which seals only data keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::CryptoError;
use super::aad::Context;

/// The only format version written and read.
pub const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 1 + 4;
const TAG_LEN: usize = 16;
const PREFIX: &str = "pdb1:k";

/// An AES-256-GCM key with its version.
pub struct SealingKey {
    version: u32,
    key: LessSafeKey,
}

impl SealingKey {
    /// A key from 32 bytes.
    pub fn new(version: u32, bytes: &[u8]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::KeyLength)?;
        Ok(Self {
            version,
            key: LessSafeKey::new(unbound),
        })
    }

    /// The key's version.
    #[cfg(feature = "internals")]
    pub fn version(&self) -> u32 {
        self.version
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKey(v{}, <redacted>)", self.version)
    }
}

/// Seals `plaintext` for `context` under `key` with a fresh random nonce.
pub fn seal(key: &SealingKey, context: &Context, plaintext: &[u8]) -> Result<String, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| CryptoError::Random)?;
    let header = header(key.version);
    let mut bytes = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&nonce);
    let sealed = seal_raw(&key.key, nonce, &aad(&header, context), plaintext)?;
    bytes.extend_from_slice(&sealed);
    Ok(format!(
        "{PREFIX}{}:{}",
        key.version,
        STANDARD.encode(bytes)
    ))
}

/// The data key version named by an envelope's prefix, without decrypting.
pub fn key_version(text: &str) -> Result<u32, CryptoError> {
    split(text).map(|(version, _)| version)
}

/// The prefix's key version and the base64 body after it.
fn split(text: &str) -> Result<(u32, &str), CryptoError> {
    let rest = text.strip_prefix(PREFIX).ok_or(CryptoError::Malformed)?;
    let (version, body) = rest.split_once(':').ok_or(CryptoError::Malformed)?;
    Ok((canonical_version(version)?, body))
}

/// The version as [`seal`] writes it and nothing else: ASCII digits, no
/// sign, no leading zero. `u32::from_str` also takes `+1` and `01`; letting
/// those through would give one value several spellings, and the `LIKE`
/// patterns that count a key's values ([`like_pattern`]) would miss them.
fn canonical_version(text: &str) -> Result<u32, CryptoError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let canonical = digits && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return Err(CryptoError::Malformed);
    }
    text.parse().map_err(|_| CryptoError::Malformed)
}

/// The SQL `LIKE` pattern matching every value sealed under `version`:
/// with the canonical spelling that opening requires, a value matches it exactly when it names
/// `version`.
pub fn like_pattern(version: u32) -> String {
    format!("{PREFIX}{version}:%")
}

/// The SQL `LIKE` pattern matching every envelope.
pub fn like_any() -> String {
    format!("{PREFIX}%")
}

/// Opens `text` for `context`, asking `key_for` for the key it names.
pub fn open<'k>(
    text: &str,
    context: &Context,
    key_for: impl FnOnce(u32) -> Option<&'k SealingKey>,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (named, body) = split(text)?;
    let bytes = STANDARD.decode(body).map_err(|_| CryptoError::Malformed)?;
    if bytes.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Truncated);
    }
    if bytes[0] != FORMAT_V1 {
        return Err(CryptoError::UnknownFormat(bytes[0]));
    }
    let version = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
    if version != named {
        return Err(CryptoError::Authentication);
    }
    let key = key_for(version).ok_or(CryptoError::UnknownKey(version))?;
    let (header, rest) = bytes.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated)?;
    open_raw(&key.key, nonce, &aad(header, context), sealed)
}

fn header(version: u32) -> [u8; HEADER_LEN] {
    let v = version.to_be_bytes();
    [FORMAT_V1, v[0], v[1], v[2], v[3]]
}

fn aad(header: &[u8], context: &Context) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&context.encode());
    aad
}

/// AES-256-GCM seal: ciphertext ‖ tag. The one place ring seals.
pub(crate) fn seal_raw(
    key: &LessSafeKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut in_out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    in_out.extend_from_slice(plaintext);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut in_out,
    )
    .map_err(|_| CryptoError::Authentication)?;
    Ok(in_out)
}

/// AES-256-GCM open of ciphertext ‖ tag. The one place ring opens.
pub(crate) fn open_raw(
    key: &LessSafeKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut in_out = Zeroizing::new(sealed.to_vec());
    let len = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut in_out,
        )
        .map_err(|_| CryptoError::Authentication)?
        .len();
    in_out.truncate(len);
    Ok(in_out)
}

#[cfg(test)]
mod tests {
    //! Known answers: the AES-256 test cases of the GCM specification,
    //! through the same seal/open functions the envelope uses.
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn only_the_canonical_version_spelling_parses() {
        for good in ["0", "1", "42", "4294967295"] {
            assert!(canonical_version(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "00",
            "1a",
            "4294967296",
            "١",
        ] {
            assert_eq!(
                canonical_version(bad),
                Err(CryptoError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn gcm_spec_vectors() {
        let data = include_str!("../../tests/data/aes-256-gcm-vectors.txt");
        let mut checked = 0;
        for line in data
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [name, key, iv, pt, aad, ct, tag] = fields[..] else {
                panic!("malformed vector line: {line}");
            };
            let field = |v: &str| if v == "-" { Vec::new() } else { hex(v) };
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &hex(key)).unwrap());
            let nonce: [u8; NONCE_LEN] = hex(iv).try_into().unwrap();
            let mut expected = field(ct);
            expected.extend(hex(tag));
            let sealed = seal_raw(&key, nonce, &field(aad), &field(pt)).unwrap();
            assert_eq!(sealed, expected, "{name}: seal");
            let opened = open_raw(&key, nonce, &field(aad), &expected).unwrap();
            assert_eq!(*opened, field(pt), "{name}: open");
            let mut bad = expected.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert!(
                open_raw(&key, nonce, &field(aad), &bad).is_err(),
                "{name}: tampered tag"
            );
            checked += 1;
        }
        assert_eq!(checked, 4);
    }
}
