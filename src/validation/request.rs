//! The fields every request-usage row shares (API-key and JWT usage, A2A
//! usage, request logs, admin token usage): status, response time, sizes,
//! client details, tool, method and error, each checked by one rule here.

use crate::error::{DatabaseError, Result};

/// Longest tool name.
pub const MAX_TOOL_NAME: usize = 200;
/// Longest endpoint (path).
pub const MAX_ENDPOINT: usize = 2000;
/// Longest HTTP method.
pub const MAX_METHOD: usize = 16;
/// Longest error message; line breaks are kept.
pub const MAX_ERROR_MESSAGE: usize = 4000;
/// Longest IP address text.
pub const MAX_IP_ADDRESS: usize = 64;
/// Longest user agent.
pub const MAX_USER_AGENT: usize = 512;
const MAX_I32: u32 = i32::MAX as u32;
const MAX_I64: u64 = i64::MAX as u64;

/// What every request-usage row (API key, JWT, A2A) records of the client,
/// checked by one policy.
pub(crate) struct ClientDetails {
    pub request_size_bytes: Option<i64>,
    pub response_size_bytes: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Checks the client details of a request-usage row.
pub(crate) fn client_details(
    request_size_bytes: Option<u64>,
    response_size_bytes: Option<u64>,
    ip_address: Option<&str>,
    user_agent: Option<&str>,
) -> Result<ClientDetails> {
    Ok(ClientDetails {
        request_size_bytes: size("request_size_bytes", request_size_bytes)?,
        response_size_bytes: size("response_size_bytes", response_size_bytes)?,
        ip_address: super::optional("ip_address", ip_address, MAX_IP_ADDRESS)?,
        user_agent: super::optional("user_agent", user_agent, MAX_USER_AGENT)?,
    })
}

/// The tool a request-usage row names.
pub(crate) fn tool_name(name: &str) -> Result<String> {
    super::required("tool_name", name, MAX_TOOL_NAME)
}

/// The error a request-usage row records.
pub(crate) fn error_message(message: Option<&str>) -> Result<Option<String>> {
    super::optional_multiline("error_message", message, MAX_ERROR_MESSAGE)
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

/// The HTTP status a request-usage row records (100-599).
pub(crate) fn status_code(code: u16) -> Result<i32> {
    super::int_range("status_code", code, 100..=599)
}

/// How long the request took, in milliseconds.
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

/// The HTTP method, upper case.
pub(crate) fn method(method: &str) -> Result<String> {
    Ok(super::required("method", method, MAX_METHOD)?.to_ascii_uppercase())
}
