//! `pierre-db doctor` reports each read replica the environment names.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Fixture, postgres_database};

/// The checks named `replica` of a doctor run with `replicas` configured.
fn replica_checks(fx: &Fixture, replicas: &str) -> (i32, Vec<Value>) {
    let mut command = fx.command(&["--json", "doctor"]);
    command.env("PIERRE_DATABASE_REPLICA_URLS", replicas);
    let output = command.output().unwrap();
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let checks = document["checks"].as_array().unwrap();
    let replicas = checks
        .iter()
        .filter(|c| c["name"] == "replica")
        .cloned()
        .collect();
    (output.status.code().unwrap(), replicas)
}

#[tokio::test]
async fn doctor_shows_each_replica_its_lag_and_whether_it_is_in_use() {
    let Ok(standby) = std::env::var("PIERRE_TEST_REPLICA_URL") else {
        return;
    };
    let Some(url) = postgres_database().await else {
        return;
    };
    let mut fx = Fixture::new();
    fx.url = url.clone();
    fx.run(&["migrate", "up"]).ok();
    // The same database on the standby, and a replica nobody runs.
    let name = url.rsplit('/').next().unwrap();
    let server = standby.rsplit_once('/').unwrap().0;
    let replica = format!("{server}/{name}");
    let gone = format!("postgres://postgres@127.0.0.1:9/{name}");
    let replicas = format!("{replica},{gone}");

    // The new database reaches the standby a moment after it is made.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (code, checks) = loop {
        let (code, checks) = replica_checks(&fx, &replicas);
        if checks[0]["status"] == "ok" || Instant::now() > deadline {
            break (code, checks);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(checks.len(), 2, "{checks:?}");
    let detail = checks[0]["detail"].as_str().unwrap();
    assert_eq!(checks[0]["status"], "ok", "{checks:?}");
    assert!(detail.contains("in use, lag "), "{detail}");
    assert!(detail.contains(name), "{detail}");
    assert_eq!(checks[1]["status"], "warn", "{checks:?}");
    let detail = checks[1]["detail"].as_str().unwrap();
    assert!(
        detail.contains("not in use") && detail.contains("primary"),
        "{detail}"
    );
    // A replica out of use is a warning, not a failure of the database.
    assert_eq!(code, 0, "{checks:?}");
}
