//! Credential hashes in the original server's forms, found in a database
//! after adoption: they verify (with feature `adopt`), and the repository
//! that verified one replaces it with this crate's SHA-256 form at once,
//! the way password hashers upgrade a hash on login. This crate's form is
//! lowercase hex, so the `$`-prefixed PHC forms cannot be mistaken for it.

#[cfg(not(feature = "adopt"))]
use crate::error::DatabaseError;
use crate::error::Result;
use base64::Engine;

/// The original's HMAC form of a credential: standard base64 of
/// HMAC-SHA256 under its data key (`key`, raw bytes).
pub(crate) fn hmac(key: &[u8], credential: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    base64::engine::general_purpose::STANDARD
        .encode(ring::hmac::sign(&key, credential.as_bytes()).as_ref())
}

/// Whether `stored` holds a credential in the original's HMAC form (this
/// crate's SHA-256 is 64 hex characters; the HMAC form is 44 of base64).
pub(crate) fn is_hmac_form(stored: &str) -> bool {
    stored.len() == 44
        && base64::engine::general_purpose::STANDARD
            .decode(stored)
            .is_ok_and(|mac| mac.len() == 32)
}

/// Whether `computed` equals `stored`, in constant time.
pub(crate) fn macs_match(computed: &str, stored: &str) -> bool {
    use subtle::ConstantTimeEq;
    computed.as_bytes().ct_eq(stored.as_bytes()).into()
}

/// A hash form of the original's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// Argon2id PHC string (`$argon2id$v=19$…`): OAuth 2.0 client secrets.
    Argon2id,
}

impl Form {
    /// The original's form of `stored`, if it is one.
    pub(crate) fn of(stored: &str) -> Option<Self> {
        stored.starts_with("$argon2id$").then_some(Self::Argon2id)
    }
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Argon2id => "Argon2id",
        })
    }
}

/// Whether `credential` matches `stored`, a hash in `form`, computed on a
/// blocking thread: the original's Argon2id costs tens of milliseconds and
/// 19 MiB, which must not stall the async workers. Without the `adopt`
/// feature this build cannot tell: [`DatabaseError::Unsupported`] says so,
/// rather than refusing a credential that may be right.
pub(crate) async fn verify(form: Form, credential: &str, stored: &str) -> Result<bool> {
    #[cfg(feature = "adopt")]
    {
        let (credential, stored) = (credential.to_owned(), stored.to_owned());
        tokio::task::spawn_blocking(move || verify_now(form, &credential, &stored))
            .await
            .map_err(|err| {
                crate::error::DatabaseError::Config(format!("hash check failed: {err}"))
            })?
    }
    #[cfg(not(feature = "adopt"))]
    verify_now(form, credential, stored)
}

fn verify_now(form: Form, credential: &str, stored: &str) -> Result<bool> {
    #[cfg(feature = "adopt")]
    match form {
        Form::Argon2id => {
            use argon2::password_hash::{PasswordHash, PasswordVerifier};
            // A stored string that does not parse matches nothing; the
            // parameters come from the string itself.
            let Ok(parsed) = PasswordHash::new(stored) else {
                tracing::warn!("a stored {form} hash does not parse: it matches no credential");
                return Ok(false);
            };
            Ok(argon2::Argon2::default()
                .verify_password(credential.as_bytes(), &parsed)
                .is_ok())
        }
    }
    #[cfg(not(feature = "adopt"))]
    {
        let _ = (credential, stored);
        Err(DatabaseError::Unsupported(format!(
            "a credential is stored in the original server's {form} form; build pierre-db with \
             the `adopt` feature to verify (and upgrade) it"
        )))
    }
}

#[cfg(all(test, feature = "adopt"))]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test that cannot go on fails by panicking"
    )]

    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};

    #[test]
    fn an_argon2id_hash_of_the_original_verifies_its_secret_only() {
        let salt = SaltString::encode_b64(b"sixteen byte salt").unwrap();
        let params = argon2::Params::new(19_456, 2, 1, None).unwrap();
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let stored = argon.hash_password(b"s3cret", &salt).unwrap().to_string();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert_eq!(Form::of(&stored), Some(Form::Argon2id));
        assert!(verify_now(Form::Argon2id, "s3cret", &stored).unwrap());
        assert!(!verify_now(Form::Argon2id, "s3cret ", &stored).unwrap());
        assert!(!verify_now(Form::Argon2id, "s3cret", "$argon2id$garbage").unwrap());
        // This crate's own form is never taken for the original's.
        assert_eq!(Form::of(&crate::crypto::hashing::hash("s3cret")), None);
    }
}
