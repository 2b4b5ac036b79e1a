//! `cargo run -p migration -- -u URL up|down|status|fresh|refresh|reset`.
//!
//! Errors are one line on stderr and exit status 1 (2 for a missing URL),
//! never a panic: sea-orm-migration's CLI panics when it cannot connect,
//! so this binary connects first and hands the CLI a working connection.

use std::process::exit;
use std::time::Duration;

use sea_orm_migration::sea_orm::{ConnectOptions, Database, DbConn};

/// How long connecting may take before the binary gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Subcommands and flags that need no database.
const OFFLINE: [&str; 6] = ["generate", "init", "help", "-h", "--help", "--version"];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args
        .iter()
        .any(|a| OFFLINE.contains(&a.as_str()) || a == "-V")
        && url(&args).is_none()
    {
        eprintln!(
            "error: no database URL: pass -u URL or set DATABASE_URL \
             (sqlite:data/pierre.db, postgres://USER@HOST/DB)"
        );
        exit(2);
    }
    sea_orm_migration::cli::run_cli_with_connection(migration::Migrator, connect).await;
}

/// Connects with one connection (the SQLite rebuild migrations switch
/// foreign-key enforcement off on the connection that runs them), or
/// exits with the cause on one line.
async fn connect(options: ConnectOptions) -> Result<DbConn, sea_orm_migration::DbErr> {
    let url = options.get_url().to_owned();
    let mut options = options;
    options
        .max_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(CONNECT_TIMEOUT)
        .sqlx_logging(false);
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        probe_postgres(&url).await;
    }
    match Database::connect(options).await {
        Ok(db) => Ok(db),
        Err(err) => fail(&url, &err.to_string()),
    }
}

/// One direct connection first: the pool would retry a refused connection
/// until its timeout and then report only that it timed out.
#[cfg(feature = "postgres")]
async fn probe_postgres(url: &str) {
    use sea_orm_migration::sea_orm::sqlx::Connection;
    use sea_orm_migration::sea_orm::sqlx::postgres::PgConnection;

    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Err(_) => fail(url, &format!("no answer within {CONNECT_TIMEOUT:?}")),
        Ok(Err(err)) => fail(url, &err.to_string()),
        Ok(Ok(conn)) => {
            conn.close().await.ok();
        }
    }
}

fn fail(url: &str, cause: &str) -> ! {
    eprintln!("error: cannot connect to {}: {cause}", redact(url));
    exit(1);
}

/// The URL given with `-u`/`--database-url`, or else `DATABASE_URL`.
fn url(args: &[String]) -> Option<String> {
    let mut given = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "-u" || arg == "--database-url" {
            given = iter.next().cloned();
        } else if let Some(value) = arg.strip_prefix("--database-url=") {
            given = Some(value.to_owned());
        } else if let Some(value) = arg.strip_prefix("-u").filter(|v| !v.is_empty()) {
            given = Some(value.to_owned());
        }
    }
    given
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|u| !u.trim().is_empty())
}

/// `url` without the password of its user info.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}
