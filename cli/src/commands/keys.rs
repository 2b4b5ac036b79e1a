//! `pierre-db keys status|rotate|reencrypt|retire|rewrap`.

use std::time::Instant;

use pierre_db::{Database, KeyVersionInfo, SealedCounts};
use serde_json::{Value, json};

use crate::args::{Global, Keys};
use crate::connect::master_key_from;
use crate::exit::{Code, Result};
use crate::interrupt::Interrupt;
use crate::output::counted;
use crate::output::{Output, rate};

pub async fn run(global: &Global, out: &Output, action: &Keys) -> Result<Code> {
    let db = global.database().await?;
    let code = match action {
        Keys::Status => status(&db, out).await?,
        Keys::Rotate => {
            let version = db.security().rotate_data_key().await?;
            out.line(format!(
                "data key v{version} is active; values under older keys stay readable \
                 (move them with `pierre-db keys reencrypt`)"
            ));
            out.document(json!({ "ok": true, "active": version }));
            Code::Ok
        }
        Keys::Reencrypt { batch } => reencrypt(&db, out, *batch).await?,
        Keys::Retire { version } => {
            db.security().retire(*version).await?;
            out.line(format!("data key v{version} retired"));
            out.document(json!({ "ok": true, "retired": version }));
            Code::Ok
        }
        Keys::Rewrap {
            new_master_key_file,
        } => {
            let new_master = master_key_from("--new-master-key-file", new_master_key_file)?;
            let n = db.security().rewrap_data_keys(new_master).await?;
            out.line(format!(
                "{} rewrapped under the key in {}; restart every process with it",
                counted(n as u64, "data key"),
                new_master_key_file.display()
            ));
            out.document(json!({ "ok": true, "rewrapped": n }));
            Code::Ok
        }
    };
    db.close().await.ok();
    Ok(code)
}

async fn status(db: &Database, out: &Output) -> Result<Code> {
    let security = db.security();
    let keys = security.key_versions().await?;
    let counts = security.sealed_counts().await?;
    out.line(format!("{:<8} {:<9} {:>10}", "version", "state", "values"));
    for key in &keys {
        let values: u64 = counts
            .iter()
            .filter_map(|c| c.by_version.get(&key.version))
            .sum();
        out.line(format!(
            "v{:<7} {:<9} {:>10}",
            key.version,
            state(key),
            values
        ));
    }
    out.line("");
    out.line(format!("{:<50} {:>10}  by key", "column", "values"));
    for column in &counts {
        let mut split: Vec<String> = column
            .by_version
            .iter()
            .map(|(v, n)| format!("v{v}: {n}"))
            .collect();
        if column.unaccounted() > 0 {
            split.push(format!("unknown key: {}", column.unaccounted()));
        }
        out.line(format!(
            "{:<50} {:>10}  {}",
            column.column,
            column.total,
            split.join(", ")
        ));
    }
    let stale = stale_values(&keys, &counts);
    if stale > 0 {
        out.line("");
        out.line(format!(
            "{} sealed under inactive keys (`pierre-db keys reencrypt` moves values to the \
             active key)",
            counted(stale, "value")
        ));
    }
    let legacy = security.legacy_hmac_key().await?;
    if let Some(legacy) = legacy {
        out.line("");
        out.line(match legacy.kept {
            true => format!(
                "the original server's key is kept (adopted.legacy_hmac_key) for {} in its HMAC \
                 form; each is stored as SHA-256 on first use, and the key is deleted with the \
                 last",
                counted(legacy.credentials, "credential")
            ),
            false => format!(
                "{} in the original server's HMAC form, and its key is gone: they cannot be \
                 checked",
                counted(legacy.credentials, "credential")
            ),
        });
    }
    out.document(json!({
        "ok": true,
        "legacy_hmac_key": legacy.map(|l| json!({
            "kept": l.kept,
            "credentials": l.credentials,
        })),
        "keys": keys.iter().map(|k| json!({
            "version": k.version,
            "state": state(k),
            "values": counts.iter().filter_map(|c| c.by_version.get(&k.version)).sum::<u64>(),
        })).collect::<Vec<_>>(),
        "columns": counts.iter().map(column_json).collect::<Vec<_>>(),
        "stale": stale,
    }));
    Ok(Code::Ok)
}

fn state(key: &KeyVersionInfo) -> &'static str {
    if key.retired {
        "retired"
    } else if key.active {
        "active"
    } else {
        "inactive"
    }
}

fn column_json(column: &SealedCounts) -> Value {
    json!({
        "column": column.column,
        "total": column.total,
        "by_version": column
            .by_version
            .iter()
            .map(|(v, n)| (v.to_string(), json!(n)))
            .collect::<serde_json::Map<_, _>>(),
        "unknown_key": column.unaccounted(),
    })
}

/// Values under a data key that is not the active one (version 0, the
/// master key, seals only the data keys and is never re-encrypted).
pub fn stale_values(keys: &[KeyVersionInfo], counts: &[SealedCounts]) -> u64 {
    let active = keys.iter().filter(|k| k.active).map(|k| k.version).max();
    counts
        .iter()
        .flat_map(|c| c.by_version.iter())
        .filter(|(v, _)| **v != 0 && Some(**v) != active)
        .map(|(_, n)| *n)
        .sum()
}

async fn reencrypt(db: &Database, out: &Output, batch: u32) -> Result<Code> {
    let security = db.security();
    let keys = security.key_versions().await?;
    let total = stale_values(&keys, &security.sealed_counts().await?);

    let interrupt = Interrupt::listen();

    let started = Instant::now();
    let mut bar = out.progress("re-encrypting", total, "value");
    let report = security
        .reencrypt_all(batch, |step| {
            bar.step(step.reencrypted, &step.column, &interrupt)
        })
        .await;
    drop(interrupt);
    bar.finish();
    let report = report?;
    let per_second = rate(report.reencrypted, started.elapsed());
    out.document(json!({
        "ok": !report.stopped,
        "interrupted": report.stopped,
        "active": report.target_version,
        "reencrypted": report.reencrypted,
        "values_per_second": per_second.round(),
    }));
    if report.stopped {
        out.line(format!(
            "interrupted after {} (each batch committed); run `pierre-db keys reencrypt` \
             again to resume",
            counted(report.reencrypted, "value")
        ));
        return Ok(Code::Interrupted);
    }
    out.line(format!(
        "{} moved to data key v{} ({per_second:.0} values/s); older keys can be retired with \
         `pierre-db keys retire VERSION` once twice the key refresh interval has passed since \
         the rotation",
        counted(report.reencrypted, "value"),
        report.target_version
    ));
    Ok(Code::Ok)
}
