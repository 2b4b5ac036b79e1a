//! Tenant scoping, in one place.
//!
//! Every table with a `tenant_id` is reached through a [`TenantScope`]:
//! `db.tenant(tenant_id)` (or `tx.tenant(tenant_id)` inside a transaction).
//! Its repositories take no tenant argument, and their constructors are
//! private to this crate, so code outside it cannot reach a tenant-owned
//! table without naming the tenant once, up front.
//!
//! Inside the crate, those repositories hold a [`Scoped`] handle and build
//! every statement through it: it is the only code that filters a query by
//! the tenant column or sets it on an insert, for every statement kind
//! (select, update, delete, insert, cursor scope). Which entities are
//! tenant-owned, and by which column, is said once, by [`TenantOwned`]
//! below. A test (`tests/it/scoping.rs`) fails if a repository file
//! filters or sets a tenant column by hand.
//!
//! - Tables with a nullable tenant (tenant rows beside global rows) are
//!   [`NullableTenant`]: a method that wants "this tenant's rows, else the
//!   global ones" says so with [`Scoped::find_or_global`].
//! - Child tables (chat messages, recipe ingredients) have no tenant column
//!   of their own: they are reached only through their scoped parent.
//! - The few operations that truly span tenants live in [`AcrossTenants`],
//!   whose name says so at the call site.

use std::ops::Deref;

use sea_orm::sea_query::IntoCondition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DeleteMany, EntityTrait, Insert, QueryFilter, Select,
    Statement, UpdateMany, Value,
};

use crate::error::Result;
use crate::ids::TenantId;
use crate::repositories::{Ctx, Prepared};

/// An entity with a tenant column, named by `TENANT`.
pub(crate) trait TenantColumn: EntityTrait {
    /// The tenant column.
    const TENANT: Self::Column;
}

/// An entity whose every row belongs to one tenant.
pub(crate) trait TenantOwned: TenantColumn {}

/// An entity whose rows belong to a tenant or, with a NULL tenant, to all.
pub(crate) trait NullableTenant: TenantColumn {}

/// The one list of tenant-owned entities. A new tenant-owned table is
/// added here, never scoped by hand.
macro_rules! tenant_owned {
    ($trait:ident: $($entity:ident),+ $(,)?) => {
        $(
            impl TenantColumn for entity::$entity::Entity {
                const TENANT: Self::Column = entity::$entity::Column::TenantId;
            }
            impl $trait for entity::$entity::Entity {}
        )+
    };
}

tenant_owned!(TenantOwned:
    chat_conversations,
    fitness_configurations,
    oauth2_auth_codes,
    oauth2_refresh_tokens,
    recipes,
    tenant_oauth_credentials,
    tenant_users,
    user_oauth_tokens,
);

tenant_owned!(NullableTenant:
    admin_config_audit,
    admin_config_overrides,
    audit_events,
    key_versions,
    oauth2_states,
);

/// What a tenant-owned repository holds: its connection and the tenant,
/// which only this type turns into SQL.
#[derive(Clone, Copy)]
pub(crate) struct Scoped<'a> {
    ctx: Ctx<'a>,
    tenant: TenantId,
}

impl<'a> Deref for Scoped<'a> {
    type Target = Ctx<'a>;

    fn deref(&self) -> &Ctx<'a> {
        &self.ctx
    }
}

impl<'a> Scoped<'a> {
    /// The tenant, for spans and for the encryption context.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    fn is_mine<C: ColumnTrait>(&self, column: C) -> impl IntoCondition {
        column.eq(self.tenant.as_uuid())
    }

    /// `SELECT` of this tenant's rows.
    pub fn find<E: TenantOwned>(&self) -> Select<E> {
        E::find().filter(self.is_mine(E::TENANT))
    }

    /// [`Prepared::statement`] for a select that starts from
    /// [`Self::find`], whose tenant filter binds the first value: `values`
    /// are the ones the caller's own filters bind after it.
    pub fn prepared<E: TenantOwned>(
        &self,
        slot: &Prepared,
        values: impl IntoIterator<Item = Value>,
        build: impl Fn(Select<E>) -> Select<E>,
    ) -> Statement {
        let all = std::iter::once(Value::from(self.tenant.as_uuid()))
            .chain(values)
            .collect();
        slot.statement(self.backend(), all, || build(self.find::<E>()))
    }

    /// `UPDATE` of this tenant's rows (add the row filter and the values).
    pub fn update<E: TenantOwned>(&self) -> UpdateMany<E> {
        E::update_many().filter(self.is_mine(E::TENANT))
    }

    /// `DELETE` of this tenant's rows (add the row filter).
    pub fn delete<E: TenantOwned>(&self) -> DeleteMany<E> {
        E::delete_many().filter(self.is_mine(E::TENANT))
    }

    /// `INSERT` of `row` in this tenant: the tenant column is set here,
    /// whatever the row held.
    pub fn insert<A>(&self, row: A) -> Result<Insert<A>>
    where
        A: ActiveModelTrait,
        A::Entity: TenantColumn,
    {
        Ok(<A::Entity as EntityTrait>::insert(self.in_tenant(row)?))
    }

    /// [`Prepared::insert`] of `row` in this tenant (as [`Self::insert`]).
    pub fn prepared_insert<A>(
        &self,
        slot: &Prepared,
        row: A,
        build: impl Fn(Insert<A>) -> Insert<A>,
    ) -> Result<Statement>
    where
        A: ActiveModelTrait + Clone,
        A::Entity: TenantColumn,
    {
        Ok(slot.insert(self.backend(), self.in_tenant(row)?, build))
    }

    fn in_tenant<A>(&self, mut row: A) -> Result<A>
    where
        A: ActiveModelTrait,
        A::Entity: TenantColumn,
    {
        row.try_set(
            <A::Entity as TenantColumn>::TENANT,
            self.tenant.as_uuid().into(),
        )?;
        Ok(row)
    }

    /// The scope of a keyset cursor for `list`: a cursor is accepted only by
    /// the same list of the same tenant.
    pub fn cursor_scope(&self, list: &str) -> String {
        format!("{list}:{}", self.tenant)
    }

    /// `SELECT` of this tenant's rows and the global ones (NULL tenant).
    #[expect(
        dead_code,
        reason = "first used by the configuration and audit repositories"
    )]
    pub fn find_or_global<E: NullableTenant>(&self) -> Select<E> {
        E::find().filter(
            Condition::any()
                .add(E::TENANT.eq(self.tenant.as_uuid()))
                .add(E::TENANT.is_null()),
        )
    }
}

/// The data of one tenant: `db.tenant(id)`, `tx.tenant(id)`.
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
            scoped: Scoped { ctx, tenant },
        }
    }

    /// The tenant this scope is bound to.
    pub fn id(&self) -> TenantId {
        self.scoped.tenant
    }
}

/// Operations that span every tenant, named so at the call site:
/// `db.across_tenants()`.
#[derive(Clone, Copy)]
pub struct AcrossTenants<'a> {
    pub(crate) ctx: Ctx<'a>,
}
