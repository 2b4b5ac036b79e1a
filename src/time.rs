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
