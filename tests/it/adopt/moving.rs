//! Adopting: every row of a source the original wrote moves into a
//! pierre-db database, and reads back through the library's API.

use pierre_db::{AdoptOptions, DatabaseError, LegacySource, OauthProvider, TenantId, UserId};

use super::fixture::Legacy;
use crate::common;

fn uuid(text: &str) -> pierre_db::uuid::Uuid {
    pierre_db::uuid::Uuid::parse_str(text).unwrap()
}

/// A source with a row of each kind adoption treats apart: sealed values
/// with and without context, secrets in clear, prefixed and NULL ids,
/// comma-joined scopes, duplicated tenant defaults, both time forms, an
/// email in capitals, a user whose tenant loads after it.
struct Source {
    legacy: Legacy,
    acme: String,
    ada: String,
    bob: String,
    a2a_client: String,
}

async fn source() -> Source {
    let legacy = Legacy::new().await;
    let acme = legacy.tenant("acme").await;
    let ada = legacy.user("Ada@Example.org", Some(&acme)).await;
    let bob = legacy.user("bob@example.org", None).await;
    legacy
        .oauth_token(&acme, &ada, "strava", "ada-access", Some("ada-refresh"))
        .await;
    legacy
        .oauth_token(&acme, &bob, "fitbit", "bob-access", None)
        .await;
    legacy
        .tenant_credentials(&acme, "strava", "client-secret", true)
        .await;
    legacy
        .tenant_credentials(&acme, "fitbit", "no-context-secret", false)
        .await;
    let a2a_client = format!("a2a_client_{}", pierre_db::uuid::Uuid::new_v4());
    let session = format!("sess_{}", pierre_db::uuid::Uuid::new_v4());
    legacy
        .sql(&format!(
            "INSERT INTO system_secrets (secret_type, secret_value, created_at, updated_at) \
             VALUES ('admin_jwt_secret', 'jwt-secret', '2025-06-01 10:00:00', \
             '2025-06-01T10:00:00+00:00'); \
             INSERT INTO rsa_keypairs (kid, private_key_pem, public_key_pem, created_at, \
             is_active, key_size_bits) VALUES ('key_20250601_100000', 'PRIVATE PEM', \
             'PUBLIC PEM', '2025-06-01T10:00:00+00:00', 1, 2048); \
             INSERT INTO fitness_configurations (id, tenant_id, user_id, configuration_name, \
             config_data, created_at, updated_at) VALUES \
             (NULL, '{acme}', NULL, 'zones', '{{\"v\":1}}', '2025-01-01T00:00:00+00:00', \
             '2025-01-01T00:00:00+00:00'), \
             (NULL, '{acme}', NULL, 'zones', '{{\"v\":2}}', '2025-01-01T00:00:00+00:00', \
             '2025-02-01T00:00:00+00:00'), \
             (NULL, '{acme}', NULL, 'zones', '{{\"v\":3}}', '2025-01-01T00:00:00+00:00', \
             '2025-01-15T00:00:00+00:00'); \
             INSERT INTO user_oauth_apps (id, user_id, provider, client_id, client_secret, \
             redirect_uri, created_at, updated_at) VALUES ('{app}', '{bob}', 'strava', \
             'bob-client', 'bob-app-secret', 'https://bob.example/cb', '2025-05-05 05:05:05', \
             '2025-05-05 05:05:05'); \
             INSERT INTO a2a_clients (id, user_id, name, public_key, client_secret, \
             permissions, capabilities, redirect_uris, rate_limit_requests, \
             rate_limit_window_seconds, is_active, created_at, updated_at) VALUES \
             ('{a2a_client}', '{ada}', 'agent', 'PUBLIC', 'a2a_secret_{secret}', '[\"read\"]', \
             '[]', '[]', 100, 60, 1, '2025-03-01T08:00:00+00:00', '2025-03-01T08:00:00+00:00'); \
             INSERT INTO a2a_sessions (session_token, client_id, user_id, granted_scopes, \
             expires_at, last_activity, created_at, requests_count) VALUES ('{session}', \
             '{a2a_client}', '{ada}', 'read,write', '2030-01-01T00:00:00+00:00', \
             '2025-03-02 08:00:00', '2025-03-01T08:00:00+00:00', 3); \
             INSERT INTO a2a_usage (id, client_id, session_token, timestamp, tool_name, \
             status_code, protocol_version, client_capabilities, granted_scopes) VALUES \
             (NULL, '{a2a_client}', '{session}', '2025-03-01T08:00:01.5+00:00', 'search', 200, \
             '1.0', '[]', '[\"read\"]')",
            app = pierre_db::uuid::Uuid::new_v4(),
            secret = pierre_db::uuid::Uuid::new_v4(),
        ))
        .await;
    Source {
        legacy,
        acme,
        ada,
        bob,
        a2a_client,
    }
}

#[tokio::test]
async fn every_row_moves_and_every_secret_reads_back_through_the_library() {
    for t in common::databases().await {
        let s = source().await;
        let before = s.legacy.file_bytes();
        let source = LegacySource::open(&s.legacy.url()).await.unwrap();
        let report = source
            .adopt(&t.db, &s.legacy.master, &AdoptOptions::new())
            .await
            .unwrap();
        drop(source);
        assert!(s.legacy.file_bytes() == before, "the source was written");
        let (acme, ada, bob) = (
            TenantId::from_uuid(uuid(&s.acme)),
            UserId::from_uuid(uuid(&s.ada)),
            UserId::from_uuid(uuid(&s.bob)),
        );

        // The email is stored the way the library stores one; the tenant
        // that loads after its user is the user's.
        let user = t.db.users().get_by_email("ada@example.org").await.unwrap();
        let user = user.unwrap_or_else(|| panic!("{}: Ada is not there", t.backend));
        assert_eq!(user.tenant_id, Some(acme), "{}", t.backend);

        let tokens = t.db.tenant(acme).oauth_tokens();
        let token = tokens
            .get(ada, OauthProvider::Strava)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.access_token.expose(), "ada-access");
        assert_eq!(token.refresh_token.unwrap().expose(), "ada-refresh");
        let token = tokens
            .get(bob, OauthProvider::Fitbit)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.access_token.expose(), "bob-access");
        assert!(token.refresh_token.is_none());

        let credentials = t.db.tenant(acme).oauth_credentials();
        let strava = credentials
            .get(OauthProvider::Strava)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(strava.client_secret.expose(), "client-secret");
        let fitbit = credentials
            .get(OauthProvider::Fitbit)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fitbit.client_secret.expose(), "no-context-secret");

        let jwt = t.db.system_secrets().get("admin_jwt_secret").await.unwrap();
        assert_eq!(jwt.unwrap().expose(), "jwt-secret");
        let keys = t.db.rsa_keys().load_all().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].private_key_pem.expose(), "PRIVATE PEM");

        let app = t.db.user_oauth_apps().get(bob, OauthProvider::Strava).await;
        let app = app.unwrap().unwrap();
        assert_eq!(app.client_secret.expose(), "bob-app-secret");
        assert_eq!(app.client_id, "bob-client");

        // Of three tenant defaults with one name, the last updated is kept
        // and the others are reported.
        let scope = t.db.tenant(acme);
        let zones = scope.fitness_configs().get_tenant_default("zones").await;
        let zones = zones.unwrap().unwrap();
        assert_eq!(zones.data, serde_json::json!({"v": 2}));
        let replaced: Vec<_> = report
            .left_behind
            .iter()
            .filter(|c| c.table == "fitness_configurations")
            .collect();
        assert_eq!(replaced.len(), 2, "{:?}", report.left_behind);
        assert!(replaced[0].reason.contains("updated later"), "{replaced:?}");
        assert!(
            report
                .left_behind
                .iter()
                .any(|c| c.table == "system_secrets" && c.reason.contains("data key")),
            "{:?}",
            report.left_behind
        );

        // The prefixed id got a UUID, and the session that refers to it
        // followed.
        let mapped = report
            .mapped_ids
            .iter()
            .find(|m| m.old == s.a2a_client)
            .unwrap();
        assert_eq!(mapped.table, "a2a_clients");
        let client = pierre_db::A2aClientId::from_uuid(mapped.new);
        let agent = t.db.a2a_clients().get(ada, client).await.unwrap();
        assert_eq!(agent.name, "agent");
        let sessions = t.db.a2a_sessions().list_active(ada, client).await.unwrap();
        assert_eq!(sessions.len(), 1, "{}", t.backend);
        assert_eq!(sessions[0].granted_scopes, ["read", "write"]);
        // NULL ids: the tenant credentials, the usage row and the fitness
        // default kept.
        assert_eq!(report.new_ids, 2 + 1 + 1, "{report:?}");
        let hashed: Vec<&str> = report.hashed.iter().map(|c| c.column.as_str()).collect();
        for column in [
            "a2a_clients.client_secret",
            "a2a_sessions.session_token",
            "a2a_usage.session_token",
        ] {
            assert!(hashed.contains(&column), "{column} not in {hashed:?}");
        }
        let sealed: u64 = report.sealed.iter().map(|c| c.rows).sum();
        // Three tokens, two tenant secrets, the JWT secret, the RSA key,
        // Bob's app secret.
        assert_eq!(sealed, 8, "{:?}", report.sealed);

        // Every row is accounted for.
        every_row_accounted_for(&report);
        let users = report.tables.iter().find(|t| t.table == "users").unwrap();
        assert_eq!(users.moved, 3);

        let verified =
            t.db.security()
                .verify(100, |_| std::ops::ControlFlow::Continue(()))
                .await;
        let verified = verified.unwrap();
        assert!(verified.unreadable.is_empty(), "{:?}", verified.unreadable);
        // The eight sealed values and the target's data key.
        assert_eq!(verified.checked, 9, "{}", t.backend);

        // A second adoption into the same database is refused.
        let source = LegacySource::open(&s.legacy.url()).await.unwrap();
        let err = source
            .adopt(&t.db, &s.legacy.master, &AdoptOptions::new())
            .await
            .unwrap_err();
        match err {
            DatabaseError::NotAdoptable(message) => {
                assert!(message.contains("adopted into already"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The rows of every table of `db`, by table (to show nothing changed).
async fn counts(db: &pierre_db::Database) -> Vec<(String, usize)> {
    let mut counts = Vec::new();
    for table in [
        "users",
        "tenants",
        "user_oauth_tokens",
        "system_secrets",
        "system_settings",
    ] {
        let rows = common::text_column(db, &format!("SELECT 'x' FROM {table}")).await;
        counts.push((table.to_owned(), rows.len()));
    }
    counts
}

/// Each source row was moved, quarantined or left behind.
fn every_row_accounted_for(report: &pierre_db::AdoptionReport) {
    for table in &report.tables {
        assert_eq!(
            table.source_rows,
            table.moved + table.quarantined + table.left_behind,
            "{table:?}"
        );
    }
}

/// The message of an adoption with the default options that is refused.
async fn refused(
    source: &LegacySource,
    db: &pierre_db::Database,
    key: &pierre_db::MasterKey,
) -> String {
    refusal(
        source
            .adopt(db, key, &AdoptOptions::new())
            .await
            .unwrap_err(),
    )
}

fn refusal(err: DatabaseError) -> String {
    match err {
        DatabaseError::NotAdoptable(message) => message,
        other => panic!("expected NotAdoptable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_value_that_does_not_convert_writes_nothing_unless_quarantined() {
    for t in common::databases().await {
        let s = source().await;
        let carl = s.legacy.user("carl@example.org", None).await;
        let dan = s.legacy.user("dan@example.org", None).await;
        let token = s
            .legacy
            .oauth_token(&s.acme, &carl, "strava", "carl-access", None)
            .await;
        // A tampered ciphertext, a malformed id, an unknown enum value,
        // and rows that refer to the malformed one.
        s.legacy
            .sql(&format!(
                "PRAGMA foreign_keys = OFF; \
                 UPDATE user_oauth_tokens SET access_token = \
                 (CASE WHEN access_token LIKE 'A%' THEN 'B' ELSE 'A' END) || substr(access_token, 2) \
                 WHERE id = '{token}'; \
                 PRAGMA ignore_check_constraints = ON; \
                 UPDATE users SET tier = 'gold' WHERE id = '{dan}'; \
                 UPDATE users SET id = 'user-7' WHERE email = 'bob@example.org'; \
                 UPDATE user_oauth_tokens SET user_id = 'user-7' WHERE user_id = '{}'; \
                 UPDATE user_oauth_apps SET user_id = 'user-7' WHERE user_id = '{}'; \
                 INSERT INTO system_settings (key, value, created_at, updated_at) VALUES \
                 ('Registration.Open', 'true', '2025-01-01 00:00:00', '2025-01-01 00:00:00')",
                s.bob, s.bob
            ))
            .await;
        let before = counts(&t.db).await;
        let source = LegacySource::open(&s.legacy.url()).await.unwrap();
        let message = refused(&source, &t.db, &s.legacy.master).await;
        for named in [
            format!("user_oauth_tokens.access_token of {token}: does not open"),
            format!("users.tier of {dan}: \"gold\" is none of"),
            "users.id of user-7: \"user-7\" is not a UUID".to_owned(),
            // A key the library could not reach the row by.
            "system_settings.key of Registration.Open: ".to_owned(),
            "nothing was written".to_owned(),
        ] {
            assert!(message.contains(&named), "{named:?} not in {message}");
        }
        assert_eq!(counts(&t.db).await, before, "{}", t.backend);

        // Quarantined: those rows are left out and listed (a row that
        // refers to one is left out too); the rest moves.
        let report = source
            .adopt(
                &t.db,
                &s.legacy.master,
                &AdoptOptions::new().quarantine(true),
            )
            .await
            .unwrap();
        let listed: Vec<(&str, &str)> = report
            .quarantined
            .iter()
            .map(|c| (c.table.as_str(), c.column.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                ("users", "id"),
                ("users", "tier"),
                ("system_settings", "key"),
                ("user_oauth_tokens", "user_id"),
                ("user_oauth_tokens", "access_token"),
                ("user_oauth_apps", "user_id"),
            ],
            "{:?}",
            report.quarantined
        );
        let users = report.tables.iter().find(|t| t.table == "users").unwrap();
        assert_eq!((users.moved, users.quarantined), (3, 2), "{users:?}");
        assert!(
            t.db.users()
                .get_by_email("carl@example.org")
                .await
                .unwrap()
                .is_some()
        );
        let verified =
            t.db.security()
                .verify(100, |_| std::ops::ControlFlow::Continue(()))
                .await;
        assert!(verified.unwrap().unreadable.is_empty());
    }
}

#[tokio::test]
async fn rows_that_refer_to_a_quarantined_row_are_left_out_with_it() {
    for t in common::databases().await {
        let s = source().await;
        // Ada owns the A2A client, whose session and usage refer to it.
        s.legacy
            .sql(&format!(
                "PRAGMA ignore_check_constraints = ON; \
                 UPDATE users SET tier = 'gold' WHERE id = '{}'",
                s.ada
            ))
            .await;
        let source = LegacySource::open(&s.legacy.url()).await.unwrap();
        let report = source
            .adopt(
                &t.db,
                &s.legacy.master,
                &AdoptOptions::new().quarantine(true),
            )
            .await
            .unwrap();
        let listed: Vec<(&str, &str, &str)> = report
            .quarantined
            .iter()
            .map(|c| (c.table.as_str(), c.column.as_str(), c.reason.as_str()))
            .filter(|(_, _, reason)| reason.contains("left out"))
            .collect();
        let tables: Vec<&str> = listed.iter().map(|(table, ..)| *table).collect();
        assert_eq!(
            tables,
            [
                "user_oauth_tokens",
                "a2a_clients",
                "a2a_sessions",
                "a2a_sessions",
                "a2a_usage",
                "a2a_usage",
            ],
            "{listed:?}"
        );
        // Ada's home tenant is still there, and so is everything else.
        every_row_accounted_for(&report);
        assert!(
            t.db.users()
                .get_by_email("ada@example.org")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            t.db.users()
                .get_by_email("bob@example.org")
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test]
async fn a_target_with_rows_of_its_own_is_refused() {
    for t in common::databases().await {
        let s = source().await;
        common::user(&t, "already@example.org").await;
        let source = LegacySource::open(&s.legacy.url()).await.unwrap();
        let message = refused(&source, &t.db, &s.legacy.master).await;
        assert!(
            message.contains("the target is not empty (users 1)"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn later_migrations_are_adopted_only_with_the_flag_and_their_tables_reported() {
    for t in common::databases().await {
        let s = source().await;
        s.legacy.ledger_row(20_260_206_000_001, true).await;
        s.legacy
            .sql(
                "CREATE TABLE coaches (id TEXT PRIMARY KEY, name TEXT NOT NULL); \
                 INSERT INTO coaches VALUES ('c1', 'Ada'), ('c2', 'Grace')",
            )
            .await;
        let source = LegacySource::open(&s.legacy.url()).await.unwrap();
        let before = counts(&t.db).await;
        let message = refused(&source, &t.db, &s.legacy.master).await;
        assert!(message.contains("later migration(s)"), "{message}");
        assert_eq!(counts(&t.db).await, before, "{}", t.backend);

        let options = AdoptOptions::new().skip_unmanaged_tables(true);
        let report = source
            .adopt(&t.db, &s.legacy.master, &options)
            .await
            .unwrap();
        let unmanaged: Vec<(&str, u64)> = report
            .unmanaged_tables
            .iter()
            .map(|t| (t.table.as_str(), t.rows))
            .collect();
        assert_eq!(unmanaged, [("coaches", 2)]);
        every_row_accounted_for(&report);
        assert!(
            t.db.users()
                .get_by_email("ada@example.org")
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test]
async fn a_wrong_legacy_master_key_adopts_nothing() {
    for t in common::databases().await {
        let s = source().await;
        let before = counts(&t.db).await;
        let source = LegacySource::open(&s.legacy.url()).await.unwrap();
        let wrong = pierre_db::MasterKey::generate().unwrap();
        let message = refused(&source, &t.db, &wrong).await;
        assert!(
            message.contains("legacy master key does not open"),
            "{message}"
        );
        assert_eq!(counts(&t.db).await, before, "{}", t.backend);
    }
}

#[tokio::test]
async fn two_rows_that_normalise_to_one_email_are_named_not_collided() {
    for t in common::databases().await {
        let s = source().await;
        // The original compared emails as written.
        s.legacy.user("ADA@example.org", None).await;
        let source = LegacySource::open(&s.legacy.url()).await.unwrap();
        let message = refused(&source, &t.db, &s.legacy.master).await;
        assert!(
            message.contains("users.email of ") && message.contains("\"ada@example.org\""),
            "{message}"
        );
        let options = AdoptOptions::new().quarantine(true);
        let report = source
            .adopt(&t.db, &s.legacy.master, &options)
            .await
            .unwrap();
        let users = report.tables.iter().find(|t| t.table == "users").unwrap();
        assert_eq!((users.moved, users.quarantined), (3, 1), "{users:?}");
    }
}

#[tokio::test]
async fn the_source_is_adopted_as_of_one_moment() {
    let t = common::sqlite().await;
    let s = source().await;
    // The original's file in WAL mode, as a running server keeps it: a
    // writer does not wait for the adoption's read.
    s.legacy.sql("PRAGMA journal_mode = WAL").await;
    let url = s.legacy.url();
    let bob = s.bob.clone();
    let mut wrote = false;
    let source = LegacySource::open(&url).await.unwrap();
    let report = source
        .adopt_with_progress(
            &t.db,
            &s.legacy.master,
            &AdoptOptions::new(),
            |table, _, _| {
                if table != "users" || wrote {
                    return;
                }
                wrote = true;
                // While users are being read, the server adds a user and an
                // app of that user, in a table read later.
                let (url, bob) = (url.clone(), bob.clone());
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async move {
                        let conn = sea_orm::Database::connect(url).await.unwrap();
                        let late = pierre_db::uuid::Uuid::new_v4();
                        sea_orm::ConnectionTrait::execute_unprepared(
                            &conn,
                            &format!(
                                "INSERT INTO users (id, email, password_hash, created_at, \
                             last_active) VALUES ('{late}', 'late@example.org', 'x', \
                             '2025-03-01T08:00:00+00:00', '2025-03-01 08:00:00'); \
                             INSERT INTO user_oauth_apps (id, user_id, provider, client_id, \
                             client_secret, redirect_uri) VALUES ('{}', '{late}', 'garmin', \
                             'c', 's', 'https://late.example/cb'); \
                             DELETE FROM user_oauth_apps WHERE user_id = '{bob}'",
                                pierre_db::uuid::Uuid::new_v4()
                            ),
                        )
                        .await
                        .unwrap();
                        conn.close().await.unwrap();
                    });
                })
                .join()
                .unwrap();
            },
        )
        .await
        .unwrap();
    assert!(wrote);
    // Nothing written after the moment is adopted, and nothing of that
    // moment is lost: the app deleted meanwhile is there.
    assert!(
        t.db.users()
            .get_by_email("late@example.org")
            .await
            .unwrap()
            .is_none()
    );
    let bob = UserId::from_uuid(uuid(&s.bob));
    let app = t.db.user_oauth_apps().get(bob, OauthProvider::Strava).await;
    assert!(app.unwrap().is_some());
    every_row_accounted_for(&report);
}
