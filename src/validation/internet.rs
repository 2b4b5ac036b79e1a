//! Internet syntax: email addresses, domain names and http(s) URLs.

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
/// use pierre_db::syntax::email;
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
/// use pierre_db::syntax::domain_name;
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
/// use pierre_db::syntax::http_url;
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
