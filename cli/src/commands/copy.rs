//! `pierre-db copy --from URL --to URL [--resume]`: every table, as stored,
//! from one database to another (SQLite ⇄ PostgreSQL).
//!
//! Rows move through the SeaORM entities, so each backend's column types
//! (UUIDs, timestamps, enums, JSON) are converted by the same code the
//! library uses. Ciphertexts and wrapped data keys move byte for byte: their
//! associated data names tables, columns and rows, never a backend, so the
//! same master key opens them on the target.
//!
//! The source is read in one transaction, so every table comes from the
//! same moment. Each batch is one multi-row `INSERT … ON CONFLICT (primary
//! key) DO UPDATE` in a transaction of its own: a killed copy leaves whole
//! batches, and `--resume` sends every row again, which rewrites what
//! arrived (it may have changed since) and adds what did not. Foreign keys
//! are not enforced on the target while rows arrive, because users and
//! tenants reference each other (and users themselves): a SQLite source's
//! references are checked before anything is written, and at the end every
//! table must hold the source's row count, a SQLite target's references
//! must resolve, and every sealed value must open.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::TryStreamExt;
use pierre_db::Backend;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    AccessMode, ActiveModelTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, IdenStatic, InsertMany, IntoActiveModel, IsolationLevel,
    Iterable, PrimaryKeyToColumn, Statement, TransactionTrait,
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::args::{Copy, Global};
use crate::commands::{migrate, verify};
use crate::connect::{Open, count_rows, count_rows_where, open_database, single_connection};
use crate::exit::{Code, Failure, Result};
use crate::interrupt::Interrupt;
use crate::output::counted;
use crate::output::{Output, rate};

/// Bind parameters per statement: under PostgreSQL's 65,535 and SQLite's
/// 32,766, so a wide table gets fewer rows per insert.
const MAX_PARAMETERS: usize = 30_000;

/// Tables the migrations fill: a freshly migrated target already holds
/// their rows, which the copy overwrites with the source's.
const SEEDED_BY_MIGRATIONS: [&str; 2] = ["admin_config_categories", "system_settings"];

/// The tables in the library's loading order (`pierre_db::every_table!`):
/// [`copy_every_table`] copies them in this order with each table's entity.
macro_rules! tables {
    ($($table:ident),* $(,)?) => {
        /// Every table, in copy order.
        pub const TABLES: &[&str] = &[$(stringify!($table)),*];

        /// Copies each table in [`TABLES`] order; `false` when interrupted.
        async fn copy_every_table(job: &mut Job<'_>) -> Result<bool> {
            $(
                if !job.table::<entity::$table::ActiveModel>(stringify!($table)).await? {
                    return Ok(false);
                }
            )*
            Ok(true)
        }
    };
}

pierre_db::every_table!(tables);

pub async fn run(global: &Global, out: &Output, options: &Copy) -> Result<Code> {
    let (from, to) = (options.from.trim(), options.to.trim());
    for url in [from, to] {
        if Backend::from_url(url)? == Backend::SqliteMemory {
            return Err(Failure::usage(
                "copy needs databases other processes can open: sqlite::memory: is private \
                 to one connection",
            ));
        }
    }
    if from == to {
        return Err(Failure::usage("--from and --to name the same database"));
    }

    // Connections first: a mistyped SQLite path is "no such file", not a
    // new empty database.
    let source = single_connection(from, Open::EXISTING).await?;
    // Foreign keys off on SQLite targets for the whole connection (the
    // pragma cannot change inside a transaction); PostgreSQL targets
    // switch them off per batch transaction, see `Job::write`.
    let target = single_connection(to, Open::COPY_TARGET).await?;
    let outcome = copy(global, out, options, &source, &target).await;
    source.close().await.ok();
    target.close().await.ok();
    outcome
}

async fn copy(
    global: &Global,
    out: &Output,
    options: &Copy,
    source: &DatabaseConnection,
    target: &DatabaseConnection,
) -> Result<Code> {
    require_migrated(source, "source", &options.from).await?;
    require_migrated(target, "target", &options.to).await?;
    // The master key opens the source's data keys before anything is
    // written: a wrong key would otherwise surface only at the final check.
    open_database(global.config_for(&options.from)?)
        .await
        .map_err(|f| Failure {
            message: format!("source: {}", f.message),
            ..f
        })?
        .close()
        .await
        .ok();
    let postgres = target.get_database_backend() == DbBackend::Postgres;
    if postgres {
        can_defer_foreign_keys(target).await?;
    }
    let before = counts(target).await?;
    if !options.resume {
        let filled: Vec<&str> = before
            .iter()
            .filter(|(table, n)| **n > 0 && !SEEDED_BY_MIGRATIONS.contains(table))
            .map(|(table, _)| *table)
            .collect();
        if !filled.is_empty() && holds_only_unused_data_keys(target, &filled).await? {
            // The application (or a key command) connected to the new
            // database once and created its first data key. Nothing is
            // sealed under it, and the copy brings the source's keys.
            drop_data_keys(target).await?;
        } else if !filled.is_empty() {
            let filled: Vec<String> = filled
                .iter()
                .map(|table| format!("{table} {}", count_of(&before, table)))
                .collect();
            return Err(Failure::usage(format!(
                "the target is not empty ({}): copy into a freshly migrated database \
                 (`pierre-db -u URL migrate fresh --yes` empties one), or pass --resume to \
                 continue a copy that was interrupted",
                filled.join(", ")
            )));
        }
    }

    // One snapshot of the whole source: every table as of one moment, and
    // the counts checked at the end are that moment's.
    let snapshot = Arc::new(match source.get_database_backend() {
        DbBackend::Postgres => {
            source
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        }
        // SQLite: a read transaction keeps the snapshot of its first read.
        _ => source.begin().await?,
    });
    if source.get_database_backend() == DbBackend::Sqlite {
        // Rows arrive with foreign keys unenforced, so a broken reference
        // in the source would land unnoticed on a PostgreSQL target.
        let dangling = dangling_references(&*snapshot).await?;
        if dangling > 0 {
            return Err(Failure::failed(format!(
                "the source has {} whose references do not resolve \
                 (`PRAGMA foreign_key_check` lists them): repair them first",
                counted(dangling, "row")
            )));
        }
    }
    let expected = counts(&*snapshot).await?;

    let started = Instant::now();
    let interrupt = Interrupt::listen();
    let mut job = Job {
        out,
        source: Arc::clone(&snapshot),
        target,
        postgres,
        batch: options.batch as usize,
        interrupt: &interrupt,
        expected: &expected,
        copied: 0,
        report: Vec::new(),
    };
    let finished = copy_every_table(&mut job).await?;
    let Job {
        copied,
        report,
        source: reading,
        ..
    } = job;
    drop(reading);
    if let Ok(snapshot) = Arc::try_unwrap(snapshot) {
        snapshot.rollback().await.ok();
    }
    let elapsed = started.elapsed();
    drop(interrupt);
    if !finished {
        out.line(format!(
            "interrupted after {} (each batch committed); run the same command with \
             --resume to continue",
            counted(copied, "row")
        ));
        out.document(json!({ "ok": false, "interrupted": true, "rows": copied }));
        return Ok(Code::Interrupted);
    }
    let per_second = rate(copied, elapsed);
    out.line(format!(
        "copied {} in {} tables in {:.1} s ({per_second:.0} rows/s)",
        counted(copied, "row"),
        TABLES.len(),
        elapsed.as_secs_f64()
    ));

    // The checks: counts, references, and every sealed value.
    let after = counts(target).await?;
    let mut mismatched = Vec::new();
    for table in TABLES {
        let (want, got) = (count_of(&expected, table), count_of(&after, table));
        if want != got {
            mismatched.push(format!("{table}: source {want}, target {got}"));
        }
    }
    for line in &mismatched {
        out.line(format!("count differs: {line}"));
    }
    let dangling = if postgres {
        0
    } else {
        dangling_references(target).await?
    };
    if dangling > 0 {
        out.line(format!(
            "{} on the target with a reference to a missing row (PRAGMA foreign_key_check)",
            counted(dangling, "row")
        ));
    }
    if mismatched.is_empty() {
        out.line(format!("row counts match in all {} tables", TABLES.len()));
    }
    let target_db = open_database(global.config_for(&options.to)?).await?;
    // With --json the copy's document is the only output.
    let silent = Output::new(false, true);
    let verified = verify::check(&target_db, if out.is_json() { &silent } else { out }, 1000).await;
    target_db.close().await.ok();
    let verified = verified?;

    let ok = mismatched.is_empty() && dangling == 0 && verified.is_clean() && !verified.stopped;
    out.document(json!({
        "ok": ok,
        "rows": copied,
        "seconds": elapsed.as_secs_f64(),
        "rows_per_second": per_second.round(),
        "tables": report.iter().map(|t| json!({
            "table": t.table,
            "source": count_of(&expected, t.table),
            "target": count_of(&after, t.table),
            "sent": t.sent,
            "seconds": t.seconds,
        })).collect::<Vec<_>>(),
        "count_mismatches": mismatched,
        "dangling_references": dangling,
        "verified": verified.checked,
        "unreadable": verified.unreadable.len(),
    }));
    Ok(if ok {
        Code::Ok
    } else if verified.stopped && verified.is_clean() && mismatched.is_empty() && dangling == 0 {
        Code::Interrupted
    } else {
        Code::Failed
    })
}

/// One table's part of the report.
struct TableReport {
    table: &'static str,
    sent: u64,
    seconds: f64,
}

/// The state of one copy.
struct Job<'a> {
    out: &'a Output,
    /// The source's read transaction: one snapshot for every table.
    source: Arc<DatabaseTransaction>,
    target: &'a DatabaseConnection,
    postgres: bool,
    batch: usize,
    interrupt: &'a Interrupt,
    expected: &'a BTreeMap<&'static str, u64>,
    copied: u64,
    report: Vec<TableReport>,
}

impl Job<'_> {
    /// Streams every row of one table from the source and writes it to the
    /// target in multi-row inserts; `false` when interrupted.
    async fn table<A>(&mut self, table: &'static str) -> Result<bool>
    where
        A: ActiveModelTrait + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Send + Sync + 'static,
    {
        let total = count_of(self.expected, table);
        let started = Instant::now();
        // Every row is sent, also on --resume: the upsert rewrites rows
        // that arrived before an interruption (they may have changed since)
        // and adds the rest.
        let columns = <A::Entity as EntityTrait>::Column::iter().count();
        let per_insert = self.batch.min(MAX_PARAMETERS / columns).max(1);
        let conflict = upsert::<A::Entity>();
        let mut bar = self.out.progress(table, total, "row");
        // Reading the next batch overlaps writing this one: the source
        // decodes on one core while the target's driver encodes on the other.
        let (batches, mut arriving) = mpsc::channel(2);
        let reader = tokio::spawn(read_batches::<A::Entity>(
            Arc::clone(&self.source),
            per_insert,
            batches,
        ));
        let mut sent = 0u64;
        let mut stopped = false;
        let failed = |err: sea_orm::DbErr| {
            Failure::failed(format!(
                "copying {table}: {err}; the batches before it are committed: fix the cause and \
                 run the same command with --resume"
            ))
        };
        while let Some(batch) = arriving.recv().await {
            sent += self
                .write::<A>(batch.map_err(failed)?, &conflict)
                .await
                .map_err(failed)?;
            bar.set_position(sent);
            if self.interrupt.raised() {
                stopped = true;
                break;
            }
        }
        drop(arriving);
        reader
            .await
            .map_err(|err| Failure::failed(format!("reading {table}: {err}")))?;
        bar.finish();
        self.copied += sent;
        self.report.push(TableReport {
            table,
            sent,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(!stopped)
    }

    /// One batch, in a transaction of its own.
    async fn write<A>(
        &self,
        models: Vec<<A::Entity as EntityTrait>::Model>,
        conflict: &OnConflict,
    ) -> std::result::Result<u64, DbErr>
    where
        A: ActiveModelTrait + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + Send + Sync,
    {
        let n = models.len() as u64;
        let insert = InsertMany::<A>::many(models).on_conflict(conflict.clone());
        let tx = self.target.begin().await?;
        if self.postgres {
            // Raw SQL: sea-query has no SET statement. LOCAL: the setting
            // ends with the transaction.
            tx.execute_unprepared(DEFER_FOREIGN_KEYS).await?;
        }
        insert.exec_without_returning(&tx).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// Streams every row of `E` from `source` into `batches` of `size` rows;
/// stops at the first error (passed on) or when the receiver is gone.
async fn read_batches<E: EntityTrait>(
    source: Arc<DatabaseTransaction>,
    size: usize,
    batches: mpsc::Sender<std::result::Result<Vec<E::Model>, DbErr>>,
) {
    let mut rows = match E::find().stream(&*source).await {
        Ok(rows) => rows,
        Err(err) => {
            batches.send(Err(err)).await.ok();
            return;
        }
    };
    let mut batch = Vec::with_capacity(size);
    loop {
        match rows.try_next().await {
            Ok(Some(model)) => {
                batch.push(model);
                if batch.len() == size {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
                    if batches.send(Ok(full)).await.is_err() {
                        return;
                    }
                }
            }
            Ok(None) => {
                if !batch.is_empty() {
                    batches.send(Ok(batch)).await.ok();
                }
                return;
            }
            Err(err) => {
                batches.send(Err(err)).await.ok();
                return;
            }
        }
    }
}

/// `ON CONFLICT (primary key) DO UPDATE SET` every other column (or `DO
/// NOTHING` for a table that is all key).
fn upsert<E: EntityTrait>() -> OnConflict {
    let keys: Vec<E::Column> = E::PrimaryKey::iter().map(|k| k.into_column()).collect();
    let others: Vec<E::Column> = E::Column::iter()
        .filter(|c| !keys.iter().any(|k| k.as_str() == c.as_str()))
        .collect();
    let mut conflict = OnConflict::columns(keys);
    if others.is_empty() {
        conflict.do_nothing();
    } else {
        conflict.update_columns(others);
    }
    conflict
}

/// Replication mode: PostgreSQL fires no foreign-key triggers while rows
/// arrive. Needs a superuser, or `GRANT SET ON PARAMETER
/// session_replication_role TO <role>` (PostgreSQL 15+).
const DEFER_FOREIGN_KEYS: &str = "SET LOCAL session_replication_role = replica";

/// Fails before anything is written if the target's role may not switch
/// foreign-key triggers off.
async fn can_defer_foreign_keys(target: &DatabaseConnection) -> Result<()> {
    let tx = target.begin().await?;
    let outcome = tx.execute_unprepared(DEFER_FOREIGN_KEYS).await;
    tx.rollback().await.ok();
    outcome.map(|_| ()).map_err(|err| {
        Failure::failed(format!(
            "the target's role may not set session_replication_role ({err}): users and tenants \
             reference each other, so rows arrive with foreign-key triggers off; connect as a \
             superuser, or run `GRANT SET ON PARAMETER session_replication_role TO <role>` \
             as one"
        ))
    })
}

async fn require_migrated(conn: &DatabaseConnection, which: &str, url: &str) -> Result<()> {
    let pending = migrate::pending(conn).await?;
    if pending > 0 {
        return Err(Failure::usage(format!(
            "the {which} has {pending} pending migrations: run `pierre-db -u {} migrate up` first",
            crate::commands::backup::redacted(url)
        )));
    }
    Ok(())
}

/// The count of `table` in `counts` (0 if it is not there).
fn count_of(counts: &BTreeMap<&'static str, u64>, table: &str) -> u64 {
    counts.get(table).copied().unwrap_or(0)
}

/// The tables a fresh database holds after the library's first connect:
/// the data key it creates, and nothing sealed under it.
const FIRST_CONNECT: [&str; 2] = ["key_versions", "system_secrets"];

/// How the key store names data-key rows in `system_secrets` (the
/// library's `keys::store`; the copy tests fail if the two drift apart).
const DATA_KEY_ROWS: &str = "data_key.v%";

/// Whether the only rows of a target besides the migrations' are data keys
/// created by connecting: `filled` is within [`FIRST_CONNECT`] and every
/// `system_secrets` row is a data key (no named secret sealed under one).
async fn holds_only_unused_data_keys(target: &DatabaseConnection, filled: &[&str]) -> Result<bool> {
    if !filled.iter().all(|table| FIRST_CONNECT.contains(table)) {
        return Ok(false);
    }
    let named = count_rows_where(
        target,
        "system_secrets",
        Some(Expr::col(Alias::new("secret_type")).not_like(DATA_KEY_ROWS)),
    )
    .await?;
    Ok(named == 0)
}

/// Deletes the target's data keys, in one transaction.
async fn drop_data_keys(target: &DatabaseConnection) -> Result<()> {
    let tx = target.begin().await?;
    for table in FIRST_CONNECT {
        tx.execute(&Query::delete().from_table(Alias::new(table)).to_owned())
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows per table.
async fn counts(conn: &impl ConnectionTrait) -> Result<BTreeMap<&'static str, u64>> {
    let mut counts = BTreeMap::new();
    for table in TABLES {
        counts.insert(*table, count_rows(conn, table).await?);
    }
    Ok(counts)
}

/// Rows of a SQLite database whose references do not resolve.
async fn dangling_references(conn: &impl ConnectionTrait) -> Result<u64> {
    // Raw SQL: a pragma.
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA foreign_key_check",
        ))
        .await?;
    Ok(rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::TABLES;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    /// The list names every table of the schema once, each after the
    /// tables it references (but for the users ⇄ tenants pair).
    #[tokio::test]
    async fn tables_cover_the_schema_parents_first() {
        let conn = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        Migrator::up(&conn, None).await.unwrap();
        let sql = |s: String| Statement::from_string(DbBackend::Sqlite, s);
        let mut schema: Vec<String> = conn
            .query_all_raw(sql("SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
                .into()))
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect();
        schema.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(listed, schema);
        for (i, table) in TABLES.iter().enumerate() {
            let parents = conn
                .query_all_raw(sql(format!("PRAGMA foreign_key_list('{table}')")))
                .await
                .unwrap();
            for parent in parents {
                let parent: String = parent.try_get("", "table").unwrap();
                if parent == *table || (*table == "users" && parent == "tenants") {
                    continue;
                }
                let at = TABLES.iter().position(|t| *t == parent).unwrap();
                assert!(at < i, "{table} is listed before its parent {parent}");
            }
        }
    }
}
