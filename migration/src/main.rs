//! `cargo run -p migration -- -u URL up|down|status|fresh|refresh|reset`.
//!
//! Errors are one line on stderr and exit status 1 (2 for a missing URL),
//! never a panic: sea-orm-migration's CLI panics when it cannot connect,
//! so this binary connects first and hands the CLI a working connection.
//!
//! `down`, `reset` and `refresh` revert migrations. Before any step runs,
//! the binary counts what they would lose (`migration::down_losses`: rows
//! of dropped tables, values of dropped or emptied columns, rows the guards
//! protect) and, if anything, refuses with one line naming each loss and
//! changes nothing, unless the operator confirms with `--yes`. The
//! confirmation is an option of those three subcommands: the binary parses
//! sea-orm-migration's own command line (`sea_orm_migration::cli::Cli`)
//! with `--yes` added to them, and runs them itself through
//! `sea_orm_migration::cli::run_migrate`, under the consent that lets the
//! guards delete what they protect (`migration::with_consent`). Every other
//! subcommand goes to sea-orm-migration's CLI unchanged; `fresh` drops every
//! table whatever it holds, as sea-orm-migration defines it.

use std::process::exit;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use sea_orm_cli::MigrateSubcommands;
use sea_orm_migration::cli::{Cli, run_cli_with_connection, run_migrate};
use sea_orm_migration::sea_orm::{ConnectOptions, Database, DbConn};

/// How long connecting may take before the binary gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Subcommands and flags that need no database.
const OFFLINE: [&str; 6] = ["generate", "init", "help", "-h", "--help", "--version"];

/// The subcommands that revert migrations, and so take `--yes`.
const REVERTING: [&str; 3] = ["down", "reset", "refresh"];

/// What `--help` says of `--yes`.
const YES_HELP: &str = "Revert even if rows would be lost \
    (without it, the command refuses and names them, changing nothing)";

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
    // As sea-orm-migration's CLI does before it parses.
    dotenvy::dotenv().ok();
    let matches = command_line().get_matches();
    match matches.subcommand() {
        Some((name, sub)) if REVERTING.contains(&name) => {
            let yes = sub.get_flag("yes");
            revert(&matches, yes).await;
        }
        _ => run_cli_with_connection(migration::Migrator, connect).await,
    }
}

/// sea-orm-migration's command line, with `--yes` on the subcommands that
/// revert migrations.
fn command_line() -> clap::Command {
    let mut command = Cli::command();
    for name in REVERTING {
        command = command.mut_subcommand(name, |sub| {
            sub.arg(
                Arg::new("yes")
                    .long("yes")
                    .action(ArgAction::SetTrue)
                    .help(YES_HELP),
            )
        });
    }
    command
}

/// `down`, `reset` or `refresh`: refuses, changing nothing, if the steps
/// would lose data and `yes` is false; otherwise runs the subcommand as
/// sea-orm-migration does, with the consent that `yes` gives.
async fn revert(matches: &ArgMatches, yes: bool) {
    let command = MigrateSubcommands::from_arg_matches(matches).unwrap_or_else(|err| err.exit());
    let url = matches
        .get_one::<String>("database_url")
        .cloned()
        .unwrap_or_default();
    let schema = matches
        .get_one::<String>("database_schema")
        .cloned()
        .unwrap_or_else(|| "public".to_owned());
    let mut options = ConnectOptions::new(url);
    options.set_schema_search_path(schema);
    let db = match connect(options).await {
        Ok(db) => db,
        Err(err) => error(&err),
    };
    let steps = match command {
        MigrateSubcommands::Down { num } => Some(num),
        _ => None,
    };
    match migration::down_losses(&db, steps).await {
        Err(err) => error(&err),
        Ok(losses) if !losses.is_empty() && !yes => error(&migration::refusal(&losses)),
        Ok(_) => {}
    }
    let verbose = matches.get_flag("verbose");
    let outcome = migration::with_consent(
        yes,
        run_migrate(migration::Migrator, &db, Some(command), verbose),
    )
    .await;
    db.close().await.ok();
    if let Err(err) = outcome {
        error(&err);
    }
}

/// Prints `cause` as one line and exits with status 1.
fn error(cause: &dyn std::fmt::Display) -> ! {
    eprintln!("error: {}", cause.to_string().replace('\n', " "));
    exit(1);
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
