//! Tenant scoping, in one place: the public scopes.

// Inside the crate, the repositories a scope hands out hold a scope handle
// (`query::Scoped`), and the type system holds the line: a statement on a
// tenant-owned table runs only if a scope handle built it, with the tenant
// in it (see the `query` module's `exec` and `scoped`).

use crate::ids::TenantId;
use crate::query::{AllTenants, Ctx, Scoped};

/// The data of one tenant: `db.tenant(id)`, `tx.tenant(id)`.
///
/// Every table with a `tenant_id` is reached through a `TenantScope`. Its
/// repositories take no tenant argument and cannot be built outside this
/// crate, so code cannot reach a tenant's rows without naming the tenant
/// once, up front; every statement they run is filtered by it, and every
/// row they insert carries it.
///
/// - Tables with a nullable tenant (tenant rows beside global rows) are
///   reached, for their global rows, through the handles named for them
///   (`db.global_admin_config()`, `db.global_audit_events()`).
/// - The few operations that truly span tenants live in [`AcrossTenants`],
///   whose name says so at the call site.
///
/// ```
/// use pierre_db::{Database, MasterKey, TenantId};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let tenant = TenantId::new();
/// let tokens = db.tenant(tenant).oauth_tokens();
/// assert!(tokens.list_for_provider(pierre_db::OauthProvider::Strava).await?.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct TenantScope<'a> {
    pub(crate) scoped: Scoped<'a>,
}

impl<'a> TenantScope<'a> {
    pub(crate) fn new(ctx: Ctx<'a>, tenant: TenantId) -> Self {
        Self {
            scoped: Scoped::new(ctx, tenant),
        }
    }

    /// The tenant this scope is bound to.
    pub fn id(&self) -> TenantId {
        self.scoped.tenant()
    }

    /// This tenant's data, its reads on the read replicas: the same as
    /// [`Database::replica`](crate::Database::replica)`().tenant(id)`. Inside
    /// a transaction it is the transaction's scope unchanged (a transaction
    /// never touches a replica).
    pub fn replica(&self) -> TenantScope<'a> {
        TenantScope {
            scoped: self.scoped.on_replica(),
        }
    }
}

/// The read path: `db.replica()`. Its repositories are the primary's, and
/// their reads go to a PostgreSQL read replica that is healthy, within the
/// lag bound and caught up with this handle's own writes; otherwise to the
/// primary (see [`DatabaseConfig::replica_urls`](crate::DatabaseConfig::replica_urls)).
/// Without replicas every read goes to the primary.
///
/// Only reads: a method that writes (or begins a transaction) fails with
/// [`DatabaseError::ReadOnly`](crate::DatabaseError::ReadOnly) before any
/// statement is sent. Tenant scoping and decryption are the primary's.
///
/// ```
/// use pierre_db::{Database, MasterKey, PageRequest, UserStatus};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// // A heavy read: on a replica when one is fit for it.
/// let users = db.replica().users();
/// let page = users.list_by_status_paginated(UserStatus::Active, &PageRequest::first(50)).await?;
/// assert!(page.items.is_empty());
/// // A write through it is refused before it is sent.
/// let refused = db.replica().users().create(pierre_db::NewUser::new("a@b.org", "h")).await;
/// assert!(matches!(refused, Err(pierre_db::DatabaseError::ReadOnly(_))));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct ReplicaReads<'a> {
    pub(crate) shared: &'a crate::shared::Shared,
    pub(crate) mark: &'a crate::replicas::WriteMark,
}

impl<'a> ReplicaReads<'a> {
    /// The context of its repositories.
    pub(crate) fn ctx(&self) -> Ctx<'a> {
        Ctx::pool(self.shared, self.mark).on_replica()
    }
}

/// Operations that span every tenant, named so at the call site:
/// `db.across_tenants()`.
#[derive(Clone, Copy)]
pub struct AcrossTenants<'a> {
    pub(crate) rows: AllTenants<'a>,
}
