//! What a new application developer meets first: the quickstart's errors,
//! an unmigrated database, an unreachable server, malformed configuration.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pierre_db::{ConnectProblem, Database, DatabaseConfig, DatabaseError, MasterKey};

use crate::common;

/// The quickstart example, which `cargo test` (the README's command, not
/// `cargo test --test it` alone) builds beside this binary.
fn quickstart() -> Option<PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let exe = deps.parent()?.join("examples").join("quickstart");
    exe.exists().then_some(exe)
}

#[test]
fn the_quickstart_reports_a_wrong_master_key_in_words() {
    let Some(exe) = quickstart() else {
        panic!("the quickstart example was not built: run `cargo test --workspace --all-features`");
    };
    let dir = tempfile::tempdir().unwrap();
    let first = Command::new(&exe)
        .current_dir(dir.path())
        .env_remove(pierre_db::ENV_MASTER_KEY)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );

    let wrong = MasterKey::generate().unwrap().to_base64();
    let second = Command::new(&exe)
        .current_dir(dir.path())
        .env(pierre_db::ENV_MASTER_KEY, &wrong)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: ") && stderr.contains("is not this database's master key"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Crypto("),
        "the Debug form leaked: {stderr}"
    );
    assert!(!stderr.contains(&wrong), "the key leaked: {stderr}");
}

#[tokio::test]
async fn connecting_to_an_unmigrated_database_says_how_to_migrate() {
    let dir = tempfile::tempdir().unwrap();
    // `mode=rwc`: an empty new file, as a first connect before `migrate up`.
    let mut urls = vec![format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("fresh.db").display()
    )];
    urls.extend(common::new_postgres_database().await);
    for url in urls {
        let key = common::key();
        let err = Database::connect(&url, key.clone()).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::NotMigrated { pending } if pending == common::MIGRATIONS),
            "{url}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("{} migration(s) pending", common::MIGRATIONS)),
            "{message}"
        );
        assert!(
            message.contains("cargo run -p migration -- up"),
            "{message}"
        );
        assert!(message.contains("migrate_on_connect"), "{message}");

        // Opting out connects; migrating then makes a plain connect work.
        let mut config = DatabaseConfig::new(&url, key.clone());
        config.require_migrated = false;
        let db = Database::connect_with(config).await.unwrap();
        assert_eq!(
            db.health().await.unwrap().pending_migrations,
            common::MIGRATIONS
        );
        let sealing = db
            .system_secrets()
            .put("session_key", pierre_db::Secret::new("s3cret"))
            .await
            .unwrap_err();
        assert!(
            matches!(sealing, DatabaseError::NotMigrated { pending } if pending == common::MIGRATIONS),
            "{url}: {sealing:?}"
        );
        db.migrate().await.unwrap();
        let again = Database::connect(&url, key).await.unwrap();
        assert_eq!(again.health().await.unwrap().pending_migrations, 0);
    }
}

#[tokio::test]
async fn an_unreachable_postgres_fails_fast_with_its_cause() {
    if !cfg!(feature = "postgres") {
        return;
    }
    for (url, problem) in [
        // Nothing listens on port 1.
        (
            "postgres://nobody@127.0.0.1:1/none",
            ConnectProblem::Unreachable,
        ),
        // `.invalid` never resolves (RFC 2606).
        (
            "postgres://nobody@db.invalid:5432/none",
            ConnectProblem::Unreachable,
        ),
    ] {
        let mut config = DatabaseConfig::new(url, common::key());
        config.connect_timeout = Duration::from_secs(3);
        let started = Instant::now();
        let err = Database::connect_with(config).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{url}: took {:?}",
            started.elapsed()
        );
        match &err {
            DatabaseError::Connect {
                backend: "postgres",
                problem: got,
                detail,
            } => {
                assert_eq!(*got, problem, "{url}: {err}");
                assert!(!detail.is_empty());
            }
            other => panic!("{url}: expected Connect, got {other:?}"),
        }
        assert!(err.to_string().contains("host and port"), "{err}");
    }

    // A server that answers, asked for a database it does not have.
    if let Some(url) = common::new_postgres_database().await {
        let (server, _) = url.rsplit_once('/').unwrap();
        let missing = format!("{server}/pierre_no_such_database");
        let err = Database::connect(&missing, common::key())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                DatabaseError::Connect {
                    problem: ConnectProblem::MissingDatabase,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("createdb"), "{err}");
    }
}

#[test]
fn a_bad_master_key_variable_is_named_once_with_one_prefix() {
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", "sqlite:data/p.db"),
        (pierre_db::ENV_MASTER_KEY, "not base64!"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let message = DatabaseConfig::from_vars(&vars).unwrap_err().to_string();
    assert_eq!(
        message,
        "configuration error: PIERRE_MASTER_ENCRYPTION_KEY: the master key is not valid standard base64"
    );
}

#[test]
fn a_bare_path_is_answered_with_the_url_to_write() {
    let err = pierre_db::Backend::from_url("data/x.db").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("is a path, not a database URL")
            && message.contains("\"sqlite:data/x.db\""),
        "{message}"
    );
    let err = pierre_db::Backend::from_url("mysql://localhost/db").unwrap_err();
    assert!(err.to_string().contains("scheme \"mysql\""), "{err}");
}

#[tokio::test]
async fn conflicts_and_foreign_keys_name_their_columns_without_values() {
    for t in common::databases().await {
        let b = t.backend;
        let users = t.db.users();
        let ada = users
            .create(pierre_db::NewUser::new("ada@example.org", "h"))
            .await
            .unwrap();
        let err = users
            .create(pierre_db::NewUser::new("ada@example.org", "h"))
            .await
            .unwrap_err();
        match &err {
            DatabaseError::Conflict { table, columns } => {
                assert_eq!(table.as_deref(), Some("users"), "{b}");
                assert_eq!(columns, &["email"], "{b}");
            }
            other => panic!("{b}: expected Conflict, got {other:?}"),
        }
        assert_eq!(err.to_string(), "conflict: users(email) is already taken");

        let tenants = t.db.tenants();
        let mut acme = pierre_db::NewTenant::new("Acme", "acme", ada.id);
        acme.domain = Some("acme.example.org".into());
        tenants.create(acme).await.unwrap();
        let mut same_slug = pierre_db::NewTenant::new("Acme 2", "acme", ada.id);
        same_slug.domain = Some("other.example.org".into());
        let mut same_domain = pierre_db::NewTenant::new("Acme 3", "acme-3", ada.id);
        same_domain.domain = Some("acme.example.org".into());
        for (new, column) in [(same_slug, "slug"), (same_domain, "domain")] {
            match tenants.create(new).await.unwrap_err() {
                DatabaseError::Conflict { table, columns } => {
                    assert_eq!(table.as_deref(), Some("tenants"), "{b}");
                    assert_eq!(columns, [column], "{b}");
                }
                other => panic!("{b}: expected Conflict on {column}, got {other:?}"),
            }
        }

        let ghost = pierre_db::UserId::new();
        let err = tenants
            .create(pierre_db::NewTenant::new("Ghost", "ghost", ghost))
            .await
            .unwrap_err();
        match &err {
            DatabaseError::ForeignKey { table, columns } => {
                assert_eq!(table.as_deref(), Some("tenants"), "{b}");
                assert_eq!(columns, &["owner_user_id"], "{b}");
            }
            other => panic!("{b}: expected ForeignKey, got {other:?}"),
        }
        let message = err.to_string();
        assert!(message.contains("tenants(owner_user_id)"), "{message}");
        assert!(!message.contains(&ghost.to_string()), "{message}");
        assert!(
            t.db.tenants().get_by_slug("ghost").await.unwrap().is_none(),
            "{b}: nothing written"
        );
    }
}
