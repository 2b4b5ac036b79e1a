//! Turning the global options into connections.

use std::collections::HashMap;
use std::time::Duration;

use pierre_db::{Backend, Database, DatabaseConfig, MasterKey};
use sea_orm::{ConnectOptions, DatabaseConnection};

use crate::args::Global;
use crate::exit::{Failure, Result};

/// How long connecting may take before the command gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Global {
    /// The URL from `--database-url` or `DATABASE_URL`.
    pub fn url(&self) -> Result<String> {
        let url = self
            .database_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                Failure::usage(
                    "no database URL: pass --database-url URL or set DATABASE_URL \
                     (sqlite:data/pierre.db, postgres://USER@HOST/DB)",
                )
            })?;
        Backend::from_url(url)?;
        Ok(url.to_owned())
    }

    /// The library's settings for `url`: the environment's pool and key
    /// variables, with the master key from `--master-key-file` if given.
    pub fn config_for(&self, url: &str) -> Result<DatabaseConfig> {
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        vars.insert(pierre_db::ENV_DATABASE_URL.to_owned(), url.to_owned());
        if let Some(file) = &self.master_key_file {
            // Read here, so that a problem names the flag the operator
            // typed, not the variable it would otherwise go through.
            let key = master_key_from("--master-key-file", file)?;
            vars.remove(pierre_db::ENV_MASTER_KEY_FILE);
            vars.insert(pierre_db::ENV_MASTER_KEY.to_owned(), key.to_base64());
        }
        DatabaseConfig::from_vars(&vars).map_err(|err| {
            let mut failure = Failure::from(err);
            let named = "(nor PIERRE_MASTER_KEY_FILE)";
            if failure.message.contains(named) {
                failure.message = failure
                    .message
                    .replace(named, "(nor PIERRE_MASTER_KEY_FILE, nor --master-key-file)");
            } else if failure.message.contains("is not set") {
                failure
                    .message
                    .push_str(" (or pass --master-key-file FILE)");
            }
            failure
        })
    }

    /// Whether a master key was given at all (doctor runs without one).
    pub fn has_master_key(&self) -> bool {
        let set = |name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        self.master_key_file.is_some()
            || set(pierre_db::ENV_MASTER_KEY)
            || set(pierre_db::ENV_MASTER_KEY_FILE)
    }

    /// The library handle on the database, which checks the master key.
    pub async fn database(&self) -> Result<Database> {
        let url = self.url()?;
        open_database(self.config_for(&url)?).await
    }
}

/// The library handle for `config`.
pub async fn open_database(config: DatabaseConfig) -> Result<Database> {
    Ok(Database::connect_with(config).await?)
}

/// The master key in `path`, which the operator named with `flag`; a
/// problem is a usage error naming the flag (the library's message names
/// the file).
pub fn master_key_from(flag: &str, path: &std::path::Path) -> Result<MasterKey> {
    MasterKey::from_file(path).map_err(|err| {
        let reason = match err {
            pierre_db::DatabaseError::Config(reason) => reason,
            other => other.to_string(),
        };
        Failure::usage(format!("{flag}: {reason}"))
    })
}

/// How [`single_connection`] opens a database.
#[derive(Clone, Copy, Debug)]
pub struct Open {
    /// Whether SQLite enforces foreign keys on the connection.
    pub foreign_keys: bool,
    /// Whether a missing SQLite file is created (in WAL mode, as the
    /// library runs files). Only migrations create: elsewhere a typo in a
    /// path must not leave an empty database behind.
    pub create: bool,
}

impl Open {
    /// Migrations: create the file if needed.
    pub const CREATE: Open = Open {
        foreign_keys: true,
        create: true,
    };
    /// An existing database, as it is (no journal mode change).
    pub const EXISTING: Open = Open {
        foreign_keys: true,
        create: false,
    };
    /// The target of `copy`: rows arrive before the rows they reference.
    pub const COPY_TARGET: Open = Open {
        foreign_keys: false,
        create: false,
    };
}

/// One plain connection, without the master key: for migrations (which
/// switch SQLite's foreign-key enforcement off on the connection that runs
/// them, so it must be the only one), for the checks of `doctor`, and for
/// both ends of `copy`.
pub async fn single_connection(url: &str, open: Open) -> Result<DatabaseConnection> {
    let backend = Backend::from_url(url)?;
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .min_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(CONNECT_TIMEOUT)
        .sqlx_logging(false);
    if let Backend::SqliteFile(path) = &backend {
        if !open.create && !path.exists() {
            return Err(Failure::failed(format!(
                "{}: no such file; check the path (a new database is made only by \
                 `pierre-db -u {url} migrate up`)",
                path.display()
            )));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|err| {
                Failure::failed(format!("cannot create {}: {err}", dir.display()))
            })?;
        }
    }
    if backend != Backend::Postgres {
        use sea_orm::sqlx::sqlite::SqliteJournalMode;
        let new_file = open.create && matches!(backend, Backend::SqliteFile(_));
        options.map_sqlx_sqlite_opts(move |o| {
            let o = o
                .create_if_missing(open.create)
                .foreign_keys(open.foreign_keys)
                .busy_timeout(CONNECT_TIMEOUT);
            if new_file {
                o.journal_mode(SqliteJournalMode::Wal)
            } else {
                o
            }
        });
    } else {
        // The library's answer: the problem classified, with its fix.
        Database::probe(url, CONNECT_TIMEOUT).await?;
        // Copying, verifying and checking reach every tenant's rows, as the
        // library's own sessions do under row-level security.
        options.map_sqlx_postgres_opts(|o| o.options([pierre_db::rls::LIBRARY_SESSION]));
    }
    sea_orm::Database::connect(options)
        .await
        .map_err(|err| Failure::failed(format!("cannot connect: {err}")))
}

/// `SELECT COUNT(*) FROM table`.
pub async fn count_rows(
    conn: &impl sea_orm::ConnectionTrait,
    table: &str,
) -> std::result::Result<u64, sea_orm::DbErr> {
    count_rows_where(conn, table, None).await
}

/// `SELECT COUNT(*) FROM table [WHERE condition]`.
pub async fn count_rows_where(
    conn: &impl sea_orm::ConnectionTrait,
    table: &str,
    condition: Option<sea_orm::sea_query::SimpleExpr>,
) -> std::result::Result<u64, sea_orm::DbErr> {
    use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};

    let mut count = Query::select();
    count
        .expr(Expr::col(Asterisk).count())
        .from(Alias::new(table));
    if let Some(condition) = condition {
        count.and_where(condition);
    }
    let n: i64 = conn
        .query_one(&count)
        .await?
        .map(|row| row.try_get_by_index(0))
        .transpose()?
        .unwrap_or(0);
    Ok(n.unsigned_abs())
}
