//! Envelope properties: round trips, and every altered byte or context part
//! fails to open. Seeded, so a failure reproduces.

use pierre_db::MasterKey;
use pierre_db::crypto::CryptoError;
use pierre_db::crypto::aad::Context;
use pierre_db::crypto::envelope;
use pierre_db::crypto::keyring::{DataKey, Keyring};
use pierre_db::crypto::secret::Secret;
use uuid::Uuid;

use crate::common::rng::Rng;

fn keyring(versions: &[u32], active: u32) -> Keyring {
    let keys: Vec<DataKey> = versions
        .iter()
        .map(|v| DataKey::generate(*v).unwrap())
        .collect();
    Keyring::new(active, &keys).unwrap()
}

fn random_context(rng: &mut Rng) -> Context {
    let mut context = Context::new("user_oauth_tokens", "access_token")
        .tenant(rng.uuid())
        .user(rng.uuid());
    for _ in 0..rng.below(3) {
        let len = rng.below(12);
        context = context.part(rng.text(len));
    }
    context
}

#[test]
fn random_plaintexts_and_contexts_round_trip() {
    let mut rng = Rng(0x5eed_0001);
    let ring = keyring(&[1, 2], 2);
    let mut sizes = vec![0, 1, 15, 16, 17, 64, 1024, 64 * 1024];
    sizes.extend((0..40).map(|_| rng.below(64 * 1024 + 1)));
    for size in sizes {
        let context = random_context(&mut rng);
        // Exactly `size` bytes: ASCII, with multi-byte characters in every
        // other case (trimmed back to the size on a character boundary).
        let plaintext = if size % 2 == 0 {
            rng.ascii(size)
        } else {
            let mut text = rng.text(size);
            while text.len() > size {
                text.pop();
            }
            text
        };
        assert!(plaintext.len() <= size && plaintext.len() + 4 > size);
        let sealed = ring
            .seal(&context, &Secret::new(plaintext.clone()))
            .unwrap();
        assert!(
            sealed.starts_with("pdb1:k2:"),
            "readable prefix names the key"
        );
        assert_eq!(envelope::key_version(&sealed).unwrap(), 2);
        assert_eq!(ring.open(&context, &sealed).unwrap().expose(), plaintext);
        let again = ring
            .seal(&context, &Secret::new(plaintext.clone()))
            .unwrap();
        assert_ne!(sealed, again, "fresh nonce every time");
    }
}

#[test]
fn every_single_byte_change_fails_to_open() {
    let mut rng = Rng(0x5eed_0002);
    let ring = keyring(&[1], 1);
    let context = random_context(&mut rng);
    let sealed = ring
        .seal(&context, &Secret::new("ya29.a0-access-token"))
        .unwrap();
    let bytes = sealed.as_bytes();
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut altered = bytes.to_vec();
            altered[i] ^= flip;
            let Ok(text) = String::from_utf8(altered) else {
                continue;
            };
            if text == sealed {
                continue;
            }
            let opened = ring.open(&context, &text);
            assert!(opened.is_err(), "position {i} flip {flip:#x} still opened");
        }
    }
    for cut in [0, 5, 8, 20, sealed.len() - 1] {
        assert!(
            ring.open(&context, &sealed[..cut]).is_err(),
            "truncated to {cut}"
        );
    }
}

#[test]
fn every_single_context_part_change_fails_to_open() {
    let ring = keyring(&[1], 1);
    let tenant = Uuid::new_v4();
    let user = Uuid::new_v4();
    let base = || {
        Context::new("user_oauth_tokens", "access_token")
            .tenant(tenant)
            .user(user)
            .part("strava")
    };
    let sealed = ring.seal(&base(), &Secret::new("token")).unwrap();
    assert_eq!(ring.open(&base(), &sealed).unwrap().expose(), "token");
    let others = [
        Context::new("tenant_oauth_credentials", "access_token")
            .tenant(tenant)
            .user(user)
            .part("strava"),
        Context::new("user_oauth_tokens", "refresh_token")
            .tenant(tenant)
            .user(user)
            .part("strava"),
        Context::new("user_oauth_tokens", "access_token")
            .tenant(Uuid::new_v4())
            .user(user)
            .part("strava"),
        Context::new("user_oauth_tokens", "access_token")
            .tenant(tenant)
            .user(Uuid::new_v4())
            .part("strava"),
        Context::new("user_oauth_tokens", "access_token")
            .tenant(tenant)
            .user(user)
            .part("fitbit"),
        Context::new("user_oauth_tokens", "access_token")
            .tenant(tenant)
            .user(user),
        Context::new("user_oauth_tokens", "access_token")
            .user(user)
            .part("strava"),
        Context::new("user_oauth_tokens", "access_token")
            .tenant(tenant)
            .user(user)
            .part("strava")
            .part(""),
    ];
    for (i, other) in others.iter().enumerate() {
        assert_eq!(
            ring.open(other, &sealed).unwrap_err(),
            CryptoError::Authentication,
            "context change {i} opened"
        );
    }
}

#[test]
fn delimiter_shaped_contexts_encode_differently() {
    let a = Context::new("t", "c").part("a|b").part("c");
    let b = Context::new("t", "c").part("a").part("b|c");
    assert_ne!(a.encode(), b.encode());
    let ring = keyring(&[1], 1);
    let sealed = ring.seal(&a, &Secret::new("x")).unwrap();
    assert!(ring.open(&b, &sealed).is_err());
}

#[test]
fn wrong_key_unknown_version_and_garbage_are_typed_errors() {
    let context = Context::new("t", "c");
    let sealed = keyring(&[1], 1).seal(&context, &Secret::new("s")).unwrap();
    assert_eq!(
        keyring(&[1], 1).open(&context, &sealed).unwrap_err(),
        CryptoError::Authentication
    );
    assert_eq!(
        keyring(&[2], 2).open(&context, &sealed).unwrap_err(),
        CryptoError::UnknownKey(1)
    );
    assert_eq!(
        keyring(&[1], 1).open(&context, "plaintext").unwrap_err(),
        CryptoError::Malformed
    );
    assert_eq!(
        keyring(&[1], 1).open(&context, "pdb1:k1:AAAA").unwrap_err(),
        CryptoError::Truncated
    );
    let relabelled = sealed.replacen("pdb1:k1:", "pdb1:k2:", 1);
    assert!(keyring(&[1, 2], 1).open(&context, &relabelled).is_err());
}

#[test]
fn wrapped_data_keys_open_only_with_their_master_key_and_version() {
    let master = MasterKey::generate().unwrap();
    let key = DataKey::generate(3).unwrap();
    let wrapped = key.wrap(&master).unwrap();
    assert_eq!(DataKey::unwrap(3, &wrapped, &master).unwrap().version(), 3);
    let other = MasterKey::generate().unwrap();
    assert_eq!(
        DataKey::unwrap(3, &wrapped, &other).unwrap_err(),
        CryptoError::WrongMasterKey
    );
    assert!(
        DataKey::unwrap(4, &wrapped, &master).is_err(),
        "bound to its version"
    );
}

#[test]
fn secret_bearing_types_redact() {
    let secret = Secret::new("super-secret-token");
    let master = MasterKey::generate().unwrap();
    let data_key = DataKey::generate(1).unwrap();
    for shown in [
        format!("{secret:?}"),
        format!("{secret}"),
        format!("{master:?}"),
        format!("{data_key:?}"),
        format!("{:?}", keyring(&[1], 1)),
    ] {
        assert!(!shown.contains("super-secret-token"), "{shown}");
        assert!(!shown.contains(&master.to_base64()), "{shown}");
        assert!(
            shown.contains("redacted") || shown.contains("Keyring"),
            "{shown}"
        );
    }
}
