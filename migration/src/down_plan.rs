//! What reverting migrations would lose, counted before any step runs.
//!
//! [`down_catalog`] lists, for every migration, what its `down` removes
//! from the data: the tables it drops, the columns it drops or empties, and
//! the rows it deletes. The `down`s use the same constants, so the catalog
//! is their description rather than a copy (and `tests/it/down_plan.rs`
//! compares it with what each `down` really removes from the schema).
//! [`down_losses`] counts those rows and values on the current database for
//! the steps `Migrator::down(conn, steps)` would run, in the order it would
//! run them; [`down_checked`] refuses, changing nothing, when the count is
//! not zero and the operator has not consented.
//!
//! Rows a migration seeded itself and nobody has edited since are not
//! losses: reverting removes exactly what `up` added (M13's setting, the
//! categories of M20 and M21). Index-only migrations and the rebuilds of
//! M11 and M14 keep every row (M11's `down` aside, which deletes the
//! credentials its narrower constraint rejects).

use std::fmt;

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::guard::{RowSet, with_consent};
use crate::{
    Migrator, m20250120_000001_users_schema as m01, m20250120_000002_api_keys_schema as m02,
    m20250120_000003_analytics_schema as m03, m20250120_000004_a2a_schema as m04,
    m20250120_000005_admin_schema as m05, m20250120_000006_oauth_tokens_schema as m06,
    m20250120_000007_oauth_notifications_schema as m07, m20250120_000008_oauth2_schema as m08,
    m20250120_000009_tenant_management_schema as m09,
    m20250120_000010_fitness_configurations_schema as m10,
    m20250120_000011_expand_oauth_provider_constraints as m11,
    m20250120_000012_user_roles_permissions as m12, m20250120_000013_system_settings_schema as m13,
    m20250120_000014_add_missing_foreign_keys as m14,
    m20250120_000015_remove_legacy_user_token_columns as m15, m20250120_000017_chat_schema as m17,
    m20250120_000018_firebase_auth as m18, m20250120_000019_recipes_schema as m19,
    m20250120_000020_admin_config_schema as m20, m20250120_000021_add_config_categories as m21,
    m20251201_000001_content_keyset_indexes as m22, m20251201_000002_privileged_indexes as m23,
    m20251201_000003_profile_keyset_indexes as m24,
};

/// What one migration's `down` removes from the data.
#[derive(Debug, Clone, Default)]
pub struct DownEffects {
    /// The migration's name, as `seaql_migrations` records it.
    pub migration: String,
    /// Tables it drops, with their rows.
    pub dropped_tables: &'static [&'static str],
    /// Columns it drops, as (table, column), with their values.
    pub dropped_columns: &'static [(&'static str, &'static str)],
    /// Columns it sets to NULL in every row, as (table, column).
    pub cleared_columns: &'static [(&'static str, &'static str)],
    /// Rows it deletes: those its guards protect (deleted only with the
    /// operator's consent, see [`with_consent`]) and those it seeded.
    pub deleted_rows: Vec<RowSet>,
    /// Rows it seeded, as it seeded them: removing these loses nothing.
    pub seeded_rows: Vec<RowSet>,
}

impl DownEffects {
    fn of(migration: &dyn MigrationName) -> Self {
        Self {
            migration: migration.name().to_owned(),
            ..Self::default()
        }
    }

    fn tables(mut self, tables: &'static [&'static str]) -> Self {
        self.dropped_tables = tables;
        self
    }

    fn columns(mut self, columns: &'static [(&'static str, &'static str)]) -> Self {
        self.dropped_columns = columns;
        self
    }

    fn cleared(mut self, columns: &'static [(&'static str, &'static str)]) -> Self {
        self.cleared_columns = columns;
        self
    }

    fn deletes(mut self, rows: Vec<RowSet>) -> Self {
        self.deleted_rows = rows;
        self
    }

    fn seeds(mut self, rows: Vec<RowSet>) -> Self {
        self.seeded_rows = rows;
        self
    }
}

/// What each migration's `down` removes, in the order of
/// `Migrator::migrations()`.
pub fn down_catalog() -> Vec<DownEffects> {
    const CATEGORIES: &str = "admin_config_categories";
    vec![
        DownEffects::of(&m01::Migration).tables(&m01::DROPPED_TABLES),
        DownEffects::of(&m02::Migration).tables(&m02::DROPPED_TABLES),
        DownEffects::of(&m03::Migration).tables(&m03::DROPPED_TABLES),
        DownEffects::of(&m04::Migration).tables(&m04::DROPPED_TABLES),
        DownEffects::of(&m05::Migration).tables(&m05::DROPPED_TABLES),
        DownEffects::of(&m06::Migration).tables(&m06::DROPPED_TABLES),
        DownEffects::of(&m07::Migration).tables(&m07::DROPPED_TABLES),
        DownEffects::of(&m08::Migration).tables(&m08::DROPPED_TABLES),
        DownEffects::of(&m09::Migration)
            .deletes(m09::guarded())
            .cleared(&m09::CLEARED_COLUMNS)
            .tables(&m09::DROPPED_TABLES),
        DownEffects::of(&m10::Migration).tables(&m10::DROPPED_TABLES),
        // The SQLite rebuild copies every row that is left.
        DownEffects::of(&m11::Migration).deletes(m11::guarded()),
        DownEffects::of(&m12::Migration)
            .tables(&m12::DROPPED_TABLES)
            .columns(&m12::DROPPED_COLUMNS),
        DownEffects::of(&m13::Migration)
            .tables(&m13::DROPPED_TABLES)
            .seeds(vec![RowSet::new(
                "system_settings",
                "key",
                m13::seeded(),
                "seeded",
            )]),
        // Drops two foreign keys (SQLite: rebuilds two tables, every row kept).
        DownEffects::of(&m14::Migration),
        // Also adds the legacy token columns back, empty.
        DownEffects::of(&m15::Migration).columns(&m15::DROPPED_COLUMNS),
        DownEffects::of(&m17::Migration).tables(&m17::DROPPED_TABLES),
        DownEffects::of(&m18::Migration).columns(&m18::DROPPED_COLUMNS),
        DownEffects::of(&m19::Migration).tables(&m19::DROPPED_TABLES),
        DownEffects::of(&m20::Migration)
            .tables(&m20::DROPPED_TABLES)
            .seeds(vec![RowSet::new(
                CATEGORIES,
                "id",
                m20::seeded(&m20::CATEGORIES),
                "seeded",
            )]),
        // Deletes only the categories it seeded: those still as it seeded
        // them are not counted, those an operator edited since are.
        DownEffects::of(&m21::Migration)
            .deletes(vec![RowSet::new(
                CATEGORIES,
                "id",
                m21::deleted(),
                "that this migration seeded and an operator edited since",
            )])
            .seeds(vec![RowSet::new(
                CATEGORIES,
                "id",
                m20::seeded(&m21::CATEGORIES),
                "seeded",
            )]),
        // Index-only migrations remove no data.
        DownEffects::of(&m22::Migration),
        DownEffects::of(&m23::Migration),
        DownEffects::of(&m24::Migration),
    ]
}

/// How a `down` step loses data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// It drops the table.
    DroppedTable,
    /// It drops the column.
    DroppedColumn,
    /// It sets the column to NULL in every row.
    ClearedColumn,
    /// It deletes the rows, described by the text ("that belong to tenants").
    DeletedRows(&'static str),
}

/// Data one `down` step would lose on the current database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// The migration whose `down` loses it.
    pub migration: String,
    /// The table.
    pub table: &'static str,
    /// The column, for a dropped or emptied column.
    pub column: Option<&'static str>,
    /// How many rows (for a column: how many non-NULL values).
    pub rows: u64,
    /// How it is lost.
    pub kind: LossKind,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.rows;
        let rows = if n == 1 { "row" } else { "rows" };
        let values = if n == 1 { "value" } else { "values" };
        let (table, column, m) = (self.table, self.column.unwrap_or("?"), &self.migration);
        match self.kind {
            LossKind::DroppedTable => write!(f, "{table}: {n} {rows} ({m} drops the table)"),
            LossKind::DroppedColumn => {
                write!(f, "{table}.{column}: {n} {values} ({m} drops the column)")
            }
            LossKind::ClearedColumn => {
                write!(f, "{table}.{column}: {n} {values} ({m} sets them to NULL)")
            }
            LossKind::DeletedRows(what) => {
                write!(f, "{table}: {n} {rows} {what} ({m} deletes them)")
            }
        }
    }
}

/// The names of the migrations `Migrator::down(conn, steps)` would revert,
/// in the order it would revert them (read without creating the
/// migration table).
pub async fn down_steps<C: ConnectionTrait>(
    conn: &C,
    steps: Option<u32>,
) -> Result<Vec<String>, DbErr> {
    let applied = Migrator::get_applied_migrations_read_only(conn).await?;
    let take = steps.map_or(usize::MAX, |n| {
        <usize as TryFrom<u32>>::try_from(n).unwrap_or(usize::MAX)
    });
    Ok(applied
        .iter()
        .rev()
        .take(take)
        .map(|m| m.name().to_owned())
        .collect())
}

/// The data `Migrator::down(conn, steps)` would lose (`steps` `None`: every
/// applied migration, as `reset` and `refresh` revert them), counted on
/// the current database without changing it: one [`Loss`] per table,
/// column or row set that holds something, in the order the steps would
/// run. Rows an earlier step deletes are not counted again by a later one.
pub async fn down_losses<C: ConnectionTrait>(
    conn: &C,
    steps: Option<u32>,
) -> Result<Vec<Loss>, DbErr> {
    let catalog = down_catalog();
    let mut gone: Vec<RowSet> = Vec::new();
    let mut losses = Vec::new();
    for name in down_steps(conn, steps).await? {
        let effects = catalog
            .iter()
            .find(|e| e.migration == name)
            .ok_or_else(|| {
                DbErr::Migration(format!(
                    "{name}: not in the catalog of what each down removes (migration/src/down_plan.rs)"
                ))
            })?;
        let mut loss = |table, column, rows, kind| {
            if rows > 0 {
                losses.push(Loss {
                    migration: name.clone(),
                    table,
                    column,
                    rows,
                    kind,
                });
            }
        };
        let seeded = &effects.seeded_rows;
        for set in &effects.deleted_rows {
            let rows = kept(set.table, &gone, seeded).add(set.rows.clone());
            let n = count(conn, set.table, rows).await?;
            loss(set.table, None, n, LossKind::DeletedRows(set.what));
        }
        gone.extend(effects.deleted_rows.iter().cloned());
        let columns = effects
            .dropped_columns
            .iter()
            .map(|c| (c, LossKind::DroppedColumn))
            .chain(
                effects
                    .cleared_columns
                    .iter()
                    .map(|c| (c, LossKind::ClearedColumn)),
            );
        for (&(table, column), kind) in columns {
            let rows = kept(table, &gone, seeded).add(Expr::col(column).is_not_null());
            let n = count(conn, table, rows).await?;
            loss(table, Some(column), n, kind);
        }
        for &table in effects.dropped_tables {
            let n = count(conn, table, kept(table, &gone, seeded)).await?;
            loss(table, None, n, LossKind::DroppedTable);
        }
    }
    Ok(losses)
}

/// The one-line refusal that names every loss and asks for `--yes`.
pub fn refusal(losses: &[Loss]) -> String {
    let listed: Vec<String> = losses.iter().map(Loss::to_string).collect();
    format!(
        "reverting would lose data: {}; nothing was changed: pass --yes to revert anyway",
        listed.join("; ")
    )
}

/// `Migrator::down(conn, steps)`, checked first: if any step would lose
/// data ([`down_losses`]) and `yes` is false, fails with
/// `DbErr::Migration(`[`refusal`]`)` before any step runs, changing
/// nothing. With `yes`, reverts all the steps, the guards of M09 and M11
/// deleting the rows they protect (see [`with_consent`]).
pub async fn down_checked<'c, C>(conn: &'c C, steps: Option<u32>, yes: bool) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    &'c C: IntoSchemaManagerConnection<'c>,
{
    let losses = down_losses(conn, steps).await?;
    if !yes && !losses.is_empty() {
        return Err(DbErr::Migration(refusal(&losses)));
    }
    with_consent(yes, Migrator::down(conn, steps)).await
}

/// The rows of `table` that neither an earlier step removed (`gone`) nor
/// this step seeded (`seeded`).
fn kept(table: &str, gone: &[RowSet], seeded: &[RowSet]) -> Condition {
    gone.iter()
        .chain(seeded)
        .filter(|set| set.table == table)
        .fold(Condition::all(), |all, set| all.add(set.rows.clone().not()))
}

async fn count<C: ConnectionTrait>(
    conn: &C,
    table: &'static str,
    rows: Condition,
) -> Result<u64, DbErr> {
    let stmt = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(table)
        .cond_where(rows)
        .to_owned();
    let row = conn
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::Migration(format!("counting the rows of {table}: no result")))?;
    let n: i64 = row.try_get_by_index(0)?;
    Ok(<u64 as TryFrom<i64>>::try_from(n).unwrap_or(0))
}
