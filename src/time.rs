//! The one way this crate reads the clock.

use chrono::{DateTime, FixedOffset, Utc};

/// Now, in UTC, truncated to whole microseconds: PostgreSQL keeps
/// microseconds, so a value written and read back compares equal on both
/// backends, and SQLite's text ordering stays the time ordering.
pub(crate) fn now() -> DateTime<Utc> {
    truncate(Utc::now())
}

/// Drops sub-microsecond precision.
pub(crate) fn truncate(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// The stored form: UTC as a fixed offset.
pub(crate) fn stored(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.fixed_offset()
}

/// The first and last instants the stores order correctly: years 0000 to
/// 9999. SQLite keeps times as RFC 3339 text, which sorts as time only with
/// four-digit, unsigned years (`"+10000-…" < "-0001-…" < "0000-…"`).
const FIRST_YEAR: i32 = 0;
const LAST_YEAR: i32 = 9999;

/// Checks a time the API was given and returns it as stored (UTC, whole
/// microseconds). A year outside 0000–9999 is
/// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
/// naming `field`.
pub(crate) fn checked(
    field: &'static str,
    at: DateTime<Utc>,
) -> crate::Result<DateTime<FixedOffset>> {
    checked_utc(field, at).map(stored)
}

/// [`checked`], kept in UTC.
pub(crate) fn checked_utc(field: &'static str, at: DateTime<Utc>) -> crate::Result<DateTime<Utc>> {
    use chrono::Datelike;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&at.year()) {
        return Err(crate::DatabaseError::invalid(
            field,
            format!(
                "year {} is outside 0000-9999, the range stored times sort correctly in",
                at.year()
            ),
        ));
    }
    Ok(truncate(at))
}
