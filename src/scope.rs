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
//! tenant-owned, and by which column, is said once, by [`TenantColumn`]
//! below. A test (`tests/it/scoping.rs`) fails if a repository file
//! filters or sets a tenant column by hand.
//!
//! - Tables with a nullable tenant (tenant rows beside global rows) are
//!   [`NullableTenant`]: through a tenant scope, statements reach that
//!   tenant's rows; a method that wants "this tenant's rows, else the
//!   global ones" says so with [`Scoped::find_or_global`]; the global rows
//!   themselves are reached through [`GlobalRows`], held by the handles
//!   named for them (`db.admin_config()`, `db.audit_events()`).
//! - Child tables (chat messages, recipe ingredients) have no tenant column
//!   of their own: they are reached only through their scoped parent.
//! - The few operations that truly span tenants live in [`AcrossTenants`],
//!   whose name says so at the call site.

use std::ops::Deref;

use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DeleteMany, EntityTrait, Insert, QueryFilter, Select,
    Statement, UpdateMany, Value,
};

use crate::context::Ctx;
use crate::error::Result;
use crate::ids::TenantId;
use crate::query::Prepared;

/// An entity with a tenant column, named by `TENANT`: every row belongs
/// to one tenant, or (for a [`NullableTenant`]) to one tenant or all.
pub(crate) trait TenantColumn: EntityTrait {
    /// The tenant column.
    const TENANT: Self::Column;
}

/// An entity whose rows belong to a tenant or, with a NULL tenant, to all.
pub(crate) trait NullableTenant: TenantColumn {}

/// The one list of tenant-owned entities. A new tenant-owned table is
/// added here, never scoped by hand.
macro_rules! tenant_owned {
    ($($entity:ident),+ $(,)?) => {
        $(
            impl TenantColumn for entity::$entity::Entity {
                const TENANT: Self::Column = entity::$entity::Column::TenantId;
            }
        )+
    };
    (NullableTenant: $($entity:ident),+ $(,)?) => {
        tenant_owned!($($entity),+);
        $(
            impl NullableTenant for entity::$entity::Entity {}
        )+
    };
}

tenant_owned!(
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
    pub fn find<E: TenantColumn>(&self) -> Select<E> {
        E::find().filter(self.is_mine(E::TENANT))
    }

    /// [`Prepared::statement`] for a select that starts from
    /// [`Self::find`], whose tenant filter binds the first value: `values`
    /// are the ones the caller's own filters bind after it.
    pub fn prepared<E: TenantColumn>(
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
    pub fn update<E: TenantColumn>(&self) -> UpdateMany<E> {
        E::update_many().filter(self.is_mine(E::TENANT))
    }

    /// [`Prepared::statement`] for an update that starts from
    /// [`Self::update`]: `set` are the values its `SET` binds, `filters`
    /// the ones the caller's filters bind after the tenant's.
    pub fn prepared_update<E: TenantColumn>(
        &self,
        slot: &Prepared,
        set: impl IntoIterator<Item = Value>,
        filters: impl IntoIterator<Item = Value>,
        build: impl Fn(UpdateMany<E>) -> UpdateMany<E>,
    ) -> Statement {
        let all = set
            .into_iter()
            .chain(std::iter::once(Value::from(self.tenant.as_uuid())))
            .chain(filters)
            .collect();
        slot.statement(self.backend(), all, || build(self.update::<E>()))
    }

    /// `DELETE` of this tenant's rows (add the row filter).
    pub fn delete<E: TenantColumn>(&self) -> DeleteMany<E> {
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

/// What a repository of global rows (NULL tenant) of a [`NullableTenant`]
/// table holds: like [`Scoped`], the only code that turns "global" into
/// SQL (`tenant_id IS NULL` on every statement, NULL on every insert).
#[derive(Clone, Copy)]
pub(crate) struct GlobalRows<'a> {
    ctx: Ctx<'a>,
}

impl<'a> Deref for GlobalRows<'a> {
    type Target = Ctx<'a>;

    fn deref(&self) -> &Ctx<'a> {
        &self.ctx
    }
}

impl<'a> GlobalRows<'a> {
    /// The global rows reached through `ctx`.
    pub fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// `SELECT` of the global rows.
    pub fn find<E: NullableTenant>(&self) -> Select<E> {
        E::find().filter(E::TENANT.is_null())
    }

    /// `DELETE` of the global rows (add the row filter).
    pub fn delete<E: NullableTenant>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::TENANT.is_null())
    }

    /// `INSERT` of `row` as a global row: the tenant column is set NULL
    /// here, whatever the row held.
    pub fn insert<A>(&self, mut row: A) -> Result<Insert<A>>
    where
        A: ActiveModelTrait,
        A::Entity: NullableTenant,
    {
        row.try_set(
            <A::Entity as TenantColumn>::TENANT,
            Option::<uuid::Uuid>::None.into(),
        )?;
        Ok(<A::Entity as EntityTrait>::insert(row))
    }

    /// The scope of a keyset cursor for `list` of global rows.
    pub fn cursor_scope(&self, list: &str) -> String {
        format!("{list}:global")
    }
}

/// The rows of a [`NullableTenant`] table one handle reaches: a tenant's
/// (through [`Scoped`]) or the global ones (through [`GlobalRows`]). A
/// repository that serves both kinds with the same operations holds this,
/// so that each statement is written once.
#[derive(Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// One tenant's rows.
    Tenant(Scoped<'a>),
    /// The global rows.
    Global(GlobalRows<'a>),
}

impl<'a> From<Scoped<'a>> for Rows<'a> {
    fn from(scoped: Scoped<'a>) -> Self {
        Rows::Tenant(scoped)
    }
}

impl<'a> From<Ctx<'a>> for Rows<'a> {
    fn from(ctx: Ctx<'a>) -> Self {
        Rows::Global(GlobalRows::new(ctx))
    }
}

impl<'a> Deref for Rows<'a> {
    type Target = Ctx<'a>;

    fn deref(&self) -> &Ctx<'a> {
        match self {
            Rows::Tenant(scoped) => scoped,
            Rows::Global(global) => global,
        }
    }
}

impl<'a> Rows<'a> {
    /// The rows of `tenant` (or the global ones) reached through `ctx`:
    /// the same rows inside a transaction.
    pub fn at(tenant: Option<TenantId>, ctx: Ctx<'a>) -> Self {
        match tenant {
            Some(tenant) => Rows::Tenant(Scoped { ctx, tenant }),
            None => Rows::Global(GlobalRows::new(ctx)),
        }
    }

    /// The tenant whose rows these are; `None` for the global rows.
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Rows::Tenant(scoped) => Some(scoped.tenant()),
            Rows::Global(_) => None,
        }
    }

    /// `SELECT` of these rows.
    pub fn find<E: NullableTenant>(&self) -> Select<E> {
        match self {
            Rows::Tenant(scoped) => scoped.find(),
            Rows::Global(global) => global.find(),
        }
    }

    /// `SELECT` of these rows and, for a tenant, the global ones too.
    pub fn find_or_global<E: NullableTenant>(&self) -> Select<E> {
        match self {
            Rows::Tenant(scoped) => scoped.find_or_global(),
            Rows::Global(global) => global.find(),
        }
    }

    /// `DELETE` of these rows (add the row filter).
    pub fn delete<E: NullableTenant>(&self) -> DeleteMany<E> {
        match self {
            Rows::Tenant(scoped) => scoped.delete(),
            Rows::Global(global) => global.delete(),
        }
    }

    /// `INSERT` of `row` among these rows.
    pub fn insert<A>(&self, row: A) -> Result<Insert<A>>
    where
        A: ActiveModelTrait,
        A::Entity: NullableTenant,
    {
        match self {
            Rows::Tenant(scoped) => scoped.insert(row),
            Rows::Global(global) => global.insert(row),
        }
    }

    /// The conflict target of a unique key `columns` + tenant among these
    /// rows: a nullable tenant needs two partial unique indexes (one per
    /// tenant, one among the global rows), and an upsert names the one
    /// its row falls under, with its `WHERE`, or it never fires.
    pub fn on_conflict<E: NullableTenant>(&self, columns: Vec<E::Column>) -> OnConflict {
        let mut target = columns;
        let condition = match self {
            Rows::Tenant(_) => {
                target.push(E::TENANT);
                Expr::col(E::TENANT).is_not_null()
            }
            Rows::Global(_) => Expr::col(E::TENANT).is_null(),
        };
        let mut on_conflict = OnConflict::columns(target);
        on_conflict.target_and_where(condition);
        on_conflict
    }

    /// The scope of a keyset cursor for `list` among these rows.
    pub fn cursor_scope(&self, list: &str) -> String {
        match self {
            Rows::Tenant(scoped) => scoped.cursor_scope(list),
            Rows::Global(global) => global.cursor_scope(list),
        }
    }
}
