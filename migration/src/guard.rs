//! Rule 8 of SCHEMA.md: a migration never silently drops rows.
//!
//! Where a change could lose data (orphans that a new foreign key would
//! reject, values a narrower CHECK would refuse, tokens in columns about to be
//! dropped), the migration first selects the affected rows and, if there are
//! any, stops with an error that names them, before changing anything.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::QueryResult;

/// How many offending ids an error message lists before it summarizes.
const LISTED: usize = 20;

/// Fails with `what` and the ids the `select` returns (its first column), if any.
pub async fn refuse_if_any(
    manager: &SchemaManager<'_>,
    select: SelectStatement,
    what: &str,
) -> Result<(), DbErr> {
    let rows = manager.get_connection().query_all(&select).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = rows.iter().take(LISTED).map(render_id).collect();
    let more = rows.len().saturating_sub(LISTED);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Err(DbErr::Migration(format!(
        "{what}; refusing to lose them ({} rows): {}{tail}",
        rows.len(),
        ids.join(", ")
    )))
}

fn render_id(row: &QueryResult) -> String {
    if let Ok(id) = row.try_get_by_index::<sea_orm_migration::sea_orm::prelude::Uuid>(0) {
        return id.to_string();
    }
    if let Ok(id) = row.try_get_by_index::<String>(0) {
        return id;
    }
    "<unreadable id>".to_owned()
}
