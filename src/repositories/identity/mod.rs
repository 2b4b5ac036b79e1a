//! Who: users, tenants and tenant membership.

pub mod tenant_members;
pub mod tenants;
pub mod users;

pub use tenant_members::{TenantMember, TenantMembers};
pub use tenants::{NewTenant, Tenant, TenantUpdate, Tenants};
pub use users::{NewUser, User, Users};
