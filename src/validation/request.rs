//! The request every usage row records ([`ServedRequest`]: API-key, JWT
//! and A2A usage, request logs), its limits and its one set of checks; and
//! the rules for the fields around it (tool, endpoint, method).

use chrono::{DateTime, FixedOffset, Utc};

use crate::error::{DatabaseError, Result};
use crate::time;

/// Longest tool name.
pub const MAX_TOOL_NAME: usize = 200;
/// Longest endpoint (path).
pub const MAX_ENDPOINT: usize = 2000;
/// Longest HTTP method.
pub const MAX_METHOD: usize = 16;
const MAX_I32: u32 = i32::MAX as u32;
const MAX_I64: u64 = i64::MAX as u64;

/// One request as the server answered it: when, with what status, how fast,
/// why it failed, and who asked. Every usage row embeds one
/// ([`NewApiKeyUsage`](crate::NewApiKeyUsage),
/// [`NewJwtUsage`](crate::NewJwtUsage), [`NewA2aUsage`](crate::NewA2aUsage),
/// [`NewRequestLog`](crate::NewRequestLog)), and one set of rules checks
/// it wherever it is recorded. (An admin token's use is not an HTTP
/// request answered with a status: [`AdminTokenUse`](crate::AdminTokenUse)
/// records an action and whether it succeeded, under its own limits.)
///
/// Not every table keeps every field: JWT usage has no error column, and
/// request logs keep neither sizes nor client details. Recording a field
/// the table cannot keep is `InvalidInput` naming the field, rather than a
/// value silently dropped.
///
/// ```
/// use pierre_db::ServedRequest;
///
/// let mut served = ServedRequest::now(502);
/// served.response_time_ms = Some(1_250);
/// served.error_message = Some("upstream timed out".into());
/// assert_eq!(served.status_code, 502);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedRequest {
    /// When the request happened. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub timestamp: DateTime<Utc>,
    /// The HTTP status answered (100–599).
    pub status_code: u16,
    /// How long the answer took, in milliseconds (at most `i32::MAX`).
    pub response_time_ms: Option<u32>,
    /// Why it failed (line breaks are kept; at most
    /// [`Self::MAX_ERROR_MESSAGE`] characters).
    pub error_message: Option<String>,
    /// Request body size in bytes (at most `i64::MAX`).
    pub request_size_bytes: Option<u64>,
    /// Response body size in bytes (at most `i64::MAX`).
    pub response_size_bytes: Option<u64>,
    /// The client's address.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

/// Limits of a recorded request.
impl ServedRequest {
    /// Longest error message.
    pub const MAX_ERROR_MESSAGE: usize = 4000;
    /// Longest client IP address text.
    pub const MAX_IP_ADDRESS: usize = 64;
    /// Longest user agent.
    pub const MAX_USER_AGENT: usize = 512;
}

impl ServedRequest {
    /// A request answered now with `status_code`, without the optional
    /// details.
    pub fn now(status_code: u16) -> Self {
        Self::at(time::now(), status_code)
    }

    /// A request answered at `timestamp` with `status_code`, without the
    /// optional details. Nothing is checked here: recording the request
    /// refuses a time outside the years 0000–9999 with
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming `timestamp`.
    pub fn at(timestamp: DateTime<Utc>, status_code: u16) -> Self {
        Self {
            timestamp,
            status_code,
            response_time_ms: None,
            error_message: None,
            request_size_bytes: None,
            response_size_bytes: None,
            ip_address: None,
            user_agent: None,
        }
    }

    /// The request checked for a table that keeps what `kept` says, as its
    /// columns store it.
    pub(crate) fn checked(self, kept: Kept) -> Result<Recorded> {
        if !kept.error && self.error_message.is_some() {
            return Err(not_kept(kept.table, "error_message"));
        }
        if !kept.client {
            let client = [
                ("request_size_bytes", self.request_size_bytes.is_some()),
                ("response_size_bytes", self.response_size_bytes.is_some()),
                ("ip_address", self.ip_address.is_some()),
                ("user_agent", self.user_agent.is_some()),
            ];
            if let Some((field, _)) = client.into_iter().find(|(_, set)| *set) {
                return Err(not_kept(kept.table, field));
            }
        }
        Ok(Recorded {
            timestamp: time::checked("timestamp", self.timestamp)?,
            status_code: super::int_range("status_code", self.status_code, 100..=599)?,
            response_time_ms: response_time(self.response_time_ms)?,
            error_message: super::optional_multiline(
                "error_message",
                self.error_message.as_deref(),
                Self::MAX_ERROR_MESSAGE,
            )?,
            request_size_bytes: size("request_size_bytes", self.request_size_bytes)?,
            response_size_bytes: size("response_size_bytes", self.response_size_bytes)?,
            ip_address: super::optional(
                "ip_address",
                self.ip_address.as_deref(),
                Self::MAX_IP_ADDRESS,
            )?,
            user_agent: super::optional(
                "user_agent",
                self.user_agent.as_deref(),
                Self::MAX_USER_AGENT,
            )?,
        })
    }
}

/// Which optional parts of a [`ServedRequest`] a usage table has columns
/// for.
#[derive(Clone, Copy)]
pub(crate) struct Kept {
    /// The table, for the message when a field cannot be kept.
    pub table: &'static str,
    /// An `error_message` column.
    pub error: bool,
    /// Size, address and user-agent columns.
    pub client: bool,
}

/// A [`ServedRequest`] as its table's columns store it.
pub(crate) struct Recorded {
    pub timestamp: DateTime<FixedOffset>,
    pub status_code: i32,
    pub response_time_ms: Option<i32>,
    pub error_message: Option<String>,
    pub request_size_bytes: Option<i64>,
    pub response_size_bytes: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

fn not_kept(table: &str, field: &'static str) -> DatabaseError {
    DatabaseError::invalid(
        field,
        format!(
            "{table} has no column for it; leave it unset, or record the request where it is kept"
        ),
    )
}

/// How long a request took, in milliseconds.
pub(crate) fn response_time(ms: Option<u32>) -> Result<Option<i32>> {
    ms.map(|ms| super::int_range("response_time_ms", ms, 0..=MAX_I32))
        .transpose()
}

/// A request or response size, in bytes.
pub(crate) fn size(field: &'static str, bytes: Option<u64>) -> Result<Option<i64>> {
    bytes
        .map(|b| super::int_range(field, b, 0..=MAX_I64))
        .transpose()
}

/// The tool a request-usage row names.
pub(crate) fn tool_name(name: &str) -> Result<String> {
    super::required("tool_name", name, MAX_TOOL_NAME)
}

/// The endpoint (path) a request-usage row names.
pub(crate) fn endpoint(endpoint: &str) -> Result<String> {
    super::required("endpoint", endpoint, MAX_ENDPOINT)
}

/// The HTTP method, upper case.
pub(crate) fn method(method: &str) -> Result<String> {
    Ok(super::required("method", method, MAX_METHOD)?.to_ascii_uppercase())
}

/// Names the row of a batch that failed validation.
pub(crate) fn at_row(index: usize, err: DatabaseError) -> DatabaseError {
    match err {
        DatabaseError::InvalidInput { field, reason } => DatabaseError::InvalidInput {
            field,
            reason: format!("row {index}: {reason}"),
        },
        other => other,
    }
}
