//! Tenant membership and roles (tenant-scoped).
