//! Adopting a database the original server wrote: recognising the source
//! (its ledger and tables) and unlocking it (its data key), before anything
//! is written. The source is always SQLite (the original's only ledgered
//! backend), so these tests need no PostgreSQL.

mod fixture;
mod hashes;
mod moving;
mod verifying;

use pierre_db::{AdoptOptions, ConnectProblem, DatabaseError, LegacySource, MasterKey};

use fixture::Legacy;

fn refusal(err: DatabaseError) -> String {
    match err {
        DatabaseError::NotAdoptable(message) => message,
        other => panic!("expected NotAdoptable, got {other:?}"),
    }
}

async fn refused(legacy: &Legacy, options: &AdoptOptions) -> String {
    let source = LegacySource::open(&legacy.url()).await.unwrap();
    refusal(source.inspect(options).await.unwrap_err())
}

#[tokio::test]
async fn a_source_the_original_wrote_is_recognised_and_counted_without_being_written() {
    let legacy = Legacy::new().await;
    legacy.users(3).await;
    let before = legacy.file_bytes();

    let source = LegacySource::open(&legacy.url()).await.unwrap();
    let inventory = source.inspect(&AdoptOptions::new()).await.unwrap();
    // The 44 tables pierre-db manages and the original's run-time
    // `user_oauth_apps`.
    assert_eq!(inventory.tables.len(), 45, "{inventory:?}");
    let rows = |table: &str| {
        inventory
            .tables
            .iter()
            .find(|t| t.table == table)
            .map(|t| t.rows)
    };
    assert_eq!(rows("users"), Some(3));
    assert_eq!(rows("system_secrets"), Some(1));
    assert_eq!(rows("goals"), Some(0));
    assert!(inventory.later_migrations.is_empty());
    assert!(inventory.unmanaged_tables.is_empty());

    source.check_master_key(&legacy.master).await.unwrap();
    source.check_secrets(&legacy.master).await.unwrap();
    drop(source);
    assert!(legacy.file_bytes() == before, "the source was written");
}

#[tokio::test]
async fn the_ledger_must_hold_the_originals_twenty_migrations_all_successful() {
    let legacy = Legacy::new().await;
    legacy
        .sql("DELETE FROM _sqlx_migrations WHERE version = 20250120000007")
        .await;
    legacy
        .sql("UPDATE _sqlx_migrations SET success = 0 WHERE version = 20250120000012")
        .await;
    legacy.sql("ALTER TABLE goals DROP COLUMN goal_data").await;
    let message = refused(&legacy, &AdoptOptions::new()).await;
    assert!(
        message.contains("lacks the original's migration 20250120000007"),
        "{message}"
    );
    assert!(
        message.contains("migration 20250120000012 failed"),
        "{message}"
    );
    // The ledger's problems do not hide the tables'.
    assert!(
        message.contains("table goals has no column goal_data"),
        "{message}"
    );
}

#[tokio::test]
async fn later_migrations_need_the_flag_and_their_tables_are_reported() {
    let legacy = Legacy::new().await;
    legacy.ledger_row(20_260_206_000_001, true).await;
    legacy
        .sql("CREATE TABLE coaches (id TEXT PRIMARY KEY, name TEXT NOT NULL)")
        .await;
    legacy
        .sql("INSERT INTO coaches VALUES ('c1', 'Ada'), ('c2', 'Grace')")
        .await;

    let message = refused(&legacy, &AdoptOptions::new()).await;
    assert!(message.contains("20260206000001"), "{message}");
    assert!(message.contains("coaches"), "{message}");
    assert!(message.contains("skip_unmanaged_tables"), "{message}");

    let mut options = AdoptOptions::new();
    options.skip_unmanaged_tables = true;
    let source = LegacySource::open(&legacy.url()).await.unwrap();
    let inventory = source.inspect(&options).await.unwrap();
    assert_eq!(inventory.later_migrations, [20_260_206_000_001]);
    assert_eq!(inventory.unmanaged_tables.len(), 1);
    assert_eq!(inventory.unmanaged_tables[0].table, "coaches");
    assert_eq!(inventory.unmanaged_tables[0].rows, 2);
    // The 44 tables are all still there: none is dropped for the flag.
    assert_eq!(inventory.tables.len(), 45);
}

#[tokio::test]
async fn a_table_that_differs_from_its_migrations_is_named_with_the_column() {
    let legacy = Legacy::new().await;
    legacy.sql("ALTER TABLE goals DROP COLUMN goal_data").await;
    legacy
        .sql("ALTER TABLE insights ADD COLUMN mood TEXT")
        .await;
    legacy.sql("DROP TABLE recipe_ingredients").await;
    let message = refused(&legacy, &AdoptOptions::new()).await;
    assert!(
        message.contains("table goals has no column goal_data"),
        "{message}"
    );
    assert!(
        message.contains("table insights has a column mood"),
        "{message}"
    );
    assert!(
        message.contains("table recipe_ingredients is missing"),
        "{message}"
    );
    // The flag is about tables pierre-db does not manage, not about
    // managed tables that changed.
    let mut options = AdoptOptions::new();
    options.skip_unmanaged_tables = true;
    let message = refused(&legacy, &options).await;
    assert!(
        message.contains("table goals has no column goal_data"),
        "{message}"
    );
    // The row checks read what is there and skip what is not, even a
    // table with none of its columns, rather than failing.
    legacy
        .sql("DROP TABLE insights; CREATE TABLE insights (mood TEXT); INSERT INTO insights VALUES ('ok')")
        .await;
    let source = LegacySource::open(&legacy.url()).await.unwrap();
    assert!(source.check_rows().await.unwrap().unconvertible.is_empty());
    source.check_credentials().await.unwrap();
    source.check_secrets(&legacy.master).await.unwrap();
}

#[tokio::test]
async fn only_a_file_the_original_wrote_is_a_source() {
    // No ledger: some other SQLite database.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.db");
    let url = format!("sqlite://{}?mode=rwc", other.display());
    let conn = sea_orm::Database::connect(&url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&conn, "CREATE TABLE notes (id TEXT)")
        .await
        .unwrap();
    conn.close().await.unwrap();
    let source = LegacySource::open(&format!("sqlite:{}", other.display()))
        .await
        .unwrap();
    let message = refusal(source.inspect(&AdoptOptions::new()).await.unwrap_err());
    assert!(message.contains("no _sqlx_migrations ledger"), "{message}");

    // A pierre-db database is moved with `copy`, not adopted.
    let ours = dir.path().join("ours.db");
    let mut config = pierre_db::DatabaseConfig::new(
        format!("sqlite:{}", ours.display()),
        MasterKey::generate().unwrap(),
    );
    config.create_if_missing = true;
    config.migrate_on_connect = true;
    pierre_db::Database::connect_with(config)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();
    let source = LegacySource::open(&format!("sqlite:{}", ours.display()))
        .await
        .unwrap();
    let message = refusal(source.inspect(&AdoptOptions::new()).await.unwrap_err());
    assert!(message.contains("pierre-db copy"), "{message}");

    // A missing file is not created; memory and PostgreSQL are refused.
    let missing = dir.path().join("missing.db");
    let err = LegacySource::open(&format!("sqlite://{}?mode=rwc", missing.display()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DatabaseError::Connect {
                problem: ConnectProblem::MissingFile,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!missing.exists());
    let memory = refusal(LegacySource::open("sqlite::memory:").await.unwrap_err());
    assert!(memory.contains("in-memory"), "{memory}");
    let postgres = refusal(
        LegacySource::open("postgres://pierre@localhost/pierre")
            .await
            .unwrap_err(),
    );
    assert!(
        postgres.contains("PostgreSQL layer writes no migration ledger"),
        "{postgres}"
    );
}

#[tokio::test]
async fn a_wrong_legacy_master_key_is_refused_before_anything_is_written() {
    let legacy = Legacy::new().await;
    let source = LegacySource::open(&legacy.url()).await.unwrap();
    let message = refusal(
        source
            .check_master_key(&MasterKey::generate().unwrap())
            .await
            .unwrap_err(),
    );
    assert!(
        message.contains("legacy master key does not open"),
        "{message}"
    );
    assert!(
        message.contains("PIERRE_MASTER_ENCRYPTION_KEY"),
        "{message}"
    );
    source.check_master_key(&legacy.master).await.unwrap();

    legacy.sql("DELETE FROM system_secrets").await;
    let message = refusal(source.check_master_key(&legacy.master).await.unwrap_err());
    assert!(message.contains("database_encryption_key"), "{message}");
}

#[tokio::test]
async fn the_originals_tables_are_the_ones_pierre_db_manages() {
    // The DDL the fixture and the library share, against the schema this
    // crate migrates: the same 44 tables with the same columns, plus the
    // original's run-time table, whose rows become
    // `user_oauth_app_credentials` (same columns).
    let legacy = Legacy::new().await;
    let mut theirs = legacy.columns().await;
    let run_time = theirs.remove("user_oauth_apps").unwrap();
    let db = crate::common::sqlite().await;
    let ours = fixture::columns_of(db.db.unscoped_connection()).await;
    assert_eq!(ours.len(), 44);
    assert_eq!(theirs, ours);
    assert_eq!(run_time, ours["user_oauth_app_credentials"]);
}

#[tokio::test]
async fn every_legacy_ciphertext_opens_and_a_damaged_one_is_named_by_row() {
    let legacy = Legacy::new().await;
    let acme = legacy.tenant("acme").await;
    let (ada, bob) = (
        "8d2b7f0e-5a51-4c1e-9a1b-6f0c2d3e4f50",
        "1f4e5d6c-7b8a-4938-8271-605f4e3d2c1b",
    );
    let ada_token = legacy
        .oauth_token(&acme, ada, "strava", "ada-access", Some("ada-refresh"))
        .await;
    let bob_token = legacy
        .oauth_token(&acme, bob, "fitbit", "bob-access", None)
        .await;
    legacy
        .tenant_credentials(&acme, "strava", "client-secret", true)
        .await;
    legacy
        .tenant_credentials(&acme, "fitbit", "no-context-secret", false)
        .await;

    let source = LegacySource::open(&legacy.url()).await.unwrap();
    let secrets = source.check_secrets(&legacy.master).await.unwrap();
    assert_eq!(secrets.opened, 4, "{secrets:?}");
    assert_eq!(secrets.without_context, 1, "{secrets:?}");
    assert!(secrets.unreadable.is_empty(), "{secrets:?}");

    // One value altered, and Ada's access token copied into Bob's row:
    // each named by table, column and row.
    legacy
        .sql(&format!(
            "UPDATE user_oauth_tokens SET refresh_token = \
             (CASE WHEN refresh_token LIKE 'A%' THEN 'B' ELSE 'A' END) || substr(refresh_token, 2) \
             WHERE id = '{ada_token}'; \
             UPDATE user_oauth_tokens SET access_token = \
             (SELECT access_token FROM user_oauth_tokens WHERE id = '{ada_token}') \
             WHERE id = '{bob_token}'"
        ))
        .await;
    let secrets = source.check_secrets(&legacy.master).await.unwrap();
    let mut named: Vec<(&str, &str, &str)> = secrets
        .unreadable
        .iter()
        .map(|u| (u.table, u.column, u.key.as_str()))
        .collect();
    named.sort();
    let mut expected = vec![
        ("user_oauth_tokens", "access_token", bob_token.as_str()),
        ("user_oauth_tokens", "refresh_token", ada_token.as_str()),
    ];
    expected.sort();
    assert_eq!(named, expected, "{secrets:?}");
    assert_eq!(secrets.opened + secrets.without_context, 3);
    assert!(secrets.unreadable.iter().all(|u| !u.reason.contains("ada")));

    // A wrong master key opens nothing and says so.
    let message = refusal(
        source
            .check_secrets(&MasterKey::generate().unwrap())
            .await
            .unwrap_err(),
    );
    assert!(message.contains("legacy master key"), "{message}");
}

#[tokio::test]
async fn every_cell_is_judged_and_what_does_not_convert_is_named_by_row() {
    let legacy = Legacy::new().await;
    legacy.users(2).await;
    let acme = legacy.tenant("acme").await;
    let ada = "8d2b7f0e-5a51-4c1e-9a1b-6f0c2d3e4f50";
    legacy
        .oauth_token(&acme, ada, "strava", "a", Some("r"))
        .await;
    // NULL ids, as the original wrote them.
    legacy.tenant_credentials(&acme, "strava", "s", true).await;
    legacy.tenant_credentials(&acme, "fitbit", "s", true).await;
    let source = LegacySource::open(&legacy.url()).await.unwrap();
    let clean = source.check_rows().await.unwrap();
    assert!(clean.unconvertible.is_empty(), "{clean:?}");
    // Three users (one the tenant's owner), the tenant, the token, two
    // credentials and the data key row.
    assert_eq!(clean.rows, 8, "{clean:?}");
    assert_eq!(clean.new_ids, 2, "{clean:?}");
    assert!(clean.mapped_ids.is_empty(), "{clean:?}");

    // An A2A client with the original's prefixed id is mapped, not refused.
    legacy
        .sql(&format!(
            "INSERT INTO a2a_clients (id, user_id, name, public_key, client_secret, permissions, \
             created_at, updated_at) VALUES ('a2a_client_{ada}', \
             (SELECT id FROM users WHERE email = 'user0@example.org'), 'bot', 'pk', \
             'a2a_secret_x', '[\"read\"]', '2025-01-01 00:00:00', '2025-01-01 00:00:00')"
        ))
        .await;
    // A malformed UUID, an unknown enum value (past the original's CHECK,
    // as a hand edit would be) and a time that is no time.
    legacy
        .sql(&format!(
            "UPDATE users SET id = 'user-7' WHERE email = 'user1@example.org'; \
             PRAGMA ignore_check_constraints = ON; \
             UPDATE users SET tier = 'gold' WHERE email = 'user0@example.org'; \
             UPDATE user_oauth_tokens SET expires_at = 'soon' WHERE user_id = '{ada}'; \
             INSERT INTO user_oauth_apps (id, user_id, provider, client_id, client_secret, \
             redirect_uri, created_at) SELECT '{ada}', id, 'strava', 'c', 's', \
             'https://app.example/cb', 'later' FROM users WHERE email = 'user0@example.org'"
        ))
        .await;
    let found = source.check_rows().await.unwrap();
    // The mapping is in the report, and the same in every run.
    assert_eq!(found.mapped_ids.len(), 1, "{found:?}");
    let mapped = &found.mapped_ids[0];
    assert_eq!(
        (mapped.table.as_str(), mapped.old.clone()),
        ("a2a_clients", format!("a2a_client_{ada}"))
    );
    assert_eq!(mapped.new.get_version_num(), 8);
    assert_eq!(
        source.check_rows().await.unwrap().mapped_ids,
        found.mapped_ids
    );
    let mut named: Vec<(&str, &str)> = found
        .unconvertible
        .iter()
        .map(|c| (c.table.as_str(), c.column.as_str()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("user_oauth_apps", "created_at"),
            ("user_oauth_tokens", "expires_at"),
            ("users", "id"),
            ("users", "tier")
        ],
        "{found:?}"
    );
    let bad_id = found
        .unconvertible
        .iter()
        .find(|c| c.column == "id")
        .unwrap();
    assert_eq!(bad_id.row, "user-7");
    let tier = found
        .unconvertible
        .iter()
        .find(|c| c.column == "tier")
        .unwrap();
    assert!(tier.reason.contains("\"gold\" is none of"), "{tier:?}");
}

#[tokio::test]
async fn every_credential_is_classified_by_form_and_an_unknown_one_is_named() {
    use pierre_db::CredentialForm::{HmacSha256, Plaintext, Sha256Hex};
    let legacy = Legacy::new().await;
    legacy.users(1).await;
    let owner = "(SELECT id FROM users WHERE email = 'user0@example.org')";
    let hmac = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([9u8; 32])
    };
    legacy
        .sql(&format!(
            "INSERT INTO api_keys (id, user_id, name, key_hash, key_prefix, tier, created_at) VALUES \
             ('k1', {owner}, 'a', '{hex}', 'pk_live_aaaa', 'starter', '2025-01-01 00:00:00'), \
             ('k2', {owner}, 'b', 'NOT-A-HASH', 'pk_live_bbbb', 'starter', '2025-01-01 00:00:00'); \
             INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uris, \
             scopes, owner_user_id, created_at, updated_at) VALUES \
             ('a1', 'c1', '{hmac}', 'new era', '[]', '[]', {owner}, '2025-01-01 00:00:00', \
             '2025-01-01 00:00:00'), \
             ('a2', 'c2', 'plain-old-secret', 'old era', '[]', '[]', {owner}, \
             '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
            hex = "0f".repeat(32),
        ))
        .await;
    let source = LegacySource::open(&legacy.url()).await.unwrap();
    let found = source.check_credentials().await.unwrap();
    let counts: Vec<(&str, pierre_db::CredentialForm, u64)> = found
        .counts
        .iter()
        .map(|c| (c.column.as_str(), c.form, c.rows))
        .collect();
    assert_eq!(
        counts,
        [
            ("api_keys.key_hash", Sha256Hex, 1),
            ("oauth_apps.client_secret_hash", Plaintext, 1),
            ("oauth_apps.client_secret_hash", HmacSha256, 1),
        ],
        "{found:?}"
    );
    assert_eq!(found.unknown.len(), 1, "{found:?}");
    assert_eq!(found.unknown[0].row, "k2");
    assert_eq!(found.unknown[0].column, "key_hash");
    // The value itself is never in the report.
    assert!(!format!("{found:?}").contains("NOT-A-HASH"));
    assert!(!format!("{found:?}").contains("plain-old-secret"));
}
