//! Reading one keyset page (see [`crate::pagination`] for the cursors and
//! why pages are keyset pages): the list's select, ordered by its
//! `(time, id)` columns, continued after the cursor's position, read with
//! one row more than the page.

use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef};
use sea_orm::{
    EntityTrait, FromQueryResult, Order, QueryFilter, QueryOrder, QuerySelect, Select, Value,
};

use super::context::Ctx;
use super::exec::{Checked, RunSelect};
use super::prepared::Prepared;
use crate::error::Result;
use crate::pagination::{CursorCodec, Page, PageRequest, Position};

/// Reads one page of `select`, ordered by `(time_col, id_col)` ascending.
///
/// `scope` names the list and its filters (and tenant): a cursor is only
/// accepted by the list that issued it. `position_of` gives a row's position.
pub(crate) async fn keyset_page<S, Col>(
    ctx: &Ctx<'_>,
    scope: &str,
    request: &PageRequest,
    select: S,
    columns: (Col, Col),
    position_of: impl Fn(&<S::Entity as EntityTrait>::Model) -> Position,
) -> Result<Page<<S::Entity as EntityTrait>::Model>>
where
    S: RunSelect,
    Col: sea_orm::ColumnTrait + IntoColumnRef + Copy,
{
    keyset_page_as(
        ctx,
        scope,
        request,
        select,
        (columns, Order::Asc),
        position_of,
    )
    .await
}

/// [`keyset_page`] in either order, each row read into `M`: for lists
/// newest first, or whose select adds computed columns.
pub(crate) async fn keyset_page_as<S, M, Col>(
    ctx: &Ctx<'_>,
    scope: &str,
    request: &PageRequest,
    select: S,
    (columns, order): ((Col, Col), Order),
    position_of: impl Fn(&M) -> Position,
) -> Result<Page<M>>
where
    S: RunSelect,
    M: FromQueryResult + Send,
    Col: sea_orm::ColumnTrait + IntoColumnRef + Copy,
{
    let codec = ctx.cursors();
    let (limit, after) = (request.limit(), after(codec, scope, request)?);
    let items = in_page(select, columns, limit, after, order)
        .models::<M>()
        .all_in(ctx)
        .await?;
    Ok(finish(items, limit, |last| {
        codec.encode(scope, position_of(last))
    }))
}

/// A hot list's two statements, built once (see [`Prepared`]): the first
/// page, and a page after a cursor.
pub(crate) struct KeysetSql {
    first: Prepared,
    after: Prepared,
}

impl KeysetSql {
    /// Empty slots, for a `static`.
    pub const fn new() -> Self {
        Self {
            first: Prepared::new(),
            after: Prepared::new(),
        }
    }
}

/// [`keyset_page`] read into `M` (a row type that reads the columns it
/// selects by position), with the statement's text built once in `sql`.
/// `values` are the values `select`'s filters bind, in their order.
pub(crate) async fn keyset_page_prepared<S, M, Col>(
    ctx: &Ctx<'_>,
    (sql, scope): (&KeysetSql, &str),
    request: &PageRequest,
    (mut values, select): (Vec<Value>, impl Fn() -> S),
    columns: (Col, Col),
    position_of: impl Fn(&M) -> Position,
) -> Result<Page<M>>
where
    S: RunSelect,
    M: FromQueryResult + Send,
    Col: sea_orm::ColumnTrait + IntoColumnRef + Copy,
{
    let codec = ctx.cursors();
    let (limit, after) = (request.limit(), after(codec, scope, request)?);
    let slot = match after {
        Some(position) => {
            values.push(position.at.fixed_offset().into());
            values.push(position.id.into());
            &sql.after
        }
        None => &sql.first,
    };
    values.push((u64::from(limit) + 1).into());
    let statement = slot.statement(ctx.backend(), values, || {
        in_page(select(), columns, limit, after, Order::Asc)
    });
    let items = statement.models::<M>().all_in(ctx).await?;
    Ok(finish(items, limit, |last| {
        codec.encode(scope, position_of(last))
    }))
}

/// The position `request`'s cursor points after, if it has one; a cursor
/// not issued for `scope` is `InvalidInput`.
fn after(codec: &CursorCodec, scope: &str, request: &PageRequest) -> Result<Option<Position>> {
    request
        .cursor
        .as_ref()
        .map(|c| codec.decode(scope, c))
        .transpose()
}

/// `select` ordered by `(time_col, id_col)` in `order`, past `after`, one
/// row past `limit` (which tells whether there is a next page).
pub(crate) fn in_page<S, Col>(
    select: S,
    (time_col, id_col): (Col, Col),
    limit: u32,
    after: Option<Position>,
    order: Order,
) -> Checked<Select<S::Entity>>
where
    S: RunSelect,
    Col: sea_orm::ColumnTrait + IntoColumnRef + Copy,
{
    let mut select = select
        .checked_select()
        .order_by(time_col, order.clone())
        .order_by(id_col, order.clone())
        .limit(u64::from(limit) + 1);
    if let Some(after) = after {
        let key = Expr::tuple([Expr::col(time_col), Expr::col(id_col)]);
        let cursor = Expr::tuple([Expr::val(after.at.fixed_offset()), Expr::val(after.id)]);
        select = select.filter(match order {
            Order::Desc => key.lt(cursor),
            _ => key.gt(cursor),
        });
    }
    select
}

/// The page of `items` (read with one extra row), its cursor made by `cursor_of`.
fn finish<M>(mut items: Vec<M>, limit: u32, cursor_of: impl Fn(&M) -> String) -> Page<M> {
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = match (has_more, items.last()) {
        (true, Some(last)) => Some(cursor_of(last)),
        _ => None,
    };
    Page {
        items,
        next_cursor,
        has_more,
    }
}
