//! The second half of adoption: every row of the source into a pierre-db
//! database, in one transaction on the target.
//!
//! One transaction, because a half-adopted database is worse than none:
//! a killed or failed adoption leaves the target as it was, and the same
//! call runs again from the start. Tables load parents first
//! ([`every_table!`](crate::every_table)); a reference to a table that
//! loads later (a user's home tenant) or to its own table is written once
//! every row is in, so the target's foreign keys hold at every statement
//! and no privilege to switch them off is needed.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, TableRef};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IdenStatic,
    Identity, InsertMany, Iterable, PrimaryKeyToColumn, RelationTrait, Value,
};
use uuid::Uuid;

use super::cells::{self, Converted, Kind, Raw};
use super::credentials::column_forms;
use super::read;
use super::report::{AdoptionReport, TableAdopted};
use super::rows::{COMMA_LISTS, LegacyCell, MappedId};
use super::schema::Tables;
use super::transform::{self, Keys, Row, RowCounts};
use crate::crypto::legacy;
use crate::error::{DatabaseError, Result};

/// Bind parameters per statement: under PostgreSQL's 65,535 and SQLite's
/// 32,766.
const MAX_PARAMETERS: usize = 30_000;

/// Problems named in the error of a refused adoption; the rest are
/// counted (`LegacySource::check_rows` and `check_secrets` list them all).
const NAMED_PROBLEMS: usize = 20;

/// Tables whose rows are named by a key other than `id` in reports. A
/// table keyed by a secret (`a2a_sessions`, by its token) is named by
/// rowid instead.
const NAMED_BY: [(&str, &str); 3] = [
    ("system_secrets", "secret_type"),
    ("rsa_keypairs", "kid"),
    ("system_settings", "key"),
];

/// Unique columns whose values adoption normalises (emails lower-cased,
/// names trimmed): two source rows can become one value.
const NORMALISED_UNIQUE: [&str; 5] = [
    "users.email",
    "tenants.slug",
    "tenants.domain",
    "system_settings.key",
    "system_secrets.secret_type",
];

/// Tables the migrations fill: the source's rows replace the target's
/// seeds of the same key.
pub(super) const SEEDED_BY_MIGRATIONS: [&str; 2] = ["admin_config_categories", "system_settings"];

/// `ON CONFLICT (primary key) DO UPDATE SET` every other column.
fn replace_seeded<E: EntityTrait>() -> OnConflict {
    let keys: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
    let others: Vec<E::Column> = E::Column::iter()
        .filter(|c| !keys.iter().any(|k| k.as_str() == c.as_str()))
        .collect();
    OnConflict::columns(keys).update_columns(others).to_owned()
}

/// Tables the original never writes: rows there came from elsewhere, and
/// what their values mean is not known.
const NEVER_WRITTEN: [&str; 2] = ["key_versions", "user_oauth_app_credentials"];

macro_rules! table_list {
    ($($table:ident),+ $(,)?) => {
        /// The tables in loading order.
        pub(super) const TABLES: &[&str] = &[$(stringify!($table)),+];

        /// Moves every table, in loading order.
        async fn move_every_table(mover: &mut Mover<'_>) -> Result<()> {
            $(mover.table::<entity::$table::ActiveModel>(stringify!($table)).await?;)+
            Ok(())
        }

        /// Every foreign key of the target: `(table, column, parent, parent column)`.
        fn every_reference() -> Vec<Reference> {
            let mut all = Vec::new();
            $(all.extend(references::<entity::$table::Entity>(stringify!($table)));)+
            all
        }
    };
}

crate::every_table!(table_list);

/// A foreign key of the target.
#[derive(Clone, Debug)]
struct Reference {
    table: &'static str,
    column: String,
    parent: String,
    parent_column: String,
}

fn references<E: EntityTrait>(table: &'static str) -> Vec<Reference> {
    let name = |t: &TableRef| match t {
        TableRef::Table(name, _) => name.1.to_string(),
        _ => String::new(),
    };
    let single = |i: &Identity| match i {
        Identity::Unary(column) => Some(column.to_string()),
        _ => None,
    };
    E::Relation::iter()
        .map(|r| r.def())
        // `belongs_to`: this table holds the key.
        .filter(|def| !def.is_owner && name(&def.from_tbl) == table)
        .filter_map(|def| {
            Some(Reference {
                table,
                column: single(&def.from_col)?,
                parent: name(&def.to_tbl),
                parent_column: single(&def.to_col)?,
            })
        })
        .collect()
}

/// A reference written after every row is in.
struct Late {
    table: &'static str,
    row: String,
    id: Value,
    column: String,
    value: Value,
    parent: String,
    parent_column: String,
}

/// Reports progress: the table, rows done, rows it holds in the source.
pub(crate) type Progress<'p> = &'p mut (dyn FnMut(&str, u64, u64) + Send);

/// The state of one adoption.
pub(crate) struct Mover<'a> {
    /// A read transaction on the source: every table as of one moment.
    pub(crate) source: &'a DatabaseTransaction,
    pub(crate) source_tables: &'a Tables,
    pub(crate) tx: &'a DatabaseTransaction,
    pub(crate) keys: Keys<'a>,
    pub(crate) quarantine: bool,
    pub(crate) batch: u64,
    pub(crate) progress: Progress<'a>,
    pub(crate) report: AdoptionReport,
    /// Rows each source table holds.
    pub(crate) source_rows: HashMap<String, u64>,
    references: Vec<Reference>,
    /// Values of referenced columns written so far, by `table.column`.
    present: HashMap<String, HashSet<String>>,
    /// Keys of rows left out or refused (any table): rows that refer to
    /// them are too.
    left_out: HashSet<String>,
    late: Vec<Late>,
    /// Cells that did not convert, when not quarantining.
    problems: Vec<LegacyCell>,
    /// Rowids of tenant-level fitness defaults another row replaces.
    replaced_defaults: HashMap<i64, String>,
    /// Values written to the unique columns adoption normalises.
    seen: HashMap<String, HashSet<String>>,
}

impl<'a> Mover<'a> {
    pub(crate) fn new(
        source: &'a DatabaseTransaction,
        source_tables: &'a Tables,
        tx: &'a DatabaseTransaction,
        keys: Keys<'a>,
        progress: Progress<'a>,
    ) -> Self {
        let references = every_reference();
        let present = references
            .iter()
            .map(|r| (format!("{}.{}", r.parent, r.parent_column), HashSet::new()))
            .collect();
        Self {
            source,
            source_tables,
            tx,
            keys,
            quarantine: false,
            batch: 1_000,
            progress,
            report: AdoptionReport::default(),
            source_rows: HashMap::new(),
            references,
            present,
            left_out: HashSet::new(),
            late: Vec::new(),
            problems: Vec::new(),
            replaced_defaults: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    /// Moves every row; on any cell that does not convert (and no
    /// quarantine), [`DatabaseError::NotAdoptable`] naming them, with
    /// nothing committed (the caller drops the transaction).
    pub(crate) async fn run(&mut self) -> Result<()> {
        self.replaced_defaults = replaced_fitness_defaults(self.source, self.source_tables).await?;
        move_every_table(self).await?;
        self.write_late_references().await?;
        if self.problems.is_empty() {
            return Ok(());
        }
        let named: Vec<String> = self
            .problems
            .iter()
            .take(NAMED_PROBLEMS)
            .map(|p| format!("{}.{} of {}: {}", p.table, p.column, p.row, p.reason))
            .collect();
        let more = self.problems.len().saturating_sub(NAMED_PROBLEMS);
        let more = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        Err(DatabaseError::NotAdoptable(format!(
            "{} value(s) do not convert, so nothing was written: {}{more}; repair them in the \
             source, or adopt with quarantine to leave their rows out and list them",
            self.problems.len(),
            named.join("; ")
        )))
    }

    /// Moves one target table from the source table(s) that fill it.
    async fn table<A>(&mut self, table: &'static str) -> Result<()>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send + Sync,
    {
        let columns: Vec<<A::Entity as EntityTrait>::Column> =
            <A::Entity as EntityTrait>::Column::iter().collect();
        let names: Vec<&'static str> = columns.iter().map(|c| c.as_str()).collect();
        let kinds: Vec<(Kind, bool)> = columns
            .iter()
            .map(|c| (Kind::of(c.def().get_column_type()), c.def().is_null()))
            .collect();
        let mut stats = TableAdopted {
            table: table.to_owned(),
            source_rows: 0,
            moved: 0,
            quarantined: 0,
            left_behind: 0,
        };
        // The original's run-time table holds the per-user OAuth apps that
        // pierre-db keeps in `user_oauth_app_credentials`.
        let alone = [table];
        let sources: &[&'static str] = match table {
            "user_oauth_app_credentials" => &["user_oauth_app_credentials", "user_oauth_apps"],
            _ => &alone,
        };
        let place = TABLES.iter().position(|t| *t == table).unwrap_or(0);
        let per_insert = (MAX_PARAMETERS / names.len().max(1)).max(1);
        for source_table in sources {
            let Some(present) = self.source_tables.get(*source_table) else {
                continue;
            };
            let total = self.source_rows.get(*source_table).copied().unwrap_or(0);
            stats.source_rows += total;
            let read: Vec<usize> = (0..names.len())
                .filter(|i| present.contains(names[*i]))
                .collect();
            let select: Vec<String> = read.iter().map(|i| Raw::select(names[*i])).collect();
            let mut after = i64::MIN;
            let mut done = 0u64;
            loop {
                let rows = read::batch(
                    self.source,
                    source_table,
                    &select.join(", "),
                    after,
                    self.batch,
                )
                .await?;
                let Some(last) = rows.last() else {
                    break;
                };
                after = last.try_get_by_index(0)?;
                let mut models = Vec::with_capacity(rows.len());
                for result in &rows {
                    done += 1;
                    let rowid: i64 = result.try_get_by_index(0)?;
                    let mut cells = vec![Raw::Null; names.len()];
                    for (n, i) in read.iter().enumerate() {
                        cells[*i] = Raw::read(result, 1 + 2 * n)?;
                    }
                    let outcome =
                        self.row(table, source_table, place, &names, &kinds, rowid, cells);
                    match outcome {
                        Outcome::Write(values) => {
                            let mut model = A::default();
                            for (column, value) in columns.iter().zip(values) {
                                model.try_set(*column, value).map_err(|err| {
                                    DatabaseError::NotAdoptable(format!(
                                        "{table}.{}: {err}",
                                        column.as_str()
                                    ))
                                })?;
                            }
                            models.push(model);
                            stats.moved += 1;
                        }
                        Outcome::Quarantined => stats.quarantined += 1,
                        Outcome::LeftBehind => stats.left_behind += 1,
                        Outcome::Refused => {}
                    }
                }
                // Once a value is refused nothing will be committed: the
                // rest is read only to name every problem.
                if self.problems.is_empty() {
                    while !models.is_empty() {
                        let rest = models.split_off(models.len().min(per_insert));
                        let chunk = std::mem::replace(&mut models, rest);
                        let mut insert = InsertMany::<A>::many(chunk);
                        if SEEDED_BY_MIGRATIONS.contains(&table) {
                            insert = insert.on_conflict(replace_seeded::<A::Entity>());
                        }
                        insert
                            .exec_without_returning(self.tx)
                            .await
                            .map_err(|err| {
                                DatabaseError::NotAdoptable(format!(
                                    "writing {table} failed, so nothing was written: {err}"
                                ))
                            })?;
                    }
                }
                (self.progress)(table, done, total);
            }
        }
        self.report.tables.push(stats);
        Ok(())
    }

    /// Converts one source row; what becomes of it.
    #[allow(clippy::too_many_arguments, reason = "one row and where it stands")]
    fn row(
        &mut self,
        table: &'static str,
        source_table: &'static str,
        place: usize,
        names: &[&'static str],
        kinds: &[(Kind, bool)],
        rowid: i64,
        cells: Vec<Raw>,
    ) -> Outcome {
        let id_at = names.iter().position(|c| *c == "id");
        let shown: Vec<Option<String>> = cells.iter().map(Raw::shown).collect();
        let key = NAMED_BY
            .iter()
            .find(|(t, _)| *t == table)
            .map_or("id", |(_, column)| column);
        let name = names
            .iter()
            .position(|c| *c == key)
            .and_then(|i| shown[i].clone())
            .unwrap_or_else(|| format!("rowid {rowid}"));
        let mut row = Row {
            table,
            columns: names,
            source: shown,
            values: Vec::with_capacity(names.len()),
            problems: Vec::new(),
        };
        let mut new_ids = 0;
        let mut mapped = Vec::new();
        for (i, cell) in cells.iter().enumerate() {
            let (kind, nullable) = &kinds[i];
            let is_id = Some(i) == id_at;
            let comma_list = COMMA_LISTS.contains(&(table, names[i]));
            match cells::convert(kind, *nullable, is_id, comma_list, cell) {
                Ok(Converted::Value(value)) => row.values.push(value),
                Ok(Converted::Mapped { old, new }) => {
                    if is_id {
                        mapped.push(MappedId {
                            table: table.to_owned(),
                            old,
                            new,
                        });
                    }
                    row.values.push(Some(new).into());
                }
                Ok(Converted::NewId) => {
                    new_ids += 1;
                    row.values.push(Some(new_id(source_table, rowid)).into());
                }
                Err(reason) => {
                    row.values.push(kind.null());
                    row.problems.push((names[i], reason));
                }
            }
        }
        if let Some(reason) = self.left_behind(source_table, rowid, &row) {
            self.report.left_behind.push(LegacyCell {
                table: source_table.to_owned(),
                column: "*".to_owned(),
                row: name,
                reason,
            });
            return Outcome::LeftBehind;
        }
        if NEVER_WRITTEN.contains(&source_table) {
            row.problems.push((
                "*",
                format!(
                    "the original server never writes {source_table}, so what its values \
                     mean is not known"
                ),
            ));
        }
        // Also for a row that will be refused: a credential another row
        // refers to by value (a session token) must be in the form the
        // references are compared in.
        let mut counts = RowCounts::default();
        let refused = !row.problems.is_empty();
        transform::apply(&mut row, &self.keys, &mut counts, refused);
        for (i, column) in names.iter().enumerate() {
            let unique = format!("{table}.{column}");
            if NORMALISED_UNIQUE.contains(&unique.as_str())
                && let Some(key) = key_of(&row.values[i])
                && self
                    .seen
                    .get(&unique)
                    .is_some_and(|seen| seen.contains(&key))
            {
                row.problems.push((
                    column,
                    format!("another row has {key:?} here once it is normalised"),
                ));
            }
        }
        let mut late = Vec::new();
        for reference in self.references.iter().filter(|r| r.table == table) {
            let Some(i) = names.iter().position(|c| *c == reference.column) else {
                continue;
            };
            let Some(key) = key_of(&row.values[i]) else {
                continue;
            };
            let parent_place = TABLES.iter().position(|t| *t == reference.parent);
            if parent_place.is_none_or(|p| p >= place) {
                late.push((i, reference.clone()));
                continue;
            }
            let secret = column_forms(table, &reference.column).is_some();
            if let Some(reason) =
                self.missing(&reference.parent, &reference.parent_column, &key, secret)
            {
                row.problems.push((names[i], reason));
            }
        }
        if !row.problems.is_empty() {
            let cells = row.problems.iter().map(|(column, reason)| LegacyCell {
                table: source_table.to_owned(),
                column: (*column).to_owned(),
                row: name.clone(),
                reason: reason.clone(),
            });
            // Every key a row could refer to this one by.
            for (i, column) in names.iter().enumerate() {
                if self.present.contains_key(&format!("{table}.{column}"))
                    && let Some(key) = key_of(&row.values[i])
                {
                    self.left_out.insert(key);
                }
            }
            if self.quarantine {
                self.report.quarantined.extend(cells);
                return Outcome::Quarantined;
            }
            self.problems.extend(cells);
            return Outcome::Refused;
        }
        for (i, reference) in late {
            let value = std::mem::replace(&mut row.values[i], kinds[i].0.null());
            self.late.push(Late {
                table,
                row: name.clone(),
                id: id_at
                    .map(|at| row.values[at].clone())
                    .unwrap_or(Value::Bool(None)),
                column: reference.column,
                value,
                parent: reference.parent,
                parent_column: reference.parent_column,
            });
        }
        for (i, column) in names.iter().enumerate() {
            let Some(key) = key_of(&row.values[i]) else {
                continue;
            };
            let name = format!("{table}.{column}");
            if NORMALISED_UNIQUE.contains(&name.as_str()) {
                self.seen
                    .entry(name.clone())
                    .or_default()
                    .insert(key.clone());
            }
            if let Some(keys) = self.present.get_mut(&name) {
                keys.insert(key);
            }
        }
        self.report.new_ids += new_ids;
        self.report.mapped_ids.extend(mapped);
        counts.add_to(&mut self.report);
        Outcome::Write(row.values)
    }

    /// Why a row stays behind by rule, if it does.
    fn left_behind(&self, source_table: &str, rowid: i64, row: &Row<'_>) -> Option<String> {
        if source_table == "system_secrets"
            && row.source_text("secret_type") == Some(legacy::DATA_KEY_SECRET_TYPE)
        {
            return Some(
                "the original's data key: every value it sealed is sealed again under the \
                 target's keys"
                    .into(),
            );
        }
        if source_table == "fitness_configurations" {
            return self.replaced_defaults.get(&rowid).cloned();
        }
        None
    }

    /// Why a reference to `key` in `parent.column` does not resolve, if it
    /// does not.
    fn missing(&self, parent: &str, column: &str, key: &str, secret: bool) -> Option<String> {
        let known = self
            .present
            .get(&format!("{parent}.{column}"))
            .is_some_and(|keys| keys.contains(key));
        if known {
            return None;
        }
        let why = match (self.left_out.contains(key), self.quarantine) {
            (true, true) => "which is left out",
            (true, false) => "which does not convert",
            (false, _) => "which the source does not have",
        };
        // A credential (a session token) is never printed, hashed or not.
        let key = if secret { "by a credential" } else { key };
        Some(format!("refers to {parent} {key}, {why}"))
    }

    /// Writes the references held back, once every row is in.
    async fn write_late_references(&mut self) -> Result<()> {
        for late in std::mem::take(&mut self.late) {
            let Some(key) = key_of(&late.value) else {
                continue;
            };
            if let Some(reason) = self.missing(&late.parent, &late.parent_column, &key, false) {
                let cell = LegacyCell {
                    table: late.table.to_owned(),
                    column: late.column.clone(),
                    row: late.row.clone(),
                    reason,
                };
                if self.quarantine {
                    // The row is in; only this reference stays empty.
                    self.report.quarantined.push(LegacyCell {
                        reason: format!("{} (the reference is left empty)", cell.reason),
                        ..cell
                    });
                } else {
                    self.problems.push(cell);
                }
                continue;
            }
            if !self.problems.is_empty() {
                continue;
            }
            let update = Query::update()
                .table(Alias::new(late.table))
                .value(Alias::new(&late.column), late.value)
                .and_where(Expr::col(Alias::new("id")).eq(late.id))
                .to_owned();
            self.tx.execute(&update).await?;
        }
        Ok(())
    }
}

/// What becomes of one source row.
enum Outcome {
    Write(Vec<Value>),
    Quarantined,
    LeftBehind,
    Refused,
}

/// A value as the key it is compared by (references name UUIDs or text).
fn key_of(value: &Value) -> Option<String> {
    match value {
        Value::Uuid(Some(id)) => Some(id.to_string()),
        Value::String(Some(text)) => Some(text.to_string()),
        _ => None,
    }
}

/// The id of a row the original wrote with a NULL id: derived from its
/// table and rowid, so every run gives it the same one.
fn new_id(table: &str, rowid: i64) -> Uuid {
    cells::mapped_id(&format!("{table}\0rowid {rowid}"))
}

/// Tenant-level fitness defaults (no user) that another row of the same
/// tenant and name replaces, by rowid, with the reason. The original
/// inserted these with NULL ids, so one tenant can hold several; pierre-db
/// keeps one per tenant and name: the most recently updated (the last
/// written, when two were updated at the same time), which is the one the
/// original's lookups returned last.
async fn replaced_fitness_defaults(
    source: &DatabaseTransaction,
    tables: &Tables,
) -> Result<HashMap<i64, String>> {
    let mut replaced = HashMap::new();
    if !tables.contains_key("fitness_configurations") {
        return Ok(replaced);
    }
    let select = [
        Raw::select("tenant_id"),
        Raw::select("configuration_name"),
        Raw::select("updated_at"),
        Raw::select("user_id"),
    ]
    .join(", ");
    // (tenant, name) → (updated_at, rowid) of the row kept so far.
    type Rank = (Option<chrono::DateTime<chrono::Utc>>, i64);
    let mut kept: HashMap<(String, String), Rank> = HashMap::new();
    let mut rows = Vec::new();
    read::every_row(source, "fitness_configurations", &select, |row| {
        let rowid: i64 = row.try_get_by_index(0)?;
        let cell = |i: usize| Raw::read(row, 1 + 2 * i);
        if cell(3)? != Raw::Null {
            return Ok(());
        }
        let (Some(tenant), Some(name)) = (cell(0)?.shown(), cell(1)?.shown()) else {
            return Ok(());
        };
        let updated = cell(2)?.shown().and_then(|t| cells::timestamp(&t).ok());
        rows.push(((tenant, name), (updated, rowid)));
        Ok(())
    })
    .await?;
    for (key, candidate) in &rows {
        let slot = kept.entry(key.clone()).or_insert(*candidate);
        if *candidate > *slot {
            *slot = *candidate;
        }
    }
    for ((tenant, name), (_, rowid)) in rows {
        let (_, winner) = kept[&(tenant.clone(), name.clone())];
        if winner != rowid {
            replaced.insert(
                rowid,
                format!(
                    "another tenant-level default of tenant {tenant} named {name:?} (rowid \
                     {winner}) was updated later and is kept: pierre-db holds one per tenant \
                     and name"
                ),
            );
        }
    }
    Ok(replaced)
}
