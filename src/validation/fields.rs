//! Field rules: required and optional text, identifiers, slugs, secret
//! sizes, numeric ranges and expiries. Crate-private: the repositories
//! apply them, and their errors name the field.

use std::fmt::Display;
use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};

use crate::error::{DatabaseError, Result};

/// A required text field: trimmed, non-empty, at most `max_chars`
/// characters, and free of control characters (newlines included).
pub(crate) fn required(field: &'static str, input: &str, max_chars: usize) -> Result<String> {
    let value = input.trim();
    if value.is_empty() {
        return Err(DatabaseError::invalid(field, "must not be empty"));
    }
    bounded(field, value, max_chars)
}

/// An optional text field: `None` or blank becomes `None`; otherwise as
/// [`required`].
pub(crate) fn optional(
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
pub(crate) fn expiry(
    field: &'static str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    if at <= now {
        return Err(DatabaseError::invalid(field, "must be in the future"));
    }
    Ok(at)
}

/// A short machine name such as a provider (`strava`, `garmin`): 1 to
/// `max_chars` characters of lowercase ASCII letters, digits, `_` and `-`.
pub(crate) fn identifier(field: &'static str, input: &str, max_chars: usize) -> Result<String> {
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
pub(crate) fn secret(field: &'static str, value: &str, max_bytes: usize) -> Result<()> {
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
pub(crate) fn optional_multiline(
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
pub(crate) fn int_range<T, U>(field: &'static str, value: T, range: RangeInclusive<T>) -> Result<U>
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
pub(crate) fn ordered<T: PartialOrd>(field: &'static str, low: T, high: T) -> Result<()> {
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
pub(crate) fn slug(
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

/// Each entry must be one of `known` (compared as given); duplicates are
/// dropped, the first order kept. An empty list is allowed.
pub(crate) fn known_values(
    field: &'static str,
    input: &[String],
    known: &[&str],
) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for item in input {
        if !known.contains(&item.as_str()) {
            return Err(DatabaseError::invalid(
                field,
                format!("{item:?} is not one of: {}", known.join(", ")),
            ));
        }
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    Ok(out)
}

/// A measured amount: a finite number, greater than zero when `positive`,
/// otherwise at least zero (the schema's `CK(>0)` and `CK(>=0)`).
pub(crate) fn quantity(field: &'static str, value: f64, positive: bool) -> Result<f64> {
    if !value.is_finite() {
        return Err(DatabaseError::invalid(field, "must be a finite number"));
    }
    match (positive, value) {
        (true, v) if v <= 0.0 => Err(DatabaseError::invalid(field, "must be greater than 0")),
        (false, v) if v < 0.0 => Err(DatabaseError::invalid(field, "must not be negative")),
        // -0.0 passes `>= 0`; store it as 0.
        (_, v) => Ok(v + 0.0),
    }
}

/// A list of at most `max_items`, each checked by `each`; an entry's error
/// is reported under `field` with its position (`"3: name: must not be
/// empty"`).
pub(crate) fn list_of<T, U>(
    field: &'static str,
    items: &[T],
    max_items: usize,
    mut each: impl FnMut(&T) -> Result<U>,
) -> Result<Vec<U>> {
    if items.len() > max_items {
        return Err(DatabaseError::invalid(
            field,
            format!("{} entries, more than {max_items}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            each(item).map_err(|err| match err {
                DatabaseError::InvalidInput {
                    field: inner,
                    reason,
                } if inner == field => DatabaseError::invalid(field, format!("{i}: {reason}")),
                DatabaseError::InvalidInput {
                    field: inner,
                    reason,
                } => DatabaseError::invalid(field, format!("{i}: {inner}: {reason}")),
                other => other,
            })
        })
        .collect()
}

/// `value` as stored JSON: at most `max_bytes` when serialized, and a
/// JSON object when `object` is set.
pub(crate) fn json_document(
    field: &'static str,
    value: &serde_json::Value,
    max_bytes: usize,
    object: bool,
) -> Result<()> {
    if object && !value.is_object() {
        return Err(DatabaseError::invalid(field, "must be a JSON object"));
    }
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(DatabaseError::invalid(
            field,
            format!("{size} bytes of JSON, more than {max_bytes}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_finite_and_signed_as_asked() {
        assert_eq!(quantity("amount", 2.5, true).unwrap(), 2.5);
        assert!(quantity("amount", 0.0, true).is_err());
        assert_eq!(quantity("grams", 0.0, false).unwrap(), 0.0);
        assert!(quantity("grams", -0.0, false).unwrap().is_sign_positive());
        assert!(quantity("grams", -1.0, false).is_err());
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(quantity("grams", bad, false).is_err());
        }
    }

    #[test]
    fn list_entries_are_checked_and_named_by_position() {
        let tags = ["a".to_owned(), " ".to_owned()];
        let err = list_of("tags", &tags, 5, |t| required("tags", t, 10)).unwrap_err();
        assert_eq!(
            err.to_string(),
            DatabaseError::invalid("tags", "1: must not be empty").to_string()
        );
        let err = list_of("items", &[-1.0], 5, |v| quantity("amount", *v, true)).unwrap_err();
        assert!(
            err.to_string()
                .contains("0: amount: must be greater than 0"),
            "{err}"
        );
        assert!(list_of("tags", &tags, 1, |t| required("tags", t, 10)).is_err());
        assert_eq!(
            list_of("tags", &tags[..1], 1, |t| required("tags", t, 10)).unwrap(),
            ["a"]
        );
    }

    #[test]
    fn required_examples() {
        assert_eq!(
            required("name", "  Morning run ", 100).unwrap(),
            "Morning run"
        );
        assert!(required("name", "   ", 100).is_err());
        assert!(required("name", "a\u{0}b", 100).is_err());
        assert!(required("name", &"x".repeat(101), 100).is_err());
    }

    #[test]
    fn expiry_examples() {
        use chrono::{Duration, Utc};

        let now = Utc::now();
        assert!(expiry("expires_at", now + Duration::hours(1), now).is_ok());
        assert!(expiry("expires_at", now, now).is_err());
    }

    #[test]
    fn identifier_examples() {
        assert_eq!(identifier("provider", " strava ", 32).unwrap(), "strava");
        assert!(identifier("provider", "Strava", 32).is_err());
        assert!(identifier("provider", "a|b", 32).is_err());
        assert!(identifier("provider", "", 32).is_err());
    }

    #[test]
    fn optional_multiline_examples() {
        assert_eq!(
            optional_multiline("error", Some("line 1\nline 2"), 100)
                .unwrap()
                .as_deref(),
            Some("line 1\nline 2")
        );
        assert_eq!(optional_multiline("error", Some("  "), 100).unwrap(), None);
        assert!(optional_multiline("error", Some("bell\u{7}"), 100).is_err());
    }

    #[test]
    fn int_range_examples() {
        let status: i32 = int_range("status_code", 404u16, 100..=599).unwrap();
        assert_eq!(status, 404);
        assert!(int_range::<u16, i32>("status_code", 99, 100..=599).is_err());
        assert!(
            int_range::<u32, i32>("limit", u32::MAX, 1..=u32::MAX).is_err(),
            "does not fit i32"
        );
    }

    #[test]
    fn ordered_examples() {
        assert!(ordered("to", 1, 2).is_ok());
        assert!(ordered("to", 2, 2).is_ok());
        assert!(ordered("to", 3, 2).is_err());
    }

    #[test]
    fn slug_examples() {
        assert_eq!(
            slug("slug", " acme-running-club ", 3, 63).unwrap(),
            "acme-running-club"
        );
        assert!(slug("slug", "ab", 3, 63).is_err());
        assert!(slug("slug", "Acme", 3, 63).is_err());
        assert!(slug("slug", "acme_club", 3, 63).is_err());
        assert!(slug("slug", "-acme", 3, 63).is_err());
        assert!(slug("slug", &"a".repeat(64), 3, 63).is_err());
    }
}
