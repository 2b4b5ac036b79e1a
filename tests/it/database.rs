//! Connecting, the one in-memory database, health, migrate-on-connect, backups.

use crate::common;

use pierre_db::{Database, DatabaseConfig, DatabaseError, NewUser, UserStatus};
use sea_orm::ConnectionTrait;

#[tokio::test]
async fn health_reports_backend_migrations_and_pool() {
    for t in common::databases().await {
        let health = t.db.health().await.unwrap();
        assert_eq!(health.backend, t.backend);
        assert_eq!(
            health.latest_migration.as_deref(),
            Some("m20251201_000003_profile_keyset_indexes")
        );
        assert_eq!(health.pending_migrations, 0);
        assert!(health.pool_size >= 1, "{}: {health:?}", t.backend);
        assert!(health.idle_connections <= health.pool_size as usize);
        assert!(health.pool_size <= health.max_connections);
    }
}

#[tokio::test]
async fn every_sqlite_connection_keeps_its_plans_and_health_says_so() {
    // In memory: the one connection.
    let memory = common::sqlite().await;
    assert_eq!(
        memory.db.health().await.unwrap().sqlite_stable_plans,
        Some(true)
    );

    // A file with a pool of 8: hold all eight at once, so that the pool
    // opens every one of them, and read the setting back from each.
    let dir = tempfile::tempdir().unwrap();
    let file = &common::racing(&dir).await[0];
    assert_eq!(
        file.db.health().await.unwrap().sqlite_stable_plans,
        Some(true)
    );
    let pool = file.db.unscoped_connection().get_sqlite_connection_pool();
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(pool.acquire().await.unwrap());
    }
    assert_eq!(pool.size(), 8);
    let mmap: i64 = sea_orm::sqlx::query_scalar("PRAGMA mmap_size")
        .fetch_one(&mut *held[0])
        .await
        .unwrap();
    assert_eq!(mmap, 256 * 1024 * 1024);
    for conn in &mut held {
        let on = pierre_db::sqlite_planner::query_planner_stability(conn, None)
            .await
            .unwrap();
        assert!(on, "a pooled connection re-plans its statements");
    }
    // The setting reads back as off once turned off: the read is real.
    let off = pierre_db::sqlite_planner::query_planner_stability(&mut held[0], Some(false))
        .await
        .unwrap();
    assert!(!off);

    if let Some(pg) = common::postgres().await {
        assert_eq!(pg.db.health().await.unwrap().sqlite_stable_plans, None);
    }
}

#[tokio::test]
async fn a_fresh_database_reports_pending_migrations() {
    let mut config = DatabaseConfig::new("sqlite::memory:", common::key());
    config.require_migrated = false;
    let db = Database::connect_with(config).await.unwrap();
    let health = db.health().await.unwrap();
    assert_eq!(health.latest_migration, None);
    assert_eq!(health.pending_migrations, common::MIGRATIONS);
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrating twice is a no-op");
    assert_eq!(db.health().await.unwrap().pending_migrations, 0);
}

#[tokio::test]
async fn the_in_memory_database_is_one_database_for_concurrent_tasks() {
    let t = common::sqlite().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let db = t.db.clone();
        tasks.push(tokio::spawn(async move {
            db.users()
                .create(NewUser::new(format!("runner{i}@example.org"), "hash"))
                .await
                .map(|u| u.id)
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for i in 0..16 {
        let found =
            t.db.users()
                .get_by_email(&format!("runner{i}@example.org"))
                .await
                .unwrap();
        assert!(
            found.is_some(),
            "user {i} is visible through the shared handle"
        );
    }
    let page =
        t.db.users()
            .list_by_status_paginated(UserStatus::Pending, &pierre_db::PageRequest::first(100))
            .await
            .unwrap();
    assert_eq!(page.items.len(), 16);
}

#[tokio::test]
async fn separate_connects_to_memory_are_separate_databases() {
    let a = common::sqlite().await;
    let b = common::sqlite().await;
    a.db.users()
        .create(NewUser::new("only-a@example.org", "h"))
        .await
        .unwrap();
    assert!(
        b.db.users()
            .get_by_email("only-a@example.org")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_file_database_is_created_migrated_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/pierre.db");
    let url = format!("sqlite:{}", path.display());
    let mut config = DatabaseConfig::new(&url, common::key());
    config.migrate_on_connect = true;
    config.create_if_missing = true;
    let db = Database::connect_with(config.clone()).await.unwrap();
    let user = db
        .users()
        .create(NewUser::new("file@example.org", "h"))
        .await
        .unwrap();
    let journal: String = db
        .unscoped_connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(journal, "wal");
    db.close().await.unwrap();

    let reopened = Database::connect_with(config).await.unwrap();
    assert_eq!(
        reopened
            .users()
            .get_by_id(user.id)
            .await
            .unwrap()
            .map(|u| u.email),
        Some("file@example.org".to_owned())
    );
}

#[tokio::test]
async fn backup_writes_a_database_that_opens_and_holds_the_rows() {
    let t = common::sqlite().await;
    let created =
        t.db.users()
            .create(NewUser::new("backup@example.org", "h"))
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A name that needs escaping in an SQLite URI.
    let path = dir.path().join("copy #1.db");
    t.db.backup_to(&path).await.unwrap();

    let url = format!("sqlite:{}", path.display());
    // The copy holds the wrapped data keys: it opens with the same master
    // key, and only with it.
    assert!(matches!(
        Database::connect(&url, common::key()).await,
        Err(DatabaseError::Crypto(_))
    ));
    let copy = Database::connect(&url, t.db.config().master_key.clone())
        .await
        .unwrap();
    assert_eq!(copy.health().await.unwrap().pending_migrations, 0);
    let found = copy.users().get_by_id(created.id).await.unwrap();
    assert_eq!(found, Some(created));

    let again = t.db.backup_to(&path).await.unwrap_err();
    assert!(
        matches!(again, DatabaseError::InvalidInput { field: "path", .. }),
        "{again}"
    );
}

#[tokio::test]
async fn backup_on_postgres_points_to_pg_dump() {
    let Some(t) = common::postgres().await else {
        // Without a server there is nothing to assert; the SQLite half of
        // the suite covers backups, and CI sets the URL.
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    match t.db.backup_to(&dir.path().join("x.db")).await {
        Err(DatabaseError::Unsupported(message)) => assert!(message.contains("pg_dump")),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_sqlite_file_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("nodir");
    let path = missing_dir.join("x.db");
    let url = format!("sqlite:{}", path.display());
    let refused = |err: DatabaseError| {
        assert!(
            matches!(
                &err,
                DatabaseError::Connect {
                    problem: pierre_db::ConnectProblem::MissingFile,
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("mode=rwc"), "{message}");
    };
    refused(Database::connect(&url, common::key()).await.unwrap_err());
    // Migrating on connect does not make one either: creation is asked for
    // explicitly.
    let mut config = DatabaseConfig::new(&url, common::key());
    config.migrate_on_connect = true;
    refused(Database::connect_with(config.clone()).await.unwrap_err());
    assert!(!missing_dir.exists(), "a directory was created");

    // An existing directory, a missing file: the same, and no file.
    let in_dir = dir.path().join("typo.db");
    let url = format!("sqlite:{}", in_dir.display());
    let err = Database::connect(&url, common::key()).await.unwrap_err();
    assert!(matches!(err, DatabaseError::Connect { .. }), "{err:?}");
    assert!(!in_dir.exists(), "a file was created");

    // Asked for: the URL's mode=rwc, or create_if_missing.
    config.create_if_missing = true;
    let db = Database::connect_with(config).await.unwrap();
    assert!(path.exists());
    db.close().await.unwrap();
    let asked = dir.path().join("asked.db");
    let err = Database::connect(
        &format!("sqlite:{}?mode=rwc", asked.display()),
        common::key(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DatabaseError::NotMigrated { .. }), "{err:?}");
    assert!(asked.exists());
}
