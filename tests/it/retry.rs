//! Transactions are re-run on contention (read from the driver's code), and
//! only then.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use pierre_db::{Database, DatabaseConfig, DatabaseError, NewUser, RetryPolicy};
use sea_orm::sqlx::{Connection, Executor, SqliteConnection};

fn patient() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 30,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    }
}

async fn file_db(dir: &tempfile::TempDir) -> (Database, String) {
    let url = format!("sqlite:{}", dir.path().join("busy.db").display());
    let mut config = DatabaseConfig::new(&url, common::key());
    // Answer BUSY at once instead of waiting, so the retry path is exercised.
    config.sqlite_busy_timeout = Duration::ZERO;
    config.migrate_on_connect = true;
    config.create_if_missing = true;
    (Database::connect_with(config).await.unwrap(), url)
}

#[tokio::test]
async fn sqlite_busy_from_another_connection_is_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = file_db(&dir).await;

    // A second connection takes the write lock and holds it for a while.
    let mut holder = SqliteConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        holder.execute("COMMIT").await.unwrap();
        holder.close().await.unwrap();
    });

    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let user = db
        .transaction_with(patient(), move |tx| {
            let counter = counter.clone();
            Box::pin(async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tx.users()
                    .create(NewUser::new("patient@example.org", "h"))
                    .await
            })
        })
        .await
        .expect("succeeds once the lock is released");
    release.await.unwrap();

    // With a zero busy timeout only retries get past the held lock; the
    // write lock is taken at BEGIN IMMEDIATE, so the failed attempts ended
    // there and the work itself ran once.
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(db.users().get_by_id(user.id).await.unwrap(), Some(user));
}

#[tokio::test]
async fn busy_that_outlasts_the_policy_surfaces_as_contention() {
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = file_db(&dir).await;
    let mut holder = SqliteConnection::connect(&url).await.unwrap();
    holder.execute("BEGIN IMMEDIATE").await.unwrap();

    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    };
    let err = db
        .transaction_with(policy, move |tx| {
            let counter = counter.clone();
            Box::pin(async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tx.users()
                    .create(NewUser::new("late@example.org", "h"))
                    .await
            })
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DatabaseError::Contention { code, .. } if code.parse::<i64>().map(|c| c & 0xff == 5).unwrap_or(false)),
        "{err:?}"
    );
    // Every attempt met the lock at BEGIN IMMEDIATE, before the work.
    assert_eq!(attempts.load(Ordering::SeqCst), 0);
    holder.execute("ROLLBACK").await.unwrap();
    assert!(
        db.users()
            .get_by_email("late@example.org")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_unique_violation_is_not_retried_and_rolls_back() {
    for t in common::databases().await {
        t.db.users()
            .create(NewUser::new("taken@example.org", "h"))
            .await
            .unwrap();
        let attempts = Arc::new(AtomicU32::new(0));
        let counter = attempts.clone();
        let err =
            t.db.transaction(move |tx| {
                let counter = counter.clone();
                Box::pin(async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tx.users()
                        .create(NewUser::new("first@example.org", "h"))
                        .await?;
                    tx.users()
                        .create(NewUser::new("taken@example.org", "h"))
                        .await
                })
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::Conflict { .. }),
            "{}: {err:?}",
            t.backend
        );
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            1,
            "{}: not retried",
            t.backend
        );
        assert!(
            t.db.users()
                .get_by_email("first@example.org")
                .await
                .unwrap()
                .is_none(),
            "{}: the whole transaction rolled back",
            t.backend
        );
    }
}

#[tokio::test]
async fn postgres_serialization_failures_are_retried() {
    let Some(t) = common::postgres().await else {
        return;
    };
    // Two SERIALIZABLE transactions that each read what the other writes:
    // PostgreSQL aborts one with 40001, and the helper runs it again.
    let attempts = Arc::new(AtomicU32::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut tasks = Vec::new();
    for i in 0..2 {
        let db = t.db.clone();
        let attempts = attempts.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            db.transaction_with(patient(), move |tx| {
                let attempts = attempts.clone();
                let barrier = barrier.clone();
                Box::pin(async move {
                    use sea_orm::ConnectionTrait;
                    let conn = tx.unscoped_connection();
                    conn.execute_unprepared("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                        .await?;
                    let n = attempts.fetch_add(1, Ordering::SeqCst);
                    conn.execute_unprepared("SELECT COUNT(*) FROM system_settings")
                        .await?;
                    if n < 2 {
                        barrier.wait().await;
                    }
                    conn.execute_unprepared(&format!(
                        "INSERT INTO system_settings (key, value, created_at, updated_at) \
                         VALUES ('race{i}', 'x', now(), now())"
                    ))
                    .await?;
                    Ok(())
                })
            })
            .await
        }));
    }
    for task in tasks {
        task.await.unwrap().expect("both commit in the end");
    }
    assert!(
        attempts.load(Ordering::SeqCst) >= 3,
        "one of the two was retried"
    );
}
