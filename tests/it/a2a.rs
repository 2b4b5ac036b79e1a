//! A2A clients, sessions, tasks and usage.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use pierre_db::{
    A2aClient, ApiKeyTier, CreatedApiKey, Database, DatabaseError, NewA2aClient, NewA2aUsage,
    NewApiKey, NewUser, PageRequest, TaskStatus, UserId,
};
use pierre_db::{A2aClientId, A2aTaskId};
use sea_orm::{ConnectionTrait, Statement};

use crate::common;

struct Agent {
    owner: UserId,
    key: CreatedApiKey,
    client: A2aClient,
    secret: String,
}

async fn agent(db: &Database, email: &str) -> Agent {
    let owner = db
        .users()
        .create(NewUser::new(email, "h"))
        .await
        .unwrap()
        .id;
    let key = db
        .api_keys()
        .create(NewApiKey::new(owner, "agents", ApiKeyTier::Starter))
        .await
        .unwrap();
    let registered = common::a2a_client(db, owner, key.key.id).await;
    Agent {
        owner,
        key,
        client: registered.client,
        secret: registered.secret.expose().to_owned(),
    }
}

async fn exec(db: &Database, sql: &str) {
    let conn = db.unscoped_connection();
    conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap();
}

#[tokio::test]
async fn clients_are_owned_and_their_secrets_and_session_tokens_are_stored_hashed() {
    for t in common::databases().await {
        let b = t.backend;
        let a = agent(&t.db, "ada@example.org").await;
        let eve = agent(&t.db, "eve@example.org").await;
        let clients = t.db.a2a_clients();

        assert_eq!(clients.get(a.owner, a.client.id).await.unwrap(), a.client);
        assert!(matches!(
            clients.get(eve.owner, a.client.id).await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert!(matches!(
            clients.deactivate(eve.owner, a.client.id).await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert_eq!(
            clients.get_by_name(a.owner, "coach-bot").await.unwrap(),
            Some(a.client.clone())
        );
        assert_eq!(
            clients.get_by_api_key(a.key.key.id).await.unwrap(),
            Some(a.client.clone())
        );
        let page = clients
            .list_for_owner(a.owner, &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(page.items, std::slice::from_ref(&a.client), "{b}");
        assert!(clients.verify_secret(a.client.id, &a.secret).await.unwrap());
        assert!(
            !clients
                .verify_secret(a.client.id, &eve.secret)
                .await
                .unwrap()
        );

        // An API key of another user cannot be linked, and nothing is kept.
        let err = clients
            .register(NewA2aClient::new(
                a.owner,
                eve.key.key.id,
                "thief",
                "pk-thief",
                &["read_stats"],
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::NotFound { .. }),
            "{b}: {err:?}"
        );
        assert_eq!(clients.get_by_name(a.owner, "thief").await.unwrap(), None);
        let unknown_scope = NewA2aClient::new(a.owner, a.key.key.id, "x", "pk-x", &["root"]);
        assert!(matches!(
            clients.register(unknown_scope).await,
            Err(DatabaseError::InvalidInput {
                field: "permissions",
                ..
            })
        ));

        let opened =
            t.db.a2a_sessions()
                .create(
                    a.owner,
                    a.client.id,
                    None,
                    &["tasks"],
                    Utc::now() + Duration::hours(1),
                )
                .await
                .unwrap();
        let stored = common::text_column(&t.db, "SELECT client_secret FROM a2a_clients").await;
        let tokens = common::text_column(&t.db, "SELECT session_token FROM a2a_sessions").await;
        for (column, values, plain) in [
            ("client_secret", stored, a.secret.as_str()),
            ("session_token", tokens, opened.token.expose()),
        ] {
            for value in values {
                assert_eq!(value.len(), 64, "{b}: {column} holds a SHA-256 hex");
                assert!(
                    value.bytes().all(|c| c.is_ascii_hexdigit()),
                    "{b}: {column}"
                );
                assert!(!value.contains(plain) && !value.starts_with("pa2"), "{b}");
            }
        }
        // A scope the client may not be granted.
        assert!(matches!(
            t.db.a2a_sessions()
                .create(
                    a.owner,
                    a.client.id,
                    None,
                    &["write_goals"],
                    Utc::now() + Duration::hours(1)
                )
                .await,
            Err(DatabaseError::InvalidInput {
                field: "scopes",
                ..
            })
        ));
    }
}

#[tokio::test]
async fn deactivation_ends_sessions_stops_tasks_and_keys_and_a_failure_changes_nothing() {
    for t in common::databases().await {
        let b = t.backend;
        let a = agent(&t.db, "ada@example.org").await;
        let sessions = t.db.a2a_sessions();
        let opened = sessions
            .create(
                a.owner,
                a.client.id,
                None,
                &["tasks"],
                Utc::now() + Duration::hours(1),
            )
            .await
            .unwrap();
        let token = opened.token.expose();

        // An injected failure in the last step (the API keys) rolls back all.
        let (create, drop) = match t.db.unscoped_connection().get_database_backend() {
            sea_orm::DbBackend::Sqlite => (
                "CREATE TRIGGER fail_keys BEFORE UPDATE ON api_keys \
                 BEGIN SELECT RAISE(ABORT, 'injected'); END"
                    .to_owned(),
                "DROP TRIGGER fail_keys",
            ),
            _ => {
                exec(
                    &t.db,
                    "CREATE FUNCTION fail_keys() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'injected'; END $$",
                )
                .await;
                (
                    "CREATE TRIGGER fail_keys BEFORE UPDATE ON api_keys \
                     FOR EACH ROW EXECUTE FUNCTION fail_keys()"
                        .to_owned(),
                    "DROP TRIGGER fail_keys ON api_keys",
                )
            }
        };
        exec(&t.db, &create).await;
        assert!(
            t.db.a2a_clients()
                .deactivate(a.owner, a.client.id)
                .await
                .is_err()
        );
        exec(&t.db, drop).await;
        let client = t.db.a2a_clients().get(a.owner, a.client.id).await.unwrap();
        assert!(client.is_active, "{b}: the client stayed active");
        assert!(
            sessions.get(token).await.unwrap().is_some(),
            "{b}: session kept"
        );
        assert!(
            t.db.api_keys()
                .find_by_prefix_and_verify(a.key.plaintext.expose())
                .await
                .unwrap()
                .is_some(),
            "{b}: key kept"
        );

        t.db.a2a_clients()
            .deactivate(a.owner, a.client.id)
            .await
            .unwrap();
        t.db.a2a_clients()
            .deactivate(a.owner, a.client.id)
            .await
            .unwrap();
        assert!(sessions.get(token).await.unwrap().is_none(), "{b}");
        assert!(!sessions.touch(token).await.unwrap(), "{b}");
        assert!(matches!(
            t.db.a2a_tasks()
                .create(a.owner, a.client.id, "analyze", serde_json::json!({}))
                .await,
            Err(DatabaseError::Rejected {
                reason: "inactive",
                ..
            })
        ));
        assert!(matches!(
            sessions
                .create(
                    a.owner,
                    a.client.id,
                    None,
                    &["tasks"],
                    Utc::now() + Duration::hours(1)
                )
                .await,
            Err(DatabaseError::Rejected { .. })
        ));
        assert!(
            t.db.api_keys()
                .find_by_prefix_and_verify(a.key.plaintext.expose())
                .await
                .unwrap()
                .is_none(),
            "{b}: the linked key no longer works"
        );
        assert!(
            !t.db
                .a2a_clients()
                .verify_secret(a.client.id, &a.secret)
                .await
                .unwrap()
        );
        assert_eq!(
            t.db.a2a_clients()
                .get_by_api_key(a.key.key.id)
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn expired_sessions_are_invisible_and_concurrent_touches_all_count() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let a = agent(&t.db, "ada@example.org").await;
        let sessions = t.db.a2a_sessions();
        let live = sessions
            .create(
                a.owner,
                a.client.id,
                None,
                &["tasks"],
                Utc::now() + Duration::hours(1),
            )
            .await
            .unwrap();
        let soon = sessions
            .create(
                a.owner,
                a.client.id,
                None,
                &["tasks"],
                Utc::now() + Duration::milliseconds(200),
            )
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            sessions.get(soon.token.expose()).await.unwrap().is_none(),
            "{b}"
        );
        assert!(!sessions.touch(soon.token.expose()).await.unwrap(), "{b}");
        assert_eq!(
            sessions
                .list_active(a.owner, a.client.id)
                .await
                .unwrap()
                .len(),
            1,
            "{b}"
        );

        let token = live.token.expose().to_owned();
        let touched = common::all_at_once(32, |_| {
            let (db, token) = (t.db.clone(), token.clone());
            async move { db.a2a_sessions().touch(&token).await.unwrap() }
        })
        .await;
        assert!(touched.iter().all(|ok| *ok), "{b}");
        let session = sessions.get(&token).await.unwrap().unwrap();
        assert_eq!(session.requests_count, 32, "{b}");
        assert!(sessions.end(&token).await.unwrap());
        assert!(!sessions.end(&token).await.unwrap(), "ending twice");
        assert!(sessions.get(&token).await.unwrap().is_none());
    }
}

/// Drives a new task to `state` along legal moves.
async fn task_in(db: &Database, a: &Agent, state: TaskStatus) -> A2aTaskId {
    let tasks = db.a2a_tasks();
    let task = tasks
        .create(a.owner, a.client.id, "analyze", serde_json::json!({"n": 1}))
        .await
        .unwrap();
    let path: &[TaskStatus] = match state {
        TaskStatus::Pending => &[],
        TaskStatus::Running => &[TaskStatus::Running],
        TaskStatus::Cancelled => &[TaskStatus::Cancelled],
        TaskStatus::Completed => &[TaskStatus::Running, TaskStatus::Completed],
        TaskStatus::Failed => &[TaskStatus::Running, TaskStatus::Failed],
    };
    for &step in path {
        tasks
            .update_status(a.owner, task.id, step, None, None)
            .await
            .unwrap();
    }
    task.id
}

#[tokio::test]
async fn every_status_pair_is_legal_or_a_typed_error_that_changes_nothing() {
    use TaskStatus::*;
    let all = [Pending, Running, Completed, Failed, Cancelled];
    let legal = [
        (Pending, Running),
        (Pending, Cancelled),
        (Running, Completed),
        (Running, Failed),
        (Running, Cancelled),
    ];
    for t in common::databases().await {
        let b = t.backend;
        let a = agent(&t.db, "ada@example.org").await;
        let eve = agent(&t.db, "eve@example.org").await;
        let tasks = t.db.a2a_tasks();
        for from in all {
            for to in all {
                let id = task_in(&t.db, &a, from).await;
                let before = tasks.get(a.owner, id).await.unwrap();
                let output = serde_json::json!({"result": 42});
                let result = tasks
                    .update_status(a.owner, id, to, Some(output.clone()), Some("why"))
                    .await;
                if legal.contains(&(from, to)) {
                    let task = result.unwrap_or_else(|e| panic!("{b}: {from:?} -> {to:?}: {e}"));
                    assert_eq!(task.status, to);
                    let terminal = matches!(to, Completed | Failed | Cancelled);
                    assert_eq!(
                        task.completed_at.is_some(),
                        terminal,
                        "{b}: {from:?} -> {to:?}"
                    );
                    assert_eq!(task.output, Some(output));
                    assert_eq!(task.error_message.as_deref(), Some("why"));
                } else {
                    match result {
                        Err(DatabaseError::Transition { .. }) => {}
                        other => {
                            panic!("{b}: {from:?} -> {to:?}: expected Transition, got {other:?}")
                        }
                    }
                    assert_eq!(
                        tasks.get(a.owner, id).await.unwrap(),
                        before,
                        "{b}: unchanged"
                    );
                }
            }
        }
        // Another user's task is not found, and not moved.
        let id = task_in(&t.db, &a, Pending).await;
        assert!(matches!(
            tasks
                .update_status(eve.owner, id, Running, None, None)
                .await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert_eq!(tasks.get(a.owner, id).await.unwrap().status, Pending);
        // Listing by status, a page at a time.
        let running = tasks
            .list(
                a.owner,
                a.client.id,
                Some(Running),
                &PageRequest::first(100),
            )
            .await
            .unwrap();
        assert!(running.items.iter().all(|t| t.status == Running), "{b}");
        // Left running: pending -> running, and running -> pending or
        // running (both refused).
        assert_eq!(running.items.len(), 3, "{b}");
        let first = tasks
            .list(a.owner, a.client.id, None, &PageRequest::first(10))
            .await
            .unwrap();
        let second = tasks
            .list(
                a.owner,
                a.client.id,
                None,
                &PageRequest::after(first.next_cursor.clone().unwrap(), 10),
            )
            .await
            .unwrap();
        assert!(first.items.iter().all(|x| !second.items.contains(x)), "{b}");
    }
}

#[tokio::test]
async fn stats_and_daily_history_agree_on_both_backends() {
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 3, d, h, 30, 0).unwrap();
    for t in common::databases().await {
        let b = t.backend;
        let a = agent(&t.db, "ada@example.org").await;
        let usage = t.db.a2a_usage();
        let mut rows = Vec::new();
        for (at, status, ms) in [
            (day(1, 0), 200, Some(10)),
            (day(1, 23), 204, Some(30)),
            (day(1, 12), 301, None),
            (day(2, 5), 500, Some(50)),
            (day(3, 1), 200, Some(10)),
            (day(3, 2), 404, Some(10)),
            (day(3, 3), 299, None),
            (day(4, 0), 200, Some(1000)), // after the period
        ] {
            let mut row = NewA2aUsage::new(a.client.id, "get_stats", status);
            row.request.timestamp = at;
            row.request.response_time_ms = ms;
            rows.push(row);
        }
        let (first, rest) = rows.split_at(1);
        usage.record(first[0].clone()).await.unwrap();
        assert_eq!(usage.record_batch(rest.to_vec()).await.unwrap(), 7);

        let stats = usage
            .stats(a.owner, a.client.id, day(1, 0), day(4, 0))
            .await
            .unwrap();
        assert_eq!(
            (
                stats.total_requests,
                stats.successful_requests,
                stats.failed_requests
            ),
            (7, 4, 3),
            "{b}"
        );
        assert_eq!(stats.average_response_time_ms, Some(22.0), "{b}");

        let history = usage
            .daily_history(
                a.owner,
                a.client.id,
                NaiveDate::from_ymd_opt(2026, 3, 4).unwrap(),
                5,
            )
            .await
            .unwrap();
        let got: Vec<(u32, u64, u64, u64)> = history
            .iter()
            .map(|d| {
                (
                    chrono::Datelike::day(&d.day),
                    d.requests,
                    d.successes,
                    d.failures,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (28, 0, 0, 0),
                (1, 3, 2, 1),
                (2, 1, 0, 1),
                (3, 3, 2, 1),
                (4, 1, 1, 0)
            ],
            "{b}"
        );
        // The rate-limit window (an hour by default) holds none of these.
        assert_eq!(usage.current_usage(a.client.id).await.unwrap(), 0, "{b}");
        usage
            .record(NewA2aUsage::new(a.client.id, "get_stats", 200))
            .await
            .unwrap();
        assert_eq!(usage.current_usage(a.client.id).await.unwrap(), 1, "{b}");
        // A bad row names its index, and nothing of the batch is written.
        let mut bad = rows.clone();
        bad[3].tool_name = String::new();
        let err = usage.record_batch(bad).await.unwrap_err();
        assert!(err.to_string().contains("row 3"), "{b}: {err}");
        let eve = agent(&t.db, "eve@example.org").await;
        assert!(matches!(
            usage
                .stats(eve.owner, a.client.id, day(1, 0), day(4, 0))
                .await,
            Err(DatabaseError::NotFound { .. })
        ));
    }
}

/// What a worker of the deactivation race saw: whether the call started
/// after `deactivate` returned, and whether it succeeded.
#[derive(Debug)]
struct Call {
    what: &'static str,
    after: bool,
    ok: bool,
}

#[tokio::test]
async fn no_use_of_a_client_succeeds_once_its_deactivation_returned_on_any_handle() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let dir = tempfile::tempdir().unwrap();
    for (b, url) in common::racing_urls(&dir, "deactivation.db").await {
        let key = common::key();
        // Two handles with the workers (two processes), a third to look.
        let one = common::open_keyed(&url, key.clone(), 8).await;
        let two = common::open_keyed(&url, key.clone(), 8).await;
        let third = common::open_keyed(&url, key, 2).await;
        let a = agent(&one, "ada@example.org").await;
        let plaintext = a.key.plaintext.expose().to_owned();
        let deactivated = Arc::new(AtomicBool::new(false));
        let sessions = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));

        let workers: Vec<_> = (0..16)
            .map(|i| {
                let db = if i % 2 == 0 { one.clone() } else { two.clone() };
                let (deactivated, sessions) = (deactivated.clone(), sessions.clone());
                let (owner, client, plaintext) = (a.owner, a.client.id, plaintext.clone());
                tokio::spawn(async move {
                    let mut calls = Vec::new();
                    let mut rounds_after = 0;
                    while rounds_after < 5 {
                        let after = deactivated.load(Ordering::SeqCst);
                        rounds_after += usize::from(after);
                        let in_hour = Utc::now() + Duration::hours(1);
                        let opened = db
                            .a2a_sessions()
                            .create(owner, client, None, &["tasks"], in_hour)
                            .await;
                        if let Ok(opened) = &opened {
                            sessions
                                .lock()
                                .unwrap()
                                .push(opened.token.expose().to_owned());
                        }
                        calls.push(Call {
                            what: "session",
                            after,
                            ok: opened.is_ok(),
                        });
                        let task = db
                            .a2a_tasks()
                            .create(owner, client, "analyze", serde_json::json!({}))
                            .await;
                        calls.push(Call {
                            what: "task",
                            after,
                            ok: task.is_ok(),
                        });
                        let used = db
                            .a2a_usage()
                            .record(NewA2aUsage::new(client, "get_stats", 200))
                            .await;
                        calls.push(Call {
                            what: "usage",
                            after,
                            ok: used.is_ok(),
                        });
                        let verified = db.api_keys().find_by_prefix_and_verify(&plaintext).await;
                        calls.push(Call {
                            what: "key",
                            after,
                            ok: matches!(verified, Ok(Some(_))),
                        });
                        tokio::task::yield_now().await;
                    }
                    calls
                })
            })
            .collect();

        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        one.a2a_clients()
            .deactivate(a.owner, a.client.id)
            .await
            .unwrap();
        deactivated.store(true, Ordering::SeqCst);

        let mut calls = Vec::new();
        for worker in workers {
            calls.extend(worker.await.unwrap());
        }
        assert!(
            calls.iter().any(|c| !c.after && c.ok),
            "{b}: the workers did not run before the deactivation"
        );
        let late: Vec<&Call> = calls.iter().filter(|c| c.after && c.ok).collect();
        assert!(
            late.is_empty(),
            "{b}: {} calls started after deactivate returned and succeeded: {late:?}",
            late.len()
        );
        for name in ["session", "task", "usage", "key"] {
            assert!(
                calls.iter().any(|c| c.what == name && c.after && !c.ok),
                "{b}: no {name} call was tried after the deactivation"
            );
        }

        // Every session ever opened is over, seen from a third handle.
        let opened = sessions.lock().unwrap().clone();
        assert!(!opened.is_empty(), "{b}");
        for token in &opened {
            assert!(
                third.a2a_sessions().get(token).await.unwrap().is_none(),
                "{b}: a session opened during the deactivation is live"
            );
            assert!(
                !third.a2a_sessions().touch(token).await.unwrap(),
                "{b}: a session opened during the deactivation can be touched"
            );
        }
        assert_eq!(
            third
                .a2a_sessions()
                .list_active(a.owner, a.client.id)
                .await
                .unwrap(),
            [],
            "{b}: live sessions listed after the deactivation"
        );
        for db in [one, two, third] {
            db.close().await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_deactivated_client_records_no_usage_and_an_unknown_one_is_not_found() {
    for t in common::databases().await {
        let b = t.backend;
        let a = agent(&t.db, "ada@example.org").await;
        let usage = t.db.a2a_usage();
        usage
            .record(NewA2aUsage::new(a.client.id, "get_stats", 200))
            .await
            .unwrap();
        t.db.a2a_clients()
            .deactivate(a.owner, a.client.id)
            .await
            .unwrap();
        assert!(
            matches!(
                usage
                    .record(NewA2aUsage::new(a.client.id, "get_stats", 200))
                    .await,
                Err(DatabaseError::Rejected {
                    reason: "inactive",
                    ..
                })
            ),
            "{b}"
        );
        let batch = vec![NewA2aUsage::new(a.client.id, "get_stats", 200); 3];
        assert!(
            matches!(
                usage.record_batch(batch).await,
                Err(DatabaseError::Rejected { .. })
            ),
            "{b}"
        );
        let unknown = uuid::Uuid::now_v7();
        assert!(
            matches!(
                usage
                    .record(NewA2aUsage::new(
                        A2aClientId::from_uuid(unknown),
                        "get_stats",
                        200
                    ))
                    .await,
                Err(DatabaseError::NotFound { .. })
            ),
            "{b}"
        );
        let rows = t.db.unscoped_connection();
        let count = rows
            .query_one_raw(Statement::from_string(
                rows.get_database_backend(),
                "SELECT COUNT(*) FROM a2a_usage",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(
            count, 1,
            "{b}: only the use before the deactivation is kept"
        );
    }
}
