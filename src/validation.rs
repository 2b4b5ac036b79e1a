//! Input checks shared by every repository, so each rule lives once.
//!
//! Each check returns the cleaned value or a [`DatabaseError::InvalidInput`]
//! naming the field, before anything reaches the database.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::error::{DatabaseError, Result};

/// Longest email address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// Checks an email address's syntax and returns it trimmed, with the domain
/// lower-cased (the local part is kept as given: it may be case-sensitive).
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
/// assert_eq!(email("  Ada.Lovelace+runs@Example.ORG ").unwrap(), "Ada.Lovelace+runs@example.org");
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
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(bad("the domain has an empty or malformed label"));
        }
    }
    let tld = labels[labels.len() - 1];
    if !(tld.len() >= 2
        && (tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--")))
    {
        return Err(bad("the domain must end in an alphabetic top-level label"));
    }
    Ok(format!("{local}@{domain}"))
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
