//! The hot reads of a SQLite file on the calling thread: the same answers
//! as through sqlx, every committed write seen, and a read given up to sqlx
//! (never blocking, never wrong) when SQLite makes it wait.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pierre_db::{
    ApiKeyTier, CallingThreadReads, ChatRole, Database, IngredientUnit, NewApiKey, NewChatMessage,
    NewConversation, NewIngredient, NewOAuth2Client, NewOAuthToken, NewRequestLog, NewUser,
    OauthProvider, PageRequest, RecipeDraft, RequestLogFilter, Secret, TenantId, UserId,
};
use sea_orm::ConnectionTrait;

use crate::common;

/// A migrated SQLite file, read on the calling thread whatever the run's
/// mode, and its URL.
async fn file(dir: &tempfile::TempDir, pool: u32) -> (Database, String) {
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let mut config = common::keyed_config(&url, common::key(), pool);
    config.sqlite_calling_thread_reads = true;
    (common::connect(config).await, url)
}

/// A second handle on `db`'s file, its keys, with the reads on the calling
/// thread turned off: sqlx's answers, to compare with.
async fn through_sqlx(url: &str, db: &Database) -> Database {
    let mut config = db.config();
    config.url = url.to_owned();
    config.sqlite_calling_thread_reads = false;
    common::connect(config).await
}

/// [`file`] with one user, Ada.
async fn with_ada(dir: &tempfile::TempDir, pool: u32) -> (Database, UserId) {
    let (db, _) = file(dir, pool).await;
    let ada = db
        .users()
        .create(NewUser::new("ada@example.org", "h"))
        .await
        .unwrap()
        .id;
    (db, ada)
}

fn counts(db: &Database) -> CallingThreadReads {
    db.calling_thread_reads()
        .expect("a SQLite file reads on the calling thread")
}

fn token(user: UserId, access: &str) -> NewOAuthToken {
    let mut t = NewOAuthToken::new(user, OauthProvider::Strava, access.to_owned());
    t.refresh_token = Some(Secret::new(format!("refresh-{access}")));
    t
}

#[tokio::test]
async fn every_hot_read_runs_on_the_calling_thread_and_answers_as_sqlx_does() {
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = file(&dir, 4).await;
    let sqlx = through_sqlx(&url, &db).await;
    assert!(sqlx.calling_thread_reads().is_none());

    let ada = db
        .users()
        .create(NewUser::new("ada@example.org", "h"))
        .await
        .unwrap();
    let tenant = common::tenant_of(&db, ada.id).await;
    let slug = db.tenants().get_by_id(tenant).await.unwrap().unwrap().slug;
    let key = db
        .api_keys()
        .create(NewApiKey::new(ada.id, "laptop", ApiKeyTier::Professional))
        .await
        .unwrap();
    db.tenant(tenant)
        .oauth_tokens()
        .upsert(token(ada.id, "ya29.first"))
        .await
        .unwrap();
    let client = db
        .oauth2_clients()
        .register(NewOAuth2Client::new("https://client.example.org/cb"))
        .await
        .unwrap()
        .client
        .client_id;
    let mcp = db
        .mcp_tokens()
        .create(ada.id, "cli", None)
        .await
        .unwrap()
        .token
        .id;
    let chat = db.tenant(tenant).chat();
    let talk = chat
        .create_conversation(NewConversation::new(ada.id, "Plan"))
        .await
        .unwrap();
    for i in 0..5 {
        chat.add_message(
            ada.id,
            talk.id,
            NewChatMessage::new(ChatRole::User, format!("m{i}")),
        )
        .await
        .unwrap();
    }
    let mut draft = RecipeDraft::new("Oats");
    draft.ingredients = (0..3)
        .map(|i| NewIngredient::new(format!("oat {i}"), 40.0, IngredientUnit::Grams, 40.0))
        .collect();
    let recipe = db
        .tenant(tenant)
        .recipes()
        .create(ada.id, draft)
        .await
        .unwrap()
        .recipe
        .id;
    for status in [200, 404, 500] {
        let mut log = NewRequestLog::new("GET", "/api/activities", status);
        log.user_id = Some(ada.id);
        db.usage().record_request_log(log).await.unwrap();
    }

    let before = counts(&db);
    let page = PageRequest::first(2);
    // Each read, on both handles: (how many reads it runs on the calling
    // thread, its answer on each).
    macro_rules! same {
        ($n:expr, |$h:ident| $read:expr) => {{
            let served = counts(&db).served;
            let here = {
                let $h = &db;
                $read
            };
            assert_eq!(
                counts(&db).served - served,
                $n,
                "{} read on the calling thread",
                stringify!($read)
            );
            let there = {
                let $h = &sqlx;
                $read
            };
            assert_eq!(here, there, "{}", stringify!($read));
            here
        }};
    }
    let user = same!(1, |h| h.users().get_by_id(ada.id).await.unwrap());
    assert_eq!(user.unwrap().email, "ada@example.org");
    same!(1, |h| h
        .users()
        .get_by_email("ada@example.org")
        .await
        .unwrap());
    same!(1, |h| h
        .users()
        .list_by_status_paginated(pierre_db::UserStatus::Active, &page)
        .await
        .unwrap());
    same!(1, |h| h.tenants().get_by_id(tenant).await.unwrap());
    same!(1, |h| h.tenants().get_by_slug(&slug).await.unwrap());
    same!(1, |h| h.tenants().list(&page).await.unwrap());
    let found = same!(1, |h| h
        .api_keys()
        .find_by_prefix_and_verify(key.plaintext.expose())
        .await
        .unwrap());
    assert_eq!(found.unwrap().id, key.key.id);
    let got = same!(1, |h| h
        .tenant(tenant)
        .oauth_tokens()
        .get(ada.id, OauthProvider::Strava)
        .await
        .unwrap());
    assert_eq!(got.unwrap().access_token.expose(), "ya29.first");
    same!(1, |h| h
        .tenant(tenant)
        .oauth_tokens()
        .list_for_provider_paged(OauthProvider::Strava, &page)
        .await
        .unwrap());
    same!(1, |h| h.oauth2_clients().get(&client).await.unwrap());
    same!(1, |h| h.mcp_tokens().get(mcp, ada.id).await.unwrap());
    // The conversation's owner is checked first, then the page is read.
    let messages = same!(2, |h| h
        .tenant(tenant)
        .chat()
        .messages(ada.id, talk.id, &page)
        .await
        .unwrap());
    let rest = same!(2, |h| h
        .tenant(tenant)
        .chat()
        .messages(
            ada.id,
            talk.id,
            &PageRequest::after(messages.next_cursor.clone().unwrap(), 2)
        )
        .await
        .unwrap());
    assert_eq!(rest.items[0].content, "m2");
    // The recipe, then its ingredients.
    let oats = same!(2, |h| h
        .tenant(tenant)
        .recipes()
        .get(ada.id, recipe)
        .await
        .unwrap());
    assert_eq!(oats.ingredients.len(), 3);
    let filter = RequestLogFilter {
        user_id: Some(ada.id),
        ..RequestLogFilter::default()
    };
    let logs = same!(1, |h| h
        .usage()
        .list_request_logs(&filter, &page)
        .await
        .unwrap());
    assert_eq!(logs.items.len(), 2);
    assert!(logs.has_more);

    let after = counts(&db);
    assert_eq!(after.fell_back, before.fell_back, "no read was given up");
    assert!(after.idle_connections >= 1);
}

#[tokio::test]
async fn reads_inside_a_transaction_see_its_own_writes_through_sqlx() {
    let dir = tempfile::tempdir().unwrap();
    let (db, ada) = with_ada(&dir, 4).await;
    let served = counts(&db).served;
    let seen = db
        .transaction(move |tx| {
            Box::pin(async move {
                tx.users().update_display_name(ada, Some("inside")).await?;
                tx.users().get_by_id(ada).await
            })
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.display_name.as_deref(), Some("inside"));
    assert_eq!(
        counts(&db).served,
        served,
        "no read of the transaction ran here"
    );
}

/// 16 tasks on a multi-threaded runtime, each writing through the pool and
/// reading its write back on the calling thread, 10,000 times in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_write_committed_before_a_read_starts_is_seen() {
    const TASKS: usize = 16;
    const ROUNDS: usize = 625;
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = file(&dir, 8).await;
    let mut users = Vec::new();
    for i in 0..TASKS {
        users.push(
            db.users()
                .create(NewUser::new(format!("u{i}@example.org"), "h"))
                .await
                .unwrap()
                .id,
        );
    }
    let before = counts(&db);
    let tasks: Vec<_> = users
        .into_iter()
        .map(|user| {
            let db = db.clone();
            tokio::spawn(async move {
                for round in 0..ROUNDS {
                    let name = format!("round {round}");
                    db.users()
                        .update_display_name(user, Some(&name))
                        .await
                        .unwrap();
                    let read = db.users().get_by_id(user).await.unwrap().unwrap();
                    assert_eq!(read.display_name.as_deref(), Some(name.as_str()));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let after = counts(&db);
    let reads = (after.served - before.served) + (after.fell_back - before.fell_back);
    assert_eq!(reads, (TASKS * ROUNDS) as u64);
    // A given-up read would still have been checked above; but the path
    // under test must be the one that answered.
    assert!(
        after.served - before.served >= (TASKS * ROUNDS) as u64 * 99 / 100,
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_write_transaction_neither_blocks_nor_shows_through() {
    let dir = tempfile::tempdir().unwrap();
    let (db, ada) = with_ada(&dir, 4).await;
    db.users()
        .update_display_name(ada, Some("committed"))
        .await
        .unwrap();
    let (written, wait_written) = tokio::sync::oneshot::channel::<()>();
    let (finish, wait_finish) = tokio::sync::oneshot::channel::<()>();
    let parts = Arc::new(std::sync::Mutex::new(Some((written, wait_finish))));
    let writer = {
        let db = db.clone();
        tokio::spawn(async move {
            db.transaction(move |tx| {
                let parts = parts.clone();
                Box::pin(async move {
                    tx.users()
                        .update_display_name(ada, Some("uncommitted"))
                        .await?;
                    let (written, wait_finish) = parts.lock().unwrap().take().unwrap();
                    written.send(()).unwrap();
                    wait_finish.await.unwrap();
                    Ok(())
                })
            })
            .await
            .unwrap();
        })
    };
    wait_written.await.unwrap();
    let served = counts(&db).served;
    for _ in 0..100 {
        let started = Instant::now();
        let user = db.users().get_by_id(ada).await.unwrap().unwrap();
        assert_eq!(user.display_name.as_deref(), Some("committed"));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
    assert_eq!(
        counts(&db).served - served,
        100,
        "the writer's lock stopped no reader"
    );
    finish.send(()).unwrap();
    writer.await.unwrap();
    let user = db.users().get_by_id(ada).await.unwrap().unwrap();
    assert_eq!(user.display_name.as_deref(), Some("uncommitted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_beside_checkpoints_that_reset_the_log_stay_correct() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let (db, ada) = with_ada(&dir, 4).await;
    let reads = Arc::new(AtomicUsize::new(0));
    // Writes, each followed by a checkpoint that resets the log; notes how
    // many reads had run at each reset that succeeded (busy = 0).
    let checkpointer = {
        let (db, reads) = (db.clone(), reads.clone());
        tokio::spawn(async move {
            let mut resets = Vec::new();
            for n in 0..300 {
                db.users()
                    .update_display_name(ada, Some(&format!("v{n}")))
                    .await
                    .unwrap();
                let row = db
                    .unscoped_connection()
                    .query_one_raw(sea_orm::Statement::from_string(
                        sea_orm::DbBackend::Sqlite,
                        "PRAGMA wal_checkpoint(TRUNCATE)",
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                let busy: i32 = row.try_get_by_index(0).unwrap();
                if busy == 0 {
                    resets.push(reads.load(Ordering::Relaxed));
                }
                tokio::task::yield_now().await;
            }
            resets
        })
    };
    let mut last = -1i64;
    while !checkpointer.is_finished() || reads.load(Ordering::Relaxed) < 1_000 {
        let user = db.users().get_by_id(ada).await.unwrap().unwrap();
        // Names only move forward: no read sees a state older than one
        // it saw before (nor a torn one).
        if let Some(name) = user.display_name {
            let v: i64 = name.trim_start_matches('v').parse().unwrap();
            assert!(v >= last, "v{v} after v{last}");
            last = v;
        }
        reads.fetch_add(1, Ordering::Relaxed);
    }
    let resets = checkpointer.await.unwrap();
    // The log was reset while the reads ran: reads came between resets.
    assert!(
        resets.windows(2).any(|pair| pair[1] > pair[0]),
        "resets at reads {resets:?}"
    );
    let counts = counts(&db);
    assert!(
        counts.served >= reads.load(Ordering::Relaxed) as u64 * 9 / 10,
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reads_beside_a_rotation_and_reencryption_open_every_token() {
    let dir = tempfile::tempdir().unwrap();
    let (db, ada) = with_ada(&dir, 4).await;
    let tenant: TenantId = common::tenant_of(&db, ada).await;
    let mut users = Vec::new();
    for i in 0..40 {
        let user = db
            .users()
            .create(NewUser::new(format!("u{i}@example.org"), "h"))
            .await
            .unwrap()
            .id;
        db.tenant(tenant)
            .oauth_tokens()
            .upsert(token(user, &format!("access-{i}")))
            .await
            .unwrap();
        users.push(user);
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (db, stop, users) = (db.clone(), stop.clone(), users.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || reads < 200 {
                let i = reads % users.len();
                let got = db
                    .tenant(tenant)
                    .oauth_tokens()
                    .get(users[i], OauthProvider::Strava)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(got.access_token.expose(), format!("access-{i}"));
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    let security = db.security();
    for _ in 0..3 {
        security.rotate_data_key().await.unwrap();
        let report = security
            .reencrypt_all(7, |_| ControlFlow::Continue(()))
            .await
            .unwrap();
        assert!(!report.stopped);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.await.unwrap() >= 200);
    assert!(counts(&db).served >= 200);
}

#[tokio::test]
async fn another_tenants_token_is_not_found_on_the_calling_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (db, ada) = with_ada(&dir, 4).await;
    let acme = common::tenant_of(&db, ada).await;
    let globex = common::tenant_of(&db, ada).await;
    db.tenant(acme)
        .oauth_tokens()
        .upsert(token(ada, "acme-token"))
        .await
        .unwrap();
    let served = counts(&db).served;
    let theirs = db
        .tenant(globex)
        .oauth_tokens()
        .get(ada, OauthProvider::Strava)
        .await
        .unwrap();
    assert!(theirs.is_none());
    let page = db
        .tenant(globex)
        .oauth_tokens()
        .list_for_provider_paged(OauthProvider::Strava, &PageRequest::first(10))
        .await
        .unwrap();
    assert!(page.items.is_empty());
    let mine = db
        .tenant(acme)
        .oauth_tokens()
        .get(ada, OauthProvider::Strava)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mine.access_token.expose(), "acme-token");
    assert_eq!(counts(&db).served - served, 3);
}

#[tokio::test]
async fn a_cell_stored_unlike_sqlx_stores_it_is_read_through_sqlx() {
    let dir = tempfile::tempdir().unwrap();
    let (db, ada) = with_ada(&dir, 4).await;
    // A form sqlx reads (SQLite's own) but never writes.
    db.unscoped_connection()
        .execute_unprepared("UPDATE users SET last_active = '2026-01-02 03:04:05'")
        .await
        .unwrap();
    let before = counts(&db);
    let user = db.users().get_by_id(ada).await.unwrap().unwrap();
    assert_eq!(user.last_active.to_rfc3339(), "2026-01-02T03:04:05+00:00");
    let after = counts(&db);
    assert_eq!(after.fell_back - before.fell_back, 1);
    assert_eq!(after.served, before.served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_past_the_busy_timeout_sends_the_read_through_sqlx() {
    let dir = tempfile::tempdir().unwrap();
    // One pooled connection, which takes the file for itself: the
    // calling thread's connections meet a lock they cannot wait out.
    // (No reader is open yet: an open reader's shared lock would stop
    // the pool's connection from taking the file. The first read's open
    // meets the lock; the next reads, within a second, do not try again.)
    let (db, ada) = with_ada(&dir, 1).await;
    let pool = db.unscoped_connection();
    pool.execute_unprepared("PRAGMA locking_mode = EXCLUSIVE")
        .await
        .unwrap();
    db.users()
        .update_display_name(ada, Some("locked in"))
        .await
        .unwrap();
    let before = counts(&db);
    let started = Instant::now();
    for _ in 0..10 {
        let user = db.users().get_by_id(ada).await.unwrap().unwrap();
        assert_eq!(user.display_name.as_deref(), Some("locked in"));
    }
    let after = counts(&db);
    assert_eq!(after.fell_back - before.fell_back, 10);
    assert_eq!(after.served, before.served);
    assert_eq!(after.idle_connections, 0, "no reader could open");
    // Each read waited at most the busy timeout before it went on.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    pool.execute_unprepared("PRAGMA locking_mode = NORMAL")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_closed_handle_reads_nothing_on_the_calling_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (db, ada) = with_ada(&dir, 2).await;
    let clone = db.clone();
    assert!(clone.users().get_by_id(ada).await.unwrap().is_some());
    db.close().await.unwrap();
    assert!(clone.users().get_by_id(ada).await.is_err());
    assert_eq!(counts(&clone).idle_connections, 0);
}

#[tokio::test]
async fn the_readers_open_the_file_sqlx_opens() {
    let dir = tempfile::tempdir().unwrap();
    // A percent-encoded space: sqlx decodes it, and so must the readers.
    let url = format!("sqlite:{}/with%20space.db", dir.path().display());
    let mut config = common::keyed_config(&url, common::key(), 2);
    config.sqlite_calling_thread_reads = true;
    let db = common::connect(config).await;
    assert!(dir.path().join("with space.db").exists());
    let user = db
        .users()
        .create(NewUser::new("ada@example.org", "h"))
        .await
        .unwrap()
        .id;
    assert!(db.users().get_by_id(user).await.unwrap().is_some());
    assert_eq!((counts(&db).served, counts(&db).fell_back), (1, 0));

    // Another VFS: the readers would not open the file the same way.
    let url = format!(
        "sqlite:{}?vfs=unix-none",
        dir.path().join("vfs.db").display()
    );
    let mut config = common::keyed_config(&url, common::key(), 2);
    config.sqlite_calling_thread_reads = true;
    let db = common::connect(config).await;
    assert!(db.calling_thread_reads().is_none());
}

#[tokio::test]
async fn the_path_is_off_in_memory_and_when_turned_off() {
    let memory = common::open_keyed("sqlite::memory:", common::key(), 1).await;
    assert!(memory.calling_thread_reads().is_none());
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("off.db").display());
    let mut config = common::keyed_config(&url, common::key(), 2);
    config.sqlite_calling_thread_reads = false;
    let off = common::connect(config).await;
    assert!(off.calling_thread_reads().is_none());
    let vars = std::collections::HashMap::from([
        ("DATABASE_URL".to_owned(), url.clone()),
        (
            "PIERRE_MASTER_ENCRYPTION_KEY".to_owned(),
            "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=".to_owned(),
        ),
        (
            pierre_db::ENV_SQLITE_CALLING_THREAD_READS.to_owned(),
            "false".to_owned(),
        ),
    ]);
    let config = pierre_db::DatabaseConfig::from_vars(&vars).unwrap();
    assert!(!config.sqlite_calling_thread_reads);
    let mut vars = vars;
    vars.remove(pierre_db::ENV_SQLITE_CALLING_THREAD_READS);
    assert!(
        pierre_db::DatabaseConfig::from_vars(&vars)
            .unwrap()
            .sqlite_calling_thread_reads
    );
}
