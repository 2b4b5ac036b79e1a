//! The handles that turn a tenant into SQL, and the one list of the
//! entities they guard.
//!
//! A tenant-owned entity's statements run only as [`Checked`] values (see
//! [`super::exec`]), and only the handles here make them:
//!
//! - [`Scoped`]: one tenant's rows (`tenant_id = $1` on every select,
//!   update and delete; the tenant set on every insert);
//! - [`GlobalRows`]: the global rows of a [`NullableTenant`] table
//!   (`tenant_id IS NULL`; NULL on insert);
//! - [`Rows`]: either of those, for a repository that serves both with
//!   the same statements;
//! - [`AllTenants`]: every tenant's rows, for the few operations that
//!   truly span tenants (`db.across_tenants()`, the code exchange), whose
//!   name says so at the call site.
//!
//! Child tables (chat messages, recipe ingredients) have no tenant column
//! of their own: they are reached through their scoped parent.

use std::ops::Deref;

use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, DeleteMany, EntityTrait, Insert,
    QueryFilter, Select, Statement, UpdateMany, Value,
};

use super::context::{Ctx, TxFuture};
use super::exec::Checked;
use super::keyset::ListKey;
use super::prepared::Prepared;
use super::walled::Wall;
use crate::error::Result;
use crate::ids::TenantId;
use crate::replicas::WriteMark;
use crate::shared::Shared;

/// An entity with a tenant column, named by `TENANT`: every row belongs
/// to one tenant, or (for a [`NullableTenant`]) to one tenant or all.
pub trait TenantColumn: EntityTrait {
    /// The tenant column.
    const TENANT: Self::Column;
}

/// An entity whose rows belong to a tenant or, with a NULL tenant, to all.
pub trait NullableTenant: TenantColumn {}

/// The one list of tenant-owned entities. A new tenant-owned table is
/// added here, never scoped by hand; a test compares the lists with the
/// schema.
macro_rules! tenant_owned {
    ($list:ident: $($entity:ident),+ $(,)?) => {
        $(
            impl TenantColumn for entity::$entity::Entity {
                const TENANT: Self::Column = entity::$entity::Column::TenantId;
            }
        )+
        /// The tables, for row-level security and the classification test.
        pub(crate) const $list: &[&str] = &[$(stringify!($entity)),+];
    };
    (NullableTenant $list:ident: $($entity:ident),+ $(,)?) => {
        tenant_owned!($list: $($entity),+);
        $(
            impl NullableTenant for entity::$entity::Entity {}
        )+
    };
}

tenant_owned!(OWNED_TABLES:
    chat_conversations,
    fitness_configurations,
    oauth2_auth_codes,
    oauth2_refresh_tokens,
    recipes,
    tenant_oauth_credentials,
    tenant_users,
    user_oauth_tokens,
);

tenant_owned!(NullableTenant SHARED_TABLES:
    admin_config_audit,
    admin_config_overrides,
    audit_events,
    key_versions,
    oauth2_states,
);

/// What a tenant-owned repository holds: its context and the tenant,
/// which only this type turns into SQL. It derefs to [`Ctx`] for what
/// every repository shares (keys, cursors, unowned statements); a
/// tenant-owned statement runs only as one this type built.
#[derive(Clone, Copy)]
pub struct Scoped<'a> {
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
    /// `tenant`'s rows, reached through `ctx`.
    pub(crate) fn new(ctx: Ctx<'a>, tenant: TenantId) -> Self {
        Self {
            ctx: ctx.walled(Wall::Tenant(tenant)),
            tenant,
        }
    }

    /// The same tenant's rows, its reads on the read replicas.
    pub(crate) fn on_replica(self) -> Self {
        Self {
            ctx: self.ctx.on_replica(),
            ..self
        }
    }

    /// The tenant, for spans and for the encryption context.
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// [`Ctx::in_write_tx`] handing the work this tenant's rows inside the
    /// transaction: the tenant travels with the handle, so the work cannot
    /// rebuild a scope for another one.
    pub(crate) async fn in_write_tx<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'t> FnOnce(Scoped<'t>) -> TxFuture<'t, T>,
    {
        let tenant = self.tenant;
        self.ctx
            .in_write_tx(|ctx| work(Scoped { ctx, tenant }))
            .await
    }

    fn is_mine<C: ColumnTrait>(&self, column: C) -> impl IntoCondition {
        column.eq(self.tenant.as_uuid())
    }

    /// `SELECT` of this tenant's rows.
    pub fn find<E: TenantColumn>(&self) -> Checked<Select<E>> {
        Checked::new(E::find().filter(self.is_mine(E::TENANT)))
    }

    /// [`Prepared::statement`] for a select that starts from
    /// [`Self::find`], whose tenant filter binds the first value: `values`
    /// are the ones the caller's own filters bind after it.
    pub(crate) fn prepared<E: TenantColumn>(
        &self,
        slot: &Prepared,
        values: impl IntoIterator<Item = Value>,
        build: impl Fn(Checked<Select<E>>) -> Checked<Select<E>>,
    ) -> Checked<Statement> {
        let all = std::iter::once(Value::from(self.tenant.as_uuid()))
            .chain(values)
            .collect();
        slot.statement(self.backend(), all, || build(self.find::<E>()))
    }

    /// `UPDATE` of this tenant's rows (add the row filter and the values).
    pub fn update<E: TenantColumn>(&self) -> Checked<UpdateMany<E>> {
        Checked::new(E::update_many().filter(self.is_mine(E::TENANT)))
    }

    /// [`Prepared::statement`] for an update that starts from
    /// [`Self::update`]: `set` are the values its `SET` binds, `filters`
    /// the ones the caller's filters bind after the tenant's.
    pub(crate) fn prepared_update<E: TenantColumn>(
        &self,
        slot: &Prepared,
        set: impl IntoIterator<Item = Value>,
        filters: impl IntoIterator<Item = Value>,
        build: impl Fn(Checked<UpdateMany<E>>) -> Checked<UpdateMany<E>>,
    ) -> Checked<Statement> {
        let all = set
            .into_iter()
            .chain(std::iter::once(Value::from(self.tenant.as_uuid())))
            .chain(filters)
            .collect();
        slot.statement(self.backend(), all, || build(self.update::<E>()))
    }

    /// `DELETE` of this tenant's rows (add the row filter).
    pub fn delete<E: TenantColumn>(&self) -> Checked<DeleteMany<E>> {
        Checked::new(E::delete_many().filter(self.is_mine(E::TENANT)))
    }

    /// `INSERT` of `row` in this tenant: the tenant column is set here,
    /// whatever the row held.
    pub fn insert<A>(&self, row: A) -> Result<Checked<Insert<A>>>
    where
        A: ActiveModelTrait,
        A::Entity: TenantColumn,
    {
        Ok(Checked::new(<A::Entity as EntityTrait>::insert(
            self.in_tenant(row)?,
        )))
    }

    /// [`Prepared::insert`] of `row` in this tenant (as [`Self::insert`]).
    pub(crate) fn prepared_insert<A>(
        &self,
        slot: &Prepared,
        row: A,
        build: impl Fn(Checked<Insert<A>>) -> Checked<Insert<A>>,
    ) -> Result<Checked<Statement>>
    where
        A: ActiveModelTrait + Clone,
        A::Entity: TenantColumn,
    {
        Ok(slot.insert_checked(self.backend(), self.in_tenant(row)?, build))
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

    /// The list `name` of this tenant: its cursors are accepted only by
    /// the same list of the same tenant.
    pub(crate) fn list(&self, name: &'static str) -> ListKey {
        ListKey::new(name, Some(&self.tenant))
    }

    /// `SELECT` of this tenant's rows and the global ones (NULL tenant).
    pub fn find_or_global<E: NullableTenant>(&self) -> Checked<Select<E>> {
        Checked::new(
            E::find().filter(
                Condition::any()
                    .add(E::TENANT.eq(self.tenant.as_uuid()))
                    .add(E::TENANT.is_null()),
            ),
        )
    }
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

/// `SELECT` of the global rows of `E`. With [`global_update`] and
/// [`global_insert`], also for the key store, which runs them on a
/// connection of its own.
pub(crate) fn global_rows<E: NullableTenant>() -> Checked<Select<E>> {
    Checked::new(E::find().filter(E::TENANT.is_null()))
}

/// `UPDATE` of the global rows of `E` (add the row filter and the values).
pub(crate) fn global_update<E: NullableTenant>() -> Checked<UpdateMany<E>> {
    Checked::new(E::update_many().filter(E::TENANT.is_null()))
}

/// `INSERT` of `row` as a global row: the tenant column is set NULL here,
/// whatever the row held.
pub(crate) fn global_insert<A>(mut row: A) -> Result<Checked<Insert<A>>>
where
    A: ActiveModelTrait,
    A::Entity: NullableTenant,
{
    row.try_set(
        <A::Entity as TenantColumn>::TENANT,
        Option::<uuid::Uuid>::None.into(),
    )?;
    Ok(Checked::new(<A::Entity as EntityTrait>::insert(row)))
}

impl<'a> GlobalRows<'a> {
    /// The global rows reached through `ctx`.
    pub fn new(ctx: Ctx<'a>) -> Self {
        Self {
            ctx: ctx.walled(Wall::Global),
        }
    }

    /// `SELECT` of the global rows.
    pub fn find<E: NullableTenant>(&self) -> Checked<Select<E>> {
        global_rows()
    }

    /// `DELETE` of the global rows (add the row filter).
    pub fn delete<E: NullableTenant>(&self) -> Checked<DeleteMany<E>> {
        Checked::new(E::delete_many().filter(E::TENANT.is_null()))
    }

    /// `INSERT` of `row` as a global row: the tenant column is set NULL
    /// here, whatever the row held.
    pub fn insert<A>(&self, row: A) -> Result<Checked<Insert<A>>>
    where
        A: ActiveModelTrait,
        A::Entity: NullableTenant,
    {
        global_insert(row)
    }

    /// The list `name` of the global rows.
    pub(crate) fn list(&self, name: &'static str) -> ListKey {
        ListKey::new(name, Some(&"global"))
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

impl<'a> From<GlobalRows<'a>> for Rows<'a> {
    fn from(global: GlobalRows<'a>) -> Self {
        Rows::Global(global)
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
    /// [`Ctx::in_write_tx`] handing the work the same rows (the same
    /// tenant's, or the global ones) inside the transaction.
    pub(crate) async fn in_write_tx<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'t> FnOnce(Rows<'t>) -> TxFuture<'t, T>,
    {
        match *self {
            Rows::Tenant(scoped) => scoped.in_write_tx(|tx| work(Rows::Tenant(tx))).await,
            Rows::Global(global) => {
                global
                    .ctx
                    .in_write_tx(|ctx| work(Rows::Global(GlobalRows::new(ctx))))
                    .await
            }
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
    pub fn find<E: NullableTenant>(&self) -> Checked<Select<E>> {
        match self {
            Rows::Tenant(scoped) => scoped.find(),
            Rows::Global(global) => global.find(),
        }
    }

    /// `SELECT` of these rows and, for a tenant, the global ones too.
    pub fn find_or_global<E: NullableTenant>(&self) -> Checked<Select<E>> {
        match self {
            Rows::Tenant(scoped) => scoped.find_or_global(),
            Rows::Global(global) => global.find(),
        }
    }

    /// `DELETE` of these rows (add the row filter).
    pub fn delete<E: NullableTenant>(&self) -> Checked<DeleteMany<E>> {
        match self {
            Rows::Tenant(scoped) => scoped.delete(),
            Rows::Global(global) => global.delete(),
        }
    }

    /// `INSERT` of `row` among these rows.
    pub fn insert<A>(&self, row: A) -> Result<Checked<Insert<A>>>
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

    /// The list `name` among these rows.
    pub(crate) fn list(&self, name: &'static str) -> ListKey {
        match self {
            Rows::Tenant(scoped) => scoped.list(name),
            Rows::Global(global) => global.list(name),
        }
    }
}

/// Every tenant's rows: held by the handles whose name says they span
/// tenants (`db.across_tenants()`, `db.oauth2_exchange()`), so that a
/// statement without a tenant filter is written on purpose, there only.
#[derive(Clone, Copy)]
pub struct AllTenants<'a> {
    ctx: Ctx<'a>,
}

impl<'a> Deref for AllTenants<'a> {
    type Target = Ctx<'a>;

    fn deref(&self) -> &Ctx<'a> {
        &self.ctx
    }
}

impl<'a> AllTenants<'a> {
    /// Every tenant's rows, reached through `ctx`. Private to the query
    /// module: a repository holds a `Ctx` or a scope, and must not turn
    /// either into every tenant's rows.
    pub(in crate::query) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Every tenant's rows through the pool of `shared`: for the public
    /// handles (`db.across_tenants()`, `db.oauth2_exchange()`), which no
    /// repository holds.
    pub(crate) fn on_pool(shared: &'a Shared, mark: &'a WriteMark) -> Self {
        Self::new(Ctx::pool(shared, mark))
    }

    /// Every tenant's rows, read on the replicas: for
    /// `db.replica().across_tenants()`.
    pub(crate) fn on_replica(shared: &'a Shared, mark: &'a WriteMark) -> Self {
        Self::new(Ctx::pool(shared, mark).on_replica())
    }

    /// Every tenant's rows inside `txn`: for `tx.across_tenants()` and
    /// `tx.oauth2_exchange()`.
    pub(crate) fn in_transaction(
        txn: &'a DatabaseTransaction,
        shared: &'a Shared,
        mark: &'a WriteMark,
    ) -> Self {
        Self::new(Ctx::transaction(txn, shared, mark))
    }

    /// [`Ctx::in_write_tx`] handing the work every tenant's rows inside
    /// the transaction (a bare `Ctx` there could not be turned back into
    /// them).
    pub(crate) async fn in_write_tx<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'t> FnOnce(AllTenants<'t>) -> TxFuture<'t, T>,
    {
        self.ctx.in_write_tx(|tx| work(AllTenants::new(tx))).await
    }

    /// `SELECT` of every tenant's rows.
    pub fn find<E: TenantColumn>(&self) -> Checked<Select<E>> {
        Checked::new(E::find())
    }

    /// `UPDATE` of every tenant's rows (add the row filter).
    pub fn update<E: TenantColumn>(&self) -> Checked<UpdateMany<E>> {
        Checked::new(E::update_many())
    }

    /// `DELETE` of every tenant's rows (add the row filter).
    pub fn delete<E: TenantColumn>(&self) -> Checked<DeleteMany<E>> {
        Checked::new(E::delete_many())
    }

    /// A statement written by hand over tenant-owned rows of any tenant
    /// (an `UPDATE … RETURNING` that consumes a code by its hash).
    pub fn statement(&self, statement: Statement) -> Checked<Statement> {
        Checked::new(statement)
    }
}
