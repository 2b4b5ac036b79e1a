//! A database of its own on the PostgreSQL server named by an environment
//! variable, for each test that needs one, dropped when the test ends.
//! Shared by the library's and the command's test binaries (`#[path]`
//! modules).
//!
//! Each test runs on a thread of its own: the databases a thread created
//! are dropped when it exits (`DROP DATABASE … WITH (FORCE)`, which ends
//! connections a pool may still hold), so a run leaves nothing behind on
//! the server, and no test needs to hold a guard.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::ConnectionTrait;

/// Creates an empty database on the server `var` names and returns its
/// URL; `None` when `var` is unset.
pub async fn create(var: &str) -> Option<String> {
    create_with(var, row_level_security()).await
}

/// [`create`], the database owned by and opened as [`APP_ROLE`] whatever
/// the run's mode.
pub async fn create_walled(var: &str) -> Option<String> {
    create_with(var, true).await
}

async fn create_with(var: &str, walled: bool) -> Option<String> {
    let Ok(admin_url) = std::env::var(var) else {
        say_once_that_postgres_did_not_run(var);
        return None;
    };
    let mut options = sea_orm::ConnectOptions::new(admin_url.clone());
    options.max_connections(1).sqlx_logging(false);
    let admin = sea_orm::Database::connect(options).await.unwrap_or_else(|err| {
        panic!("{var} is set but the server cannot be reached (or this build lacks the `postgres` feature): {err}")
    });
    let name = unique_name();
    if walled {
        // A role the wall applies to: neither a superuser nor BYPASSRLS.
        // Made once per server; a concurrent test may make it first.
        admin
            .execute_unprepared(&format!(
                "DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
                 EXCEPTION WHEN duplicate_object OR unique_violation OR internal_error \
                 THEN NULL; END $$"
            ))
            .await
            .unwrap_or_else(|err| panic!("create role {APP_ROLE}: {err}"));
        // What `copy` needs of a target's role (PostgreSQL 15 and later).
        // Two tests granting at once: one fails with "tuple concurrently
        // updated" (internal_error) after the other succeeded.
        admin
            .execute_unprepared(&format!(
                "DO $$ BEGIN GRANT SET ON PARAMETER session_replication_role TO {APP_ROLE}; \
                 EXCEPTION WHEN internal_error OR unique_violation THEN NULL; END $$"
            ))
            .await
            .unwrap_or_else(|err| panic!("grant to {APP_ROLE}: {err}"));
    }
    let owner = if walled {
        format!(" OWNER {APP_ROLE}")
    } else {
        String::new()
    };
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}{owner}"))
        .await
        .unwrap_or_else(|err| panic!("create test database {name}: {err}"));
    admin.close().await.ok();
    CREATED.with(|created| created.add(&admin_url, &name));
    let url = with_database(&admin_url, &name);
    Some(if walled { as_role(&url, APP_ROLE) } else { url })
}

/// The environment variable that runs the PostgreSQL half with row-level
/// security on: databases owned by, and opened as, [`APP_ROLE`].
pub const ROW_LEVEL_SECURITY_VAR: &str = "PIERRE_TEST_ROW_LEVEL_SECURITY";

/// The application's role of the row-level security runs.
pub const APP_ROLE: &str = "pierre_app";

/// Whether this run tests with row-level security on.
pub fn row_level_security() -> bool {
    std::env::var(ROW_LEVEL_SECURITY_VAR).is_ok_and(|v| v == "1")
}

/// `url` with its user replaced by `role` (no password: the throwaway
/// server trusts local connections).
pub fn as_role(url: &str, role: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let host = match rest.find('@') {
        Some(at) if rest[..at].find('/').is_none() => &rest[at + 1..],
        _ => rest,
    };
    format!("{}{role}@{host}", &url[..scheme_end])
}

/// Says once per run, where the person running the tests sees it, that the
/// PostgreSQL half did not run: written to stderr directly, because the
/// test harness captures `eprintln!` of passing tests.
fn say_once_that_postgres_did_not_run(var: &str) {
    use std::io::Write;
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        if another_binary_of_this_run_said_it() {
            return;
        }
        let _ = writeln!(
            std::io::stderr(),
            "\nnote: {var} is unset: the PostgreSQL half of the tests did not run \
             (set it to a server's URL to run it)\n"
        );
    });
}

/// `cargo test` runs each test binary as its child, one after another: the
/// first binary of a run leaves a mark named for that cargo process (its
/// pid and start time, so a reused pid is another run), and the others see
/// it. Anywhere else (another runner, another system) each binary says it.
/// The marks are empty files, one per run, left for the system to clear
/// with the rest of its temp folder.
fn another_binary_of_this_run_said_it() -> bool {
    #[cfg(target_os = "linux")]
    {
        let parent = std::os::unix::process::parent_id();
        let proc = std::path::PathBuf::from(format!("/proc/{parent}"));
        let is_cargo =
            std::fs::read_to_string(proc.join("comm")).is_ok_and(|name| name.trim() == "cargo");
        // Field 22 of `stat`, after the command name in parentheses.
        let started = std::fs::read_to_string(proc.join("stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(19).map(str::to_owned))
            });
        if let (true, Some(started)) = (is_cargo, started) {
            let mark =
                std::env::temp_dir().join(format!("pierre-db-postgres-note-{parent}-{started}"));
            return std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(mark)
                .is_err();
        }
    }
    false
}

thread_local! {
    static CREATED: Created = const {
        Created {
            databases: RefCell::new(Vec::new()),
        }
    };
}

/// The databases this thread created, as (server URL, name).
struct Created {
    databases: RefCell<Vec<(String, String)>>,
}

impl Created {
    fn add(&self, admin_url: &str, name: &str) {
        self.databases
            .borrow_mut()
            .push((admin_url.to_owned(), name.to_owned()));
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        let databases = std::mem::take(self.databases.get_mut());
        if databases.is_empty() {
            return;
        }
        // A runtime of its own, on a thread of its own: the test's runtime
        // is gone by now.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(drop_all(databases));
            Some(())
        });
        let _ = dropped.join();
    }
}

async fn drop_all(databases: Vec<(String, String)>) {
    for (admin_url, name) in databases {
        let mut options = sea_orm::ConnectOptions::new(admin_url);
        options.max_connections(1).sqlx_logging(false);
        let Ok(admin) = sea_orm::Database::connect(options).await else {
            continue;
        };
        // Best effort: a database left behind costs disk, not correctness.
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        admin.close().await.ok();
    }
}

pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "pierre_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
