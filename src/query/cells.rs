//! Reading a row's cells by position straight through the driver.
//!
//! SeaORM's `TryGetable` formats an error string for every NULL it meets
//! (an `Option<T>` is read as `T` first) and goes through its own value
//! layer; on a page of 50 users that was most of the gap to raw sqlx. The
//! lists that are the hot path read their rows here instead, from the
//! same `QueryResult` (the statement is still SeaORM's).
//!
//! The same readers decode the rows a read on the calling thread gets from
//! rusqlite (see `calling_thread`): a row type implements [`Decode`] once,
//! over either kind of [`Row`], and [`decoded_rows!`] gives it its sqlx
//! reading, so the two paths cannot decode differently. (The generated
//! models that implement [`Decode`] keep SeaORM's reading by name on the
//! sqlx path; their decoders read the same columns by position.)

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

/// A row to decode: the driver's (sqlx, through SeaORM) or, for a read on
/// the calling thread, rusqlite's (see `calling_thread`). Decoders take it by value
/// (it is a reference) and read it only through [`Cell`].
#[derive(Clone, Copy)]
pub(crate) enum Row<'r> {
    /// A row sqlx read.
    Driver(&'r QueryResult),
    /// A row read on the calling thread.
    #[cfg(feature = "sqlite")]
    Local(&'r rusqlite::Row<'r>),
}

impl<'r> From<&'r QueryResult> for Row<'r> {
    fn from(row: &'r QueryResult) -> Self {
        Row::Driver(row)
    }
}

/// A row type decoded by position from either kind of [`Row`]: what a
/// read on the calling thread needs. Its sqlx reading
/// (`FromQueryResult`) is [`decoded_rows!`]'s, so the two cannot differ
/// (a generated model keeps SeaORM's own).
pub(crate) trait Decode: Sized {
    /// The row type read from `row`.
    fn decode(row: Row<'_>) -> Result<Self, DbErr>;
}

/// A [`Decode`] type's decoder, for code generic over row types that may
/// not have one (the keyset pages).
pub(crate) type Decoder<M> = for<'r> fn(Row<'r>) -> Result<M, DbErr>;

/// `FromQueryResult` for [`Decode`] types: sqlx's rows read by the same
/// decoder.
macro_rules! decoded_rows {
    ($($row:ty),+ $(,)?) => {$(
        impl sea_orm::FromQueryResult for $row {
            fn from_query_result(
                row: &sea_orm::QueryResult,
                _prefix: &str,
            ) -> std::result::Result<Self, sea_orm::DbErr> {
                <$row as $crate::query::cells::Decode>::decode(row.into())
            }
        }
    )+};
}
pub(crate) use decoded_rows;

/// A type sqlx decodes on every backend this build has, and a read on the
/// calling thread decodes the way sqlx-sqlite does.
pub(crate) trait Cell: Sized {
    /// The cell at `index` of `row`; a decode error names the column
    /// `name`, or its position when `None`.
    fn read_as<'r>(
        row: impl Into<Row<'r>>,
        index: usize,
        name: Option<&str>,
    ) -> Result<Self, DbErr>;

    /// The cell at `index` of `row`.
    fn read<'r>(row: impl Into<Row<'r>>, index: usize) -> Result<Self, DbErr> {
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
            fn read_as<'r>(
                row: impl Into<Row<'r>>,
                index: usize,
                name: Option<&str>,
            ) -> Result<Self, DbErr> {
                use sea_orm::sqlx::Row as _;
                let row = match row.into() {
                    Row::Driver(row) => row,
                    #[cfg(feature = "sqlite")]
                    Row::Local(row) => {
                        return crate::calling_thread::cell::<$t>(row, index)
                            .ok_or_else(|| decode_error(index, name, "not as sqlx stores it"));
                    }
                };
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
    i64,
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

/// The time at `index`, in the offset the generated models hold
/// (`DateTimeWithTimeZone`; the library stores UTC).
pub(crate) fn read_time<'r>(
    row: impl Into<Row<'r>>,
    index: usize,
) -> Result<chrono::DateTime<chrono::FixedOffset>, DbErr> {
    Ok(chrono::DateTime::<chrono::Utc>::read(row, index)?.fixed_offset())
}

/// [`read_time`] of a nullable column.
pub(crate) fn read_time_opt<'r>(
    row: impl Into<Row<'r>>,
    index: usize,
) -> Result<Option<chrono::DateTime<chrono::FixedOffset>>, DbErr> {
    Ok(Option::<chrono::DateTime<chrono::Utc>>::read(row, index)?.map(|t| t.fixed_offset()))
}

/// [`Cell::read`], a decode error naming the column `name`.
pub(crate) fn read_named<'r, T: Cell>(
    row: impl Into<Row<'r>>,
    index: usize,
    name: &str,
) -> Result<T, DbErr> {
    T::read_as(row, index, Some(name))
}

/// The cell at `index`, as an enum stored by its string value (selected
/// as text on PostgreSQL). An unknown value is a decode error, never a
/// default.
pub(crate) fn read_enum<'r, E>(row: impl Into<Row<'r>>, index: usize) -> Result<E, DbErr>
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
