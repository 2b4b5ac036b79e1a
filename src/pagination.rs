//! Keyset pagination with opaque, tamper-checked cursors.
//!
//! Lists are ordered by `(time, id)` and a page continues strictly after the
//! last row of the previous one with a row-value comparison,
//! `(created_at, id) > (?, ?)`, which both SQLite and PostgreSQL answer with
//! one seek on an index ending in those columns: a page at depth 500,000
//! costs what the first one does. (SeaORM's `cursor_by` expands to
//! `a > x OR (a = x AND b > y)`, which SQLite cannot seek on; OFFSET reads
//! and discards every earlier row.)
//!
//! A cursor is base64url of
//! `version (1) ‖ time in µs (8, big-endian) ‖ id (16) ‖ tag (32)`, where the
//! tag is HMAC-SHA-256, keyed from the master key, over the version, the
//! list's *scope* (which list, which filter, which tenant) and the position.
//! A cursor that was altered, truncated, or issued for another list is
//! refused as [`DatabaseError::InvalidInput`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ring::hmac;
use uuid::Uuid;

use crate::crypto::master::MasterKey;
use crate::error::{DatabaseError, Result};

/// Rows per page when the request names no limit.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The most rows one page returns; larger requests are clamped to it.
pub const MAX_PAGE_SIZE: u32 = 500;

const CURSOR_VERSION: u8 = 1;
const TAG_LEN: usize = 32;
const CURSOR_LEN: usize = 1 + 8 + 16 + TAG_LEN;

/// Which page to read.
///
/// ```
/// use pierre_db::PageRequest;
///
/// assert_eq!(PageRequest::first(10_000).limit(), 500);
/// assert_eq!(PageRequest::first(0).limit(), 1);
/// assert_eq!(PageRequest::default().limit(), 50);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The `next_cursor` of the previous page; `None` for the first page.
    pub cursor: Option<String>,
    /// Rows wanted; clamped to `1..=MAX_PAGE_SIZE`, `0` meaning 1 and an
    /// unset request meaning [`DEFAULT_PAGE_SIZE`].
    pub limit: Option<u32>,
}

impl PageRequest {
    /// The first page, of `limit` rows.
    pub fn first(limit: u32) -> Self {
        Self {
            cursor: None,
            limit: Some(limit),
        }
    }

    /// The page after `cursor`, of `limit` rows.
    pub fn after(cursor: impl Into<String>, limit: u32) -> Self {
        Self {
            cursor: Some(cursor.into()),
            limit: Some(limit),
        }
    }

    /// The effective number of rows.
    pub fn limit(&self) -> u32 {
        self.limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows, in list order.
    pub items: Vec<T>,
    /// Pass this in the next [`PageRequest`] to continue; `None` at the end.
    pub next_cursor: Option<String>,
    /// Whether more rows follow this page.
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Converts the items, keeping the paging state.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            has_more: self.has_more,
        }
    }

    /// Converts the items with a function that can fail, keeping the paging
    /// state; the first error is returned.
    ///
    /// ```
    /// use pierre_db::Page;
    ///
    /// let page = Page { items: vec!["1", "2"], next_cursor: None, has_more: false };
    /// let numbers = page.clone().try_map(|s| s.parse::<u8>()).unwrap();
    /// assert_eq!(numbers.items, [1, 2]);
    /// let page = Page { items: vec!["1", "x"], ..page };
    /// assert!(page.try_map(|s| s.parse::<u8>()).is_err());
    /// ```
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            next_cursor: self.next_cursor,
            has_more: self.has_more,
        })
    }
}

/// A position in a list ordered by `(time, id)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// Encodes and checks cursors under a key derived from the master key.
pub(crate) struct CursorCodec {
    key: hmac::Key,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorCodec(<key redacted>)")
    }
}

impl CursorCodec {
    pub fn new(master_key: &MasterKey) -> Self {
        // A key of its own, so a cursor tag never doubles as anything else.
        let master = hmac::Key::new(hmac::HMAC_SHA256, master_key.expose());
        let derived = hmac::sign(&master, b"pierre-db/v1/cursor-signing-key");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        }
    }

    /// What the tag covers: the scope, length-prefixed so that no two
    /// (scope, body) pairs share an encoding, then the body.
    fn signed_bytes(scope: &str, body: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8 + scope.len() + body.len());
        bytes.extend_from_slice(&(scope.len() as u64).to_be_bytes());
        bytes.extend_from_slice(scope.as_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    pub fn encode(&self, scope: &str, position: Position) -> String {
        let mut bytes = Vec::with_capacity(CURSOR_LEN);
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&position.at.timestamp_micros().to_be_bytes());
        bytes.extend_from_slice(position.id.as_bytes());
        let tag = hmac::sign(&self.key, &Self::signed_bytes(scope, &bytes));
        bytes.extend_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(&self, scope: &str, cursor: &str) -> Result<Position> {
        let refuse = |reason: &str| DatabaseError::invalid("cursor", reason);
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.trim())
            .map_err(|_| refuse("not a cursor issued by this list"))?;
        if bytes.len() != CURSOR_LEN {
            return Err(refuse("not a cursor issued by this list"));
        }
        if bytes[0] != CURSOR_VERSION {
            return Err(refuse("cursor version not supported"));
        }
        let (body, tag) = bytes.split_at(CURSOR_LEN - TAG_LEN);
        // ring's verify compares in constant time.
        if hmac::verify(&self.key, &Self::signed_bytes(scope, body), tag).is_err() {
            return Err(refuse("cursor was altered or belongs to another list"));
        }
        let micros = i64::from_be_bytes(body[1..9].try_into().map_err(|_| refuse("malformed"))?);
        let at = DateTime::from_timestamp_micros(micros).ok_or_else(|| refuse("malformed"))?;
        let id = Uuid::from_slice(&body[9..25]).map_err(|_| refuse("malformed"))?;
        Ok(Position { at, id })
    }
}

/// The `limit` of a list that returns at most that many rows and no
/// cursor: between 1 and `max`, or
/// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
/// naming `paged`, the list that walks them all. Such a list never
/// returns fewer rows than asked for while more exist; a limit it could
/// not honour is refused, not cut.
pub(crate) fn checked_limit(limit: u32, max: u32, paged: &str) -> crate::error::Result<u64> {
    if (1..=max).contains(&limit) {
        return Ok(u64::from(limit));
    }
    Err(crate::error::DatabaseError::invalid(
        "limit",
        format!("{limit} is outside 1..={max}; {paged} walks every row"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> CursorCodec {
        CursorCodec::new(&MasterKey::from_bytes(&[7u8; 32]).unwrap())
    }

    fn position() -> Position {
        Position {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::from_u128(0x1234),
        }
    }

    #[test]
    fn round_trips() {
        let c = codec();
        let cursor = c.encode("users:active", position());
        assert_eq!(c.decode("users:active", &cursor).unwrap(), position());
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let c = codec();
        let cursor = c.encode("users:active", position());
        let bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for i in 0..bytes.len() {
            let mut altered = bytes.clone();
            altered[i] ^= 0x01;
            let err = c
                .decode("users:active", &URL_SAFE_NO_PAD.encode(altered))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    DatabaseError::InvalidInput {
                        field: "cursor",
                        ..
                    }
                ),
                "byte {i}: {err}"
            );
        }
    }

    #[test]
    fn foreign_truncated_and_garbage_cursors_are_refused() {
        let c = codec();
        let cursor = c.encode("users:active", position());
        for (scope, text) in [
            ("users:pending", cursor.as_str()),
            ("users:active", &cursor[..cursor.len() - 2]),
            ("users:active", "not a cursor!"),
            ("users:active", ""),
        ] {
            assert!(
                matches!(
                    c.decode(scope, text),
                    Err(DatabaseError::InvalidInput { .. })
                ),
                "{scope} {text}"
            );
        }
        let other_key = CursorCodec::new(&MasterKey::from_bytes(&[8u8; 32]).unwrap());
        assert!(other_key.decode("users:active", &cursor).is_err());
    }
}
