//! Every row of the source, cell by cell, against the column of
//! pierre-db's schema it will fill.

use sea_orm::{ColumnTrait, DatabaseConnection, IdenStatic, Iterable};

use super::cells::{self, Converted, Kind, Raw};
use super::read;
use super::schema::Tables;
use crate::error::Result;

/// JSON lists the original stored comma-joined: `table.column`.
pub(crate) const COMMA_LISTS: [(&str, &str); 1] = [("a2a_sessions", "granted_scopes")];

/// A target column: its name, what it holds, whether it takes NULL.
struct Target {
    name: &'static str,
    kind: Kind,
    nullable: bool,
}

fn targets<C: ColumnTrait + IdenStatic + Iterable>() -> Vec<Target> {
    C::iter()
        .map(|column| Target {
            name: column.as_str(),
            kind: Kind::of(column.def().get_column_type()),
            nullable: column.def().is_null(),
        })
        .collect()
}

macro_rules! managed {
    ($($table:ident),+ $(,)?) => {
        /// Each table pierre-db manages, with its columns.
        fn managed() -> Vec<(&'static str, Vec<Target>)> {
            vec![$((stringify!($table), targets::<entity::$table::Column>())),+]
        }
    };
}

crate::every_table!(managed);

/// A cell that does not convert.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyCell {
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The row: its id, or `rowid N` when it has none (the id is NULL, or
    /// the table's key is a secret such as a session token).
    pub row: String,
    /// Why it does not convert (the value is quoted only where it is not
    /// a secret: ids, times, enum values).
    pub reason: String,
}

/// A row id of the original's that adoption replaces with a UUID.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MappedId {
    /// The table.
    pub table: String,
    /// The id as the original wrote it.
    pub old: String,
    /// The UUID it becomes.
    pub new: uuid::Uuid,
}

/// What [`LegacySource::check_rows`](super::LegacySource::check_rows)
/// found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyRows {
    /// Rows read, in every table pierre-db manages.
    pub rows: u64,
    /// Row ids in one of the original's prefixed forms (`a2a_client_<uuid>`,
    /// `admin_<hex>`, …) and the UUIDs adoption gives them. Each is derived
    /// from the old id, so every reference to it maps the same way, and so
    /// does a resumed run.
    pub mapped_ids: Vec<MappedId>,
    /// NULL ids (the original wrote some), which adoption fills in.
    pub new_ids: u64,
    /// Cells that do not convert: adoption refuses them, or leaves their
    /// rows out when asked to.
    pub unconvertible: Vec<LegacyCell>,
}

/// Reads every row of every managed table the source has, and of the
/// original's run-time `user_oauth_apps`, whose rows become
/// `user_oauth_app_credentials`. A column the source lacks is not read
/// (inspection names it).
pub(crate) async fn check(conn: &DatabaseConnection, source: &Tables) -> Result<LegacyRows> {
    let mut found = LegacyRows::default();
    let managed = managed();
    let credentials = managed
        .iter()
        .find(|(table, _)| *table == "user_oauth_app_credentials")
        .map(|(_, columns)| columns.as_slice())
        .unwrap_or_default();
    let run_time = ("user_oauth_apps", credentials);
    for (table, columns) in managed
        .iter()
        .map(|(t, c)| (*t, c.as_slice()))
        .chain([run_time])
    {
        if let Some(present) = source.get(table) {
            let columns: Vec<&Target> = columns
                .iter()
                .filter(|c| present.contains(c.name))
                .collect();
            check_table(conn, table, &columns, &mut found).await?;
        }
    }
    Ok(found)
}

async fn check_table(
    conn: &DatabaseConnection,
    table: &'static str,
    columns: &[&Target],
    found: &mut LegacyRows,
) -> Result<()> {
    if columns.is_empty() {
        // A table with none of its columns: inspection names each one.
        return Ok(());
    }
    let cells: Vec<String> = columns.iter().map(|c| Raw::select(c.name)).collect();
    let id_at = columns.iter().position(|c| c.name == "id");
    read::every_row(conn, table, &cells.join(", "), |row| {
        found.rows += 1;
        let rowid: i64 = row.try_get_by_index(0)?;
        let cells = columns
            .iter()
            .enumerate()
            .map(|(i, _)| Raw::read(row, 1 + 2 * i))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let named = || {
            id_at
                .and_then(|i| cells[i].shown())
                .unwrap_or_else(|| format!("rowid {rowid}"))
        };
        for (column, cell) in columns.iter().zip(&cells) {
            let comma_list = COMMA_LISTS.contains(&(table, column.name));
            let is_id = column.name == "id";
            match cells::convert(&column.kind, column.nullable, is_id, comma_list, cell) {
                Ok(Converted::Value(_)) => {}
                Ok(Converted::Mapped { old, new }) => {
                    if is_id {
                        found.mapped_ids.push(MappedId {
                            table: table.to_owned(),
                            old,
                            new,
                        });
                    }
                }
                Ok(Converted::NewId) => found.new_ids += 1,
                Err(reason) => found.unconvertible.push(LegacyCell {
                    table: table.to_owned(),
                    column: column.name.to_owned(),
                    row: named(),
                    reason,
                }),
            }
        }
        Ok(())
    })
    .await
}
