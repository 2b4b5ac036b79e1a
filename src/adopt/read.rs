//! Reading a source table in batches, by rowid: a source can be large, and
//! neither a check nor a move may hold all of it in memory.

use sea_orm::{ConnectionTrait, QueryResult, Statement};

use crate::error::Result;

/// Rows read per statement by [`every_row`].
const BATCH: u64 = 5_000;

/// Calls `each` with every row of `SELECT rowid, <select> FROM table`, in
/// rowid order, `BATCH` rows per statement. `select` is SQL the caller
/// built from names it knows (the schema's, never input).
pub(crate) async fn every_row(
    conn: &impl ConnectionTrait,
    table: &str,
    select: &str,
    mut each: impl FnMut(&QueryResult) -> Result<()>,
) -> Result<()> {
    let mut after = i64::MIN;
    loop {
        let rows = batch(conn, table, select, after, BATCH).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get_by_index(0)?;
        for row in &rows {
            each(row)?;
        }
    }
}

/// The next `size` rows of `SELECT rowid, <select> FROM table` after rowid
/// `after`, in rowid order (`select` as for [`every_row`]).
pub(crate) async fn batch(
    conn: &impl ConnectionTrait,
    table: &str,
    select: &str,
    after: i64,
    size: u64,
) -> Result<Vec<QueryResult>> {
    // `rowid` is SQLite's own key, which the query builder does not name.
    let sql = format!(
        "SELECT rowid, {select} FROM \"{table}\" WHERE rowid > ? ORDER BY rowid LIMIT {size}"
    );
    Ok(conn
        .query_all_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            [after.into()],
        ))
        .await?)
}
