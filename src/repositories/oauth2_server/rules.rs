//! The authorization server's rules: lifetimes, grant and response types,
//! scope strings, PKCE (RFC 7636, S256 only) and state values.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

use super::{OAuth2Clients, OAuth2States};
use crate::error::{DatabaseError, Result};
use crate::validation;
use crate::validation::oauth::scope_tokens;

/// Longest presented code, token or client id looked at; anything longer
/// cannot have been issued here and is simply not found.
pub(crate) const MAX_PRESENTED: usize = 512;

/// A space-separated scope string (RFC 6749 §3.3), normalized: tokens
/// checked, duplicates dropped, one space between. Blank is `None`.
pub(crate) fn scope(input: Option<&str>) -> Result<Option<String>> {
    let Some(input) = input else { return Ok(None) };
    let tokens: Vec<&str> = input.split(' ').filter(|t| !t.is_empty()).collect();
    let tokens = scope_tokens(
        "scope",
        &tokens,
        OAuth2Clients::MAX_SCOPES,
        OAuth2Clients::MAX_SCOPE_LEN,
    )?;
    Ok((!tokens.is_empty()).then(|| tokens.join(" ")))
}

/// Each entry, trimmed, must be one of `known`; duplicates dropped, at
/// least one.
pub(crate) fn known_list(
    field: &'static str,
    input: &[String],
    known: &[&str],
) -> Result<Vec<String>> {
    if input.is_empty() {
        return Err(DatabaseError::invalid(field, "give at least one"));
    }
    let trimmed: Vec<String> = input.iter().map(|item| item.trim().to_owned()).collect();
    validation::known_values(field, &trimmed, known)
}

/// A PKCE code challenge and its method: the method must be `S256`, and
/// the challenge the base64url SHA-256 of a verifier (43 characters).
pub(crate) fn code_challenge(challenge: &str, method: &str) -> Result<String> {
    if method != OAuth2Clients::PKCE_METHOD {
        return Err(DatabaseError::invalid(
            "code_challenge_method",
            format!("{method:?} is not accepted; use S256 (plain is refused, RFC 7636 §7.2)"),
        ));
    }
    let decoded = URL_SAFE_NO_PAD.decode(challenge.as_bytes());
    if challenge.len() != 43 || !matches!(decoded, Ok(bytes) if bytes.len() == 32) {
        return Err(DatabaseError::invalid(
            "code_challenge",
            "must be the base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    Ok(challenge.to_owned())
}

/// Whether `verifier` is the PKCE verifier of the S256 `challenge`
/// (RFC 7636 §4.6): 43 to 128 unreserved characters whose SHA-256, in
/// base64url, equals the challenge, compared in constant time.
///
/// Run it after consuming the code, so that a wrong verifier still burns
/// the code.
///
/// ```
/// use pierre_db::verify_pkce;
///
/// let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// assert!(verify_pkce(verifier, challenge));
/// assert!(!verify_pkce("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", challenge));
/// ```
pub fn verify_pkce(verifier: &str, challenge: &str) -> bool {
    let computed = s256(verifier);
    let equal: bool = computed.as_bytes().ct_eq(challenge.as_bytes()).into();
    well_formed_verifier(verifier) && equal
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2): the base64url
/// SHA-256 of the verifier, without padding, as a client sends it with its
/// authorization request and [`verify_pkce`] checks it at the exchange.
/// `InvalidInput` (field `code_verifier`) unless the verifier is 43 to 128
/// unreserved characters (§4.1).
///
/// ```
/// use pierre_db::{pkce_s256_challenge, verify_pkce};
///
/// let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// let challenge = pkce_s256_challenge(verifier)?;
/// assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// assert!(verify_pkce(verifier, &challenge));
/// assert!(pkce_s256_challenge("too short").is_err());
/// # Ok::<(), pierre_db::DatabaseError>(())
/// ```
pub fn pkce_s256_challenge(verifier: &str) -> Result<String> {
    if !well_formed_verifier(verifier) {
        return Err(DatabaseError::invalid(
            "code_verifier",
            "must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~' \
             (RFC 7636 section 4.1)",
        ));
    }
    Ok(s256(verifier))
}

/// A verifier as RFC 7636 §4.1 allows it.
fn well_formed_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The base64url SHA-256 of `verifier`, without padding.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

/// A state value chosen by the client (RFC 6749 Appendix A.5: printable
/// ASCII), 1 to [`OAuth2States::MAX_STATE_LEN`] characters.
pub(crate) fn state(input: &str) -> Result<String> {
    if input.is_empty() || input.len() > OAuth2States::MAX_STATE_LEN {
        return Err(DatabaseError::invalid(
            "state",
            format!("must be 1 to {} characters", OAuth2States::MAX_STATE_LEN),
        ));
    }
    if !input.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(DatabaseError::invalid(
            "state",
            "only printable ASCII characters are allowed",
        ));
    }
    Ok(input.to_owned())
}

/// When something issued at `now` with lifetime `ttl` (or `default`)
/// expires; a lifetime must be positive and at most [`OAuth2Clients::MAX_TTL`].
pub(crate) fn expiry(
    now: DateTime<Utc>,
    ttl: Option<Duration>,
    default: Duration,
) -> Result<DateTime<Utc>> {
    let ttl = ttl.unwrap_or(default);
    if ttl <= Duration::zero() || ttl > OAuth2Clients::MAX_TTL {
        return Err(DatabaseError::invalid(
            "ttl",
            "must be positive and at most 365 days",
        ));
    }
    // A TTL may carry nanoseconds: the expiry is stored, and reported,
    // in whole microseconds, so that the reported instant is the stored one.
    Ok(crate::time::truncate(now + ttl))
}

/// Whether a presented value could have been issued here (otherwise it is
/// not found, without a query).
pub(crate) fn presentable(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_PRESENTED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_strings_are_normalized() {
        assert_eq!(
            scope(Some("read  write read")).unwrap().as_deref(),
            Some("read write")
        );
        assert_eq!(scope(Some("   ")).unwrap(), None);
        assert!(scope(Some("a\"b")).is_err());
    }

    #[test]
    fn plain_pkce_and_malformed_challenges_are_refused() {
        let good = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(code_challenge(good, "S256").is_ok());
        assert!(code_challenge(good, "plain").is_err());
        assert!(code_challenge("short", "S256").is_err());
        assert!(code_challenge(&format!("{}=", &good[..42]), "S256").is_err());
    }

    #[test]
    fn verifiers_outside_the_rfc_alphabet_or_length_fail() {
        let short = "abc";
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, short.as_bytes()));
        assert!(!verify_pkce(short, &challenge));
    }

    #[test]
    fn states_are_printable_ascii() {
        assert!(state("xyz-123_~").is_ok());
        assert!(state("").is_err());
        assert!(state("a\nb").is_err());
        assert!(state(&"s".repeat(OAuth2States::MAX_STATE_LEN + 1)).is_err());
    }
}
