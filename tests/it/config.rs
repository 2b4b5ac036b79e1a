//! URL detection, configuration from the environment, and their errors.

use std::collections::HashMap;
use std::time::Duration;

use pierre_db::{Backend, DatabaseConfig, DatabaseError, MasterKey};

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn base() -> Vec<(&'static str, String)> {
    vec![
        (
            "DATABASE_URL",
            "sqlite://data/pierre.db?mode=rwc".to_owned(),
        ),
        (
            "PIERRE_MASTER_ENCRYPTION_KEY",
            MasterKey::generate().unwrap().to_base64(),
        ),
    ]
}

fn with(extra: &[(&'static str, &str)]) -> HashMap<String, String> {
    let mut all: HashMap<String, String> =
        base().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    for (k, v) in extra {
        all.insert(k.to_string(), v.to_string());
    }
    all
}

fn config_error(result: Result<DatabaseConfig, DatabaseError>) -> String {
    match result {
        Err(DatabaseError::Config(message)) => message,
        Err(other) => panic!("expected a Config error, got {other:?}"),
        Ok(_) => panic!("expected a Config error, got a config"),
    }
}

#[test]
fn url_detection() {
    assert_eq!(
        Backend::from_url("sqlite::memory:").unwrap(),
        Backend::SqliteMemory
    );
    assert_eq!(
        Backend::from_url("sqlite:./data/pierre.db").unwrap(),
        Backend::SqliteFile("./data/pierre.db".into())
    );
    assert_eq!(
        Backend::from_url("sqlite:///var/lib/pierre.db?mode=rwc").unwrap(),
        Backend::SqliteFile("/var/lib/pierre.db".into())
    );
    assert_eq!(
        Backend::from_url("sqlite://relative.db").unwrap(),
        Backend::SqliteFile("relative.db".into())
    );
    for url in [
        "postgres://u@localhost/db",
        "postgresql://u@localhost:5433/db?sslmode=disable",
    ] {
        let detected = Backend::from_url(url);
        if cfg!(feature = "postgres") {
            assert_eq!(detected.unwrap(), Backend::Postgres, "{url}");
        } else {
            let message = config_error(detected.map(|_| unreachable!()));
            assert!(message.contains("`postgres` feature"), "{message}");
        }
    }
}

#[test]
fn unsupported_urls_list_the_supported_forms() {
    for url in [
        "mysql://localhost/db",
        "http://example.org",
        "",
        "pierre.db",
        "sqlite:",
    ] {
        let message = match Backend::from_url(url) {
            Err(DatabaseError::Config(message)) => message,
            other => panic!("{url:?}: expected Config error, got {other:?}"),
        };
        assert!(message.contains("sqlite::memory:"), "{url:?}: {message}");
        assert!(message.contains("postgres://"), "{url:?}: {message}");
    }
}

#[test]
fn from_env_defaults() {
    let config = DatabaseConfig::from_vars(&with(&[])).unwrap();
    assert_eq!(config.url, "sqlite://data/pierre.db?mode=rwc");
    assert_eq!(config.max_connections, 10);
    assert_eq!(config.min_connections, 2);
    assert_eq!(config.acquire_timeout, Duration::from_secs(30));
    assert_eq!(config.idle_timeout, Duration::from_secs(600));
    assert_eq!(config.max_lifetime, Duration::from_secs(1800));
    assert!(!config.migrate_on_connect);
}

#[test]
fn from_env_reads_every_pool_variable() {
    let config = DatabaseConfig::from_vars(&with(&[
        ("DATABASE_MAX_CONNECTIONS", "20"),
        ("DATABASE_MIN_CONNECTIONS", "5"),
        ("DATABASE_ACQUIRE_TIMEOUT", "7"),
        ("DATABASE_IDLE_TIMEOUT", "60"),
        ("DATABASE_MAX_LIFETIME", " 120 "),
    ]))
    .unwrap();
    assert_eq!(config.max_connections, 20);
    assert_eq!(config.min_connections, 5);
    assert_eq!(config.acquire_timeout, Duration::from_secs(7));
    assert_eq!(config.idle_timeout, Duration::from_secs(60));
    assert_eq!(config.max_lifetime, Duration::from_secs(120));
}

#[test]
fn from_env_names_each_bad_variable() {
    for (name, value) in [
        ("DATABASE_MAX_CONNECTIONS", "many"),
        ("DATABASE_MAX_CONNECTIONS", "-1"),
        ("DATABASE_MAX_CONNECTIONS", "0"),
        ("DATABASE_MIN_CONNECTIONS", "2.5"),
        ("DATABASE_MIN_CONNECTIONS", "50"),
        ("DATABASE_ACQUIRE_TIMEOUT", "30s"),
        ("DATABASE_ACQUIRE_TIMEOUT", "0"),
        ("DATABASE_IDLE_TIMEOUT", "soon"),
        ("DATABASE_MAX_LIFETIME", "-5"),
        ("DATABASE_URL", "mysql://localhost/db"),
        ("PIERRE_MASTER_ENCRYPTION_KEY", "not base64!"),
        ("PIERRE_MASTER_ENCRYPTION_KEY", "c2hvcnQ="),
    ] {
        let message = config_error(DatabaseConfig::from_vars(&with(&[(name, value)])));
        let named = message.contains(name)
            || (name == "DATABASE_URL" && message.contains("unsupported database URL"));
        assert!(
            named,
            "{name}={value:?}: message does not name it: {message}"
        );
        assert!(
            !message.contains(&base()[1].1),
            "a key never appears in a message"
        );
    }
}

#[test]
fn from_env_requires_url_and_key() {
    for missing in ["DATABASE_URL", "PIERRE_MASTER_ENCRYPTION_KEY"] {
        let mut all = with(&[]);
        all.remove(missing);
        let message = config_error(DatabaseConfig::from_vars(&all));
        assert!(message.contains(missing), "{message}");
    }
    let message = config_error(DatabaseConfig::from_vars(&vars(&[("DATABASE_URL", " ")])));
    assert!(message.contains("DATABASE_URL"), "{message}");
}

#[test]
fn database_passwords_are_redacted() {
    let key = MasterKey::generate().unwrap();
    for (url, kept) in [
        (
            "postgres://app:s3cret-pw@db.internal:5432/pierre?sslmode=disable",
            "postgres://app:<redacted>@db.internal:5432/pierre?sslmode=disable",
        ),
        (
            "postgresql://app:p%40ss@db/pierre",
            "postgresql://app:<redacted>@db/pierre",
        ),
        ("postgres://app@db/pierre", "postgres://app@db/pierre"),
        (
            "sqlite://data/pierre.db?mode=rwc",
            "sqlite://data/pierre.db?mode=rwc",
        ),
    ] {
        let shown = format!("{:?}", DatabaseConfig::new(url, key.clone()));
        assert!(shown.contains(kept), "{shown}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("p%40ss"),
            "{shown}"
        );
    }
}

#[test]
fn master_key_is_redacted() {
    let key = MasterKey::generate().unwrap();
    let config = DatabaseConfig::new("sqlite::memory:", key.clone());
    let shown = format!("{config:?}");
    assert!(!shown.contains(&key.to_base64()), "{shown}");
    assert!(shown.contains("<redacted>"));
}

#[test]
fn the_master_key_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let key = MasterKey::load_or_create_file(&path).unwrap();
    let mut all = with(&[]);
    all.remove("PIERRE_MASTER_ENCRYPTION_KEY");
    all.insert("PIERRE_MASTER_KEY_FILE".into(), path.display().to_string());
    let config = DatabaseConfig::from_vars(&all).unwrap();
    assert_eq!(config.master_key.to_base64(), key.to_base64());
    assert_eq!(
        MasterKey::load_or_create_file(&path).unwrap().to_base64(),
        key.to_base64()
    );

    all.insert(
        "PIERRE_MASTER_KEY_FILE".into(),
        dir.path().join("missing").display().to_string(),
    );
    let message = config_error(DatabaseConfig::from_vars(&all));
    assert!(message.contains("PIERRE_MASTER_KEY_FILE"), "{message}");
    std::fs::write(&path, "not a key").unwrap();
    all.insert("PIERRE_MASTER_KEY_FILE".into(), path.display().to_string());
    let message = config_error(DatabaseConfig::from_vars(&all));
    assert!(message.contains("PIERRE_MASTER_KEY_FILE"), "{message}");
}
