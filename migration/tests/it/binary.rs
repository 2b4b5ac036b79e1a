//! The `migration` binary: errors are one line and an exit status, never a
//! panic.

use std::process::{Command, Output};

use sea_orm_migration::sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Statement};

use crate::common;
use crate::common::rows::{count, user};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_migration"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

fn one_line_error(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

#[test]
fn a_missing_url_says_how_to_give_one() {
    let output = run(&["status"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = one_line_error(&output);
    assert!(
        stderr.contains("-u URL") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_server_is_one_line_without_the_password() {
    if !cfg!(feature = "postgres") {
        return;
    }
    let started = std::time::Instant::now();
    let output = run(&["-u", "postgres://nobody:hunter2@127.0.0.1:1/none", "status"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(1));
    let stderr = one_line_error(&output);
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn an_unopenable_sqlite_file_is_one_line() {
    let output = run(&["-u", "sqlite:/nonexistent-dir/x.db", "status"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = one_line_error(&output);
    assert!(stderr.contains("unable to open database file"), "{stderr}");
}

/// A SQLite file of its own (removed on drop), as the binary opens it.
struct SqliteFile(std::path::PathBuf);

impl SqliteFile {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Self(std::env::temp_dir().join(format!("pierre_mig_bin_{}_{nanos}.db", std::process::id())))
    }

    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.display())
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            std::fs::remove_file(path).ok();
        }
    }
}

/// Opens `url` for a look (or a row) between runs of the binary.
async fn open(url: &str) -> common::TestDb {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(1).sqlx_logging(false);
    let conn = Database::connect(options).await.expect("open");
    let backend = conn.get_database_backend();
    common::TestDb {
        conn,
        backend,
        url: url.to_owned(),
    }
}

/// How many migrations are applied, and how many users there are (`None`:
/// no users table).
async fn applied_and_users(url: &str) -> (i64, Option<i64>) {
    let db = open(url).await;
    let applied = count(&db, "seaql_migrations").await;
    let has_users = match db.backend {
        DbBackend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE name = 'users'",
        _ => "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'users'",
    };
    let exists: i64 = db
        .conn
        .query_one_raw(Statement::from_string(db.backend, has_users))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let users = if exists > 0 {
        Some(count(&db, "users").await)
    } else {
        None
    };
    db.conn.close().await.ok();
    (applied, users)
}

#[tokio::test]
async fn down_reset_and_refresh_refuse_to_lose_rows_unless_yes() {
    let file = SqliteFile::new();
    let mut urls = vec![file.url()];
    if let Some(pg) = common::postgres().await {
        urls.push(pg.url.clone());
        pg.conn.close().await.ok();
    }
    for url in &urls {
        let up = run(&["-u", url, "up"]);
        assert!(up.status.success(), "{up:?}");
        let db = open(url).await;
        user(&db).await;
        db.conn.close().await.ok();

        for args in [&["down", "-n", "30"][..], &["reset"], &["refresh"]] {
            let mut all = vec!["-u", url.as_str()];
            all.extend_from_slice(args);
            let output = run(&all);
            assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
            let stderr = one_line_error(&output);
            assert!(
                stderr.contains("users: 1 row (m20250120_000001_users_schema drops the table)"),
                "{args:?}: {stderr}"
            );
            assert!(stderr.contains("users.role: 1 value"), "{args:?}: {stderr}");
            assert!(stderr.contains("--yes"), "{args:?}: {stderr}");
            assert_eq!(
                applied_and_users(url).await,
                (23, Some(1)),
                "{args:?}: a refusal changes nothing"
            );
        }

        let refresh = run(&["-u", url, "refresh", "--yes"]);
        assert!(refresh.status.success(), "{refresh:?}");
        assert_eq!(applied_and_users(url).await, (23, Some(0)), "refresh --yes");

        let db = open(url).await;
        user(&db).await;
        db.conn.close().await.ok();
        let down = run(&["-u", url, "down", "-n", "30", "--yes"]);
        assert!(down.status.success(), "{down:?}");
        assert_eq!(applied_and_users(url).await, (0, None), "down --yes");

        // Nothing to lose: no --yes needed.
        assert!(run(&["-u", url, "up"]).status.success());
        let reset = run(&["-u", url, "reset"]);
        assert!(reset.status.success(), "{reset:?}");
    }
}
