//! The tables and columns of the original server's database after its 20
//! migrations, from the DDL it runs (`legacy_schema.sql`), compared with a
//! source's.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, Statement};

use crate::error::Result;

/// The original's tables after the migrations this project mirrors, as
/// SQLite DDL: the one description of them, read here to learn the
/// columns a source must have and by the tests to write a source.
pub(crate) const DDL: &str = include_str!("legacy_schema.sql");

/// The table the original creates at run time, outside its ledger: a
/// source may lack it.
pub(crate) const RUN_TIME_TABLES: [&str; 1] = ["user_oauth_apps"];

/// The ledger itself, which is read, not adopted.
pub(crate) const LEDGER: &str = "_sqlx_migrations";

/// Table name → its column names.
pub(crate) type Tables = BTreeMap<String, BTreeSet<String>>;

/// The original's tables and their columns: [`DDL`] run on an in-memory
/// database and read back, so that the DDL stays the only list.
pub(crate) async fn expected() -> Result<Tables> {
    let scratch = sea_orm::Database::connect("sqlite::memory:").await?;
    scratch.execute_unprepared(DDL).await?;
    let mut tables = tables_of(&scratch).await?;
    tables.remove(LEDGER);
    scratch.close().await?;
    Ok(tables)
}

/// Every table of a SQLite database (SQLite's own excepted) and its columns.
pub(crate) async fn tables_of(conn: &impl ConnectionTrait) -> Result<Tables> {
    // `sqlite_master` and `pragma_table_info` are SQLite's catalogue, which
    // the query builder has no names for. One statement for all tables.
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        ))
        .await?;
    let mut tables = Tables::new();
    for row in rows {
        let (table, column): (String, String) =
            (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        tables.entry(table).or_default().insert(column);
    }
    Ok(tables)
}

/// How a source's tables differ from the original's, one sentence per
/// difference: a missing table, a missing or an unknown column. Tables
/// the original never had are not differences here (see
/// [`unmanaged`]).
pub(crate) fn differences(expected: &Tables, source: &Tables) -> Vec<String> {
    let mut problems = Vec::new();
    for (table, columns) in expected {
        let Some(found) = source.get(table) else {
            if !RUN_TIME_TABLES.contains(&table.as_str()) {
                problems.push(format!("table {table} is missing"));
            }
            continue;
        };
        for column in columns.difference(found) {
            problems.push(format!(
                "table {table} has no column {column}, which the original's migrations create"
            ));
        }
        for column in found.difference(columns) {
            problems.push(format!(
                "table {table} has a column {column} that the original's migrations do not \
                 create, and adopting would lose it"
            ));
        }
    }
    problems
}

/// The source's tables the original's 20 migrations do not create (the
/// ledger excepted).
pub(crate) fn unmanaged(expected: &Tables, source: &Tables) -> Vec<String> {
    source
        .keys()
        .filter(|table| !expected.contains_key(*table) && *table != LEDGER)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test that cannot go on fails by panicking"
    )]

    use super::*;

    fn tables(list: &[(&str, &[&str])]) -> Tables {
        list.iter()
            .map(|(t, cs)| (t.to_string(), cs.iter().map(|c| c.to_string()).collect()))
            .collect()
    }

    #[test]
    fn missing_tables_and_columns_either_way_are_named() {
        let expected = tables(&[
            ("users", &["id", "email"]),
            ("goals", &["id"]),
            ("user_oauth_apps", &["id"]),
        ]);
        let source = tables(&[("users", &["id", "nickname"]), ("coaches", &["id"])]);
        assert_eq!(
            differences(&expected, &source),
            [
                "table goals is missing",
                "table users has no column email, which the original's migrations create",
                "table users has a column nickname that the original's migrations do not create, \
                 and adopting would lose it",
            ]
        );
        assert_eq!(unmanaged(&expected, &source), ["coaches"]);
    }
}
