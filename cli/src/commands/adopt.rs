//! `pierre-db adopt --from URL --to URL`: a database the original Pierre
//! server wrote, moved into a pierre-db database by the library's
//! [`LegacySource::adopt`], then verified.
//!
//! The adoption is one transaction on the target: an interrupted or failed
//! run leaves the target as it was, and the same command runs again from
//! the start (`--resume` says so, for scripts written for `copy`).

use migration::MigratorTrait;
use pierre_db::{AdoptOptions, AdoptionReport, Backend, LegacySource};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;

use crate::args::{Adopt, Global};
use crate::commands::{migrate, verify};
use crate::connect::{Open, master_key_from, open_database, single_connection};
use crate::exit::{Code, Failure, Result};
use crate::output::{Output, Progress, counted, rate};

pub async fn run(global: &Global, out: &Output, options: &Adopt) -> Result<Code> {
    let (from, to) = (options.from.trim(), options.to.trim());
    if Backend::from_url(to)? == Backend::SqliteMemory {
        return Err(Failure::usage(
            "--to sqlite::memory: would be gone when the command ends: name a file or a \
             PostgreSQL database",
        ));
    }
    if from == to {
        return Err(Failure::usage("--from and --to name the same database"));
    }
    let source = LegacySource::open(from).await?;
    let mut config = global.config_for(to)?;
    let legacy_key = match &options.legacy_master_key_file {
        Some(file) => master_key_from("--legacy-master-key-file", file)?,
        // The usual deployment keeps its PIERRE_MASTER_ENCRYPTION_KEY.
        None => config.master_key.clone(),
    };
    let adopt_options = AdoptOptions::new()
        .skip_unmanaged_tables(options.skip_unmanaged_tables)
        .quarantine(options.quarantine)
        .batch(options.batch);
    // The source and its key first: nothing is made or migrated for a
    // source that would be refused.
    source.inspect(&adopt_options).await?;
    source.check_master_key(&legacy_key).await?;
    refuse_foreign_target(to).await?;
    // The target is the database this command makes: a new SQLite file is
    // created, and a new database of either kind migrated.
    config.migrate_on_connect = true;
    config.create_if_missing = true;
    let target = open_database(config).await?;
    let mut bar: Option<(String, Progress)> = None;
    let outcome = source
        .adopt_with_progress(
            &target,
            &legacy_key,
            &adopt_options,
            |table, done, total| {
                if bar.as_ref().is_none_or(|(shown, _)| shown != table) {
                    if let Some((_, finished)) = bar.take() {
                        finished.finish();
                    }
                    bar = Some((table.to_owned(), out.progress(table, total, "row")));
                }
                if let Some((_, progress)) = &mut bar {
                    progress.set_position(done);
                }
            },
        )
        .await;
    if let Some((_, finished)) = bar.take() {
        finished.finish();
    }
    let report = match outcome {
        Ok(report) => report,
        Err(err) => {
            target.close().await.ok();
            return Err(Failure::from(err));
        }
    };
    print(out, &report);
    // With --json the adoption's document is the only output.
    let silent = Output::new(false, true);
    let verified = verify::check(&target, if out.is_json() { &silent } else { out }, 1000).await;
    target.close().await.ok();
    let verified = verified?;
    let ok = verified.is_clean() && !verified.stopped;
    out.document(document(
        &report,
        ok,
        verified.checked,
        verified.unreadable.len(),
    ));
    Ok(if ok { Code::Ok } else { Code::Failed })
}

/// Refuses a target that holds tables but is no pierre-db database (the
/// original's own file, another application's): migrating it would write
/// pierre-db's tables among them.
async fn refuse_foreign_target(url: &str) -> Result<()> {
    if let Backend::SqliteFile(path) = Backend::from_url(url)?
        && !path.exists()
    {
        return Ok(());
    }
    let conn = single_connection(url, Open::EXISTING).await?;
    let applied = migrate::pending(&conn).await? < migration::Migrator::migrations().len();
    // Raw SQL: the catalogues, which the query builder does not name.
    let sql = match conn.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        _ => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    };
    let tables: i64 = match conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?
    {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    conn.close().await.ok();
    if tables > 0 && !applied {
        return Err(Failure::usage(format!(
            "the target holds {} but is no pierre-db database: adopt into a new database",
            counted(u64::try_from(tables).unwrap_or_default(), "table")
        )));
    }
    Ok(())
}

fn print(out: &Output, report: &AdoptionReport) {
    let moved = report.moved();
    out.line(format!(
        "adopted {} into {} tables in {:.1} s ({:.0} rows/s)",
        counted(moved, "row"),
        report.tables.len(),
        report.seconds,
        rate(moved, std::time::Duration::from_secs_f64(report.seconds))
    ));
    for table in report.tables.iter().filter(|t| t.source_rows > 0) {
        let mut line = format!(
            "  {}: {} of {}",
            table.table, table.moved, table.source_rows
        );
        if table.quarantined > 0 {
            line.push_str(&format!(", {} quarantined", table.quarantined));
        }
        if table.left_behind > 0 {
            line.push_str(&format!(", {} left behind", table.left_behind));
        }
        out.line(line);
    }
    for (title, counts) in [
        ("sealed under the target's key", &report.sealed),
        ("hashed (kept in clear by the original)", &report.hashed),
    ] {
        if !counts.is_empty() {
            out.line(format!("{title}:"));
            for count in counts {
                out.line(format!("  {}: {}", count.column, count.rows));
            }
        }
    }
    if !report.legacy_hashes.is_empty() {
        out.line("legacy hashes, upgraded on their first successful check:");
        for count in &report.legacy_hashes {
            out.line(format!(
                "  {} ({:?}): {}",
                count.column, count.form, count.rows
            ));
        }
    }
    if !report.mapped_ids.is_empty() {
        out.line("ids given UUIDs (every reference rewritten):");
        for mapped in &report.mapped_ids {
            out.line(format!(
                "  {} {} -> {}",
                mapped.table, mapped.old, mapped.new
            ));
        }
    }
    if report.new_ids > 0 {
        out.line(format!(
            "NULL ids filled: {}",
            counted(report.new_ids, "row")
        ));
    }
    for (title, cells) in [
        ("left behind", &report.left_behind),
        ("quarantined", &report.quarantined),
    ] {
        if !cells.is_empty() {
            out.line(format!("{title}:"));
            for cell in cells {
                out.line(format!(
                    "  {}.{} of {}: {}",
                    cell.table, cell.column, cell.row, cell.reason
                ));
            }
        }
    }
    for table in &report.unmanaged_tables {
        out.line(format!(
            "not managed by pierre-db, left in the source: {} ({})",
            table.table,
            counted(table.rows, "row")
        ));
    }
}

fn document(
    report: &AdoptionReport,
    ok: bool,
    verified: u64,
    unreadable: usize,
) -> serde_json::Value {
    let cell = |c: &pierre_db::LegacyCell| json!({ "table": c.table, "column": c.column, "row": c.row, "reason": c.reason });
    let count = |c: &pierre_db::ColumnCount| json!({ "column": c.column, "rows": c.rows });
    json!({
        "ok": ok,
        "rows": report.moved(),
        "seconds": report.seconds,
        "tables": report.tables.iter().map(|t| json!({
            "table": t.table,
            "source": t.source_rows,
            "target": t.moved,
            "quarantined": t.quarantined,
            "left_behind": t.left_behind,
        })).collect::<Vec<_>>(),
        "sealed": report.sealed.iter().map(count).collect::<Vec<_>>(),
        "hashed": report.hashed.iter().map(count).collect::<Vec<_>>(),
        "legacy_hashes": report.legacy_hashes.iter().map(|c| json!({
            "column": c.column, "form": format!("{:?}", c.form), "rows": c.rows,
        })).collect::<Vec<_>>(),
        "mapped_ids": report.mapped_ids.iter().map(|m| json!({
            "table": m.table, "old": m.old, "new": m.new.to_string(),
        })).collect::<Vec<_>>(),
        "new_ids": report.new_ids,
        "left_behind": report.left_behind.iter().map(cell).collect::<Vec<_>>(),
        "quarantined": report.quarantined.iter().map(cell).collect::<Vec<_>>(),
        "unmanaged_tables": report.unmanaged_tables.iter().map(|t| json!({
            "table": t.table, "rows": t.rows,
        })).collect::<Vec<_>>(),
        "verified": verified,
        "unreadable": unreadable,
    })
}
