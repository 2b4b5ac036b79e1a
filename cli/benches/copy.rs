//! `pierre-db copy` against pgloader: one seeded SQLite file, loaded into an
//! empty PostgreSQL database by each, in one run, rows per second side by
//! side.
//!
//! ```sh
//! PIERRE_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench -p pierre-db-cli --bench copy
//! ```
//!
//! `PIERRE_BENCH_COPY_ROWS` (default 100000) sets the rows of each large
//! table (users, API key usage, request logs, OAuth tokens); every other
//! table gets a few. pgloader (Debian package `pgloader`) must be on the
//! PATH. `pierre-db copy` is timed as an operator runs it: into a migrated
//! database, and including its verification (counts, and every sealed
//! value opened); pgloader creates its own tables and indexes as part of
//! its run, so the migration time is shown too.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark that cannot go on stops by panicking"
)]

#[path = "../tests/it/counts.rs"]
mod counts;
#[path = "../../tests/support/postgres_db.rs"]
#[allow(
    dead_code,
    reason = "the benchmark needs only plain databases of the shared helper"
)]
mod postgres_db;
#[path = "../tests/it/seed.rs"]
mod seed;

use std::process::Command;
use std::time::{Duration, Instant};

use pierre_db::{Database, DatabaseConfig, MasterKey};

const SERVER_VAR: &str = "PIERRE_BENCH_POSTGRES_URL";

#[tokio::main]
async fn main() {
    if std::env::var(SERVER_VAR).is_err() {
        eprintln!("copy bench: set {SERVER_VAR} to a PostgreSQL server to run it");
        return;
    }
    let rows: usize = std::env::var("PIERRE_BENCH_COPY_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let binary = env!("CARGO_BIN_EXE_pierre-db");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seeded.db");
    let source = format!("sqlite:{}", file.display());
    let key = MasterKey::generate().unwrap();
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, key.to_base64()).unwrap();
    let pierre = |args: &[&str]| {
        let output = Command::new(binary)
            .args(args)
            .env("PIERRE_MASTER_KEY_FILE", &key_file)
            .env_remove("PIERRE_MASTER_ENCRYPTION_KEY")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "pierre-db {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };

    pierre(&["-u", &source, "migrate", "up", "-q"]);
    let seeding = Instant::now();
    let db = Database::connect_with(DatabaseConfig::new(&source, key.clone()))
        .await
        .unwrap();
    seed::every_table(
        &db,
        &seed::Scale {
            users: rows,
            usage: rows,
            request_logs: rows,
            tokens: rows,
        },
    )
    .await;
    db.close().await.unwrap();
    let total = total_rows(&source).await;
    println!(
        "seeded {} ({total} rows in 44 tables, {:.1} MB) in {:.1} s",
        file.display(),
        std::fs::metadata(&file).unwrap().len() as f64 / 1e6,
        seeding.elapsed().as_secs_f64()
    );

    // pierre-db: migrate, then copy (which verifies).
    let ours = postgres_db::create(SERVER_VAR).await.unwrap();
    let started = Instant::now();
    pierre(&["-u", &ours, "migrate", "up", "-q"]);
    let migrated = started.elapsed();
    let started = Instant::now();
    let report = pierre(&["--json", "copy", "--from", &source, "--to", &ours]);
    let copied = started.elapsed();
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        total_rows(&ours).await,
        total,
        "pierre-db copy moved every row"
    );

    // pgloader: the same file into an empty database, its own schema.
    let theirs = postgres_db::create(SERVER_VAR).await.unwrap();
    let started = Instant::now();
    let load = dir.path().join("load.pgl");
    std::fs::write(&load, pgloader_command(&file, &theirs)).unwrap();
    let output = Command::new("pgloader")
        .arg(&load)
        .output()
        .expect("pgloader on the PATH (apt-get install pgloader)");
    let loaded = started.elapsed();
    assert!(
        output.status.success(),
        "pgloader failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let pgloader_rows = total_rows(&theirs).await;

    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    println!();
    println!(
        "{:<44} {:>9} {:>9} {:>10} {:>12}",
        "load into PostgreSQL", "rows", "seconds", "rows/s", "vs pgloader"
    );
    for (name, rows, d) in [
        ("pierre-db copy (rows + verify every secret)", total, copied),
        ("pierre-db migrate up + copy", total, migrated + copied),
        ("pgloader (creates its own schema)", pgloader_rows, loaded),
    ] {
        let per_second = rows as f64 / d.as_secs_f64();
        println!(
            "{name:<44} {rows:>9} {:>9.2} {per_second:>10.0} {:>11.2}x",
            d.as_secs_f64(),
            per_second / rate(loaded),
        );
    }
    println!(
        "\npierre-db copy's own count: {} rows/s over its copy phase; {} sealed values verified",
        report["rows_per_second"], report["verified"]
    );
}

/// pgloader's load command for `file` into `url`. The casts name the
/// declared column types of the schema's SQLite side, which pgloader does
/// not know: UUIDs are stored as 16-byte blobs (hence the hex transform,
/// which PostgreSQL reads as a UUID), timestamps and JSON as text.
fn pgloader_command(file: &std::path::Path, url: &str) -> String {
    format!(
        "LOAD DATABASE
  FROM sqlite://{}
  INTO {url}
  WITH include drop, create tables, create indexes, reset sequences
  CAST type uuid_text to uuid drop typemod using byte-vector-to-hexstring,
       type enum_text to text drop typemod,
       type jsonb_text to jsonb drop typemod,
       type timestamp_with_timezone_text to timestamptz drop typemod,
       type double to \"double precision\" drop typemod,
       type boolean to boolean drop typemod
  EXCLUDING TABLE NAMES LIKE 'seaql_migrations';
",
        file.display()
    )
}

/// Rows in every table of the database at `url`.
async fn total_rows(url: &str) -> u64 {
    counts::row_counts(url).await.values().sum()
}
