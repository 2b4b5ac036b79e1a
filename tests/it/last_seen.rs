//! "Last seen" times never move backwards. A caller takes its time before
//! its write, and concurrent writes commit in any order: the stored time
//! must be the latest one written, not the last writer's (issue 29).
//!
//! Each writer runs once later then once earlier (commits in reverse time
//! order, deterministically), then 16 at once with the latest time given to
//! the first started, on a SQLite file with a pool of 8 and on PostgreSQL.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pierre_db::{ApiKeyTier, Database, NewAdminToken, NewApiKey, NewUser, UserId};

use crate::common;

const RACERS: usize = 16;

type Use = Arc<dyn Fn(DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

type Read = Box<dyn Fn() -> Pin<Box<dyn Future<Output = DateTime<Utc>> + Send>> + Send + Sync>;

/// What one writer is checked with: a use made at a given time, and the
/// stored time read back.
struct Writer {
    name: &'static str,
    use_at: Use,
    read: Read,
}

/// A time in the near future (every session and token used here is still
/// live then), in whole microseconds.
fn base() -> DateTime<Utc> {
    let at = Utc::now() + Duration::minutes(5);
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap()
}

fn us(n: usize) -> Duration {
    Duration::microseconds(n as i64)
}

async fn check(b: &str, writer: Writer) {
    let name = writer.name;
    let t0 = base();
    (writer.use_at)(t0 + us(10)).await;
    (writer.use_at)(t0 + us(5)).await;
    assert_eq!(
        (writer.read)().await,
        t0 + us(10),
        "{b}: {name}: an earlier use committed last moved the time back"
    );

    let race = t0 + us(100);
    let use_at = writer.use_at.clone();
    common::all_at_once(RACERS, move |i| {
        // The first started gets the latest time: commits land out of
        // time order.
        let at = race + us(RACERS - i);
        (use_at)(at)
    })
    .await;
    assert_eq!(
        (writer.read)().await,
        race + us(RACERS),
        "{b}: {name}: after {RACERS} concurrent uses the stored time is not the latest"
    );
}

async fn owner(db: &Database) -> UserId {
    db.users()
        .create(NewUser::new("ada@example.org", "h"))
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn last_seen_times_never_move_backwards_under_concurrent_use() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let db = t.db.clone();
        let ada = owner(&db).await;

        // Admin tokens: record_use.
        let admin = db
            .admin_tokens()
            .create(NewAdminToken::new("admin-token-last-seen", "s", "ops"))
            .await
            .unwrap()
            .id;
        let (d1, d2) = (db.clone(), db.clone());
        check(
            b,
            Writer {
                name: "admin_tokens.last_used_at",
                use_at: Arc::new(move |at| {
                    let db = d1.clone();
                    Box::pin(async move {
                        let used = pierre_db::AdminTokenUse::new("provision_key");
                        common::started_at(at, db.admin_tokens().record_use(admin, used))
                            .await
                            .unwrap();
                    })
                }),
                read: Box::new(move || {
                    let db = d2.clone();
                    Box::pin(async move {
                        db.admin_tokens()
                            .get(admin)
                            .await
                            .unwrap()
                            .last_used_at
                            .unwrap()
                    })
                }),
            },
        )
        .await;

        // MCP tokens: validate.
        let mcp = db.mcp_tokens().create(ada, "cli", None).await.unwrap();
        let (plaintext, mcp_id) = (mcp.plaintext.expose().to_owned(), mcp.token.id);
        let (d1, d2) = (db.clone(), db.clone());
        check(
            b,
            Writer {
                name: "user_mcp_tokens.last_used_at",
                use_at: Arc::new(move |at| {
                    let (db, plaintext) = (d1.clone(), plaintext.clone());
                    Box::pin(async move {
                        let used = common::started_at(at, db.mcp_tokens().validate(&plaintext))
                            .await
                            .unwrap();
                        assert!(used.is_some());
                    })
                }),
                read: Box::new(move || {
                    let db = d2.clone();
                    Box::pin(async move {
                        let token = db.mcp_tokens().get(mcp_id, ada).await.unwrap();
                        token.last_used_at.unwrap()
                    })
                }),
            },
        )
        .await;

        // API keys: update_last_used.
        let key = db
            .api_keys()
            .create(NewApiKey::new(ada, "agents", ApiKeyTier::Starter))
            .await
            .unwrap();
        let key_id = key.key.id;
        let (d1, d2) = (db.clone(), db.clone());
        check(
            b,
            Writer {
                name: "api_keys.last_used_at",
                use_at: Arc::new(move |at| {
                    let db = d1.clone();
                    Box::pin(async move {
                        common::started_at(at, db.api_keys().update_last_used(key_id))
                            .await
                            .unwrap();
                    })
                }),
                read: Box::new(move || {
                    let db = d2.clone();
                    Box::pin(async move {
                        let key = db.api_keys().admin_get_by_id(key_id).await.unwrap();
                        key.last_used_at.unwrap()
                    })
                }),
            },
        )
        .await;

        // A2A sessions: touch.
        let client = common::a2a_client(&db, ada, key_id).await.client.id;
        let session = db
            .a2a_sessions()
            .create(
                ada,
                client,
                None,
                &["tasks"],
                Utc::now() + Duration::hours(1),
            )
            .await
            .unwrap();
        let token = session.token.expose().to_owned();
        let (d1, d2, token2) = (db.clone(), db.clone(), token.clone());
        check(
            b,
            Writer {
                name: "a2a_sessions.last_activity",
                use_at: Arc::new(move |at| {
                    let (db, token) = (d1.clone(), token.clone());
                    Box::pin(async move {
                        let live = common::started_at(at, db.a2a_sessions().touch(&token))
                            .await
                            .unwrap();
                        assert!(live);
                    })
                }),
                read: Box::new(move || {
                    let (db, token) = (d2.clone(), token2.clone());
                    Box::pin(async move {
                        let session = db.a2a_sessions().get(&token).await.unwrap().unwrap();
                        session.last_activity
                    })
                }),
            },
        )
        .await;

        // Users: update_last_active.
        let (d1, d2) = (db.clone(), db.clone());
        check(
            b,
            Writer {
                name: "users.last_active",
                use_at: Arc::new(move |at| {
                    let db = d1.clone();
                    Box::pin(async move {
                        common::started_at(at, db.users().update_last_active(ada))
                            .await
                            .unwrap();
                    })
                }),
                read: Box::new(move || {
                    let db = d2.clone();
                    Box::pin(async move {
                        db.users()
                            .get_by_id(ada)
                            .await
                            .unwrap()
                            .unwrap()
                            .last_active
                    })
                }),
            },
        )
        .await;
    }
}
