//! Reading one keyset page (see [`crate::pagination`] for the cursors and
//! why pages are keyset pages): the list's select, ordered by its
//! `(time, id)` columns, continued after the cursor's position, read with
//! one row more than the page.
//!
//! A list says three things, each once: its row type's order ([`Keyset`],
//! implemented by the row), which list it is ([`ListKey`], made by the
//! handle that runs it, so a tenant's list names its tenant), and its rows
//! (a select, or a [`PreparedPage`] whose text is built once).

use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef};
use sea_orm::{
    DbBackend, FromQueryResult, Order, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};

use super::cells::Decoder;
use super::context::Ctx;
use super::exec::{Checked, RunSelect};
use super::prepared::Prepared;
use crate::error::Result;
use crate::pagination::{Page, PageRequest, Position};

/// Which way a list runs.
#[derive(Clone, Copy)]
pub(crate) enum Direction {
    /// Oldest first.
    Ascending,
    /// Newest first.
    Descending,
}

/// A row a list pages over: the `(time, id)` columns it is ordered by and
/// which way, and the row's position on them. Said once per row type.
pub(crate) trait Keyset: FromQueryResult + Send {
    /// The columns' type.
    type Column: sea_orm::ColumnTrait + IntoColumnRef + Copy;
    /// The time column, then the id column.
    const COLUMNS: (Self::Column, Self::Column);
    /// Which way the list runs.
    const DIRECTION: Direction;
    /// This row's position on [`Self::COLUMNS`].
    fn position(&self) -> Position;
    /// The row's positional decoder, when it has one: its pages are then
    /// read on the calling thread where the handle can (see
    /// `calling_thread`).
    const DECODE: Option<Decoder<Self>> = None;
}

/// Which list a cursor belongs to: a cursor is accepted only by the list,
/// with the same filters and tenant, that issued it. Made by the handle
/// that runs the list (`Ctx::list`, `Scoped::list`, …), so a tenant-owned
/// list always names its tenant; filters are added with [`ListKey::by`].
#[derive(Clone, Debug)]
pub(crate) struct ListKey(String);

impl ListKey {
    /// The list `name` of `owner` (a tenant id, `global`, or nothing).
    pub(in crate::query) fn new(name: &'static str, owner: Option<&dyn std::fmt::Display>) -> Self {
        let mut key = Self(String::new());
        key.push(name);
        if let Some(owner) = owner {
            key.push(&owner.to_string());
        }
        key
    }

    /// The list narrowed by a filter's value (`None` included, as such).
    pub(crate) fn by(mut self, value: impl std::fmt::Debug) -> Self {
        self.push(&format!("{value:?}"));
        self
    }

    /// Appends `part`, length-prefixed, so that no two lists share a key.
    fn push(&mut self, part: &str) {
        self.0.push_str(&part.len().to_string());
        self.0.push(':');
        self.0.push_str(part);
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ctx<'_> {
    /// The list `name` of rows without a tenant (add its filters with
    /// [`ListKey::by`]).
    pub(crate) fn list(&self, name: &'static str) -> ListKey {
        ListKey::new(name, None)
    }
}

/// Implements [`Keyset`] for a list's row type, its order said once:
/// `keyset_order!(Row, Column, (time, id), Descending, |row| position)`.
/// Ending with `, decoded`, the row type is a `Decode` one, and its pages
/// may be read on the calling thread.
macro_rules! keyset_order {
    ($row:ty, $column:ty, ($time:expr, $id:expr $(,)?), $direction:ident, |$pat:pat_param| $position:expr $(, $decoded:ident)?) => {
        impl $crate::query::Keyset for $row {
            type Column = $column;
            const COLUMNS: ($column, $column) = ($time, $id);
            const DIRECTION: $crate::query::Direction = $crate::query::Direction::$direction;
            fn position(&self) -> $crate::pagination::Position {
                let $pat = self;
                $position
            }
            $($crate::query::keyset_order!(@$decoded $row);)?
        }
    };
    (@decoded $row:ty) => {
        const DECODE: Option<$crate::query::cells::Decoder<Self>> =
            Some(<$row as $crate::query::cells::Decode>::decode);
    };
}
pub(crate) use keyset_order;

/// A hot list's rows: its two statements' text built once (the first
/// page, and a page after a cursor), `values` bound in the builder's order
/// before the page's own.
pub(crate) struct PreparedPage<'s, F> {
    /// The statements' slots.
    pub sql: &'s KeysetSql,
    /// The values the select's filters bind, in its order.
    pub values: Vec<Value>,
    /// The select.
    pub select: F,
}

/// Where a page's rows come from: a select (built on every call) or a
/// [`PreparedPage`].
pub(crate) trait PageSource {
    /// The statement of the page of `limit` rows (plus one) after `after`.
    fn statement<M: Keyset>(
        self,
        backend: DbBackend,
        after: Option<Position>,
        limit: u32,
    ) -> Checked<Statement>;
}

impl<S: RunSelect> PageSource for S {
    fn statement<M: Keyset>(
        self,
        backend: DbBackend,
        after: Option<Position>,
        limit: u32,
    ) -> Checked<Statement> {
        in_page::<M, _>(self, limit, after).build(backend)
    }
}

impl<F, S> PageSource for PreparedPage<'_, F>
where
    F: Fn() -> S,
    S: RunSelect,
{
    fn statement<M: Keyset>(
        self,
        backend: DbBackend,
        after: Option<Position>,
        limit: u32,
    ) -> Checked<Statement> {
        let mut values = self.values;
        let slot = match after {
            Some(position) => {
                values.push(position.at.fixed_offset().into());
                values.push(position.id.into());
                &self.sql.after
            }
            None => &self.sql.first,
        };
        values.push((u64::from(limit) + 1).into());
        slot.statement(backend, values, || {
            in_page::<M, _>((self.select)(), limit, after)
        })
    }
}

/// The page `request` asks for of the list `list`, its rows from `rows`,
/// read as `M` in `M`'s keyset order.
pub(crate) async fn keyset_page<M: Keyset>(
    ctx: &Ctx<'_>,
    list: &ListKey,
    request: &PageRequest,
    rows: impl PageSource,
) -> Result<Page<M>> {
    let codec = ctx.cursors();
    let limit = request.limit();
    let after = request
        .cursor
        .as_ref()
        .map(|c| codec.decode(list.as_str(), c))
        .transpose()?;
    let statement = rows.statement::<M>(ctx.backend(), after, limit);
    let mut items = statement.decoded_all(ctx, M::DECODE).await?;
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = match (has_more, items.last()) {
        (true, Some(last)) => Some(codec.encode(list.as_str(), last.position())),
        _ => None,
    };
    Ok(Page {
        items,
        next_cursor,
        has_more,
    })
}

/// A hot list's two statements, built once (see [`Prepared`]): the first
/// page, and a page after a cursor.
pub(crate) struct KeysetSql {
    first: Prepared,
    after: Prepared,
}

impl KeysetSql {
    /// Empty slots declared at `site`. Declare with [`keyset_sql!`].
    pub const fn at(site: &'static str) -> Self {
        Self {
            first: Prepared::at(site, " first"),
            after: Prepared::at(site, " after"),
        }
    }
}

/// Empty [`KeysetSql`] slots for a `static`, named by where they are
/// declared (as [`prepared!`](super::prepared::prepared)).
macro_rules! keyset_sql {
    () => {
        $crate::query::KeysetSql::at(concat!(file!(), ":", line!()))
    };
}
pub(crate) use keyset_sql;

/// `select` in `M`'s order, past `after`, one row past `limit` (which
/// tells whether there is a next page).
pub(crate) fn in_page<M: Keyset, S: RunSelect>(
    select: S,
    limit: u32,
    after: Option<Position>,
) -> Checked<sea_orm::Select<S::Entity>> {
    let (time_col, id_col) = M::COLUMNS;
    let order = match M::DIRECTION {
        Direction::Ascending => Order::Asc,
        Direction::Descending => Order::Desc,
    };
    let mut select = select
        .checked_select()
        .order_by(time_col, order.clone())
        .order_by(id_col, order)
        .limit(u64::from(limit) + 1);
    if let Some(after) = after {
        let key = Expr::tuple([Expr::col(time_col), Expr::col(id_col)]);
        let cursor = Expr::tuple([Expr::val(after.at.fixed_offset()), Expr::val(after.id)]);
        select = select.filter(match M::DIRECTION {
            Direction::Descending => key.lt(cursor),
            Direction::Ascending => key.gt(cursor),
        });
    }
    select
}
