//! Restoring a SQLite backup: checked on a copy, then one rename; a
//! damaged or foreign backup leaves the target as it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pierre_db::{
    Database, DatabaseError, MasterKey, NewOAuthToken, NewUser, OauthProvider, RestoreOptions,
    restore_backup,
};

use crate::common;

/// A SQLite file with a user, a tenant and a sealed token.
async fn source(dir: &tempfile::TempDir) -> (Database, MasterKey, String) {
    let key = MasterKey::generate().unwrap();
    let url = format!("sqlite:{}", dir.path().join("live.db").display());
    let db = common::open_keyed(&url, key.clone(), 4).await;
    let t = common::TestDb {
        db: db.clone(),
        backend: "sqlite file",
        url: url.clone(),
    };
    let owner = common::user(&t, "owner@example.org").await;
    let tenant = common::tenant(&t, owner).await;
    db.tenant(tenant)
        .oauth_tokens()
        .upsert(NewOAuthToken::new(owner, OauthProvider::Strava, "access"))
        .await
        .unwrap();
    (db, key, url)
}

/// No file a restore stages its copy in is left in `dir`.
fn assert_no_staging_left(dir: &tempfile::TempDir) {
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("restoring"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn invalid_field(err: DatabaseError) -> &'static str {
    match err {
        DatabaseError::InvalidInput { field, .. } => field,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[tokio::test]
async fn a_backup_taken_under_writes_restores_to_a_database_that_opens_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (db, key, _) = source(&dir).await;
    // Writers keep going while the backup is taken.
    let running = Arc::new(AtomicBool::new(true));
    let writer = {
        let (db, running) = (db.clone(), running.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while running.load(Ordering::Relaxed) {
                db.users()
                    .create(NewUser::new(format!("w{n}@example.org"), "h"))
                    .await
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let backup = dir.path().join("backup.db");
    db.backup_to(&backup).await.unwrap();
    running.store(false, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);

    let target = dir.path().join("restored.db");
    let before = std::fs::read(&backup).unwrap();
    let report = restore_backup(&backup, &target, key.clone(), &RestoreOptions::default())
        .await
        .unwrap();
    assert!(!report.replaced);
    // The token and the data key's own row.
    assert!(report.verified_values >= 2, "{report:?}");
    assert!(
        std::fs::read(&backup).unwrap() == before,
        "the backup was written"
    );
    let restored = Database::connect(&format!("sqlite:{}", target.display()), key)
        .await
        .unwrap();
    assert!(
        restored
            .users()
            .get_by_email("owner@example.org")
            .await
            .unwrap()
            .is_some()
    );
    let users = restored.users().count().await.unwrap();
    assert!((1..=written as u64 + 1).contains(&users), "{users} users");
    let verified = restored
        .security()
        .verify(100, |_| std::ops::ControlFlow::Continue(()))
        .await
        .unwrap();
    assert!(verified.unreadable.is_empty());
    // No file of the staging is left beside it.
    assert_no_staging_left(&dir);
}

#[tokio::test]
async fn a_damaged_or_foreign_backup_and_an_unconfirmed_replace_leave_the_target_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (db, key, _) = source(&dir).await;
    let backup = dir.path().join("backup.db");
    db.backup_to(&backup).await.unwrap();
    // The target: another database, with rows of its own.
    let target = dir.path().join("target.db");
    db.backup_to(&target).await.unwrap();
    db.close().await.unwrap();
    let target_bytes = std::fs::read(&target).unwrap();

    // Without the confirmation, a target with a database is refused.
    let err = restore_backup(&backup, &target, key.clone(), &RestoreOptions::default())
        .await
        .unwrap_err();
    assert_eq!(invalid_field(err), "target");

    // Another master key: the backup's data keys do not unwrap.
    let replace = RestoreOptions::new().replace_existing(true);
    let err = restore_backup(&backup, &target, MasterKey::generate().unwrap(), &replace)
        .await
        .unwrap_err();
    assert!(matches!(err, DatabaseError::Crypto(_)), "{err:?}");

    // Damaged pages.
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 4096] {
        *b = 0xA5;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let err = restore_backup(&damaged, &target, key.clone(), &replace)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("integrity_check") || message.contains("does not open"),
        "{message}"
    );
    // Not a database at all, and no file.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database").unwrap();
    assert!(
        restore_backup(&text, &target, key.clone(), &replace)
            .await
            .is_err()
    );
    let missing = dir.path().join("missing.db");
    let err = restore_backup(&missing, &target, key.clone(), &replace)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(err), "backup");

    assert!(
        std::fs::read(&target).unwrap() == target_bytes,
        "the target changed"
    );
    assert_no_staging_left(&dir);

    // Confirmed, the good backup replaces it.
    let report = restore_backup(&backup, &target, key.clone(), &replace)
        .await
        .unwrap();
    assert!(report.replaced);
}

#[tokio::test]
async fn a_target_in_use_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (db, key, _) = source(&dir).await;
    let backup = dir.path().join("backup.db");
    db.backup_to(&backup).await.unwrap();
    // The live database, with a reader in the middle of a transaction
    // (another process still using it): its log cannot be checkpointed.
    let live = dir.path().join("live.db");
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let reader = db.unscoped_connection().begin().await.unwrap();
    reader
        .execute_unprepared("SELECT COUNT(*) FROM users")
        .await
        .unwrap();
    db.users()
        .create(NewUser::new("after@example.org", "h"))
        .await
        .unwrap();
    let replace = RestoreOptions::new().replace_existing(true);
    let err = restore_backup(&backup, &live, key, &replace)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(err), "target");
    assert_no_staging_left(&dir);
    reader.rollback().await.unwrap();
    // Still the live database (the checkpoint may have moved pages into
    // its file, which changes no row): the user the backup lacks is there.
    assert!(
        db.users()
            .get_by_email("after@example.org")
            .await
            .unwrap()
            .is_some()
    );
}
