//! `pierre-db doctor`: one line per check, each problem with its fix.

use migration::{Migrator, MigratorTrait};
use pierre_db::{Backend, Database, DatabaseError};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use crate::args::Global;
use crate::commands::migrate;
use crate::connect::{Open, count_rows, single_connection};
use crate::exit::{Code, Result};
use crate::output::Output;
use crate::output::counted;

/// How a check came out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        }
    }
}

/// One check: what was looked at, what was found, and what to do.
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    fix: Option<String>,
    /// Figures a program reads (the row counts: table -> rows), beside
    /// the prose of `detail`.
    data: Option<Value>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
            data: None,
        }
    }

    fn problem(
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            name,
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
            data: None,
        }
    }

    fn json(&self) -> Value {
        let mut check = json!({
            "name": self.name,
            "status": self.status.as_str().to_lowercase(),
            "detail": self.detail,
            "fix": self.fix,
        });
        if let (Some(data), Some(object)) = (&self.data, check.as_object_mut()) {
            object.insert("counts".to_owned(), data.clone());
        }
        check
    }
}

pub async fn run(global: &Global, out: &Output) -> Result<Code> {
    let url = global.url()?;
    let backend = Backend::from_url(&url)?;
    let mut checks = Vec::new();
    match single_connection(&url, Open::EXISTING).await {
        Ok(conn) => {
            checks.push(Check::ok("connect", describe(&backend)));
            inspect(&conn, &backend, &mut checks).await;
            let migrated = checks
                .iter()
                .all(|c| c.name != "migrations" || c.status == Status::Ok);
            // Opening the library on a database without data keys would
            // create one: doctor only looks.
            let data_keys = if migrated {
                count_rows(&conn, "key_versions").await.unwrap_or(0)
            } else {
                0
            };
            conn.close().await.ok();
            if matches!(backend, Backend::Postgres) {
                replicas(&url, &mut checks).await;
            }
            if !global.has_master_key() {
                checks.push(Check::problem(
                    "keys",
                    Status::Warn,
                    "not checked: no master key given",
                    "pass --master-key-file FILE (or set PIERRE_MASTER_ENCRYPTION_KEY) to check it",
                ));
            } else if migrated && data_keys == 0 {
                checks.push(Check::ok(
                    "keys",
                    "no data key yet (the application's first connect creates v1)",
                ));
            } else if migrated {
                checks.push(keys(global).await);
            }
        }
        Err(failure) => checks.push(Check::problem(
            "connect",
            Status::Fail,
            failure.message,
            match backend {
                Backend::Postgres => {
                    "check that the server runs and accepts this user from this host, \
                     and that the database exists (createdb)"
                }
                _ => "check that the directory exists and is writable by this user",
            },
        )),
    }

    for check in &checks {
        out.line(format!(
            "{:<5} {:<14} {}",
            check.status.as_str(),
            check.name,
            check.detail
        ));
        if let Some(fix) = &check.fix {
            out.line(format!("{:<5} {:<14} fix: {fix}", "", ""));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
    out.line(format!(
        "{failed} failed, {}, {}",
        counted(warned as u64, "warning"),
        counted(checks.len() as u64, "check")
    ));
    out.document(json!({
        "ok": failed == 0,
        "checks": checks.iter().map(Check::json).collect::<Vec<_>>(),
    }));
    Ok(if failed == 0 { Code::Ok } else { Code::Failed })
}

fn describe(backend: &Backend) -> String {
    match backend {
        Backend::SqliteFile(path) => format!("SQLite file {}", path.display()),
        Backend::SqliteMemory => "SQLite in memory (empty: nothing else can see it)".to_owned(),
        _ => "PostgreSQL server".to_owned(),
    }
}

/// The checks that need only a connection.
async fn inspect(conn: &DatabaseConnection, backend: &Backend, checks: &mut Vec<Check>) {
    let sqlite = conn.get_database_backend() == DbBackend::Sqlite;
    // Raw SQL: neither function call is something sea-query builds.
    let version_sql = if sqlite {
        "SELECT sqlite_version()"
    } else {
        "SHOW server_version"
    };
    checks.push(match text(conn, version_sql).await {
        Ok(v) => Check::ok(
            "version",
            format!("{} {v}", if sqlite { "SQLite" } else { "PostgreSQL" }),
        ),
        Err(err) => Check::problem(
            "version",
            Status::Fail,
            err.to_string(),
            "check the server's log",
        ),
    });
    if sqlite {
        pragmas(conn, backend, checks).await;
    }
    checks.push(migrations(conn).await);
    checks.push(row_counts(conn, sqlite).await);
    if !sqlite {
        checks.push(row_level_security(conn).await);
    }
}

/// Each read replica the environment names: its lag and whether reads go
/// to it. One out of use is a warning: its reads go to the primary.
async fn replicas(url: &str, checks: &mut Vec<Check>) {
    let vars = std::env::vars().collect();
    let found = match pierre_db::check_replicas(url, &vars).await {
        Ok(found) => found,
        Err(err) => {
            checks.push(Check::problem(
                "replicas",
                Status::Fail,
                err.to_string(),
                "fix PIERRE_DATABASE_REPLICA_URLS as the message says",
            ));
            return;
        }
    };
    for replica in found {
        let lag = replica.lag.map_or_else(
            || "unknown".to_owned(),
            |lag| format!("{} ms", lag.as_millis()),
        );
        checks.push(match replica.problem {
            None => Check::ok("replica", format!("{}: in use, lag {lag}", replica.url)),
            Some(problem) => Check::problem(
                "replica",
                Status::Warn,
                format!(
                    "{}: not in use ({problem}); its reads go to the primary",
                    replica.url
                ),
                "check that the standby runs and streams from this primary \
                 (pg_stat_replication on the primary)",
            ),
        });
    }
}

/// Whether every tenant-owned table is walled (PostgreSQL).
async fn row_level_security(conn: &DatabaseConnection) -> Check {
    let status = match pierre_db::rls::status(conn).await {
        Ok(status) => status,
        Err(err) => {
            return Check::problem(
                "row_security",
                Status::Warn,
                format!("not checked: {err}"),
                "migrate first (`pierre-db migrate up`)",
            );
        }
    };
    let up = status.tables.iter().filter(|t| t.is_up()).count();
    if status.enabled {
        Check::ok(
            "row_security",
            format!("on: all {up} tenant-owned tables walled"),
        )
    } else if status
        .tables
        .iter()
        .all(|t| !t.enabled && !t.forced && t.policies == 0)
    {
        Check::ok(
            "row_security",
            "off (optional: `pierre-db rls enable` puts a second wall behind the tenant scope)",
        )
    } else {
        let missing: Vec<&str> = status
            .tables
            .iter()
            .filter(|t| !t.is_up())
            .map(|t| t.table)
            .collect();
        Check::problem(
            "row_security",
            Status::Fail,
            format!("partly on: not walled: {}", missing.join(", ")),
            "run `pierre-db rls enable` as the tables' owner",
        )
    }
}

/// SQLite's settings and integrity. Raw SQL: pragmas have no builder.
async fn pragmas(conn: &DatabaseConnection, backend: &Backend, checks: &mut Vec<Check>) {
    if matches!(backend, Backend::SqliteFile(_)) {
        checks.push(match text(conn, "PRAGMA journal_mode").await {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => Check::ok("journal_mode", "wal"),
            Ok(mode) => Check::problem(
                "journal_mode",
                Status::Warn,
                format!("{mode}: readers wait for writers"),
                "the library switches the file to WAL when it connects; or run \
                 `sqlite3 FILE 'PRAGMA journal_mode=WAL'` while nothing else uses it",
            ),
            Err(err) => Check::problem(
                "journal_mode",
                Status::Fail,
                err.to_string(),
                "check the file",
            ),
        });
    }
    checks.push(match all_text(conn, "PRAGMA quick_check").await {
        Ok(lines) if lines == ["ok"] => Check::ok("integrity", "PRAGMA quick_check: ok"),
        Ok(lines) => Check::problem(
            "integrity",
            Status::Fail,
            format!("PRAGMA quick_check: {}", lines.join("; ")),
            "restore the latest backup (`pierre-db backup` makes them)",
        ),
        Err(err) => Check::problem("integrity", Status::Fail, err.to_string(), "check the file"),
    });
    let broken = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA foreign_key_check",
        ))
        .await;
    checks.push(match broken {
        Ok(rows) if rows.is_empty() => Check::ok("foreign_keys", "every reference resolves"),
        Ok(rows) => {
            let tables: std::collections::BTreeSet<String> = rows
                .iter()
                .filter_map(|r| r.try_get_by_index::<String>(0).ok())
                .collect();
            Check::problem(
                "foreign_keys",
                Status::Fail,
                format!(
                    "{} with a reference to a missing row, in {}",
                    counted(rows.len() as u64, "row"),
                    tables.into_iter().collect::<Vec<_>>().join(", ")
                ),
                "run `PRAGMA foreign_key_check` in sqlite3 to list them, then delete or repair them",
            )
        }
        Err(err) => Check::problem("foreign_keys", Status::Fail, err.to_string(), "check the file"),
    });
}

async fn migrations(conn: &DatabaseConnection) -> Check {
    let all = Migrator::migrations().len();
    match migrate::pending(conn).await {
        Ok(0) => Check::ok("migrations", format!("all {all} applied")),
        Ok(pending) => Check::problem(
            "migrations",
            Status::Fail,
            format!("{pending} of {all} pending"),
            "pierre-db migrate up",
        ),
        Err(failure) => Check::problem(
            "migrations",
            Status::Fail,
            failure.message,
            "pierre-db migrate up",
        ),
    }
}

/// The key checks, through the library (which also proves the master key).
async fn keys(global: &Global) -> Check {
    let opened = match global.url().and_then(|url| global.config_for(&url)) {
        Ok(config) => Database::connect_with(config).await,
        Err(failure) => {
            return Check::problem(
                "keys",
                Status::Fail,
                failure.message,
                "set the database URL and the master key as the message says",
            );
        }
    };
    let db = match opened {
        Ok(db) => db,
        Err(DatabaseError::Crypto(err)) => {
            return Check::problem(
                "keys",
                Status::Fail,
                format!("the master key does not open this database's data keys ({err})"),
                "use this database's master key (after a `pierre-db keys rewrap`, the new one)",
            );
        }
        Err(err) => {
            return Check::problem("keys", Status::Fail, err.to_string(), fix_for(&err));
        }
    };
    let security = db.security();
    let outcome = async {
        let keys = security.key_versions().await?;
        let counts = security.sealed_counts().await?;
        Ok::<_, DatabaseError>((keys, counts))
    }
    .await;
    db.close().await.ok();
    let (keys, counts) = match outcome {
        Ok(found) => found,
        Err(err) => {
            return Check::problem("keys", Status::Fail, err.to_string(), fix_for(&err));
        }
    };
    let Some(active) = keys.iter().filter(|k| k.active).map(|k| k.version).max() else {
        return Check::problem(
            "keys",
            Status::Fail,
            "no active data key",
            "pierre-db keys rotate",
        );
    };
    let unknown: u64 = counts.iter().map(|c| c.unaccounted()).sum();
    let stale = crate::commands::keys::stale_values(&keys, &counts);
    let sealed: u64 = counts.iter().map(|c| c.total).sum();
    let detail = format!(
        "data key v{active} active, {}, {} sealed",
        counted(keys.len() as u64, "version"),
        counted(sealed, "value")
    );
    if unknown > 0 {
        Check::problem(
            "keys",
            Status::Fail,
            format!("{detail}; {} under no known key", counted(unknown, "value")),
            "pierre-db verify lists them by table and row",
        )
    } else if stale > 0 {
        Check::problem(
            "keys",
            Status::Warn,
            format!("{detail}; {stale} under older keys"),
            "pierre-db keys reencrypt",
        )
    } else {
        Check::ok("keys", detail)
    }
}

/// Rows per table, from the catalog's list of tables.
async fn row_counts(conn: &DatabaseConnection, sqlite: bool) -> Check {
    let outcome = async {
        let tables = table_names(conn, sqlite).await?;
        let mut counts = Vec::with_capacity(tables.len());
        for table in tables {
            let n = count_rows(conn, &table).await?;
            counts.push((table, n));
        }
        Ok::<_, sea_orm::DbErr>(counts)
    }
    .await;
    match outcome {
        Ok(counts) if counts.is_empty() => {
            Check::problem("rows", Status::Warn, "no tables", "pierre-db migrate up")
        }
        Ok(counts) => {
            let total: u64 = counts.iter().map(|(_, n)| n).sum();
            let filled: Vec<String> = counts
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(table, n)| format!("{table} {n}"))
                .collect();
            let mut detail = format!("{total} in {} tables", counts.len());
            if !filled.is_empty() {
                detail.push_str(&format!(
                    ": {}; {} empty",
                    filled.join(", "),
                    counts.len() - filled.len()
                ));
            }
            let by_table: serde_json::Map<String, Value> = counts
                .iter()
                .map(|(table, n)| (table.to_string(), json!(n)))
                .collect();
            Check {
                data: Some(Value::Object(by_table)),
                ..Check::ok("rows", detail)
            }
        }
        Err(err) => {
            let err = DatabaseError::from(err);
            Check::problem("rows", Status::Fail, err.to_string(), fix_for(&err))
        }
    }
}

async fn table_names(
    conn: &DatabaseConnection,
    sqlite: bool,
) -> std::result::Result<Vec<String>, sea_orm::DbErr> {
    let select: SelectStatement = if sqlite {
        Query::select()
            .column(Alias::new("name"))
            .from(Alias::new("sqlite_master"))
            .and_where(Expr::col(Alias::new("type")).eq("table"))
            .and_where(Expr::col(Alias::new("name")).not_like("sqlite_%"))
            .and_where(Expr::col(Alias::new("name")).ne("seaql_migrations"))
            .order_by(Alias::new("name"), Order::Asc)
            .to_owned()
    } else {
        Query::select()
            .expr(Expr::col(Alias::new("tablename")).cast_as(Alias::new("TEXT")))
            .from((Alias::new("pg_catalog"), Alias::new("pg_tables")))
            .and_where(Expr::col(Alias::new("schemaname")).eq(Expr::cust("current_schema()")))
            .and_where(Expr::col(Alias::new("tablename")).ne("seaql_migrations"))
            .order_by(Alias::new("tablename"), Order::Asc)
            .to_owned()
    };
    conn.query_all(&select)
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect()
}

async fn text(conn: &DatabaseConnection, sql: &str) -> std::result::Result<String, sea_orm::DbErr> {
    Ok(all_text(conn, sql)
        .await?
        .into_iter()
        .next()
        .unwrap_or_default())
}

async fn all_text(
    conn: &DatabaseConnection,
    sql: &str,
) -> std::result::Result<Vec<String>, sea_orm::DbErr> {
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect()
}

/// What to do about a failed check, by the kind of failure the library
/// reports (its message says what happened; this says what to run).
fn fix_for(err: &DatabaseError) -> &'static str {
    match err {
        DatabaseError::NotMigrated { .. } | DatabaseError::Migration(_) => "pierre-db migrate up",
        DatabaseError::Connect { .. } => {
            "check that the server runs and accepts this user from this host, and that the \
             database exists (createdb)"
        }
        DatabaseError::Crypto(_) | DatabaseError::StaleKey { .. } => {
            "use this database's master key (after a `pierre-db keys rewrap`, the new one); \
             `pierre-db keys status` lists its data keys"
        }
        DatabaseError::Contention { .. } => {
            "the database was busy: run the doctor again when the writers are done"
        }
        DatabaseError::Decode(_) | DatabaseError::Constraint(_) => {
            "pierre-db verify (it names each row that does not read back)"
        }
        DatabaseError::Config(_) | DatabaseError::Unsupported(_) => {
            "correct the URL or setting the message names"
        }
        _ => "pierre-db verify, then report the message if it persists",
    }
}
