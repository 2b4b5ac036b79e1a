//! OAuth rules shared by the credential repositories, the OAuth 2.0
//! server and A2A clients: known providers, client credentials, redirect
//! URIs, scope lists.

use std::collections::HashSet;

use entity::sea_orm_active_enums::OauthProvider;
use sea_orm::{ActiveEnum, Iterable};

use super::{http_url, identifier, required, secret};
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};

/// Every requested scope must be among the allowed ones; returns the
/// requested scopes without duplicates, in their first order.
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "first used by A2A sessions, whose scopes must be within the client's permissions"
    )
)]
pub(crate) fn scope_subset<S: AsRef<str>>(requested: &[S], allowed: &[S]) -> Result<Vec<String>> {
    let allowed: HashSet<&str> = allowed.iter().map(AsRef::as_ref).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for scope in requested.iter().map(AsRef::as_ref) {
        if scope.trim().is_empty() {
            return Err(DatabaseError::invalid("scope", "empty scope"));
        }
        if !allowed.contains(scope) {
            return Err(DatabaseError::invalid(
                "scope",
                format!("{scope:?} is not allowed here"),
            ));
        }
        if seen.insert(scope) {
            out.push(scope.to_owned());
        }
    }
    Ok(out)
}

/// A list of OAuth scope tokens (RFC 6749 §3.3: printable ASCII other than
/// blank, `"` and `\`): at most `max_items`, each trimmed, non-empty and at
/// most `max_chars` long. Duplicates are dropped, the first order kept. An
/// empty list is allowed.
pub(crate) fn scope_tokens<S: AsRef<str>>(
    field: &'static str,
    items: &[S],
    max_items: usize,
    max_chars: usize,
) -> Result<Vec<String>> {
    if items.len() > max_items {
        return Err(DatabaseError::invalid(
            field,
            format!("more than {max_items} entries"),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in items.iter().map(|s| s.as_ref().trim()) {
        if item.is_empty() || item.len() > max_chars {
            return Err(DatabaseError::invalid(
                field,
                format!("every entry must be 1 to {max_chars} characters"),
            ));
        }
        if !item
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(DatabaseError::invalid(
                field,
                "an entry contains a blank, quote, backslash or non-ASCII character",
            ));
        }
        if seen.insert(item) {
            out.push(item.to_owned());
        }
    }
    Ok(out)
}

/// Longest OAuth client id accepted.
pub const MAX_CLIENT_ID: usize = 256;

/// Longest OAuth client secret accepted, in bytes.
pub const MAX_CLIENT_SECRET_BYTES: usize = 4096;

/// Longest redirect URI accepted.
pub const MAX_REDIRECT_URI: usize = 2048;

/// One to `max` redirect URIs, each an absolute http(s) URL; duplicates
/// dropped, first order kept.
pub(crate) fn redirect_uri_list(input: &[String], max: usize) -> Result<Vec<String>> {
    if input.is_empty() || input.len() > max {
        return Err(DatabaseError::invalid(
            "redirect_uris",
            format!("give 1 to {max} redirect URIs"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(input.len());
    for uri in input {
        let uri = http_url("redirect_uris", uri, MAX_REDIRECT_URI)?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Reads a provider name (`strava`, …, as an HTTP request or a
/// configuration file carries it) into the schema's enum; anything else is
/// `InvalidInput` naming the providers this build knows.
///
/// ```
/// use pierre_db::{DatabaseError, OauthProvider, parse_provider};
///
/// assert_eq!(parse_provider(" strava ")?, OauthProvider::Strava);
/// assert!(matches!(parse_provider("myspace"), Err(DatabaseError::InvalidInput { .. })));
/// # Ok::<(), DatabaseError>(())
/// ```
pub fn parse_provider(input: &str) -> Result<OauthProvider> {
    let name = identifier("provider", input, 32)?;
    OauthProvider::try_from(name.as_str()).map_err(|_| {
        let known: Vec<String> = OauthProvider::iter().map(provider_name).collect();
        DatabaseError::invalid(
            "provider",
            format!("not a supported provider (one of: {})", known.join(", ")),
        )
    })
}

/// The provider's name as stored:
/// `strava`, …; the inverse of [`parse_provider`].
///
/// ```
/// use pierre_db::{OauthProvider, provider_name};
///
/// assert_eq!(provider_name(OauthProvider::Garmin), "garmin");
/// ```
pub fn provider_name(provider: OauthProvider) -> String {
    provider.to_value().value.into_owned()
}

/// OAuth client credentials, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientCredentials {
    /// The provider.
    pub provider: OauthProvider,
    /// The client id, trimmed.
    pub client_id: String,
    /// The redirect URI, an absolute http(s) URL.
    pub redirect_uri: String,
}

/// Checks the parts every stored OAuth client credential has: a known
/// provider, a client id, a non-empty bounded secret and a redirect URL.
pub(crate) fn client_credentials(
    provider: OauthProvider,
    client_id: &str,
    client_secret: &Secret,
    redirect_uri: &str,
) -> Result<ClientCredentials> {
    let client_id = required("client_id", client_id, MAX_CLIENT_ID)?;
    secret(
        "client_secret",
        client_secret.expose(),
        MAX_CLIENT_SECRET_BYTES,
    )?;
    let redirect_uri = http_url("redirect_uri", redirect_uri, MAX_REDIRECT_URI)?;
    Ok(ClientCredentials {
        provider,
        client_id,
        redirect_uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_subset_examples() {
        assert_eq!(
            scope_subset(&["read", "read", "write"], &["read", "write", "admin"]).unwrap(),
            ["read", "write"]
        );
        assert!(scope_subset(&["admin"], &["read"]).is_err());
        assert!(scope_subset(&[" "], &["read"]).is_err());
    }

    #[test]
    fn scope_tokens_examples() {
        assert_eq!(
            scope_tokens("scopes", &["read", " activity:read_all ", "read"], 20, 100).unwrap(),
            ["read", "activity:read_all"]
        );
        assert!(scope_tokens("scopes", &["read write"], 20, 100).is_err());
        assert!(scope_tokens("scopes", &[""], 20, 100).is_err());
        assert!(scope_tokens("scopes", &["a", "b", "c"], 2, 100).is_err());
    }

    #[test]
    fn oauth_provider_examples() {
        assert!(parse_provider("garmin").is_ok());
        assert!(parse_provider("myspace").is_err());
    }
}
