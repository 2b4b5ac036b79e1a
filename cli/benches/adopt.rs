//! `pierre-db adopt` beside `pierre-db copy`, on the same rows in one run:
//! a source written the way the original Pierre server writes one is
//! adopted into a new SQLite file, and that file is then copied into
//! another; rows per second of each, and their ratio.
//!
//! ```sh
//! cargo bench -p pierre-db-cli --bench adopt
//! ```
//!
//! `PIERRE_BENCH_ADOPT_USERS` (default 50000, at least 20000) sets the
//! users. With them come 20,000 OAuth tokens (40,000 ciphertexts under the
//! original's key and associated data) and 40,000 JWT usage rows (with the
//! original's NULL ids), so the default source holds 110,000 rows. Both commands are timed by their own report (the rows
//! written and the seconds that took), without the verification each
//! runs after.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark that cannot go on stops by panicking"
)]

#[path = "../../tests/it/adopt/fixture.rs"]
#[allow(dead_code, reason = "the library's tests use the rest of it")]
mod fixture;

use std::process::Command;

use sea_orm::Value;
use serde_json::Value as Json;

const TOKENS: usize = 20_000;
const USAGE: usize = 40_000;
/// Rows per statement while writing the source.
const CHUNK: usize = 500;

#[tokio::main]
async fn main() {
    let users: usize = std::env::var("PIERRE_BENCH_ADOPT_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
        .max(TOKENS);
    let legacy = fixture::Legacy::new().await;
    let tenant = legacy.tenant("acme").await;
    let ids: Vec<String> = (0..users)
        .map(|_| pierre_db::uuid::Uuid::new_v4().to_string())
        .collect();
    for (n, chunk) in ids.chunks(CHUNK).enumerate() {
        let rows =
            vec!["(?, ?, 'x', '2025-03-01T08:00:00+00:00', '2025-03-01 08:00:00')"; chunk.len()];
        let mut values: Vec<Value> = Vec::new();
        for (i, id) in chunk.iter().enumerate() {
            values.push(id.clone().into());
            values.push(format!("user{}@example.org", n * CHUNK + i).into());
        }
        let sql = format!(
            "INSERT INTO users (id, email, password_hash, created_at, last_active) VALUES {}",
            rows.join(", ")
        );
        legacy.exec(&sql, values).await;
    }
    for chunk in ids[..TOKENS].chunks(CHUNK) {
        let rows = vec![
            "(?, ?, ?, 'strava', ?, ?, '2025-04-01T09:30:00+00:00', '2025-04-01T09:30:00+00:00')";
            chunk.len()
        ];
        let mut values: Vec<Value> = Vec::new();
        for user in chunk {
            let aad = format!("{tenant}|{user}|strava|user_oauth_tokens");
            values.push(pierre_db::uuid::Uuid::new_v4().to_string().into());
            values.push(user.clone().into());
            values.push(tenant.clone().into());
            values.push(legacy.seal(&aad, &format!("access-{user}")).into());
            values.push(legacy.seal(&aad, &format!("refresh-{user}")).into());
        }
        let sql = format!(
            "INSERT INTO user_oauth_tokens (id, user_id, tenant_id, provider, access_token, \
             refresh_token, created_at, updated_at) VALUES {}",
            rows.join(", ")
        );
        legacy.exec(&sql, values).await;
    }
    legacy
        .sql(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {USAGE}) \
             INSERT INTO jwt_usage (id, user_id, timestamp, endpoint, method, status_code, \
             response_time_ms) SELECT NULL, u.id, '2025-05-01 10:00:00', '/api/activities', \
             'GET', 200, 12 FROM n JOIN users u ON u.rowid = 1 + (n.i % {users})"
        ))
        .await;

    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("master.key");
    std::fs::write(&key_file, legacy.master.to_base64()).unwrap();
    let pierre = |args: &[&str]| -> Json {
        let output = Command::new(env!("CARGO_BIN_EXE_pierre-db"))
            .arg("--json")
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
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let adopted = format!("sqlite:{}", dir.path().join("adopted.db").display());
    let copied = format!("sqlite:{}", dir.path().join("copied.db").display());
    let adopt = pierre(&["adopt", "--from", &legacy.url(), "--to", &adopted]);
    pierre(&["-u", &copied, "migrate", "up"]);
    let copy = pierre(&["copy", "--from", &adopted, "--to", &copied]);

    let rate =
        |report: &Json| report["rows"].as_f64().unwrap() / report["seconds"].as_f64().unwrap();
    let sealed: u64 = adopt["sealed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_u64().unwrap())
        .sum();
    println!(
        "adopt: {} rows ({sealed} ciphertexts opened and sealed again) in {:.2} s: {:.0} rows/s",
        adopt["rows"],
        adopt["seconds"].as_f64().unwrap(),
        rate(&adopt)
    );
    println!(
        "copy:  {} rows in {:.2} s: {:.0} rows/s",
        copy["rows"],
        copy["seconds"].as_f64().unwrap(),
        rate(&copy)
    );
    println!(
        "adopt/copy: {:.2}x copy's rows/s (goal >= 0.70)",
        rate(&adopt) / rate(&copy)
    );
}
