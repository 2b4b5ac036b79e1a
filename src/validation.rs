//! Input checks shared by every repository, so each rule lives once.
//!
//! Each check returns the cleaned value or a [`DatabaseError::InvalidInput`]
//! naming the field, before anything reaches the database.

use std::collections::HashSet;
use std::fmt::Display;
use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::OauthProvider;
use sea_orm::{ActiveEnum, Iterable};

use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};

/// Longest email address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// Checks an email address's syntax and returns its canonical form: trimmed
/// and lower-cased. RFC 5321 lets a server treat local parts as
/// case-sensitive, but no mail provider does, and one person must not get
/// two accounts as `ada@…` and `ADA@…`; storing the canonical form lets
/// the unique index on `users.email` enforce that on both backends, and
/// lookups by email use the same form. (Only ASCII is accepted, so
/// lower-casing is exact.)
///
/// Accepted: a dot-atom local part (letters, digits and
/// `` !#$%&'*+/=?^_`{|}~- ``, dots not leading, trailing or doubled) and a
/// domain of at least two dot-separated labels (letters, digits, inner
/// hyphens; internationalized domains in their `xn--` form), the last one
/// alphabetic or `xn--`. Quoted local parts and IP-literal domains are
/// refused: no account system here needs them.
///
/// ```
/// use pierre_db::validation::email;
///
/// assert_eq!(email("  Ada.Lovelace+runs@Example.ORG ").unwrap(), "ada.lovelace+runs@example.org");
/// assert!(email("no-at-sign").is_err());
/// assert!(email("two@@example.org").is_err());
/// assert!(email("dot.@example.org").is_err());
/// assert!(email("user@localhost").is_err());
/// ```
pub fn email(input: &str) -> Result<String> {
    let bad = |reason: &str| DatabaseError::invalid("email", reason);
    let value = input.trim();
    if value.is_empty() {
        return Err(bad("must not be empty"));
    }
    if value.len() > MAX_EMAIL_LEN {
        return Err(bad("longer than 254 characters"));
    }
    let (local, domain) = value
        .rsplit_once('@')
        .ok_or_else(|| bad("must contain one @"))?;
    if local.contains('@') {
        return Err(bad("must contain one @"));
    }
    if local.is_empty() || local.len() > MAX_LOCAL_LEN {
        return Err(bad("the part before @ must be 1 to 64 characters"));
    }
    let atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    if local
        .split('.')
        .any(|atom| atom.is_empty() || !atom.chars().all(atom_char))
    {
        return Err(bad(
            "the part before @ has a character or dot that is not allowed",
        ));
    }
    let domain = domain.to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(bad(
            "the domain needs at least two labels, like example.org",
        ));
    }
    if !labels.iter().all(|label| dns_label(label)) {
        return Err(bad("the domain has an empty or malformed label"));
    }
    let tld = labels[labels.len() - 1];
    if !(tld.len() >= 2
        && (tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--")))
    {
        return Err(bad("the domain must end in an alphabetic top-level label"));
    }
    Ok(format!("{}@{domain}", local.to_ascii_lowercase()))
}

/// A required text field: trimmed, non-empty, at most `max_chars`
/// characters, and free of control characters (newlines included).
///
/// ```
/// use pierre_db::validation::required;
///
/// assert_eq!(required("name", "  Morning run ", 100).unwrap(), "Morning run");
/// assert!(required("name", "   ", 100).is_err());
/// assert!(required("name", "a\u{0}b", 100).is_err());
/// assert!(required("name", &"x".repeat(101), 100).is_err());
/// ```
pub fn required(field: &'static str, input: &str, max_chars: usize) -> Result<String> {
    let value = input.trim();
    if value.is_empty() {
        return Err(DatabaseError::invalid(field, "must not be empty"));
    }
    bounded(field, value, max_chars)
}

/// An optional text field: `None` or blank becomes `None`; otherwise as
/// [`required`].
pub fn optional(
    field: &'static str,
    input: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>> {
    match input.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => bounded(field, value, max_chars).map(Some),
    }
}

fn bounded(field: &'static str, value: &str, max_chars: usize) -> Result<String> {
    if value.chars().count() > max_chars {
        return Err(DatabaseError::invalid(
            field,
            format!("longer than {max_chars} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(DatabaseError::invalid(field, "contains control characters"));
    }
    Ok(value.to_owned())
}

/// An expiry must lie after `now`.
///
/// ```
/// use chrono::{Duration, Utc};
/// use pierre_db::validation::expiry;
///
/// let now = Utc::now();
/// assert!(expiry("expires_at", now + Duration::hours(1), now).is_ok());
/// assert!(expiry("expires_at", now, now).is_err());
/// ```
pub fn expiry(field: &'static str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if at <= now {
        return Err(DatabaseError::invalid(field, "must be in the future"));
    }
    Ok(at)
}

/// Every requested scope must be among the allowed ones; returns the
/// requested scopes without duplicates, in their first order.
///
/// ```
/// use pierre_db::validation::scope_subset;
///
/// assert_eq!(scope_subset(&["read", "read", "write"], &["read", "write", "admin"]).unwrap(), ["read", "write"]);
/// assert!(scope_subset(&["admin"], &["read"]).is_err());
/// assert!(scope_subset(&[" "], &["read"]).is_err());
/// ```
pub fn scope_subset<S: AsRef<str>>(requested: &[S], allowed: &[S]) -> Result<Vec<String>> {
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

/// A short machine name such as a provider (`strava`, `garmin`): 1 to
/// `max_chars` characters of lowercase ASCII letters, digits, `_` and `-`.
///
/// ```
/// use pierre_db::validation::identifier;
///
/// assert_eq!(identifier("provider", " strava ", 32).unwrap(), "strava");
/// assert!(identifier("provider", "Strava", 32).is_err());
/// assert!(identifier("provider", "a|b", 32).is_err());
/// assert!(identifier("provider", "", 32).is_err());
/// ```
pub fn identifier(field: &'static str, input: &str, max_chars: usize) -> Result<String> {
    let value = required(field, input, max_chars)?;
    let ok = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(DatabaseError::invalid(
            field,
            "only lowercase letters, digits, '_' and '-' are allowed",
        ));
    }
    Ok(value)
}

/// A secret value (token, client secret): non-empty and at most
/// `max_bytes` long. Its content is never echoed in the error.
pub fn secret(field: &'static str, value: &str, max_bytes: usize) -> Result<()> {
    if value.is_empty() {
        return Err(DatabaseError::invalid(field, "must not be empty"));
    }
    if value.len() > max_bytes {
        return Err(DatabaseError::invalid(
            field,
            format!("longer than {max_bytes} bytes"),
        ));
    }
    Ok(())
}

/// An optional free text such as an error message: as [`optional`], except
/// that line breaks and tabs are kept (other control characters are still
/// refused).
///
/// ```
/// use pierre_db::validation::optional_multiline;
///
/// assert_eq!(optional_multiline("error", Some("line 1\nline 2"), 100).unwrap().as_deref(), Some("line 1\nline 2"));
/// assert_eq!(optional_multiline("error", Some("  "), 100).unwrap(), None);
/// assert!(optional_multiline("error", Some("bell\u{7}"), 100).is_err());
/// ```
pub fn optional_multiline(
    field: &'static str,
    input: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>> {
    let value = match input.map(str::trim) {
        None | Some("") => return Ok(None),
        Some(value) => value,
    };
    if value.chars().count() > max_chars {
        return Err(DatabaseError::invalid(
            field,
            format!("longer than {max_chars} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DatabaseError::invalid(field, "contains control characters"));
    }
    Ok(Some(value.to_owned()))
}

/// A number that must lie in `range`, converted to the column's integer
/// type (an out-of-range value never wraps or truncates).
///
/// ```
/// use pierre_db::validation::int_range;
///
/// let status: i32 = int_range("status_code", 404u16, 100..=599).unwrap();
/// assert_eq!(status, 404);
/// assert!(int_range::<u16, i32>("status_code", 99, 100..=599).is_err());
/// assert!(int_range::<u32, i32>("limit", u32::MAX, 1..=u32::MAX).is_err(), "does not fit i32");
/// ```
pub fn int_range<T, U>(field: &'static str, value: T, range: RangeInclusive<T>) -> Result<U>
where
    T: PartialOrd + Copy + Display,
    U: TryFrom<T>,
{
    if !range.contains(&value) {
        return Err(DatabaseError::invalid(
            field,
            format!("must be between {} and {}", range.start(), range.end()),
        ));
    }
    U::try_from(value).map_err(|_| DatabaseError::invalid(field, "too large to store"))
}

/// The two ends of a range must be in order (`low <= high`); `field` names
/// the upper end.
///
/// ```
/// use pierre_db::validation::ordered;
///
/// assert!(ordered("to", 1, 2).is_ok());
/// assert!(ordered("to", 2, 2).is_ok());
/// assert!(ordered("to", 3, 2).is_err());
/// ```
pub fn ordered<T: PartialOrd>(field: &'static str, low: T, high: T) -> Result<()> {
    if low > high {
        return Err(DatabaseError::invalid(
            field,
            "lies before the start of the range",
        ));
    }
    Ok(())
}

/// A URL-safe name such as a tenant slug: `min_chars` to `max_chars` of
/// lowercase ASCII letters, digits and `-`, neither starting nor ending with
/// `-` (so it also fits a DNS label when `max_chars <= 63`). Surrounding
/// blanks are trimmed; upper case is refused rather than folded, so what is
/// stored is what the caller chose.
///
/// ```
/// use pierre_db::validation::slug;
///
/// assert_eq!(slug("slug", " acme-running-club ", 3, 63).unwrap(), "acme-running-club");
/// assert!(slug("slug", "ab", 3, 63).is_err());
/// assert!(slug("slug", "Acme", 3, 63).is_err());
/// assert!(slug("slug", "acme_club", 3, 63).is_err());
/// assert!(slug("slug", "-acme", 3, 63).is_err());
/// assert!(slug("slug", &"a".repeat(64), 3, 63).is_err());
/// ```
pub fn slug(
    field: &'static str,
    input: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<String> {
    let value = input.trim();
    let len = value.chars().count();
    if len < min_chars || len > max_chars {
        return Err(DatabaseError::invalid(
            field,
            format!("must be {min_chars} to {max_chars} characters"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(DatabaseError::invalid(
            field,
            "only lowercase letters, digits and '-' are allowed",
        ));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err(DatabaseError::invalid(
            field,
            "must not start or end with '-'",
        ));
    }
    Ok(value.to_owned())
}

/// Longest DNS name accepted.
pub const MAX_DOMAIN_LEN: usize = 253;

/// Whether `label` is a DNS label: 1 to 63 ASCII letters, digits and inner
/// hyphens.
fn dns_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A fully qualified domain name such as a tenant's own domain: at least
/// two dot-separated DNS labels, at most 253 characters, returned trimmed
/// and lower-cased (internationalized names in their `xn--` form).
///
/// ```
/// use pierre_db::validation::domain_name;
///
/// assert_eq!(domain_name("domain", " Runs.Example.ORG ").unwrap(), "runs.example.org");
/// assert!(domain_name("domain", "localhost").is_err());
/// assert!(domain_name("domain", "bad_label.example.org").is_err());
/// assert!(domain_name("domain", "https://example.org").is_err());
/// ```
pub fn domain_name(field: &'static str, input: &str) -> Result<String> {
    let value = input.trim().to_ascii_lowercase();
    if value.is_empty() || value.len() > MAX_DOMAIN_LEN {
        return Err(DatabaseError::invalid(field, "must be 1 to 253 characters"));
    }
    let labels: Vec<&str> = value.split('.').collect();
    if labels.len() < 2 || !labels.iter().all(|label| dns_label(label)) {
        return Err(DatabaseError::invalid(
            field,
            "must be a domain name of two or more labels, like example.org",
        ));
    }
    Ok(value)
}

/// An absolute `http` or `https` URL, such as an OAuth redirect URI,
/// returned trimmed and otherwise unchanged (redirect URIs are compared
/// exactly).
///
/// Refused: other schemes, a missing or malformed host (a DNS name, an IPv4
/// address or a bracketed IPv6 address), user information (`user@host`,
/// a phishing aid), a port outside 1–65535, a fragment (RFC 6749 §3.1.2
/// forbids one in a redirect URI), and any blank or control character.
///
/// ```
/// use pierre_db::validation::http_url;
///
/// assert!(http_url("redirect_uri", "https://app.example.org/oauth/callback?x=1", 2048).is_ok());
/// assert!(http_url("redirect_uri", "http://localhost:8080/cb", 2048).is_ok());
/// assert!(http_url("redirect_uri", "http://[::1]:8080/cb", 2048).is_ok());
/// assert!(http_url("redirect_uri", "/relative/path", 2048).is_err());
/// assert!(http_url("redirect_uri", "javascript:alert(1)", 2048).is_err());
/// assert!(http_url("redirect_uri", "https://user@example.org/", 2048).is_err());
/// assert!(http_url("redirect_uri", "https://example.org/cb#frag", 2048).is_err());
/// assert!(http_url("redirect_uri", "https:///no-host", 2048).is_err());
/// assert!(http_url("redirect_uri", "https://example.org:99999/", 2048).is_err());
/// ```
pub fn http_url(field: &'static str, input: &str, max_chars: usize) -> Result<String> {
    let bad = |reason: &str| DatabaseError::invalid(field, reason);
    let value = input.trim();
    if value.is_empty() {
        return Err(bad("must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(DatabaseError::invalid(
            field,
            format!("longer than {max_chars} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("contains blanks or control characters"));
    }
    let lower = value.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &value["https://".len()..]
    } else if lower.starts_with("http://") {
        &value["http://".len()..]
    } else {
        return Err(bad("must be an absolute http:// or https:// URL"));
    };
    if rest.contains('#') {
        return Err(bad("must not contain a fragment (#...)"));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if authority.contains('@') {
        return Err(bad("must not contain user information (user@host)"));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or_else(|| bad("has an unclosed IPv6 address"))?;
        let ipv6 = !inside.is_empty()
            && inside.contains(':')
            && inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if !ipv6 {
            return Err(bad("has a malformed IPv6 address"));
        }
        match after {
            "" => (inside, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (inside, Some(port)),
                None => return Err(bad("has a malformed host")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("must name a host"));
    }
    if !authority.starts_with('[')
        && (host.len() > MAX_DOMAIN_LEN || !host.split('.').all(dns_label))
    {
        return Err(bad("has a malformed host"));
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p));
        if !valid {
            return Err(bad("has a port outside 1-65535"));
        }
    }
    Ok(value.to_owned())
}

/// A list of OAuth scope tokens (RFC 6749 §3.3: printable ASCII other than
/// blank, `"` and `\`): at most `max_items`, each trimmed, non-empty and at
/// most `max_chars` long. Duplicates are dropped, the first order kept. An
/// empty list is allowed.
///
/// ```
/// use pierre_db::validation::scope_tokens;
///
/// assert_eq!(scope_tokens("scopes", &["read", " activity:read_all ", "read"], 20, 100).unwrap(), ["read", "activity:read_all"]);
/// assert!(scope_tokens("scopes", &["read write"], 20, 100).is_err());
/// assert!(scope_tokens("scopes", &[""], 20, 100).is_err());
/// assert!(scope_tokens("scopes", &["a", "b", "c"], 2, 100).is_err());
/// ```
pub fn scope_tokens<S: AsRef<str>>(
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

/// Reads a provider name (`strava`, …) into the schema's enum; anything
/// else is `InvalidInput` naming the providers this build knows.
///
/// ```
/// use pierre_db::validation::oauth_provider;
///
/// assert!(oauth_provider("garmin").is_ok());
/// assert!(oauth_provider("myspace").is_err());
/// ```
pub fn oauth_provider(input: &str) -> Result<OauthProvider> {
    let name = identifier("provider", input, 32)?;
    OauthProvider::try_from(name.as_str()).map_err(|_| {
        let known: Vec<String> = OauthProvider::iter().map(provider_name).collect();
        DatabaseError::invalid(
            "provider",
            format!("not a supported provider (one of: {})", known.join(", ")),
        )
    })
}

/// The provider's name as stored (and as bound into encryption contexts).
pub fn provider_name(provider: OauthProvider) -> String {
    provider.to_value().value.into_owned()
}

/// OAuth client credentials, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The provider.
    pub provider: OauthProvider,
    /// The client id, trimmed.
    pub client_id: String,
    /// The redirect URI, an absolute http(s) URL.
    pub redirect_uri: String,
}

/// Checks the parts every stored OAuth client credential has: a known
/// provider, a client id, a non-empty bounded secret and a redirect URL.
pub fn client_credentials(
    provider: &str,
    client_id: &str,
    client_secret: &Secret,
    redirect_uri: &str,
) -> Result<ClientCredentials> {
    let provider = oauth_provider(provider)?;
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
