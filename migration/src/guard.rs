//! Rule 8 of SCHEMA.md: a migration never silently drops rows.
//!
//! Where a change could lose data (orphans that a new foreign key would
//! reject, values a narrower CHECK would refuse, tokens in columns about to be
//! dropped), the migration first selects the affected rows and, if there are
//! any, stops with an error that names them, before changing anything.
//!
//! A `down` that would lose guarded rows may delete them instead, but only
//! with the operator's consent: [`with_consent`] scopes it to the task that
//! runs the migrations (sea-orm-migration runs every step in its caller's
//! task), and [`delete_or_refuse`] reads it. Without that scope (a plain
//! `Migrator::down`), the guards refuse as before.

use std::future::Future;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::QueryResult;

/// How many offending ids an error message lists before it summarizes.
const LISTED: usize = 20;

tokio::task_local! {
    /// Whether the operator agreed that the running `down` steps may
    /// delete the rows their guards protect.
    static CONSENT: bool;
}

/// Runs `work` (migrations reverted on this task, e.g. `Migrator::down`)
/// with the operator's answer to "may rows be lost?".
///
/// With `consent` true, the guards in the `down` steps delete the rows they
/// protect (M09: rows of the earlier tables that belong to tenants; M11:
/// credentials with providers the narrower constraint rejects) instead of
/// refusing, so that the steps complete. Ask first with
/// [`down_losses`](crate::down_losses): this does not check anything by
/// itself. With `consent` false, this is `work` as it is.
pub async fn with_consent<F: Future>(consent: bool, work: F) -> F::Output {
    CONSENT.scope(consent, work).await
}

/// Whether the running task has the operator's consent to lose rows.
fn consented() -> bool {
    CONSENT.try_with(|consent| *consent).unwrap_or(false)
}

/// A set of rows of one table, chosen by a condition.
#[derive(Debug, Clone)]
pub struct RowSet {
    /// The table.
    pub table: &'static str,
    /// The column that identifies a row in error messages (its key).
    pub key: &'static str,
    /// Which rows. Never NULL for any row (compare nullable columns only
    /// after `IS NOT NULL`): the plan negates it to count the other rows.
    pub rows: Condition,
    /// What the rows are, completing "rows …", e.g. "that belong to tenants".
    pub what: &'static str,
}

impl RowSet {
    /// The rows of `table` matching `rows`, named by `key`.
    pub fn new(
        table: &'static str,
        key: &'static str,
        rows: Condition,
        what: &'static str,
    ) -> Self {
        Self {
            table,
            key,
            rows,
            what,
        }
    }
}

/// Deletes the rows of `set` if the operator consented (see
/// [`with_consent`]); otherwise fails, naming them, if there are any.
pub async fn delete_or_refuse(manager: &SchemaManager<'_>, set: &RowSet) -> Result<(), DbErr> {
    if consented() {
        return manager
            .execute(
                Query::delete()
                    .from_table(set.table)
                    .cond_where(set.rows.clone())
                    .to_owned(),
            )
            .await;
    }
    refuse_if_any(
        manager,
        Query::select()
            .column(set.key)
            .from(set.table)
            .cond_where(set.rows.clone())
            .to_owned(),
        &format!(
            "{} has rows {}, which this rollback deletes only with the operator's consent \
             (--yes)",
            set.table, set.what
        ),
    )
    .await
}

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
