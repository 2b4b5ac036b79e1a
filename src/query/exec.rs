//! The executor: the only way a repository runs a statement.
//!
//! A repository never holds a connection. It holds a [`Ctx`] (or a scope
//! that derefs to one), and `Ctx` hands its connection to nothing outside
//! this module tree. Statements run through the methods below, and their
//! bounds decide what may run:
//!
//! - a statement over an entity without a tenant column ([`Unowned`]) runs
//!   as the builder made it: `users::Entity::find().one_in(&ctx)`;
//! - a statement over a tenant-owned entity runs only as a [`Checked`]
//!   value, and only the scope handles (`Scoped`, `GlobalRows`, `Rows`,
//!   `AllTenants`) make those, with the tenant filter (or the tenant
//!   value of an insert) already in them.
//!
//! So `user_oauth_tokens::Entity::find().all_in(&ctx)` does not compile:
//! `user_oauth_tokens::Entity` is not `Unowned`, and a bare `Select` is not
//! `Checked`. Which entities are which is said by two lists, this module's
//! and `scoped`'s; an entity in neither list has no typed statement that
//! runs, and a test checks that the two lists together are the schema's
//! tables.
//!
//! What types cannot see is named instead, and counted by a census test
//! (`tests/it/scoping.rs`): a join or a sub-select onto a tenant-owned
//! table inside an `Unowned` statement; a statement written by hand with
//! sea-query (`Prepared::built`, `Checked::declared`, which declare their
//! entity, and `AllTenants::statement`); child tables (chat messages,
//! recipe ingredients), which are `Unowned` and safe only behind their
//! scoped parent's check; and the builder traits' `query()`, which hands
//! out the statement inside a `Checked` mutably (adding to it is what
//! they are for; replacing it would be deliberate).

// The traits are public only for the compile-fail tests (feature
// `internals`); they are implemented in this module alone, for concrete
// statement types, whose futures callers see as `Send`.
#![allow(
    async_fn_in_trait,
    reason = "implemented here only, for concrete types whose futures are Send"
)]

use sea_orm::sea_query::{
    Asterisk, DeleteStatement, Expr, ExprTrait, OnConflict, SelectStatement, SimpleExpr,
    UpdateStatement,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DeleteMany, DeleteResult, EntityTrait, FromQueryResult,
    Insert, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, SelectModel, Selector,
    SelectorRaw, Statement, TryGetableMany, UpdateMany, UpdateResult,
};

#[cfg(feature = "sqlite")]
use super::cells::Row;
use super::cells::{Decode, Decoder};
use super::context::Ctx;
use crate::error::Result;

/// An entity without a tenant column: any handle may run its statements.
pub trait Unowned: EntityTrait {}

macro_rules! unowned {
    ($($entity:ident),+ $(,)?) => {
        $( impl Unowned for entity::$entity::Entity {} )+
        /// The table names, for the test that every table is in one list.
        #[cfg(test)]
        const UNOWNED_TABLES: &[&str] = &[$(stringify!($entity)),+];
    };
}

unowned!(
    a2a_client_api_keys,
    a2a_clients,
    a2a_sessions,
    a2a_tasks,
    a2a_usage,
    admin_config_categories,
    admin_provisioned_keys,
    admin_token_usage,
    admin_tokens,
    api_key_usage,
    api_keys,
    goals,
    impersonation_sessions,
    insights,
    jwt_usage,
    oauth2_clients,
    oauth_apps,
    oauth_notifications,
    permission_delegations,
    request_logs,
    rsa_keypairs,
    system_secrets,
    system_settings,
    tenants,
    user_configurations,
    user_mcp_tokens,
    user_oauth_app_credentials,
    user_profiles,
    users,
    // Child tables: no tenant column of their own. Their rows are reached
    // through a parent the scope has checked (a conversation, a recipe).
    chat_messages,
    recipe_ingredients,
);

/// A statement the scoping rules allow to run: made by a scope handle for
/// a tenant-owned entity (its tenant filter already in it), or from an
/// [`Unowned`] entity's builder. Only this module tree makes one.
#[derive(Clone, Debug)]
pub struct Checked<Q>(Q);

impl<Q> Checked<Q> {
    /// Marks `query` as allowed: for the scope handles, which put the
    /// tenant in it first.
    pub(in crate::query) fn new(query: Q) -> Self {
        Self(query)
    }

    /// The statement inside, to be run by code that holds a connection of
    /// its own (the key store).
    pub(crate) fn into_inner(self) -> Q {
        self.0
    }

    /// Changes the statement, keeping it checked: for builder methods
    /// without a trait (`col_expr`, `on_conflict`). The tenant condition is
    /// already in `Q` and builders only add to it.
    fn map<R>(self, change: impl FnOnce(Q) -> R) -> Checked<R> {
        Checked(change(self.0))
    }
}

/// A statement whose builder is [`Unowned`] or already [`Checked`]: what
/// `Prepared::statement` accepts.
pub trait Allowed: Sized {
    /// The builder.
    type Query: QueryTrait;
    /// The builder, checked.
    fn checked(self) -> Checked<Self::Query>;
}

impl<Q: QueryTrait> Allowed for Checked<Q> {
    type Query = Q;
    fn checked(self) -> Checked<Q> {
        self
    }
}

impl<E: Unowned> Allowed for Select<E> {
    type Query = Self;
    fn checked(self) -> Checked<Self> {
        Checked(self)
    }
}

impl<E: Unowned> Allowed for UpdateMany<E> {
    type Query = Self;
    fn checked(self) -> Checked<Self> {
        Checked(self)
    }
}

impl<E: Unowned> Allowed for DeleteMany<E> {
    type Query = Self;
    fn checked(self) -> Checked<Self> {
        Checked(self)
    }
}

impl<A> Allowed for Insert<A>
where
    A: ActiveModelTrait,
    A::Entity: Unowned,
{
    type Query = Self;
    fn checked(self) -> Checked<Self> {
        Checked(self)
    }
}

impl<Q: QueryTrait> Checked<Q> {
    /// The statement for `backend`.
    pub(crate) fn build(&self, backend: sea_orm::DbBackend) -> Checked<Statement> {
        Checked(self.0.build(backend))
    }
}

// The builder traits, forwarded: a checked select is built on like any
// other, and every method only adds to the tenant condition inside.

impl<E: EntityTrait> QueryFilter for Checked<Select<E>> {
    type QueryStatement = SelectStatement;
    fn query(&mut self) -> &mut SelectStatement {
        QueryFilter::query(&mut self.0)
    }
}

impl<E: EntityTrait> QueryOrder for Checked<Select<E>> {
    type QueryStatement = SelectStatement;
    fn query(&mut self) -> &mut SelectStatement {
        QueryOrder::query(&mut self.0)
    }
}

impl<E: EntityTrait> QuerySelect for Checked<Select<E>> {
    type QueryStatement = SelectStatement;
    fn query(&mut self) -> &mut SelectStatement {
        QuerySelect::query(&mut self.0)
    }
}

impl<E: EntityTrait> QueryFilter for Checked<UpdateMany<E>> {
    type QueryStatement = UpdateStatement;
    fn query(&mut self) -> &mut UpdateStatement {
        QueryFilter::query(&mut self.0)
    }
}

impl<E: EntityTrait> QueryFilter for Checked<DeleteMany<E>> {
    type QueryStatement = DeleteStatement;
    fn query(&mut self) -> &mut DeleteStatement {
        QueryFilter::query(&mut self.0)
    }
}

impl<E: EntityTrait> Checked<Select<E>> {
    /// The select as a sub-query, its tenant condition in it.
    pub(crate) fn into_query(self) -> SelectStatement {
        self.0.into_query()
    }
}

impl<E: EntityTrait> Checked<UpdateMany<E>> {
    /// `UpdateMany::col_expr`. Never of the tenant column: a checked
    /// update keeps its rows in their tenant (refused in debug builds, so
    /// in every test).
    pub(crate) fn col_expr<T: sea_orm::sea_query::IntoIden>(
        self,
        column: T,
        expr: SimpleExpr,
    ) -> Self {
        let column = column.into_iden();
        debug_assert_ne!(
            column.to_string(),
            "tenant_id",
            "a checked update may not move rows to another tenant"
        );
        self.map(|update| update.col_expr(column, expr))
    }
}

impl<A: ActiveModelTrait> Checked<Insert<A>> {
    /// `Insert::on_conflict`.
    pub(crate) fn on_conflict(self, on_conflict: OnConflict) -> Self {
        self.map(|insert| insert.on_conflict(on_conflict))
    }
}

impl Ctx<'_> {
    /// Runs a write with `RETURNING` and reads its row, if any. On the
    /// pool it waits for the statement to finish, so that a failed commit
    /// of its implicit transaction is an error (see
    /// `query::prepared`); in a transaction the commit is explicit, and the read stops
    /// at the row.
    pub(crate) async fn returning_row<M: FromQueryResult>(
        &self,
        write: Checked<Statement>,
    ) -> Result<Option<M>> {
        let rows = M::find_by_statement(write.into_inner());
        if self.in_transaction() {
            Ok(rows.one(&self.exec()).await?)
        } else {
            Ok(rows.all(&self.exec()).await?.pop())
        }
    }
}

/// Running a select: implemented for `Select<E>` of an [`Unowned`] entity
/// and for a [`Checked`] select.
pub trait RunSelect: Sized {
    /// The entity selected.
    type Entity: EntityTrait;

    /// The select inside, checked.
    fn checked_select(self) -> Checked<Select<Self::Entity>>;

    /// Every row.
    async fn all_in(self, ctx: &Ctx<'_>) -> Result<Vec<<Self::Entity as EntityTrait>::Model>> {
        Ok(self.checked_select().0.all(&ctx.exec()).await?)
    }

    /// The first row.
    async fn one_in(self, ctx: &Ctx<'_>) -> Result<Option<<Self::Entity as EntityTrait>::Model>> {
        Ok(self.checked_select().0.one(&ctx.exec()).await?)
    }

    /// How many rows: `SELECT COUNT(*)` with the select's own filters and
    /// no column, the one way this crate counts. Its order is dropped
    /// (PostgreSQL refuses an `ORDER BY` beside an aggregate). Not for a
    /// select with `DISTINCT`, `GROUP BY` or `LIMIT`: it would count every
    /// row, count groups, or ignore the limit.
    async fn count_in(self, ctx: &Ctx<'_>) -> Result<u64> {
        let mut select = self.checked_select();
        QueryTrait::query(&mut select.0).clear_order_by();
        let n: Option<i64> = select
            .select_only()
            .column_as(Expr::col(Asterisk).count(), "n")
            .tuples()
            .one_in(ctx)
            .await?;
        super::unsigned("count", n.unwrap_or(0))
    }

    /// The rows read as tuples of the selected columns.
    fn tuples<T: TryGetableMany>(self) -> Checked<Selector<sea_orm::SelectGetableTuple<T>>> {
        Checked(self.checked_select().0.into_tuple())
    }

    /// The rows read into `M`.
    fn models<M: FromQueryResult>(self) -> Checked<Selector<SelectModel<M>>> {
        Checked(self.checked_select().0.into_model())
    }

    /// The rows read into the partial model `M` (only its columns selected).
    fn partial_models<M: sea_orm::PartialModelTrait>(self) -> Checked<Selector<SelectModel<M>>> {
        Checked(self.checked_select().0.into_partial_model())
    }
}

impl<E: Unowned> RunSelect for Select<E> {
    type Entity = E;
    fn checked_select(self) -> Checked<Select<E>> {
        Checked(self)
    }
}

impl<E: EntityTrait> RunSelect for Checked<Select<E>> {
    type Entity = E;
    fn checked_select(self) -> Checked<Select<E>> {
        self
    }
}

impl<S: sea_orm::SelectorTrait> Checked<Selector<S>> {
    /// Every row.
    pub(crate) async fn all_in(self, ctx: &Ctx<'_>) -> Result<Vec<S::Item>> {
        Ok(self.0.all(&ctx.exec()).await?)
    }

    /// The first row.
    pub(crate) async fn one_in(self, ctx: &Ctx<'_>) -> Result<Option<S::Item>> {
        Ok(self.0.one(&ctx.exec()).await?)
    }
}

impl<S: sea_orm::SelectorTrait> Checked<SelectorRaw<S>> {
    /// Every row.
    pub(crate) async fn all_in(self, ctx: &Ctx<'_>) -> Result<Vec<S::Item>> {
        Ok(self.0.all(&ctx.exec()).await?)
    }
}

impl Checked<Statement> {
    /// A statement written by hand with sea-query over [`Unowned`]
    /// entities, of which it names `E`: sea-query's statements carry no
    /// entity type, so the declaration is what reviews check.
    pub(crate) fn declared<E: Unowned>(
        _entity: E,
        backend: sea_orm::DbBackend,
        statement: &impl sea_orm::StatementBuilder,
    ) -> Self {
        Checked(backend.build(statement))
    }

    /// The first row the statement returns.
    pub(crate) async fn row_in(self, ctx: &Ctx<'_>) -> Result<Option<sea_orm::QueryResult>> {
        Ok(ctx.exec().query_one_raw(self.0).await?)
    }

    /// Runs the statement; the number of rows it changed.
    pub(crate) async fn execute_in(self, ctx: &Ctx<'_>) -> Result<u64> {
        Ok(ctx.exec().execute_raw(self.0).await?.rows_affected())
    }

    /// Whether a read (a plain `SELECT`) returns a row: on the calling
    /// thread where the handle can, else through the executor.
    pub(crate) async fn exists_in(self, ctx: &Ctx<'_>) -> Result<bool> {
        #[cfg(feature = "sqlite")]
        if let Some(rows) = self.on_calling_thread(ctx, true, |_| Ok(())).await {
            return Ok(!rows.is_empty());
        }
        Ok(ctx.exec().query_one_raw(self.0).await?.is_some())
    }

    /// The rows read into `M`.
    pub(crate) fn models<M: FromQueryResult>(self) -> Checked<SelectorRaw<SelectModel<M>>> {
        Checked(M::find_by_statement(self.0))
    }

    /// The first row, read as `M` by position: on the calling thread where
    /// the handle can (see `calling_thread`), else through the executor.
    /// For point reads by a unique key: no `LIMIT` is added.
    pub(crate) async fn decoded_one<M: Decode + FromQueryResult>(
        self,
        ctx: &Ctx<'_>,
    ) -> Result<Option<M>> {
        #[cfg(feature = "sqlite")]
        if let Some(mut rows) = self.on_calling_thread(ctx, true, M::decode).await {
            return Ok(rows.pop());
        }
        Ok(M::find_by_statement(self.0).one(&ctx.exec()).await?)
    }

    /// Every row, read as `M`: by `decode` (a [`Decode`] type's) on the
    /// calling thread where the handle can, else through the executor.
    /// For bounded reads only (a keyset page): the calling thread reads
    /// them all before it goes on.
    pub(crate) async fn decoded_all<M: FromQueryResult>(
        self,
        ctx: &Ctx<'_>,
        decode: Option<Decoder<M>>,
    ) -> Result<Vec<M>> {
        #[cfg(feature = "sqlite")]
        if let Some(decode) = decode
            && let Some(rows) = self.on_calling_thread(ctx, false, decode).await
        {
            return Ok(rows);
        }
        #[cfg(not(feature = "sqlite"))]
        let _ = decode;
        Ok(M::find_by_statement(self.0).all(&ctx.exec()).await?)
    }

    /// The rows read on the calling thread, or `None` to read through the
    /// executor (no reader there, or the read given up). A read there
    /// completes without yielding, so it spends a unit of the task's
    /// cooperative budget (as a read through sqlx would): a loop of such
    /// reads still lets the runtime's other tasks run.
    #[cfg(feature = "sqlite")]
    async fn on_calling_thread<M>(
        &self,
        ctx: &Ctx<'_>,
        one: bool,
        decode: Decoder<M>,
    ) -> Option<Vec<M>> {
        let rows = ctx
            .calling_thread()?
            .rows(&self.0, one, |row| decode(Row::Local(row)))?;
        tokio::task::coop::consume_budget().await;
        Some(rows)
    }
}

/// Running an insert: implemented for an [`Unowned`] entity's `Insert` and
/// for a [`Checked`] one.
pub trait RunInsert: Sized {
    /// The row type.
    type Row: ActiveModelTrait;

    /// The insert inside, checked.
    fn checked_insert(self) -> Checked<Insert<Self::Row>>;

    /// Inserts; how many rows (an `ON CONFLICT DO NOTHING` may insert none).
    async fn exec_without_returning_in(self, ctx: &Ctx<'_>) -> Result<u64> {
        Ok(self
            .checked_insert()
            .0
            .exec_without_returning(&ctx.exec())
            .await?)
    }
}

impl<A> RunWrite for sea_orm::InsertMany<A>
where
    A: ActiveModelTrait,
    A::Entity: Unowned,
{
    /// How many rows were inserted.
    type Outcome = u64;
    async fn exec_in(self, ctx: &Ctx<'_>) -> Result<u64> {
        Ok(self.exec_without_returning(&ctx.exec()).await?)
    }
}

impl<A> RunInsert for Insert<A>
where
    A: ActiveModelTrait,
    A::Entity: Unowned,
{
    type Row = A;
    fn checked_insert(self) -> Checked<Insert<A>> {
        Checked(self)
    }
}

impl<A: ActiveModelTrait> RunInsert for Checked<Insert<A>> {
    type Row = A;
    fn checked_insert(self) -> Checked<Insert<A>> {
        self
    }
}

/// Running an `UPDATE` or `DELETE` of many rows: implemented for an
/// [`Unowned`] entity's and for [`Checked`] ones.
pub trait RunWrite: Sized {
    /// What the driver reports.
    type Outcome;

    /// Runs the statement.
    async fn exec_in(self, ctx: &Ctx<'_>) -> Result<Self::Outcome>;
}

impl<E: Unowned> RunWrite for UpdateMany<E> {
    type Outcome = UpdateResult;
    async fn exec_in(self, ctx: &Ctx<'_>) -> Result<UpdateResult> {
        Ok(self.exec(&ctx.exec()).await?)
    }
}

impl<E: EntityTrait> RunWrite for Checked<UpdateMany<E>> {
    type Outcome = UpdateResult;
    async fn exec_in(self, ctx: &Ctx<'_>) -> Result<UpdateResult> {
        Ok(self.0.exec(&ctx.exec()).await?)
    }
}

impl<E: Unowned> RunWrite for sea_orm::ValidatedDeleteOne<E> {
    type Outcome = DeleteResult;
    async fn exec_in(self, ctx: &Ctx<'_>) -> Result<DeleteResult> {
        Ok(self.exec(&ctx.exec()).await?)
    }
}

impl<E: Unowned> RunWrite for DeleteMany<E> {
    type Outcome = DeleteResult;
    async fn exec_in(self, ctx: &Ctx<'_>) -> Result<DeleteResult> {
        Ok(self.exec(&ctx.exec()).await?)
    }
}

impl<E: EntityTrait> RunWrite for Checked<DeleteMany<E>> {
    type Outcome = DeleteResult;
    async fn exec_in(self, ctx: &Ctx<'_>) -> Result<DeleteResult> {
        Ok(self.0.exec(&ctx.exec()).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sea_orm::{ConnectionTrait, Database, Statement};

    use super::UNOWNED_TABLES;
    use crate::query::scoped::{OWNED_TABLES, SHARED_TABLES};

    /// Every table of the schema is in exactly one list, and the
    /// tenant-owned ones are those with a `tenant_id` column: a new table
    /// cannot be queried until it is classified, and cannot be classified
    /// as unowned while it has a tenant column.
    #[tokio::test]
    async fn every_table_is_classified_once_by_its_tenant_column() {
        let db = Database::connect("sqlite::memory:").await.expect("sqlite");
        <migration::Migrator as migration::MigratorTrait>::up(&db, None)
            .await
            .expect("migrate");
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT m.name, EXISTS (SELECT 1 FROM pragma_table_info(m.name) \
                 WHERE name = 'tenant_id') FROM sqlite_master m \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                 AND m.name <> 'seaql_migrations'",
            ))
            .await
            .expect("tables");
        let mut with_tenant = BTreeSet::new();
        let mut tables = BTreeSet::new();
        for row in rows {
            let name: String = row.try_get_by_index(0).expect("name");
            let has_tenant: bool = row.try_get_by_index(1).expect("flag");
            if has_tenant {
                with_tenant.insert(name.clone());
            }
            tables.insert(name);
        }
        let owned: BTreeSet<String> = OWNED_TABLES
            .iter()
            .chain(SHARED_TABLES)
            .map(|t| t.to_string())
            .collect();
        let unowned: BTreeSet<String> = UNOWNED_TABLES.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            owned.len() + unowned.len(),
            tables.len(),
            "a table is listed twice or missed"
        );
        assert!(owned.is_disjoint(&unowned));
        assert_eq!(&owned | &unowned, tables);
        // `users.tenant_id` is the user's home tenant, not an owner: users
        // are platform-wide and reached by `db.users()`.
        with_tenant.remove("users");
        assert_eq!(owned, with_tenant);
    }
}
