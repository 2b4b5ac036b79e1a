//! The security audit trail.

pub mod events;

pub use events::{AuditEvent, AuditEventFilter, AuditEvents, AuditSeverity, NewAuditEvent};
