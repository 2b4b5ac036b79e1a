//! Reading sealed values with their context, for the jobs that walk every
//! encrypted column (re-encryption and verification).

use sea_orm::Value;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use crate::crypto::aad::Context;
use crate::crypto::columns::SealedColumn;
use crate::crypto::envelope;
use crate::error::{DatabaseError, Result};

/// One row's sealed value, its primary key and the context it is bound to.
pub(super) struct SealedRow {
    /// The primary key, typed as the column stores it.
    pub key: Value,
    pub context: Context,
    pub text: String,
}

/// `SELECT key, [tenant], [user], parts…, column FROM table`: the columns
/// [`read`] expects, in its order. Callers add the filter and the limit.
pub(super) fn select(column: &SealedColumn) -> SelectStatement {
    let mut select = Query::select();
    select.column(Alias::new(column.key));
    for c in column.tenant.iter().chain(column.user.iter()) {
        select.column(Alias::new(*c));
    }
    for part in column.parts {
        select.expr(Expr::col(Alias::new(*part)).cast_as(Alias::new("TEXT")));
    }
    select
        .column(Alias::new(column.column))
        .from(Alias::new(column.table));
    select
}

/// The primary key of a row selected by [`select`] (its first column).
pub(super) fn read_key(column: &SealedColumn, row: &QueryResult) -> Result<Value> {
    Ok(if column.key_is_uuid {
        row.try_get_by_index::<Uuid>(0)?.into()
    } else {
        row.try_get_by_index::<String>(0)?.into()
    })
}

/// Decodes a row selected by [`select`].
pub(super) fn read(column: &SealedColumn, row: &QueryResult) -> Result<SealedRow> {
    let key = read_key(column, row)?;
    let mut i = 1;
    let mut next = || {
        i += 1;
        i - 1
    };
    let tenant = match column.tenant {
        Some(_) => Some(row.try_get_by_index::<Uuid>(next())?),
        None => None,
    };
    let user = match column.user {
        Some(_) => Some(row.try_get_by_index::<Uuid>(next())?),
        None => None,
    };
    let mut parts = Vec::with_capacity(column.parts.len());
    for _ in column.parts {
        parts.push(row.try_get_by_index::<String>(next())?);
    }
    let text: String = row.try_get_by_index(next()).map_err(|err| {
        DatabaseError::Decode(format!("{}.{}: {err}", column.table, column.column))
    })?;
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let context = column.context(tenant, user, &refs)?;
    Ok(SealedRow { key, context, text })
}

/// The primary key as text, for reports.
pub(super) fn key_text(key: &Value) -> String {
    match key {
        Value::Uuid(Some(id)) => id.to_string(),
        Value::String(Some(text)) => text.clone(),
        other => format!("{other:?}"),
    }
}

/// `column > key`, the keyset step of a scan ordered by the primary key.
pub(super) fn after(column: &SealedColumn, key: Value) -> sea_orm::sea_query::SimpleExpr {
    Expr::col(Alias::new(column.key)).gt(key)
}

/// How many values of `column` are not NULL, or, with `version`, sealed
/// under that key version (a `LIKE` on the envelope's prefix: nothing is
/// decrypted).
pub(super) async fn count(
    conn: &impl ConnectionTrait,
    column: &SealedColumn,
    version: Option<u32>,
) -> Result<u64> {
    let mut count = Query::select();
    count
        .expr(Expr::col(Alias::new(column.column)).count())
        .from(Alias::new(column.table));
    if let Some(version) = version {
        count.and_where(Expr::col(Alias::new(column.column)).like(envelope::like_pattern(version)));
    }
    let n: i64 = conn
        .query_one(&count)
        .await?
        .map(|row| row.try_get_by_index(0))
        .transpose()?
        .unwrap_or(0);
    Ok(n.unsigned_abs())
}
