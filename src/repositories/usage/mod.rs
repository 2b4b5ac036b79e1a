//! Usage: API-key and JWT usage, request logs, and their statistics.

pub mod api_usage;
pub mod request_logs;

pub use api_usage::{NewApiKeyUsage, NewJwtUsage, SystemStats, Usage, UsageStats};
pub use request_logs::{NewRequestLog, RequestLog, RequestLogFilter};
