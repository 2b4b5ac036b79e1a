//! `pierre-db verify`: every sealed value opens, or the rows that do not.

use std::time::Instant;

use pierre_db::{Database, VerifyReport};
use serde_json::json;

use crate::args::{Global, Verify};
use crate::exit::{Code, Result};
use crate::interrupt::Interrupt;
use crate::output::counted;
use crate::output::{Output, rate};

pub async fn run(global: &Global, out: &Output, options: &Verify) -> Result<Code> {
    let db = global.database().await?;
    let outcome = check(&db, out, options.batch).await;
    db.close().await.ok();
    let report = outcome?;
    Ok(report_code(&report))
}

/// Verifies `db` with a progress display and prints the report; shared
/// with `copy`, which verifies its target.
pub async fn check(db: &Database, out: &Output, batch: u32) -> Result<VerifyReport> {
    let security = db.security();
    let total: u64 = security
        .sealed_counts()
        .await?
        .iter()
        .map(|c| c.total)
        .sum();

    let interrupt = Interrupt::listen();
    let started = Instant::now();
    let mut bar = out.progress("verifying", total, "value");
    let report = security
        .verify(batch, |step| {
            bar.step(step.checked, &step.column, &interrupt)
        })
        .await;
    drop(interrupt);
    bar.finish();
    let report = report?;
    let per_second = rate(report.checked, started.elapsed());

    out.line(format!(
        "{:<50} {:>10} {:>10}  opened by key",
        "column", "opened", "unreadable"
    ));
    for column in &report.columns {
        let opened: u64 = column.by_version.values().sum();
        let split: Vec<String> = column
            .by_version
            .iter()
            .map(|(v, n)| format!("v{v}: {n}"))
            .collect();
        out.line(format!(
            "{:<50} {:>10} {:>10}  {}",
            column.column,
            opened,
            column.unreadable,
            split.join(", ")
        ));
    }
    for bad in &report.unreadable {
        out.line(format!(
            "unreadable: {}.{} row {}: {}",
            bad.table, bad.column, bad.key, bad.reason
        ));
    }
    if report.stopped {
        out.line(format!(
            "interrupted after {}",
            counted(report.checked, "value")
        ));
    } else if report.is_clean() {
        out.line(format!(
            "every value opens: {} ({per_second:.0} values/s)",
            counted(report.checked, "value")
        ));
    } else {
        out.line(format!(
            "{} of {} values do not open",
            report.unreadable.len(),
            report.checked
        ));
    }
    out.document(json!({
        "ok": report.is_clean() && !report.stopped,
        "checked": report.checked,
        "interrupted": report.stopped,
        "values_per_second": per_second.round(),
        "columns": report.columns.iter().map(|c| json!({
            "column": c.column,
            "by_version": c.by_version.iter()
                .map(|(v, n)| (v.to_string(), json!(n)))
                .collect::<serde_json::Map<_, _>>(),
            "unreadable": c.unreadable,
        })).collect::<Vec<_>>(),
        "unreadable": report.unreadable.iter().map(|u| json!({
            "table": u.table,
            "column": u.column,
            "key": u.key,
            "reason": u.reason,
        })).collect::<Vec<_>>(),
    }));
    Ok(report)
}

/// The exit status a verification report calls for.
pub fn report_code(report: &VerifyReport) -> Code {
    if !report.is_clean() {
        Code::Failed
    } else if report.stopped {
        Code::Interrupted
    } else {
        Code::Ok
    }
}
