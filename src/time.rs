//! The one way this crate reads the clock.

use chrono::{DateTime, FixedOffset, Utc};

/// Now, in UTC, truncated to whole microseconds: PostgreSQL keeps
/// microseconds, so a value written and read back compares equal on both
/// backends, and SQLite's text ordering stays the time ordering.
pub(crate) fn now() -> DateTime<Utc> {
    #[cfg(feature = "internals")]
    if let Some(at) = FROZEN.with(std::cell::Cell::get) {
        return at;
    }
    truncate(Utc::now())
}

#[cfg(feature = "internals")]
thread_local! {
    static FROZEN: std::cell::Cell<Option<DateTime<Utc>>> = const { std::cell::Cell::new(None) };
}

/// **Testing** (feature `internals`): this crate's clock stopped at one
/// instant, on the current thread, until the guard drops.
///
/// Expiry is decided by comparing the stored time with the crate's "now";
/// a test that must run a check AT a reported instant (or one microsecond
/// before it) freezes the clock there. Only calls made on the thread that
/// froze it see the frozen time: use a current-thread runtime.
///
/// ```
/// use pierre_db::FrozenClock;
/// use pierre_db::chrono::{TimeZone, Utc};
///
/// let at = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
/// let clock = FrozenClock::at(at);
/// drop(clock); // the real clock again
/// ```
#[cfg(feature = "internals")]
#[must_use = "the clock runs again when the guard drops"]
pub struct FrozenClock {
    previous: Option<DateTime<Utc>>,
}

#[cfg(feature = "internals")]
impl FrozenClock {
    /// Stops the clock at `at` (truncated to whole microseconds, as every
    /// stored time is). Nothing is checked: the crate stores the times it
    /// reads from this clock as they are, so keep `at` within the years
    /// 0000–9999, where stored times sort correctly.
    pub fn at(at: DateTime<Utc>) -> Self {
        let previous = FROZEN.with(|cell| cell.replace(Some(truncate(at))));
        Self { previous }
    }
}

#[cfg(feature = "internals")]
impl Drop for FrozenClock {
    fn drop(&mut self) {
        FROZEN.with(|cell| cell.set(self.previous));
    }
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
/// [`DatabaseError::InvalidInput`](crate::error::DatabaseError::InvalidInput)
/// naming `field`.
pub(crate) fn checked(
    field: &'static str,
    at: DateTime<Utc>,
) -> crate::error::Result<DateTime<FixedOffset>> {
    checked_utc(field, at).map(stored)
}

/// [`checked`], kept in UTC.
pub(crate) fn checked_utc(
    field: &'static str,
    at: DateTime<Utc>,
) -> crate::error::Result<DateTime<Utc>> {
    use chrono::Datelike;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&at.year()) {
        return Err(crate::error::DatabaseError::invalid(
            field,
            format!(
                "year {} is outside 0000-9999, the range stored times sort correctly in",
                at.year()
            ),
        ));
    }
    Ok(truncate(at))
}
