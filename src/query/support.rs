//! Small helpers every repository shares, so that none writes them again:
//! reading stored values back as Rust types, and "no row changed" as
//! `NotFound`. They hide no query.

use std::fmt::Display;

use crate::error::{DatabaseError, Result};

/// A stored integer as the unsigned type the API uses. Out of range (a
/// negative count, a status code above 65535) is bad data, named by
/// `column` (`"table.column"`), never a silent default.
pub(crate) fn unsigned<T: TryFrom<i64>>(column: &str, value: impl Into<i64>) -> Result<T> {
    T::try_from(value.into())
        .map_err(|_| DatabaseError::Decode(format!("{column} is out of range")))
}

/// [`unsigned`] of a nullable column.
pub(crate) fn unsigned_opt<T: TryFrom<i64>>(
    column: &str,
    value: Option<impl Into<i64>>,
) -> Result<Option<T>> {
    value.map(|v| unsigned(column, v)).transpose()
}

/// A JSON column that holds a list of strings.
pub(crate) fn string_list(column: &str, value: serde_json::Value) -> Result<Vec<String>> {
    serde_json::from_value(value)
        .map_err(|_| DatabaseError::Decode(format!("{column} is not a list of strings")))
}

/// `select` narrowed to rows whose `column` lies in `[from, to)`; either
/// end may be open. Ends outside the stores' range are `InvalidInput`.
pub(crate) fn in_period<S, C>(
    select: S,
    column: C,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<S>
where
    S: sea_orm::QueryFilter,
    C: sea_orm::ColumnTrait,
{
    let mut select = select;
    if let Some(from) = from {
        let from = crate::time::checked_utc("from", from)?;
        select = select.filter(column.gte(crate::time::stored(from)));
    }
    if let Some(to) = to {
        let to = crate::time::checked_utc("to", to)?;
        select = select.filter(column.lt(crate::time::stored(to)));
    }
    Ok(select)
}

/// The new value of a "last seen" column written at `at`: the later of
/// the stored time and `at` (`GREATEST(COALESCE(column, at), at)`; SQLite's
/// two-argument `MAX` is its `GREATEST`). Callers take their time before
/// the write, and concurrent writes commit in any order: the last writer
/// must not win with an earlier time. Binds `at` twice.
pub(crate) fn latest<C>(
    column: C,
    at: chrono::DateTime<chrono::FixedOffset>,
) -> sea_orm::sea_query::SimpleExpr
where
    C: sea_orm::sea_query::IntoColumnRef + Copy,
{
    use sea_orm::sea_query::{Expr, Func};
    Func::greatest([
        Func::coalesce([Expr::col(column), Expr::value(at)]).into(),
        Expr::value(at),
    ])
    .into()
}

/// An update or delete meant for one row: none changed is `NotFound`.
pub(crate) fn expect_changed(rows: u64, entity: &'static str, key: impl Display) -> Result<()> {
    if rows == 0 {
        return Err(DatabaseError::not_found(entity, key));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_decode_errors_naming_the_column() {
        assert_eq!(unsigned::<u32>("t.c", 7i32).unwrap(), 7);
        let err = unsigned::<u32>("api_keys.rate_limit_requests", -1i32).unwrap_err();
        assert!(
            err.to_string().contains("api_keys.rate_limit_requests"),
            "{err}"
        );
        assert!(matches!(
            unsigned::<u16>("t.c", 70_000i32),
            Err(DatabaseError::Decode(_))
        ));
        assert_eq!(unsigned_opt::<u32>("t.c", None::<i32>).unwrap(), None);
        assert!(string_list("t.scopes", serde_json::json!(["a", 1])).is_err());
        assert_eq!(string_list("t.c", serde_json::json!(["a"])).unwrap(), ["a"]);
        assert!(matches!(
            expect_changed(0, "user", 1),
            Err(DatabaseError::NotFound { entity: "user", .. })
        ));
        assert!(expect_changed(1, "user", 1).is_ok());
    }
}
