//! Tenant scoping by construction.
//!
//! Every table with a `tenant_id` is reached through a [`TenantScope`]:
//! `db.tenant(tenant_id)` (or `tx.tenant(tenant_id)` inside a transaction).
//! The scope's repositories add `tenant_id = <scope>` to every query and set
//! it on every insert; their methods take no tenant argument, and their
//! constructors are private to this crate, so code outside it cannot reach a
//! tenant-owned table without naming the tenant once, up front.
//!
//! The few operations that truly span tenants live in [`AcrossTenants`],
//! whose name says so.

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};

use crate::database::Database;
use crate::ids::TenantId;
use crate::repositories::Ctx;
use crate::repositories::oauth_tokens::{CrossTenantOAuthTokens, OAuthTokens};
use crate::retry::Tx;

/// The data of one tenant.
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
/// assert!(tokens.list_for_provider("strava").await?.is_empty());
/// # Ok(())
/// # }
/// ```
pub struct TenantScope<'a, C> {
    pub(crate) ctx: Ctx<'a, C>,
    pub(crate) tenant: TenantId,
}

impl<'a, C: ConnectionTrait> TenantScope<'a, C> {
    /// The tenant this scope is bound to.
    pub fn id(&self) -> TenantId {
        self.tenant
    }

    /// OAuth tokens of this tenant's users.
    pub fn oauth_tokens(&self) -> OAuthTokens<'a, C> {
        OAuthTokens::new(self.ctx, self.tenant)
    }
}

/// Operations that span every tenant, named so at the call site:
/// `db.across_tenants()`.
pub struct AcrossTenants<'a, C> {
    pub(crate) ctx: Ctx<'a, C>,
}

impl<'a, C: ConnectionTrait> AcrossTenants<'a, C> {
    /// A user's OAuth tokens in every tenant.
    pub fn oauth_tokens(&self) -> CrossTenantOAuthTokens<'a, C> {
        CrossTenantOAuthTokens::new(self.ctx)
    }
}

impl Database {
    /// The repositories of one tenant's data.
    pub fn tenant(&self, tenant: TenantId) -> TenantScope<'_, DatabaseConnection> {
        TenantScope {
            ctx: Ctx::new(self.unscoped_connection(), self),
            tenant,
        }
    }

    /// The few operations that span tenants.
    pub fn across_tenants(&self) -> AcrossTenants<'_, DatabaseConnection> {
        AcrossTenants {
            ctx: Ctx::new(self.unscoped_connection(), self),
        }
    }
}

impl<'c> Tx<'c> {
    /// The repositories of one tenant's data, inside this transaction.
    pub fn tenant(&self, tenant: TenantId) -> TenantScope<'c, DatabaseTransaction> {
        TenantScope {
            ctx: self.ctx(),
            tenant,
        }
    }

    /// The operations that span tenants, inside this transaction.
    pub fn across_tenants(&self) -> AcrossTenants<'c, DatabaseTransaction> {
        AcrossTenants { ctx: self.ctx() }
    }
}
