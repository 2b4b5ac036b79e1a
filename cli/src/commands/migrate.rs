//! `pierre-db migrate up|down|status|fresh`.
//!
//! `down` counts what its steps would lose before any of them runs
//! (`migration::down_losses`) and refuses, changing nothing, unless
//! `--yes` is given; with it, every step runs under the consent that lets
//! the guards of M09 and M11 delete the rows they protect.

use migration::{MigrationStatus, Migrator, MigratorTrait};
use serde_json::json;

use crate::args::{Global, Migrate};
use crate::connect::{Open, single_connection};
use crate::exit::{Code, Failure, Result};
use crate::output::Output;

pub async fn run(global: &Global, out: &Output, action: &Migrate) -> Result<Code> {
    let url = global.url()?;
    // Only `up` makes a new database: `status`, `down` or `fresh` on a
    // mistyped path must not leave an empty file behind.
    let open = match action {
        Migrate::Up { .. } => Open::CREATE,
        _ => Open::EXISTING,
    };
    let conn = single_connection(&url, open).await?;
    let before = applied(&conn).await?;
    let outcome = match action {
        Migrate::Up { num } => Migrator::up(&conn, *num).await,
        Migrate::Down { num, yes } => match migration::down_losses(&conn, Some(*num)).await {
            Ok(losses) if !losses.is_empty() && !*yes => {
                conn.close().await.ok();
                return Err(Failure::usage(format!(
                    "migrate down {num}: {}",
                    migration::refusal(&losses)
                )));
            }
            Ok(_) => migration::with_consent(*yes, Migrator::down(&conn, Some(*num))).await,
            Err(err) => Err(err),
        },
        Migrate::Fresh { yes: true } => Migrator::fresh(&conn).await,
        Migrate::Fresh { yes: false } => {
            return Err(Failure::usage(
                "migrate fresh drops every table and all data: pass --yes to confirm",
            ));
        }
        Migrate::Status => Ok(()),
    };
    let after = applied(&conn).await;
    conn.close().await.ok();
    outcome.map_err(|err| Failure::failed(format!("migration failed: {err}")))?;
    let after = after?;
    let all = Migrator::migrations().len();
    if let Migrate::Status = action {
        for (name, is_applied) in names_with_status(&after) {
            out.line(format!(
                "{} {name}",
                if is_applied { "applied" } else { "pending" }
            ));
        }
    } else {
        let added: Vec<&String> = after.iter().filter(|m| !before.contains(m)).collect();
        let removed: Vec<&String> = before.iter().filter(|m| !after.contains(m)).collect();
        for name in &removed {
            out.line(format!("reverted {name}"));
        }
        for name in &added {
            out.line(format!("applied {name}"));
        }
        if added.is_empty() && removed.is_empty() {
            out.line("nothing to do");
        }
    }
    out.line(format!("{} of {all} migrations applied", after.len()));
    out.document(json!({
        "ok": true,
        "applied": after.len(),
        "pending": all - after.len(),
        "migrations": names_with_status(&after)
            .into_iter()
            .map(|(name, applied)| json!({ "name": name, "applied": applied }))
            .collect::<Vec<_>>(),
    }));
    Ok(Code::Ok)
}

/// How many migrations of this build are not applied.
pub async fn pending(conn: &sea_orm::DatabaseConnection) -> Result<usize> {
    let applied = applied(conn).await?.len();
    Ok(Migrator::migrations().len().saturating_sub(applied))
}

/// The names of the applied migrations, read without creating the
/// migration table.
async fn applied(conn: &sea_orm::DatabaseConnection) -> Result<Vec<String>> {
    Ok(Migrator::get_migration_with_status_read_only(conn)
        .await?
        .iter()
        .filter(|m| m.status() == MigrationStatus::Applied)
        .map(|m| m.name().to_owned())
        .collect())
}

fn names_with_status(applied: &[String]) -> Vec<(String, bool)> {
    Migrator::migrations()
        .iter()
        .map(|m| {
            let name = m.name().to_owned();
            let is_applied = applied.contains(&name);
            (name, is_applied)
        })
        .collect()
}
