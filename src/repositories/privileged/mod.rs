//! Privileged operations between users: impersonation and permission
//! delegation.

pub mod delegations;
pub mod impersonations;

pub use delegations::{Delegation, PermissionDelegations};
pub use impersonations::{ImpersonationFilter, ImpersonationSession, Impersonations};
