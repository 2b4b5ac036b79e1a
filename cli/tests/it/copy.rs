//! `pierre-db copy`: between SQLite files always; SQLite → PostgreSQL →
//! SQLite at full size (≥ 100,000 rows in the large tables), killed and
//! resumed, when `PIERRE_TEST_POSTGRES_URL` is set.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use pierre_db::{Database, DatabaseConfig, MasterKey, Secret};

use crate::common::{Fixture, postgres_database};
use crate::counts::row_counts;
use crate::seed::{self, Scale};

/// A migrated source with rows in every table.
async fn source(scale: &Scale) -> Fixture {
    let fx = Fixture::new();
    fx.run(&["migrate", "up"]).ok();
    let db = fx.open().await;
    seed::every_table(&db, scale).await;
    db.close().await.unwrap();
    let counts = row_counts(&fx.url).await;
    assert_eq!(counts.len(), 44, "{counts:?}");
    let empty: Vec<&String> = counts
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(t, _)| t)
        .collect();
    assert!(empty.is_empty(), "the seed leaves tables empty: {empty:?}");
    fx
}

/// A SQLite file beside the fixture's.
fn file_url(fx: &Fixture, name: &str) -> String {
    format!("sqlite:{}", fx.dir.path().join(name).display())
}

#[tokio::test]
async fn copy_between_sqlite_files_checks_its_target_and_verifies() {
    let small = Scale {
        users: 300,
        usage: 300,
        request_logs: 300,
        tokens: 300,
    };
    let fx = source(&small).await;
    let target = file_url(&fx, "target.db");

    let absent = fx.run(&["copy", "--from", &fx.url, "--to", &target]);
    assert_eq!(absent.code, 1, "{absent:?}");
    assert!(absent.stderr.contains("no such file"), "{absent:?}");
    std::fs::File::create(fx.dir.path().join("target.db")).unwrap();
    let unmigrated = fx.run(&["copy", "--from", &fx.url, "--to", &target]);
    assert_eq!(unmigrated.code, 2, "{unmigrated:?}");
    assert!(
        unmigrated.stderr.contains("pending migrations"),
        "{unmigrated:?}"
    );

    fx.run(&["-u", &target, "migrate", "up"]).ok();
    let (code, report) = fx.json(&["copy", "--from", &fx.url, "--to", &target, "--batch", "97"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["unreadable"], 0);
    assert!(report["verified"].as_u64().unwrap() >= 2 * 300, "{report}");
    assert_eq!(row_counts(&target).await, row_counts(&fx.url).await);

    let again = fx.run(&["copy", "--from", &fx.url, "--to", &target]);
    assert_eq!(again.code, 2, "a filled target is refused: {again:?}");
    assert!(again.stderr.contains("not empty"), "{again:?}");
    assert!(again.stderr.contains("--resume"), "{again:?}");

    let resumed = fx
        .run(&["copy", "--from", &fx.url, "--to", &target, "--resume"])
        .ok();
    assert!(
        resumed.stdout.contains("row counts match in all 44 tables"),
        "{resumed:?}"
    );
    assert!(resumed.stdout.contains("every value opens"), "{resumed:?}");
    assert_eq!(row_counts(&target).await, row_counts(&fx.url).await);

    // Another master key does not open the source: refused before any write.
    let other = fx.dir.path().join("other.key");
    std::fs::write(&other, MasterKey::generate().unwrap().to_base64()).unwrap();
    let fresh = file_url(&fx, "fresh.db");
    fx.run(&["-u", &fresh, "migrate", "up"]).ok();
    let before = row_counts(&fresh).await;
    let wrong = fx.run(&[
        "--master-key-file",
        other.to_str().unwrap(),
        "copy",
        "--from",
        &fx.url,
        "--to",
        &fresh,
    ]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(wrong.stderr.contains("source"), "{wrong:?}");
    assert_eq!(row_counts(&fresh).await, before, "nothing written");

    let same = fx.run(&["copy", "--from", &fx.url, "--to", &fx.url]);
    assert_eq!(same.code, 2, "{same:?}");

    let typo = file_url(&fx, "typo.db");
    let missing = fx.run(&["copy", "--from", &typo, "--to", &fresh]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("no such file"), "{missing:?}");

    // The application connected to the new database once: it holds a data
    // key nothing is sealed under, which the source's keys replace.
    let connected = fx.dir.path().join("fresh.db");
    assert!(connected.exists());
    let config = DatabaseConfig::new(&fresh, other_key(&other));
    Database::connect_with(config)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    assert_eq!(row_counts(&fresh).await["key_versions"], 1);
    let (code, report) = fx.json(&["copy", "--from", &fx.url, "--to", &fresh]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(row_counts(&fresh).await, row_counts(&fx.url).await);

    // With a secret sealed under that key, the target is not empty.
    let sealed = file_url(&fx, "sealed.db");
    fx.run(&["-u", &sealed, "migrate", "up"]).ok();
    let db = Database::connect_with(DatabaseConfig::new(&sealed, fx.key.clone()))
        .await
        .unwrap();
    db.system_secrets()
        .put("session_key", Secret::new("in use"))
        .await
        .unwrap();
    db.close().await.unwrap();
    let refused = fx.run(&["copy", "--from", &fx.url, "--to", &sealed]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("system_secrets 2"), "{refused:?}");
    assert!(!fx.dir.path().join("typo.db").exists());
}

#[tokio::test]
async fn copy_to_postgres_killed_and_resumed_then_back_to_sqlite() {
    let Some(postgres) = postgres_database().await else {
        eprintln!("PIERRE_TEST_POSTGRES_URL is unset: the PostgreSQL copy test did not run");
        return;
    };
    let full = Scale {
        users: 100_000,
        usage: 100_000,
        request_logs: 100_000,
        tokens: 100_000,
    };
    let fx = source(&full).await;
    let expected = row_counts(&fx.url).await;
    for table in [
        "users",
        "api_key_usage",
        "request_logs",
        "user_oauth_tokens",
    ] {
        assert!(expected[table] >= 100_000, "{table}: {}", expected[table]);
    }
    fx.run(&["-u", &postgres, "migrate", "up"]).ok();

    // Killed (SIGKILL, no chance to finish a batch) once a large table is
    // under way.
    let mut child = fx
        .command(&["copy", "--from", &fx.url, "--to", &postgres])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let progress = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    for line in progress.lines() {
        let line = line.unwrap();
        let reached = line.starts_with("api_key_usage: ");
        seen.push(line);
        if reached {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen.last().unwrap().starts_with("api_key_usage: "),
        "{seen:?}"
    );
    let partial = row_counts(&postgres).await;
    assert!(
        partial["api_key_usage"] < expected["api_key_usage"],
        "{partial:?}"
    );
    assert_eq!(
        partial["users"], expected["users"],
        "users were copied before the kill"
    );

    let refused = fx.run(&["copy", "--from", &fx.url, "--to", &postgres]);
    assert_eq!(refused.code, 2, "{refused:?}");

    let (code, report) = fx.json(&["copy", "--from", &fx.url, "--to", &postgres, "--resume"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["unreadable"], 0);
    assert_eq!(row_counts(&postgres).await, expected);
    for table in report["tables"].as_array().unwrap() {
        assert_eq!(
            table["sent"], table["source"],
            "--resume sends every row: {table}"
        );
    }

    // And back: PostgreSQL → a new SQLite file.
    let back = file_url(&fx, "back.db");
    fx.run(&["-u", &back, "migrate", "up"]).ok();
    let (code, report) = fx.json(&["copy", "--from", &postgres, "--to", &back]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(row_counts(&back).await, expected);
    let verified = fx.run(&["-u", &back, "verify"]).ok();
    assert!(
        verified.stdout.contains("every value opens"),
        "{verified:?}"
    );
    assert_same_rows(&fx.url, &back).await;
}

/// Every row of every table is the same, value for value, in the SQLite
/// files at `a` and `b` (both migrated by the same migrations, so their
/// columns line up): `EXCEPT` both ways is empty.
async fn assert_same_rows(a: &str, b: &str) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let mut options = sea_orm::ConnectOptions::new(a.to_owned());
    options.max_connections(1).sqlx_logging(false);
    let conn = sea_orm::Database::connect(options).await.unwrap();
    let sql = |s: String| Statement::from_string(DbBackend::Sqlite, s);
    let other = b.strip_prefix("sqlite:").unwrap();
    conn.execute_raw(sql(format!("ATTACH DATABASE '{other}' AS other")))
        .await
        .unwrap();
    for table in row_counts(a).await.keys() {
        for (x, y) in [("main", "other"), ("other", "main")] {
            let differing: i64 = conn
                .query_one_raw(sql(format!(
                    "SELECT COUNT(*) FROM (SELECT * FROM {x}.{table} EXCEPT SELECT * FROM {y}.{table})"
                )))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index(0)
                .unwrap();
            assert_eq!(differing, 0, "{table}: rows in {x} that are not in {y}");
        }
    }
    conn.close().await.unwrap();
}

/// The master key in `file`.
fn other_key(file: &std::path::Path) -> MasterKey {
    MasterKey::from_base64(std::fs::read_to_string(file).unwrap().trim()).unwrap()
}
