//! Reading a row's cells by position straight through the driver.
//!
//! SeaORM's `TryGetable` formats an error string for every NULL it meets
//! (an `Option<T>` is read as `T` first) and goes through its own value
//! layer; on a page of 50 users that was most of the gap to raw sqlx. The
//! lists that are the hot path read their rows here instead, from the
//! same `QueryResult` (the statement is still SeaORM's).

use sea_orm::{ActiveEnum, DbErr, QueryResult};

/// The position of a column in the row a reader decodes, from the same
/// list the `SELECT` was built from, so no index is kept in step by hand:
///
/// - `at!(LIST, Column::Email)`: the select listed `LIST` (a const array of
///   a generated `Column` enum); the position is found at compile time,
///   and a column the list lacks is a compile error;
/// - `at!(Column::Email)`: the select is the entity's own
///   (`Entity::find()`), which lists every column in declaration order.
macro_rules! at {
    ($list:expr, $column:expr) => {{
        const AT: usize = {
            let list = &$list;
            let mut i = 0;
            loop {
                assert!(i < list.len(), "the column is not in the SELECT's list");
                if list[i] as usize == $column as usize {
                    break i;
                }
                i += 1;
            }
        };
        AT
    }};
    ($column:expr) => {{
        const AT: usize = $column as usize;
        AT
    }};
}
pub(crate) use at;

/// A type sqlx decodes on every backend this build has.
pub(crate) trait Cell: Sized {
    /// The cell at `index` of `row`; a decode error names the column
    /// `name`, or its position when `None`.
    fn read_as(row: &QueryResult, index: usize, name: Option<&str>) -> Result<Self, DbErr>;

    /// The cell at `index` of `row`.
    fn read(row: &QueryResult, index: usize) -> Result<Self, DbErr> {
        Self::read_as(row, index, None)
    }
}

fn decode_error(index: usize, name: Option<&str>, err: impl std::fmt::Display) -> DbErr {
    match name {
        Some(name) => DbErr::Type(format!("{name}: {err}")),
        None => DbErr::Type(format!("column {index}: {err}")),
    }
}

macro_rules! cells {
    ($($t:ty),+ $(,)?) => {$(
        impl Cell for $t {
            fn read_as(row: &QueryResult, index: usize, name: Option<&str>) -> Result<Self, DbErr> {
                use sea_orm::sqlx::Row;
                #[cfg(feature = "sqlite")]
                if let Some(row) = row.try_as_sqlite_row() {
                    return row.try_get(index).map_err(|e| decode_error(index, name, e));
                }
                #[cfg(feature = "postgres")]
                if let Some(row) = row.try_as_pg_row() {
                    return row.try_get(index).map_err(|e| decode_error(index, name, e));
                }
                let _ = row;
                Err(decode_error(index, name, "not a row of a supported backend"))
            }
        }
    )+};
}

cells!(
    bool,
    i32,
    Option<i32>,
    f64,
    Option<f64>,
    serde_json::Value,
    String,
    Option<String>,
    uuid::Uuid,
    Option<uuid::Uuid>,
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
);

/// A check of a decoded cell (an unsigned count, a JSON list) as a
/// decode error of the row.
pub(crate) fn checked<T>(result: crate::error::Result<T>) -> Result<T, DbErr> {
    result.map_err(|err| DbErr::Type(err.to_string()))
}

/// [`Cell::read`], a decode error naming the column `name`.
pub(crate) fn read_named<T: Cell>(row: &QueryResult, index: usize, name: &str) -> Result<T, DbErr> {
    T::read_as(row, index, Some(name))
}

/// The cell at `index`, as an enum stored by its string value (selected
/// as text on PostgreSQL). An unknown value is a decode error, never a
/// default.
pub(crate) fn read_enum<E>(row: &QueryResult, index: usize) -> Result<E, DbErr>
where
    E: ActiveEnum + for<'a> TryFrom<&'a str>,
{
    let text = String::read(row, index)?;
    E::try_from(text.as_str()).map_err(|_| {
        decode_error(
            index,
            None,
            format!("unknown value {text:?} of {}", E::name()),
        )
    })
}
