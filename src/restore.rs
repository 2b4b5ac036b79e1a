//! Restoring a SQLite backup: every check on a copy of the backup first,
//! then one rename over the target, so the target is either the database
//! it was or the restored one, never half of each.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::config::DatabaseConfig;
use crate::crypto::master::MasterKey;
use crate::database::Database;
use crate::error::{DatabaseError, Result};

/// What [`restore_backup`] may do to the target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Replace a target file that holds a database. Without it such a
    /// target is refused and left as it is.
    pub replace_existing: bool,
}

impl RestoreOptions {
    /// The safe default: a target that holds a database is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`RestoreOptions::replace_existing`].
    #[must_use]
    pub fn replace_existing(mut self, replace: bool) -> Self {
        self.replace_existing = replace;
        self
    }
}

/// What [`restore_backup`] checked and did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreReport {
    /// Bytes of the restored file.
    pub bytes: u64,
    /// Sealed values the check opened with the master key.
    pub verified_values: u64,
    /// Whether a database was replaced (else the target was new).
    pub replaced: bool,
}

/// Restores the SQLite backup at `backup` (made by
/// [`Database::backup_to`] or `pierre-db backup`) to the file `target`.
///
/// Before anything is replaced, a copy of the backup (next to the target)
/// is opened with `master_key`: it must be a migrated pierre-db database
/// whose data keys the key unwraps, pass `PRAGMA integrity_check`, and have
/// every sealed value open. Only then does one rename put it in place; the
/// backup itself is never written. A target that holds a database is
/// refused unless [`RestoreOptions::replace_existing`]; stop every process
/// that has it open first (one that kept it open would go on with the old
/// file).
///
/// Errors, each leaving the target as it was: a missing backup, a backup
/// that is damaged, of another schema version
/// ([`DatabaseError::NotMigrated`]) or sealed under another master key,
/// a sealed value that does not open, and a target that holds a database
/// without `replace_existing` ([`DatabaseError::InvalidInput`] naming
/// `backup` or `target`).
///
/// ```no_run
/// use pierre_db::{MasterKey, RestoreOptions, restore_backup};
///
/// # async fn run() -> Result<(), pierre_db::DatabaseError> {
/// let key = MasterKey::from_file("/etc/pierre/master.key".as_ref())?;
/// let report = restore_backup(
///     "/backups/pierre-2026-12-01.db".as_ref(),
///     "/var/lib/pierre/pierre.db".as_ref(),
///     key,
///     &RestoreOptions::new(),
/// )
/// .await?;
/// println!("restored {} bytes, {} secrets open", report.bytes, report.verified_values);
/// # Ok(())
/// # }
/// ```
pub async fn restore_backup(
    backup: &Path,
    target: &Path,
    master_key: MasterKey,
    options: &RestoreOptions,
) -> Result<RestoreReport> {
    if !backup.is_file() {
        return Err(DatabaseError::invalid(
            "backup",
            format!("{}: no such file", backup.display()),
        ));
    }
    let replaced = target.exists();
    let holds_data = replaced && io(target, std::fs::metadata(target))?.len() > 0;
    if holds_data && !options.replace_existing {
        return Err(DatabaseError::invalid(
            "target",
            format!(
                "{} holds a database; replacing it needs replace_existing (`--yes`)",
                target.display()
            ),
        ));
    }
    let staged = staging_path(target)?;
    remove_with_sidecars(&staged)?;
    let outcome = stage(backup, &staged, master_key).await;
    let verified_values = match outcome {
        Ok(values) => values,
        Err(err) => {
            remove_with_sidecars(&staged).ok();
            return Err(err);
        }
    };
    let placed = place(&staged, target, replaced, holds_data).await;
    let bytes = match placed {
        Ok(bytes) => bytes,
        Err(err) => {
            remove_with_sidecars(&staged).ok();
            return Err(err);
        }
    };
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself survives a crash once the folder is synced.
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    Ok(RestoreReport {
        bytes,
        verified_values,
        replaced,
    })
}

/// Puts the checked copy in place of `target`; its size.
async fn place(staged: &Path, target: &Path, replaced: bool, holds_data: bool) -> Result<u64> {
    if replaced {
        // The file's owner and service read it: the restored one keeps
        // the permissions of the one it replaces, not the backup's.
        let permissions = io(target, std::fs::metadata(target))?.permissions();
        io(staged, std::fs::set_permissions(staged, permissions))?;
    }
    if holds_data {
        // The old file's committed pages go into it first, so that its
        // write-ahead log can go with it. If that fails (the database is
        // in use), nothing is replaced.
        checkpoint(target).await?;
        remove_sidecars(target)?;
    }
    let bytes = io(staged, std::fs::metadata(staged))?.len();
    io(
        staged,
        std::fs::File::open(staged).and_then(|f| f.sync_all()),
    )?;
    io(target, std::fs::rename(staged, target))?;
    Ok(bytes)
}

/// Copies the backup to `staged` and checks the copy; the count of sealed
/// values that opened.
async fn stage(backup: &Path, staged: &Path, master_key: MasterKey) -> Result<u64> {
    io(staged, std::fs::copy(backup, staged))?;
    let url = format!("sqlite:{}", utf8(staged)?);
    let mut config = DatabaseConfig::new(url, master_key);
    config.max_connections = 1;
    config.min_connections = 1;
    let db = Database::connect_with(config)
        .await
        .map_err(|err| match err {
            // Another schema version or another master key: said as they are.
            kept @ (DatabaseError::NotMigrated { .. } | DatabaseError::Crypto(_)) => kept,
            other => DatabaseError::invalid(
                "backup",
                format!("{} does not open as a database: {other}", backup.display()),
            ),
        })?;
    let checked = check(&db, backup).await;
    // Everything back in the main file before it is renamed.
    db.pool()
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .ok();
    db.close().await.ok();
    checked
}

/// `PRAGMA integrity_check` and every sealed value.
async fn check(db: &Database, backup: &Path) -> Result<u64> {
    // Raw SQL: a pragma.
    let rows = db
        .pool()
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await?;
    let findings: Vec<String> = rows
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .filter(|line| line != "ok")
        .collect();
    if !findings.is_empty() {
        return Err(DatabaseError::invalid(
            "backup",
            format!(
                "{} fails integrity_check: {}",
                backup.display(),
                findings.join("; ")
            ),
        ));
    }
    let report = db
        .security()
        .verify(1000, |_| ControlFlow::Continue(()))
        .await?;
    if let Some(first) = report.unreadable.first() {
        return Err(DatabaseError::invalid(
            "backup",
            format!(
                "{} sealed value(s) of {} do not open (the first: {}.{} of {}: {})",
                report.unreadable.len(),
                backup.display(),
                first.table,
                first.column,
                first.key,
                first.reason
            ),
        ));
    }
    Ok(report.checked)
}

/// Moves what the target's write-ahead log holds into the file.
async fn checkpoint(target: &Path) -> Result<()> {
    let mut options = sea_orm::ConnectOptions::new(format!("sqlite:{}", utf8(target)?));
    options.max_connections(1).sqlx_logging(false);
    // A database in use says so within a second rather than after the
    // usual busy timeout. (A build without SQLite cannot open the file,
    // and says so when it connects.)
    #[cfg(feature = "sqlite")]
    options.map_sqlx_sqlite_opts(|o| {
        o.create_if_missing(false)
            .busy_timeout(std::time::Duration::from_secs(1))
    });
    let conn = sea_orm::Database::connect(options).await?;
    // Raw SQL: a pragma. Its first column says whether another connection
    // kept it from finishing.
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ))
        .await?;
    conn.close().await?;
    let busy: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    if busy != 0 {
        return Err(DatabaseError::invalid(
            "target",
            format!(
                "{} is in use (its write-ahead log could not be checkpointed): stop the \
                 application first",
                target.display()
            ),
        ));
    }
    Ok(())
}

/// A file beside `target`, on the same file system, for the rename.
fn staging_path(target: &Path) -> Result<PathBuf> {
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| DatabaseError::invalid("target", "names no file"))?;
    Ok(target.with_file_name(format!(".{name}.restoring-{}", std::process::id())))
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| DatabaseError::invalid("path", "not valid UTF-8"))
}

/// SQLite's files beside a database: its log and shared memory.
fn sidecars(path: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [with("-wal"), with("-shm")]
}

fn remove_sidecars(path: &Path) -> Result<()> {
    sidecars(path).iter().try_for_each(|file| remove(file))
}

fn remove_with_sidecars(path: &Path) -> Result<()> {
    remove(path)?;
    remove_sidecars(path)
}

/// Removes `path` if it is there.
fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => io(path, Err(err)),
        _ => Ok(()),
    }
}

/// `outcome`, its error naming `path`.
fn io<T>(path: &Path, outcome: std::io::Result<T>) -> Result<T> {
    outcome.map_err(|source| DatabaseError::Io {
        path: path.display().to_string(),
        source,
    })
}
