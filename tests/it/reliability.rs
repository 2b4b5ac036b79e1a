//! Nothing lost under real deployments: several handles (processes) and
//! many tasks on one database, key rotation while they write, write
//! contention on a SQLite file, and a process killed in the middle.

use crate::common;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pierre_db::OauthProvider;
use pierre_db::{
    ApiKeyTier, Database, DatabaseConfig, DatabaseError, MasterKey, NewApiKey, NewApiKeyUsage,
    NewOAuthToken, NewTenant, NewUser, Secret, TenantId, UserId,
};
use sea_orm::{ConnectionTrait, Statement};

/// The key refresh interval of the handles here; `retire` waits twice it.
const REFRESH: Duration = Duration::from_millis(100);

async fn handle(url: &str, key: &MasterKey, pool: u32) -> Database {
    let mut config = DatabaseConfig::new(url, key.clone());
    config.max_connections = pool;
    config.min_connections = 1;
    config.migrate_on_connect = true;
    config.create_if_missing = true;
    config.key_refresh_interval = REFRESH;
    Database::connect_with(config)
        .await
        .unwrap_or_else(|err| panic!("connect {url}: {err}"))
}

fn sqlite_file(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite:{}", dir.path().join(name).display())
}

/// A SQLite file, and a PostgreSQL database when configured.
async fn shared_databases(dir: &tempfile::TempDir) -> Vec<(&'static str, String)> {
    let mut urls = vec![("sqlite", sqlite_file(dir, "shared.db"))];
    if let Some(url) = common::new_postgres_database().await {
        urls.push(("postgres", url));
    }
    urls
}

async fn users(db: &Database, prefix: &str, n: usize) -> Vec<UserId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let user = NewUser::new(format!("{prefix}{i}@example.org"), "h");
        ids.push(db.users().create(user).await.unwrap().id);
    }
    ids
}

/// Upserts tokens for `users` × `providers` until `stop`, half of them
/// inside a transaction (which reads the token first when `reads`); returns
/// the last value written for each key. A writer that never reads never
/// opens a value, so it learns of a rotation only by asking.
async fn write_tokens(
    db: Database,
    tenant: TenantId,
    users: Vec<UserId>,
    tag: &'static str,
    reads: bool,
    stop: Arc<AtomicBool>,
) -> HashMap<(UserId, String), String> {
    let mut last = HashMap::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for &user in &users {
            for provider in [OauthProvider::Strava, OauthProvider::Fitbit] {
                n += 1;
                let value = format!("{tag}-{n}");
                let mut token = NewOAuthToken::new(user, provider, value.clone());
                token.refresh_token = Some(Secret::new(format!("{value}-r")));
                if n % 2 == 0 {
                    db.tenant(tenant).oauth_tokens().upsert(token).await
                } else {
                    db.transaction(move |tx| {
                        let token = token.clone();
                        Box::pin(async move {
                            let tokens = tx.tenant(tenant).oauth_tokens();
                            if reads {
                                tokens.get(token.user_id, provider).await?;
                            }
                            tokens.upsert(token).await
                        })
                    })
                    .await
                }
                .unwrap_or_else(|err| panic!("{tag}: write {n}: {err}"));
                last.insert((user, pierre_db::provider_name(provider)), value);
            }
        }
    }
    last
}

/// Two handles write while one of them rotates, re-encrypts and retires,
/// three times over; a handle connected afterwards opens every value.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_by_one_process_while_two_write_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, url) in shared_databases(&dir).await {
        let key = MasterKey::generate().unwrap();
        let a = handle(&url, &key, 4).await;
        // B connects before any rotation and only ever writes.
        let b = handle(&url, &key, 4).await;
        let owner = users(&a, &format!("{backend}-owner"), 1).await[0];
        let tenant = common::tenant_of(&a, owner).await;
        let on_a = users(&a, &format!("{backend}-a"), 3).await;
        let on_b = users(&a, &format!("{backend}-b"), 3).await;

        let stop = Arc::new(AtomicBool::new(false));
        let writers = [
            tokio::spawn(write_tokens(
                a.clone(),
                tenant,
                on_a,
                "a",
                true,
                stop.clone(),
            )),
            tokio::spawn(write_tokens(
                b.clone(),
                tenant,
                on_b,
                "b",
                false,
                stop.clone(),
            )),
        ];
        tokio::time::sleep(REFRESH).await;

        let security = a.security();
        for round in 0..3 {
            let old = security.rotate_data_key().await.unwrap() - 1;
            let mut retired = false;
            for _ in 0..100 {
                // Writers run throughout: every pass must complete.
                let report = security
                    .reencrypt_all(50, |_| ControlFlow::Continue(()))
                    .await
                    .unwrap_or_else(|err| panic!("{backend}: round {round}: reencrypt: {err}"));
                assert!(!report.stopped);
                match security.retire(old).await {
                    Ok(()) => {
                        retired = true;
                        break;
                    }
                    // Too soon after the rotation, or a value sealed under
                    // the old key before every handle knew: wait, go again.
                    Err(DatabaseError::KeyInGrace { .. } | DatabaseError::KeyInUse { .. }) => {
                        tokio::time::sleep(REFRESH / 2).await;
                    }
                    Err(err) => panic!("{backend}: round {round}: retire: {err}"),
                }
            }
            assert!(retired, "{backend}: round {round}: v{old} never retired");
        }
        stop.store(true, Ordering::Relaxed);
        let mut expected = HashMap::new();
        for writer in writers {
            expected.extend(writer.await.unwrap());
        }
        assert!(expected.len() == 12, "{backend}: {} keys", expected.len());

        let fresh = handle(&url, &key, 2).await;
        let tokens = fresh.tenant(tenant).oauth_tokens();
        for ((user, provider), value) in &expected {
            let token = tokens
                .get(*user, pierre_db::parse_provider(provider).unwrap())
                .await
                .unwrap_or_else(|err| panic!("{backend}: {provider} of {user}: {err}"))
                .unwrap();
            assert_eq!(token.access_token.expose(), value, "{backend}");
            assert_eq!(
                token.refresh_token.unwrap().expose(),
                format!("{value}-r"),
                "{backend}"
            );
        }
        let versions = fresh.security().key_versions().await.unwrap();
        let live: Vec<u32> = versions
            .iter()
            .filter(|k| !k.retired)
            .map(|k| k.version)
            .collect();
        assert_eq!(live, [4], "{backend}: {versions:?}");
    }
}

/// One task's share of the contention workloads: `writes` writes, half of
/// them single statements (create a user), half read-then-write
/// transactions (look the user up, create it, store its token).
async fn mixed_writes(db: Database, tenant: TenantId, task: usize, writes: usize) -> usize {
    for i in 0..writes {
        let email = format!("w{task}-{i}@example.org");
        if i % 2 == 0 {
            db.users()
                .create(NewUser::new(email, "h"))
                .await
                .unwrap_or_else(|err| panic!("task {task}: create {i}: {err}"));
        } else {
            db.transaction(move |tx| {
                let email = email.clone();
                Box::pin(async move {
                    assert!(tx.users().get_by_email(&email).await?.is_none());
                    let user = tx.users().create(NewUser::new(email, "h")).await?;
                    tx.tenant(tenant)
                        .oauth_tokens()
                        .upsert(NewOAuthToken::new(user.id, OauthProvider::Strava, "t"))
                        .await
                })
            })
            .await
            .unwrap_or_else(|err| panic!("task {task}: transaction {i}: {err}"));
        }
    }
    writes
}

async fn count(db: &Database, sql: &str) -> i64 {
    let conn = db.unscoped_connection();
    conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
}

/// Runs 16 tasks of `WRITES` mixed writes spread over `handles`; checks
/// every row is there and returns writes per second.
async fn contention(handles: &[Database]) -> f64 {
    const TASKS: usize = 16;
    const WRITES: usize = 200;
    let owner = users(&handles[0], "owner", 1).await[0];
    let tenant = common::tenant_of(&handles[0], owner).await;
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let db = handles[task % handles.len()].clone();
            tokio::spawn(mixed_writes(db, tenant, task, WRITES))
        })
        .collect();
    let mut written = 0;
    for task in tasks {
        written += task.await.expect("no write may fail");
    }
    let rate = written as f64 / started.elapsed().as_secs_f64();
    let db = &handles[0];
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM users").await,
        (TASKS * WRITES + 1) as i64,
        "every user is there"
    );
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM user_oauth_tokens").await,
        (TASKS * WRITES / 2) as i64,
        "every token is there"
    );
    rate
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_tasks_on_one_sqlite_file_handle_lose_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = handle(&sqlite_file(&dir, "busy.db"), &common::key(), 8).await;
    let rate = contention(&[db]).await;
    println!("one handle, pool of 8, 16 tasks: {rate:.0} writes/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_sqlite_file_lose_no_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_file(&dir, "two.db");
    let key = common::key();
    let handles = [handle(&url, &key, 4).await, handle(&url, &key, 4).await];
    let rate = contention(&handles).await;
    println!("two handles, pools of 4, 16 tasks: {rate:.0} writes/s");
}

// ---------------------------------------------------------------------
// A process killed with SIGKILL in the middle of its work.

/// Set in the child process: the database URL to work on until killed.
const CHILD_URL: &str = "PIERRE_TEST_CRASH_CHILD_URL";
/// Set in the child process: its master key.
const CHILD_KEY: &str = "PIERRE_TEST_CRASH_CHILD_KEY";
/// The usage rows of one batch.
const BATCH: usize = 40;

/// The work the child does: transactions that create a user and its token
/// (both or neither), usage batches of `BATCH` rows (all or none), and
/// rotation with re-encryption in small batches, all at once, until
/// `deadline` (or until killed).
async fn crash_workload(url: &str, key: &MasterKey, deadline: Instant) {
    let db = handle(url, key, 4).await;
    let owner = db
        .users()
        .get_by_email("crash-owner@example.org")
        .await
        .unwrap()
        .expect("the parent created the owner");
    let tenant = db.tenants().list_for_user(owner.id).await.unwrap()[0].id;
    let api_key = db.api_keys().list_for_user(owner.id).await.unwrap()[0].id;
    let run = format!("{}", uuid::Uuid::new_v4().simple());

    let pairs = {
        let (db, run) = (db.clone(), run.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < deadline {
                let email = format!("crash-{run}-{i}@example.org");
                db.transaction(move |tx| {
                    let email = email.clone();
                    Box::pin(async move {
                        let user = tx.users().create(NewUser::new(email, "h")).await?;
                        let mut token = NewOAuthToken::new(
                            user.id,
                            OauthProvider::Strava,
                            format!("a-{}", user.id),
                        );
                        token.refresh_token = Some(Secret::new(format!("r-{}", user.id)));
                        tx.tenant(tenant).oauth_tokens().upsert(token).await
                    })
                })
                .await
                .unwrap();
                i += 1;
            }
        })
    };
    let batches = {
        let (db, run) = (db.clone(), run.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < deadline {
                let rows = (0..BATCH)
                    .map(|_| NewApiKeyUsage::new(api_key, format!("batch-{run}-{i}"), 200))
                    .collect();
                db.usage().record_api_key_usage_batch(rows).await.unwrap();
                i += 1;
            }
        })
    };
    let rotation = {
        let db = db.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                db.security().rotate_data_key().await.unwrap();
                db.security()
                    .reencrypt_all(7, |_| ControlFlow::Continue(()))
                    .await
                    .unwrap();
            }
        })
    };
    for task in [pairs, batches, rotation] {
        task.await.unwrap();
    }
}

/// In a child process (the variables set) this is the child's work, run
/// until the parent kills it; otherwise it checks that the workload itself
/// runs clean for a moment in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_workload_runs_clean() {
    if let (Ok(url), Ok(key)) = (std::env::var(CHILD_URL), std::env::var(CHILD_KEY)) {
        let key = MasterKey::from_base64(&key).unwrap();
        println!("child working");
        crash_workload(&url, &key, Instant::now() + Duration::from_secs(600)).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_file(&dir, "inprocess.db");
    let key = common::key();
    prepare_crash_database(&url, &key).await;
    crash_workload(&url, &key, Instant::now() + Duration::from_millis(500)).await;
    check_after_crash(&url, &key).await;
}

async fn prepare_crash_database(url: &str, key: &MasterKey) {
    let db = handle(url, key, 2).await;
    let owner = db
        .users()
        .create(NewUser::new("crash-owner@example.org", "h"))
        .await
        .unwrap();
    db.tenants()
        .create(NewTenant::new("Crash", "crash", owner.id))
        .await
        .unwrap();
    db.api_keys()
        .create(NewApiKey::new(owner.id, "crash", ApiKeyTier::Starter))
        .await
        .unwrap();
    db.close().await.unwrap();
}

/// What must hold after any crash: the file is sound, no transaction or
/// batch is half there, and every value opens.
async fn check_after_crash(url: &str, key: &MasterKey) {
    let db = handle(url, key, 2).await;
    let conn = db.unscoped_connection();
    let backend = conn.get_database_backend();
    let integrity: String = conn
        .query_one_raw(Statement::from_string(backend, "PRAGMA integrity_check"))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(integrity, "ok");

    let users = count(&db, "SELECT COUNT(*) FROM users WHERE email LIKE 'crash-%' AND email <> 'crash-owner@example.org'").await;
    let tokens = count(&db, "SELECT COUNT(*) FROM user_oauth_tokens").await;
    assert_eq!(
        users, tokens,
        "every user created with its token, or neither"
    );
    let partial = count(
        &db,
        &format!("SELECT COUNT(*) FROM (SELECT tool_name FROM api_key_usage GROUP BY tool_name HAVING COUNT(*) <> {BATCH}) AS p"),
    )
    .await;
    assert_eq!(partial, 0, "no partial usage batch");

    let owner = db
        .users()
        .get_by_email("crash-owner@example.org")
        .await
        .unwrap()
        .unwrap();
    let tenant = db.tenants().list_for_user(owner.id).await.unwrap()[0].id;
    let rows = conn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT user_id FROM user_oauth_tokens",
        ))
        .await
        .unwrap();
    for row in rows {
        let user: uuid::Uuid = row.try_get_by_index(0).unwrap();
        let token = db
            .tenant(tenant)
            .oauth_tokens()
            .get(UserId::from_uuid(user), OauthProvider::Strava)
            .await
            .unwrap_or_else(|err| panic!("token of {user}: {err}"))
            .unwrap();
        assert_eq!(token.access_token.expose(), format!("a-{user}"));
        assert_eq!(token.refresh_token.unwrap().expose(), format!("r-{user}"));
    }
    // The interrupted rotation finishes, and the old keys can go.
    let report = db
        .security()
        .reencrypt_all(100, |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    assert!(!report.stopped);
    db.close().await.unwrap();
}

/// The harness's name of [`crash_workload_runs_clean`]: its module path
/// without the crate.
fn child_test_name() -> String {
    let module = module_path!();
    let within = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{within}::crash_workload_runs_clean")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_work_leaves_a_sound_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_file(&dir, "killed.db");
    let key = common::key();
    prepare_crash_database(&url, &key).await;
    let exe = std::env::current_exe().unwrap();
    for (round, after) in [700u64, 1100, 1500].into_iter().enumerate() {
        let mut child = std::process::Command::new(&exe)
            .args([&child_test_name(), "--exact", "--nocapture"])
            .env(CHILD_URL, &url)
            .env(CHILD_KEY, key.to_base64())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(after)).await;
        assert!(
            child.try_wait().unwrap().is_none(),
            "round {round}: the child ended before it was killed"
        );
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        check_after_crash(&url, &key).await;
    }
    let db = handle(&url, &key, 1).await;
    assert!(
        count(&db, "SELECT COUNT(*) FROM user_oauth_tokens").await > 0,
        "the children got some work done before they were killed"
    );
}

#[tokio::test]
async fn retire_waits_until_no_handle_can_still_seal_under_the_key() {
    for t in common::databases().await {
        let b = t.backend;
        let security = t.db.security();
        let old = security.rotate_data_key().await.unwrap() - 1;
        security
            .reencrypt_all(100, |_| ControlFlow::Continue(()))
            .await
            .unwrap();
        match security.retire(old).await {
            Err(
                err @ DatabaseError::KeyInGrace {
                    version, wait_secs, ..
                },
            ) => {
                assert_eq!(version, old, "{b}");
                assert!(wait_secs > 0.0, "{b}: {err}");
                let message = err.to_string();
                assert!(message.contains("key refresh interval"), "{b}: {message}");
                assert!(!message.starts_with("invalid"), "{b}: {message}");
            }
            other => panic!("{b}: retire right after rotating: {other:?}"),
        }
        match security.retire(old + 1).await {
            Err(DatabaseError::InvalidInput {
                field: "version",
                reason,
            }) => assert!(reason.contains("rotate first"), "{b}: {reason}"),
            other => panic!("{b}: retiring the active key: {other:?}"),
        }
        let versions = security.key_versions().await.unwrap();
        assert!(versions.iter().all(|k| !k.retired), "{b}: nothing deleted");
        tokio::time::sleep(common::KEY_REFRESH * 2).await;
        security.retire(old).await.unwrap();
    }
}

/// A transaction that sealed under a key holds a share lock on that key
/// (PostgreSQL): another process's `retire` waits for it, then finds the
/// committed value under the old key and refuses; after re-encryption the
/// key retires and the value opens. Nothing is committed under a key that
/// is gone, however long the transaction runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retire_waits_for_a_transaction_that_sealed_under_the_old_key() {
    let Some(url) = common::new_postgres_database().await else {
        return;
    };
    let key = MasterKey::generate().unwrap();
    let a = handle(&url, &key, 4).await;
    let b = handle(&url, &key, 4).await;
    let owner = users(&a, "slow", 1).await[0];
    let tenant = common::tenant_of(&a, owner).await;

    let sealed = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let slow = {
        let (a, sealed, release) = (a.clone(), sealed.clone(), release.clone());
        tokio::spawn(async move {
            a.transaction(move |tx| {
                let (sealed, release) = (sealed.clone(), release.clone());
                Box::pin(async move {
                    tx.tenant(tenant)
                        .oauth_tokens()
                        .upsert(NewOAuthToken::new(owner, OauthProvider::Strava, "slow"))
                        .await?;
                    sealed.notify_one();
                    release.notified().await;
                    Ok(())
                })
            })
            .await
        })
    };
    sealed.notified().await;
    let security = b.security();
    let old = security.rotate_data_key().await.unwrap() - 1;
    tokio::time::sleep(REFRESH * 2).await;
    security
        .reencrypt_all(10, |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    let retire = {
        let b = b.clone();
        tokio::spawn(async move { b.security().retire(old).await })
    };
    tokio::time::sleep(REFRESH * 3).await;
    assert!(!retire.is_finished(), "retire waits for the writer");
    release.notify_one();
    slow.await.unwrap().unwrap();
    let refused = retire.await.unwrap();
    assert!(
        matches!(refused, Err(DatabaseError::KeyInUse { values: 1, .. })),
        "the committed value is under the old key: {refused:?}"
    );
    security
        .reencrypt_all(10, |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    security.retire(old).await.unwrap();

    let fresh = handle(&url, &key, 1).await;
    let token = fresh
        .tenant(tenant)
        .oauth_tokens()
        .get(owner, OauthProvider::Strava)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.access_token.expose(), "slow");
}
