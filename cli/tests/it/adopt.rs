//! `pierre-db adopt`: a source the original server wrote, moved into a new
//! pierre-db database and verified; refused twice; killed and run again.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use pierre_db::{Database, DatabaseConfig};

use crate::common::Fixture;

#[path = "../../../tests/it/adopt/fixture.rs"]
#[allow(dead_code, reason = "the library's tests use the rest of it")]
mod fixture;

use fixture::Legacy;

/// A source with `users` users (one statement, so large ones are quick to
/// write), a tenant, and one sealed token.
async fn legacy(users: usize) -> Legacy {
    let legacy = Legacy::new().await;
    let acme = legacy.tenant("acme").await;
    let ada = legacy.user("ada@example.org", Some(&acme)).await;
    legacy
        .oauth_token(&acme, &ada, "strava", "ada-access", Some("ada-refresh"))
        .await;
    legacy
        .sql(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {users}) \
             INSERT INTO users (id, email, password_hash, created_at, last_active) \
             SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || \
             substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) \
             || '-' || lower(hex(randomblob(6))), 'user' || i || '@example.org', 'x', \
             '2025-03-01T08:00:00+00:00', '2025-03-01 08:00:00' FROM n"
        ))
        .await;
    legacy
}

/// The command on `fx`'s key, which is the original's (the usual
/// deployment keeps its PIERRE_MASTER_ENCRYPTION_KEY).
fn fixture_for(legacy: &Legacy) -> Fixture {
    let fx = Fixture::new();
    std::fs::write(&fx.key_file, legacy.master.to_base64()).unwrap();
    fx
}

async fn open(url: &str, legacy: &Legacy) -> Database {
    Database::connect_with(DatabaseConfig::new(url, legacy.master.clone()))
        .await
        .unwrap()
}

#[tokio::test]
async fn adopt_fills_a_new_database_verifies_it_and_refuses_a_second_time() {
    let legacy = legacy(10).await;
    let fx = fixture_for(&legacy);
    let from = legacy.url();
    let (code, report) = fx.json(&["adopt", "--from", &from, "--to", &fx.url]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    let users = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "users")
        .unwrap();
    // Ten, Ada, and the tenant's owner.
    assert_eq!(users["source"], 12, "{report}");
    assert_eq!(users["target"], 12, "{report}");
    assert_eq!(report["verified"], 3, "{report}");
    assert_eq!(report["unreadable"], 0, "{report}");
    assert_eq!(
        report["sealed"][0]["column"],
        "user_oauth_tokens.access_token"
    );

    let run = fx.run(&["verify"]);
    assert_eq!(run.code, 0, "{run:?}");
    let db = open(&fx.url, &legacy).await;
    assert!(
        db.users()
            .get_by_email("ada@example.org")
            .await
            .unwrap()
            .is_some()
    );
    db.close().await.unwrap();

    let again = fx.run(&["adopt", "--from", &from, "--to", &fx.url]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(
        again.stderr.contains("the target was adopted into already"),
        "{again:?}"
    );

    // The report for a person: each table with rows, what was sealed, and
    // what stayed behind.
    let other = format!("sqlite:{}", fx.dir.path().join("other.db").display());
    let run = fx.run(&["adopt", "--from", &from, "--to", &other]).ok();
    println!("{}", run.stdout);
    for line in [
        "  users: 12 of 12\n",
        "sealed under the target's key:\n  user_oauth_tokens.access_token: 1\n",
        "  system_secrets.* of database_encryption_key: the original's data key",
        "every value opens: 3 values",
    ] {
        assert!(run.stdout.contains(line), "{line:?} not in\n{}", run.stdout);
    }
}

#[tokio::test]
async fn a_wrong_legacy_key_and_a_source_that_is_not_the_originals_are_refused() {
    let legacy = legacy(1).await;
    let fx = fixture_for(&legacy);
    let other = fx.dir.path().join("other.key");
    std::fs::write(
        &other,
        pierre_db::MasterKey::generate().unwrap().to_base64(),
    )
    .unwrap();
    let run = fx.run(&[
        "adopt",
        "--from",
        &legacy.url(),
        "--to",
        &fx.url,
        "--legacy-master-key-file",
        other.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("legacy master key does not open"),
        "{run:?}"
    );
    // Refused before the target was made.
    assert!(!fx.dir.path().join("pierre.db").exists());

    // A pierre-db database is no source, and the original's is no target.
    let before = legacy.file_bytes();
    fx.run(&["migrate", "up"]).ok();
    let run = fx.run(&["adopt", "--from", &fx.url, "--to", &legacy.url()]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("pierre-db database already"), "{run:?}");
    let other = Legacy::new().await;
    let run = fx.run(&["adopt", "--from", &legacy.url(), "--to", &other.url()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("is no pierre-db database"), "{run:?}");
    assert!(legacy.file_bytes() == before, "the source was written");
}

#[tokio::test]
async fn killed_mid_way_then_run_again_gives_what_one_run_gives() {
    let legacy = legacy(20_000).await;
    let fx = fixture_for(&legacy);
    let from = legacy.url();
    let mut child = fx
        .command(&["adopt", "--from", &from, "--to", &fx.url, "--batch", "100"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the first batch of users is in.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("users: 100/"), "{first}");
    child.kill().unwrap();
    child.wait().unwrap();
    let db = open(&fx.url, &legacy).await;
    assert!(
        db.users()
            .get_by_email("user1@example.org")
            .await
            .unwrap()
            .is_none()
    );
    db.close().await.unwrap();

    let rerun = fx.run(&["adopt", "--from", &from, "--to", &fx.url, "--resume"]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    let once = fx.dir.path().join("once.db");
    let once = format!("sqlite:{}", once.display());
    let run = fx.run(&["adopt", "--from", &from, "--to", &once]);
    assert_eq!(run.code, 0, "{run:?}");
    let (a, b) = (open(&fx.url, &legacy).await, open(&once, &legacy).await);
    let (rerun, one_run) = (rows(&a).await, rows(&b).await);
    // 20,002 users and Ada's token.
    assert_eq!(rerun.len(), 20_002 + 1);
    assert!(rerun == one_run, "the rerun differs from one run");
}

/// Every user (id and email) and token (id and owner), as stored.
async fn rows(db: &Database) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = db.unscoped_connection();
    let sql = "SELECT hex(id) || ' ' || email FROM users \
               UNION ALL SELECT hex(id) || ' ' || hex(user_id) FROM user_oauth_tokens \
               ORDER BY 1";
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

#[tokio::test]
async fn keys_status_shows_the_kept_legacy_key_until_its_last_credential_is_upgraded() {
    let legacy = Legacy::new().await;
    let issued = legacy.every_table().await;
    let fx = fixture_for(&legacy);
    let (code, report) = fx.json(&["adopt", "--from", &legacy.url(), "--to", &fx.url]);
    assert_eq!(code, 0, "{report}");
    let legacy_forms: Vec<&str> = report["legacy_hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["form"].as_str().unwrap())
        .collect();
    assert!(legacy_forms.contains(&"HmacSha256"), "{report}");

    let (code, status) = fx.json(&["keys", "status"]);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["legacy_hmac_key"]["kept"], true, "{status}");
    // An app secret and two refresh tokens.
    assert_eq!(status["legacy_hmac_key"]["credentials"], 3, "{status}");
    let human = fx.run(&["keys", "status"]).ok();
    assert!(
        human.stdout.contains(
            "the original server's key is kept (adopted.legacy_hmac_key) for 3 credentials"
        ),
        "{human:?}"
    );

    // Each HMAC credential checked once: the key goes with the last.
    let db = open(&fx.url, &legacy).await;
    assert!(
        db.oauth_apps()
            .verify_client_secret("app-new", issued.app_secret)
            .await
            .unwrap()
    );
    let tenant = pierre_db::TenantId::from_uuid(issued.tenant.parse().unwrap());
    let tokens = db.tenant(tenant).oauth2_refresh_tokens();
    assert!(tokens.revoke(issued.revoked_refresh).await.unwrap());
    let exchange = db.oauth2_exchange();
    let consumed = exchange
        .consume_refresh_token(issued.refresh, "mcp-client", pierre_db::chrono::Utc::now())
        .await
        .unwrap();
    assert!(consumed.is_some());
    db.close().await.unwrap();
    let (_, status) = fx.json(&["keys", "status"]);
    assert!(status["legacy_hmac_key"].is_null(), "{status}");
}
