//! Read replicas: the read path, its refusals, and (with a streaming
//! standby of the test server, `PIERRE_TEST_REPLICA_URL`) lag, failover
//! and read-your-writes against a real replica.
//!
//! The standby tests pause and stop the one standby of the run, so they
//! take turns (`STANDBY`); the other tests never use a replica.

use std::time::{Duration, Instant};

use pierre_db::{
    Database, DatabaseConfig, DatabaseError, MasterKey, NewOAuthToken, NewUser, OauthProvider,
    PageRequest, UserStatus,
};
use sea_orm::ConnectionTrait;

use crate::common;

/// The standby server of the test PostgreSQL server (its superuser URL).
const REPLICA_URL_VAR: &str = "PIERRE_TEST_REPLICA_URL";
/// The standby's data directory and port, for the test that stops it.
const STANDBY_DIR_VAR: &str = "PIERRE_TEST_STANDBY_DIR";

/// One standby test at a time.
static STANDBY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This test's turn with the standby, its replay running (a test that
/// failed while it was paused may have left it so).
async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    let turn = STANDBY.lock().await;
    standby_admin()
        .await
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    turn
}

/// The standby's `host:port`, when the run has one.
fn standby_server() -> Option<String> {
    let url = std::env::var(REPLICA_URL_VAR).ok()?;
    let rest = &url[url.find("://")? + 3..];
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    Some(rest.split('/').next()?.to_owned())
}

/// `url` (a database of the test server) on the standby.
fn on_standby(url: &str, standby: &str) -> String {
    let scheme_end = url.find("://").unwrap() + 3;
    let rest = &url[scheme_end..];
    let (user, host_and_path) = match rest.find('@') {
        Some(at) => (&rest[..=at], &rest[at + 1..]),
        None => ("", rest),
    };
    let path = &host_and_path[host_and_path.find('/').unwrap()..];
    format!("{}{user}{standby}{path}", &url[..scheme_end])
}

/// A standby test's database on the test server, the same database on
/// the standby, a master key for its handles, and its turn with the
/// standby (replay running).
struct Standby {
    url: String,
    replica: String,
    key: MasterKey,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Standby {
    /// `None` when the run has no standby (said once) or no server.
    async fn take() -> Option<Self> {
        let Some(standby) = standby_server() else {
            say_once_that_no_standby_ran();
            return None;
        };
        let url = common::new_postgres_database().await?;
        let replica = on_standby(&url, &standby);
        Some(Self {
            url,
            replica,
            key: common::key(),
            _turn: turn().await,
        })
    }

    /// A handle on the database reading from the standby, checking it
    /// every 50 ms.
    async fn open(&self, max_lag: Duration) -> Database {
        self.open_checking(max_lag, Duration::from_millis(50)).await
    }

    /// [`Standby::open`], checking the standby every `interval`.
    async fn open_checking(&self, max_lag: Duration, interval: Duration) -> Database {
        let mut config = common::keyed_config(&self.url, self.key.clone(), 8);
        config.replica_urls = vec![self.replica.clone()];
        config.max_replica_lag = max_lag;
        config.replica_check_interval = interval;
        common::connect(config).await
    }
}

/// Says once per run, where the person running the tests sees it (the
/// harness captures the output of passing tests), that the standby tests
/// did not run.
fn say_once_that_no_standby_ran() {
    use std::io::Write;
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nnote: {REPLICA_URL_VAR} is unset: the read-replica tests against a streaming \
             standby did not run (`scripts/throwaway-postgres standby DIR PORT PRIMARY_PORT` \
             makes one; .ci/run does)\n"
        );
    });
}

/// Waits (at most 20 s) until `db`'s replica is in use, or not.
async fn until_in_use(db: &Database, in_use: bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = db.replica_status().await;
        if status[0].in_use == in_use {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never became {}: {status:?}",
            if in_use { "usable" } else { "unusable" }
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The user with `email`, read through the replica path.
async fn on_replica(db: &Database, email: &str) -> Option<pierre_db::User> {
    let users = db.replica().users();
    users.get_by_email_including_inactive(email).await.unwrap()
}

/// Runs `read` until the replica itself served it and `done` holds of what
/// it returned (at most 20 s): before the replica has replayed the schema
/// and the rows, its reads fail or miss and the primary answers instead.
async fn until_served<T, Fut>(
    db: &Database,
    mut read: impl FnMut() -> Fut,
    done: impl Fn(&T) -> bool,
) -> T
where
    Fut: std::future::Future<Output = T>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        until_in_use(db, true).await;
        let before = reads(db).await;
        let found = read().await;
        if reads(db).await > before && done(&found) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never served it: {:?}",
            db.replica_status().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the replica itself serves the users lookup the tests read
/// by: it has replayed the schema (a replica behind on the migrations
/// fails such a read, which the primary then serves).
async fn schema_replayed(db: &Database) {
    let lookup = || on_replica(db, "nobody@example.org");
    until_served(db, lookup, Option::is_none).await;
}

async fn reads(db: &Database) -> u64 {
    db.replica_status().await[0].reads
}

/// The standby's superuser connection.
async fn standby_admin() -> sea_orm::DatabaseConnection {
    sea_orm::Database::connect(std::env::var(REPLICA_URL_VAR).unwrap())
        .await
        .unwrap()
}

/// Pauses the standby's replay until dropped.
struct Paused(sea_orm::DatabaseConnection);

impl Paused {
    async fn start() -> Self {
        let admin = standby_admin().await;
        admin
            .execute_unprepared("SELECT pg_wal_replay_pause()")
            .await
            .unwrap();
        Self(admin)
    }

    async fn resume(self) {
        self.0
            .execute_unprepared("SELECT pg_wal_replay_resume()")
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn sqlite_refuses_replicas_with_a_clear_error() {
    let mut config = DatabaseConfig::new("sqlite::memory:", common::key());
    config.replica_urls = vec!["postgres://replica/pierre".to_owned()];
    let err = Database::connect_with(config).await.unwrap_err();
    assert!(matches!(err, DatabaseError::Config(_)), "{err}");
    assert!(
        err.to_string().contains("PIERRE_DATABASE_REPLICA_URLS"),
        "{err}"
    );

    let vars = [
        ("DATABASE_URL", "postgres://primary/pierre"),
        ("PIERRE_MASTER_ENCRYPTION_KEY", &common::key().to_base64()),
        (
            "PIERRE_DATABASE_REPLICA_URLS",
            " postgres://r1/pierre, postgres://u:pw@r2/pierre ,",
        ),
        ("PIERRE_MAX_REPLICA_LAG_MS", "2500"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = DatabaseConfig::from_vars(&vars).unwrap();
    assert_eq!(
        config.replica_urls,
        ["postgres://r1/pierre", "postgres://u:pw@r2/pierre"]
    );
    assert_eq!(config.max_replica_lag, Duration::from_millis(2500));
    // Checks must come well within the bound: a replica's lag counts the
    // time since its last check.
    let mut slow = vars.clone();
    slow.insert(
        "PIERRE_REPLICA_CHECK_INTERVAL_MS".to_owned(),
        "1500".to_owned(),
    );
    let err = DatabaseConfig::from_vars(&slow).unwrap_err();
    assert!(err.to_string().contains("at most half"), "{err}");
    assert!(!format!("{config:?}").contains("pw"), "the password shows");
}

#[tokio::test]
async fn a_write_through_the_read_path_is_refused_before_it_is_sent() {
    for t in common::databases().await {
        let user = common::user(&t, "reader@example.org").await;
        let tenant = common::tenant(&t, user).await;
        let before = t.db.users().count().await.unwrap();

        let err =
            t.db.replica()
                .users()
                .create(NewUser::new("w@example.org", "h"))
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ReadOnly(_)),
            "{}: {err}",
            t.backend
        );
        assert_eq!(err.kind(), "read_only");
        // A sealed write and a write transaction: refused before `BEGIN`.
        let err =
            t.db.tenant(tenant)
                .replica()
                .oauth_tokens()
                .upsert(NewOAuthToken::new(user, OauthProvider::Strava, "a"))
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ReadOnly(_)),
            "{}: {err}",
            t.backend
        );
        let err =
            t.db.replica()
                .users()
                .set_active(user, false, None)
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ReadOnly(_)),
            "{}: {err}",
            t.backend
        );

        assert_eq!(t.db.users().count().await.unwrap(), before);
        assert!(
            t.db.tenant(tenant)
                .oauth_tokens()
                .get(user, OauthProvider::Strava)
                .await
                .unwrap()
                .is_none()
        );
        // Reads through it are the primary's without replicas.
        let users = t.db.replica().users();
        assert_eq!(users.count().await.unwrap(), before);
        assert_eq!(
            t.db.replica_fallbacks(),
            0,
            "no replica: nothing to fall back from"
        );

        // With every pool closed, anything sent would fail as such: the
        // refusal shows the write was never sent.
        t.db.clone().close().await.unwrap();
        let sent = t.db.users().count().await.unwrap_err();
        assert!(!matches!(sent, DatabaseError::ReadOnly(_)), "{sent}");
        let err =
            t.db.replica()
                .users()
                .create(NewUser::new("late@example.org", "h"))
                .await
                .unwrap_err();
        assert!(
            matches!(err, DatabaseError::ReadOnly(_)),
            "{}: {err}",
            t.backend
        );
    }
}

#[tokio::test]
async fn writes_on_the_primary_appear_through_the_replica_path() {
    let Some(standby) = Standby::take().await else {
        return;
    };
    let writer = standby.open(Duration::from_secs(5)).await;
    let user = writer
        .users()
        .create(NewUser::new("seen@example.org", "h"))
        .await
        .unwrap()
        .id;
    writer
        .users()
        .update_status(user, UserStatus::Active, None)
        .await
        .unwrap();
    let tenant = common::tenant_of(&writer, user).await;
    writer
        .tenant(tenant)
        .oauth_tokens()
        .upsert(NewOAuthToken::new(user, OauthProvider::Fitbit, "secret"))
        .await
        .unwrap();

    // Another handle, which wrote nothing: its reads go to the replica.
    let reader = standby.open(Duration::from_secs(5)).await;
    let before = reads(&reader).await;
    let tokens = reader.tenant(tenant).replica().oauth_tokens();
    let token = until_served(
        &reader,
        || async { tokens.get(user, OauthProvider::Fitbit).await.unwrap() },
        Option::is_some,
    )
    .await
    .unwrap();
    assert_eq!(
        token.access_token.expose(),
        "secret",
        "opened as on the primary"
    );
    let page = reader
        .replica()
        .users()
        .list_by_status_paginated(UserStatus::Active, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    // The scope holds there too: another tenant sees no token.
    let other = common::tenant_of(&writer, user).await;
    until_in_use(&reader, true).await;
    let elsewhere = reader.tenant(other).replica().oauth_tokens();
    assert!(
        elsewhere
            .list_for_provider(OauthProvider::Fitbit)
            .await
            .unwrap()
            .is_empty()
    );
    let status = reader.replica_status().await;
    assert!(
        status[0].reads >= before + 2,
        "the replica served too little of it: {status:?}, {} fallbacks",
        reader.replica_fallbacks()
    );
}

#[tokio::test]
async fn paused_replay_past_the_bound_sends_reads_to_the_primary_until_it_resumes() {
    let Some(standby) = Standby::take().await else {
        return;
    };
    let writer = standby.open(Duration::from_secs(5)).await;
    let reader = standby.open(Duration::from_secs(1)).await;
    until_in_use(&reader, true).await;

    let paused = Paused::start().await;
    writer
        .users()
        .create(NewUser::new("late@example.org", "h"))
        .await
        .unwrap();
    // Out of use for its lag (which only grows while replay is paused),
    // not for a check that a loaded machine was slow to answer.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = reader.replica_status().await;
        if !status[0].in_use
            && status[0]
                .lag
                .is_some_and(|lag| lag > Duration::from_secs(1))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lag never passed the bound: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let fallbacks = reader.replica_fallbacks();
    let seen = on_replica(&reader, "late@example.org").await;
    assert!(seen.is_some(), "served stale data past the bound");
    assert!(
        reader.replica_fallbacks() > fallbacks,
        "the primary's read was not counted"
    );

    paused.resume().await;
    // Back on the replica, which replays the user within the bound (the
    // reader did not write it: no promise sooner than that).
    let late = || on_replica(&reader, "late@example.org");
    until_served(&reader, late, Option::is_some).await;
}

#[tokio::test]
async fn a_stopped_standby_leaves_reads_working_from_the_primary() {
    let Some(standby) = Standby::take().await else {
        return;
    };
    let Ok(dir) = std::env::var(STANDBY_DIR_VAR) else {
        eprintln!("{STANDBY_DIR_VAR} is not set: the standby cannot be stopped, test skipped");
        return;
    };
    // Checks far apart: the reads themselves must find the standby gone.
    let db = standby
        .open_checking(Duration::from_secs(10), Duration::from_secs(5))
        .await;
    common::user(
        &common::TestDb {
            db: db.clone(),
            backend: "postgres",
            url: standby.url.clone(),
        },
        "still@example.org",
    )
    .await;
    // On the replica before it stops.
    let still = || on_replica(&db, "still@example.org");
    until_served(&db, still, Option::is_some).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/throwaway-postgres");
    let port = standby_server()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let run = |args: &[&str]| {
        let status = std::process::Command::new(script)
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{script} {args:?}");
    };
    run(&["stop", &dir]);
    let reading = db.clone();
    let outcome = async move {
        let db = reading;
        for _ in 0..20 {
            let seen = db.replica().users().get_by_email("still@example.org").await;
            assert!(
                seen.unwrap().is_some(),
                "a read failed with the standby down"
            );
        }
        assert!(db.replica_fallbacks() >= 20);
        assert!(!db.replica_status().await[0].in_use);
    };
    // Whatever the outcome, the standby runs again for the tests after.
    let checked = tokio::spawn(outcome).await;
    run(&["resume", &dir, &port]);
    checked.unwrap();
    until_in_use(&db, true).await;
}

#[tokio::test]
async fn read_your_writes_holds_with_replay_lagging() {
    let Some(standby) = Standby::take().await else {
        return;
    };
    // A bound far past the test's length: the stale replica stays in use,
    // so only read-your-writes keeps the reads below off it.
    let writer = standby.open(Duration::from_secs(600)).await;
    let bystander = standby.open(Duration::from_secs(600)).await;
    until_in_use(&writer, true).await;
    // The replica has the writer's schema before the pause (the bystander
    // wrote nothing).
    schema_replayed(&bystander).await;
    let paused = Paused::start().await;

    let misses = common::all_at_once(16, |task| {
        let writer = writer.clone();
        async move {
            let mut misses = 0;
            for i in 0..63 {
                let email = format!("ryw{task}-{i}@example.org");
                writer
                    .users()
                    .create(NewUser::new(&email, "h"))
                    .await
                    .unwrap();
                let read = on_replica(&writer, &email).await;
                if read.is_none() {
                    misses += 1;
                }
            }
            misses
        }
    })
    .await;
    // The same read by a handle that did not write it, served by the
    // replica: stale (the test above is not vacuous).
    let first = || on_replica(&bystander, "ryw0-0@example.org");
    let stale = until_served(&bystander, first, |_| true).await;
    paused.resume().await;
    assert_eq!(misses.iter().sum::<u32>(), 0, "a read missed its own write");
    assert!(
        stale.is_none(),
        "the replica was not behind: nothing was tested"
    );
}

#[tokio::test]
async fn a_transaction_never_touches_a_replica() {
    let Some(standby) = Standby::take().await else {
        return;
    };
    let writer = standby.open(Duration::from_secs(5)).await;
    let owner = writer
        .users()
        .create(NewUser::new("tx@example.org", "h"))
        .await
        .unwrap()
        .id;
    let tenant = common::tenant_of(&writer, owner).await;
    writer
        .tenant(tenant)
        .oauth_tokens()
        .upsert(NewOAuthToken::new(
            owner,
            OauthProvider::Garmin,
            "committed",
        ))
        .await
        .unwrap();
    // A handle that wrote nothing: outside a transaction its reads of the
    // token go to the replica once it has it.
    let db = standby.open(Duration::from_secs(5)).await;
    let tokens = db.tenant(tenant).replica().oauth_tokens();
    let get = || async { tokens.get(owner, OauthProvider::Garmin).await.unwrap() };
    until_served(&db, get, Option::is_some).await;

    // The same read inside a transaction, before and after a write of it.
    // A read that asked for a replica moves one of the two counts: served
    // there, or fallen back to the primary.
    let before = reads(&db).await;
    let fallbacks = db.replica_fallbacks();
    let (first, second) = db
        .transaction(move |tx| {
            Box::pin(async move {
                let tokens = tx.tenant(tenant).replica().oauth_tokens();
                let first = tokens.get(owner, OauthProvider::Garmin).await?;
                tx.tenant(tenant)
                    .oauth_tokens()
                    .upsert(NewOAuthToken::new(owner, OauthProvider::Garmin, "in-tx"))
                    .await?;
                let second = tokens.get(owner, OauthProvider::Garmin).await?;
                Ok((first, second))
            })
        })
        .await
        .unwrap();
    assert_eq!(first.unwrap().access_token.expose(), "committed");
    // Its own uncommitted write: only the transaction's connection has it.
    assert_eq!(second.unwrap().access_token.expose(), "in-tx");
    assert_eq!(
        (reads(&db).await, db.replica_fallbacks()),
        (before, fallbacks),
        "a statement of the transaction asked for a replica"
    );
}

#[tokio::test]
async fn the_heavy_reads_work_through_the_read_path() {
    use pierre_db::{
        AuditEventFilter, ConfigAuditFilter, NewConversation, RecipeFilter, RequestLogFilter,
    };
    for t in common::databases().await {
        let user = common::user(&t, "heavy@example.org").await;
        let tenant = common::tenant(&t, user).await;
        let key =
            t.db.api_keys()
                .create(pierre_db::NewApiKey::new(
                    user,
                    "k",
                    pierre_db::ApiKeyTier::Starter,
                ))
                .await
                .unwrap()
                .key
                .id;
        let client = common::a2a_client(&t.db, user, key).await.client.id;
        let chat = t.db.tenant(tenant).chat();
        let conversation = chat
            .create_conversation(NewConversation::new(user, "c"))
            .await
            .unwrap()
            .id;
        let (from, to) = (
            pierre_db::chrono::Utc::now() - pierre_db::chrono::Duration::days(1),
            pierre_db::chrono::Utc::now() + pierre_db::chrono::Duration::days(1),
        );
        let page = PageRequest::first(10);

        // Without replicas (SQLite) these are the primary's reads: none
        // may be refused as a write.
        let r = t.db.replica();
        let scope = t.db.tenant(tenant).replica();
        let what = t.backend;
        r.users()
            .list_by_status_paginated(UserStatus::Pending, &page)
            .await
            .expect(what);
        r.usage().usage_stats(key, from, to).await.expect(what);
        r.usage()
            .user_usage_stats(user, from, to)
            .await
            .expect(what);
        r.usage().top_tools(user, from, to, 5).await.expect(what);
        r.usage()
            .list_request_logs(&RequestLogFilter::default(), &page)
            .await
            .expect(what);
        r.a2a_usage()
            .stats(user, client, from, to)
            .await
            .expect(what);
        r.global_audit_events()
            .list(&AuditEventFilter::default(), &page)
            .await
            .expect(what);
        r.global_admin_config()
            .audit_log(&ConfigAuditFilter::default(), &page)
            .await
            .expect(what);
        scope
            .audit_events()
            .list(&AuditEventFilter::default(), &page)
            .await
            .expect(what);
        scope
            .admin_config()
            .audit_log(&ConfigAuditFilter::default(), &page)
            .await
            .expect(what);
        scope.admin_config().list(None).await.expect(what);
        let listed = scope
            .chat()
            .list_conversations(user, &page)
            .await
            .expect(what);
        assert_eq!(listed.items.len(), 1, "{what}");
        scope
            .chat()
            .messages(user, conversation, &page)
            .await
            .expect(what);
        scope
            .recipes()
            .list(user, &RecipeFilter::default(), &page)
            .await
            .expect(what);
        scope.members().list(&page).await.expect(what);
        r.api_keys().list_for_user(user).await.expect(what);
    }
}

#[tokio::test]
async fn a_session_waits_for_its_own_writes_not_the_handles() {
    let Some(standby) = Standby::take().await else {
        return;
    };
    // The first handle migrates (a write); the process's handle below
    // starts with none.
    let _migrated = standby.open(Duration::from_secs(600)).await;
    let db = standby.open(Duration::from_secs(600)).await;
    let request = db.session();
    schema_replayed(&request).await;

    let paused = Paused::start().await;
    db.users()
        .create(NewUser::new("process@example.org", "h"))
        .await
        .unwrap();
    // The process handle reads its own write (from the primary) ...
    let mine = on_replica(&db, "process@example.org").await;
    // ... and the session, which did not write it, reads on the replica
    // (a read the replica fails for a moment is tried again: a write of
    // another session holding it back would hold it back every time).
    let theirs = || on_replica(&request, "process@example.org");
    let theirs = until_served(&db, theirs, |_| true).await;
    request
        .users()
        .create(NewUser::new("request@example.org", "h"))
        .await
        .unwrap();
    let own = on_replica(&request, "request@example.org").await;
    paused.resume().await;
    assert!(mine.is_some(), "the handle missed its own write");
    assert!(
        theirs.is_none(),
        "the replica was not behind: nothing was tested"
    );
    assert!(own.is_some(), "the session missed its own write");
}
