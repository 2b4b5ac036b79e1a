//! Rows per table, read independently of the command: the tables come from
//! the catalog, not from `copy`'s own list. Shared with the benchmark
//! (`#[path]` module).

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Rows per table of the database at `url` (every table in the current
/// schema but the migration log).
pub async fn row_counts(url: &str) -> BTreeMap<String, u64> {
    let conn = sea_orm::Database::connect(url).await.unwrap();
    let backend = conn.get_database_backend();
    let catalog = match backend {
        DbBackend::Postgres => {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() \
             AND tablename <> 'seaql_migrations'"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> 'seaql_migrations'"
        }
    };
    let tables: Vec<String> = conn
        .query_all_raw(Statement::from_string(backend, catalog))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    let mut counts = BTreeMap::new();
    for table in tables {
        let row = conn
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        let n: i64 = row.try_get_by_index(0).unwrap();
        counts.insert(table, n as u64);
    }
    conn.close().await.unwrap();
    counts
}
