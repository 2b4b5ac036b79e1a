//! `pierre-db restore BACKUP --to URL [--yes]`: the other half of `backup`,
//! by the library's [`restore_backup`]: every check on a copy first, then
//! one rename over the target.

use pierre_db::{Backend, RestoreOptions, restore_backup};
use serde_json::json;

use crate::args::{Global, Restore};
use crate::commands::backup::redacted;
use crate::exit::{Code, Failure, Result};
use crate::output::Output;

pub async fn run(global: &Global, out: &Output, options: &Restore) -> Result<Code> {
    let to = options.to.trim();
    let target = match Backend::from_url(to)? {
        Backend::SqliteFile(path) => path,
        Backend::SqliteMemory => {
            return Err(Failure::usage(
                "--to sqlite::memory: would be gone when the command ends: name a file",
            ));
        }
        _ => {
            return Err(Failure::failed(format!(
                "restore writes SQLite files only; for PostgreSQL run: \
                 PGOPTIONS='-c pierre.scope=all' pg_restore --enable-row-security \
                 --clean --if-exists --no-owner --dbname='{}' {}",
                redacted(to),
                options.backup.display()
            )));
        }
    };
    let key = global.config_for(to)?.master_key;
    let restore = RestoreOptions::new().replace_existing(options.yes);
    let report = restore_backup(&options.backup, &target, key, &restore)
        .await
        .map_err(|err| {
            let mut failure = Failure::from(err);
            if !options.yes && failure.message.contains("replace_existing") {
                failure.message = format!(
                    "{} holds a database: pass --yes to replace it (stop the application \
                     first)",
                    target.display()
                );
            }
            failure
        })?;
    out.line(format!(
        "restored {} to {} ({} bytes; integrity_check ok; {} sealed values open){}",
        options.backup.display(),
        target.display(),
        report.bytes,
        report.verified_values,
        if report.replaced {
            ", replacing the database that was there"
        } else {
            ""
        }
    ));
    out.document(json!({
        "ok": true,
        "backup": options.backup.display().to_string(),
        "target": target.display().to_string(),
        "bytes": report.bytes,
        "verified": report.verified_values,
        "replaced": report.replaced,
    }));
    Ok(Code::Ok)
}
