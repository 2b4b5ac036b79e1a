//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit status:
  0    done
  1    failed, or found problems (unreadable values, failed doctor checks)
  2    wrong command line or configuration (missing URL or master key)
  130  interrupted with Ctrl-C after a committed batch: run it again to resume

Environment:
  DATABASE_URL                    the database, when --database-url is not given
  PIERRE_MASTER_ENCRYPTION_KEY    the master key (base64 of 32 bytes)
  PIERRE_MASTER_KEY_FILE          a file holding it (when the variable above is unset)
  PIERRE_KEY_REFRESH_INTERVAL     seconds; `keys retire` waits twice this long after a rotation";

/// The operator's command for a pierre-db database: migrations, data keys,
/// verification, backups, health, copies between SQLite and PostgreSQL, and
/// adopting a database the original Pierre server wrote.
#[derive(Debug, Parser)]
#[command(name = "pierre-db", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct Global {
    /// The database: sqlite:PATH, sqlite::memory:, postgres://USER@HOST/DB.
    #[arg(
        long,
        short = 'u',
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// A file holding the master key (base64 of 32 bytes); else
    /// PIERRE_MASTER_ENCRYPTION_KEY or PIERRE_MASTER_KEY_FILE.
    #[arg(long, global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Machine-readable output: one JSON document on stdout, nothing else.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply, revert or list schema migrations.
    #[command(subcommand)]
    Migrate(Migrate),
    /// Data keys: status, rotation, re-encryption, retirement, master key change.
    #[command(subcommand)]
    Keys(Keys),
    /// Open every encrypted value with the current keys and report those that do not open.
    Verify(Verify),
    /// Write a consistent copy of a SQLite database while it is in use.
    Backup(Backup),
    /// Restore a backup to a SQLite file: checked (master key, integrity_check, every secret) before one rename puts it in place.
    Restore(Restore),
    /// Check reachability, settings, migrations, keys and row counts, each problem with its fix.
    Doctor,
    /// Copy every table from one database to another (SQLite ⇄ PostgreSQL), then verify it.
    ///
    /// The source is read as of one moment: stop the application first, or later writes stay behind.
    Copy(Copy),
    /// Move a database the original Pierre server wrote into a pierre-db database, then verify it.
    Adopt(Adopt),
    /// PostgreSQL row-level security on every tenant-owned table: put up, take down, or check.
    ///
    /// Run it as the tables' owner. The application then connects as a role without
    /// SUPERUSER or BYPASSRLS, with PIERRE_ROW_LEVEL_SECURITY=true.
    #[command(subcommand)]
    Rls(Rls),
}

#[derive(Debug, Subcommand)]
pub enum Rls {
    /// Enable and force row-level security, with its policies, on every tenant-owned table (rows untouched).
    Enable,
    /// Remove the policies and disable row-level security on every tenant-owned table (rows untouched).
    Disable,
    /// Whether every tenant-owned table is walled, and whether the connected role escapes the wall.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum Migrate {
    /// Apply pending migrations (all, or the next N).
    Up {
        /// How many to apply.
        #[arg(short = 'n', long)]
        num: Option<u32>,
    },
    /// Revert the last N applied migrations (default 1).
    ///
    /// Refuses, changing nothing, if a step would lose data (rows of the
    /// tables it drops, values of the columns it drops or empties, rows its
    /// guards protect), and names each loss; --yes reverts all N anyway.
    Down {
        /// How many to revert.
        #[arg(default_value_t = 1)]
        num: u32,
        /// Confirms that the rows and values the steps remove may be lost.
        #[arg(long)]
        yes: bool,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply every migration: all data is lost.
    Fresh {
        /// Confirms that every row may be deleted.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Keys {
    /// The data keys, and how many values each seals per column.
    Status,
    /// Make a new data key the active one.
    Rotate,
    /// Move every value to the active key, in batches (Ctrl-C stops after the batch in hand; run again to resume).
    Reencrypt {
        /// Values per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
        batch: u32,
    },
    /// Delete a data key that seals no value any more.
    Retire {
        /// The version to delete.
        version: u32,
    },
    /// Wrap every data key with a new master key (no encrypted row changes).
    Rewrap {
        /// A file holding the new master key (base64 of 32 bytes).
        #[arg(long)]
        new_master_key_file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct Verify {
    /// Rows read per query.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct Backup {
    /// Where to write the copy (must not exist).
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct Restore {
    /// The backup file (made by `pierre-db backup`).
    pub backup: PathBuf,
    /// The SQLite database to restore to (sqlite:PATH); for PostgreSQL the pg_restore line is printed.
    #[arg(long)]
    pub to: String,
    /// Replace a database that is already there (stop the application first).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct Adopt {
    /// The original Pierre server's SQLite database (sqlite:PATH), read and never written.
    #[arg(long)]
    pub from: String,
    /// The pierre-db database to fill: created and migrated if new, refused if it holds rows.
    #[arg(long)]
    pub to: String,
    /// A file holding the original server's master key, when it is not the target's.
    #[arg(long)]
    pub legacy_master_key_file: Option<PathBuf>,
    /// Accept the original's later migrations, leaving the tables pierre-db does not manage.
    #[arg(long)]
    pub skip_unmanaged_tables: bool,
    /// Leave out rows whose values do not convert (and rows that refer to them), and list them.
    #[arg(long)]
    pub quarantine: bool,
    /// Run again after an interruption: an adoption commits all at once, so an interrupted
    /// one left the target as it was, and this starts over.
    #[arg(long)]
    pub resume: bool,
    /// Rows per read and per insert statement.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct Copy {
    /// The source database URL (migrated; the master key must open its data keys).
    #[arg(long)]
    pub from: String,
    /// The target database URL (migrated, and empty unless --resume).
    #[arg(long)]
    pub to: String,
    /// Continue a copy that was interrupted: every row is sent again, rewriting what arrived.
    #[arg(long)]
    pub resume: bool,
    /// Rows per insert statement (fewer for wide tables, to fit the parameter limits).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,
}
