//! Usage: API-key and JWT usage rows, batches that write all or nothing,
//! windows and aggregates computed by the database, request logs paged by
//! keyset with filters, and platform counts.

use crate::common;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use entity::sea_orm_active_enums::ApiKeyTier;
use entity::{api_key_usage, api_keys, jwt_usage, request_logs};
use pierre_db::{ApiKeyId, DatabaseError, NewUser, PageRequest, UserId};
use pierre_db::{NewApiKey, NewApiKeyUsage, NewJwtUsage, Usage};
use pierre_db::{NewRequestLog, RequestLog, RequestLogFilter, TenantRole};
use pierre_db::{ServedRequest, SystemStats, UsageStats};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

/// Now, to the microsecond (what the database keeps).
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

async fn usage_rows(t: &common::TestDb) -> u64 {
    api_key_usage::Entity::find()
        .count(t.db.unscoped_connection())
        .await
        .unwrap()
}

async fn jwt_rows(t: &common::TestDb) -> u64 {
    jwt_usage::Entity::find()
        .count(t.db.unscoped_connection())
        .await
        .unwrap()
}

async fn log_rows(t: &common::TestDb) -> u64 {
    request_logs::Entity::find()
        .count(t.db.unscoped_connection())
        .await
        .unwrap()
}

fn usage_at(key: Uuid, at: DateTime<Utc>, tool: &str, status: u16) -> NewApiKeyUsage {
    let mut usage = NewApiKeyUsage::new(ApiKeyId::from_uuid(key), tool, status);
    usage.request.timestamp = at;
    usage
}

fn assert_invalid(err: DatabaseError, expected: &str, backend: &str) -> String {
    match err {
        DatabaseError::InvalidInput { field, reason } => {
            assert_eq!(field, expected, "{backend}: {reason}");
            reason
        }
        other => panic!("{backend}: expected InvalidInput({expected}), got {other:?}"),
    }
}

fn assert_foreign_key(err: DatabaseError, backend: &str) {
    assert!(
        matches!(err, DatabaseError::ForeignKey { .. }),
        "{backend}: {err:?}"
    );
}

/// A new API key of `owner`'s, of `tier`; its id.
async fn api_key(t: &common::TestDb, owner: UserId, tier: ApiKeyTier) -> Uuid {
    let new = NewApiKey::new(owner, "k", tier);
    t.db.api_keys().create(new).await.unwrap().key.id.as_uuid()
}

/// The common cast on each configured database, with an API key of Ada's
/// and one of Bob's.
async fn keyed_worlds() -> Vec<(common::World, Uuid, Uuid)> {
    let mut out = Vec::new();
    for w in common::worlds().await {
        let key_a = api_key(&w.t, w.ada, ApiKeyTier::Trial).await;
        let key_b = api_key(&w.t, w.bob, ApiKeyTier::Trial).await;
        out.push((w, key_a, key_b));
    }
    out
}

#[tokio::test]
async fn api_key_usage_round_trips_and_counts_within_the_window() {
    for (w, key_a, key_b) in keyed_worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        let mut full = NewApiKeyUsage::new(ApiKeyId::from_uuid(key_a), "get_activities", 502);
        full.request.response_time_ms = Some(1234);
        full.request.error_message = Some("upstream failed\nretry later".into());
        full.request.request_size_bytes = Some(10);
        full.request.response_size_bytes = Some(5_000_000_000);
        full.request.ip_address = Some("2001:db8::1".into());
        full.request.user_agent = Some("agent/1.0".into());
        let id = usage.record_api_key_usage(full.clone()).await.unwrap();

        let row = api_key_usage::Entity::find_by_id(id)
            .one(w.t.db.unscoped_connection())
            .await
            .unwrap()
            .expect("written");
        assert_eq!(row.api_key_id, key_a, "{b}");
        assert_eq!(row.timestamp.to_utc(), full.request.timestamp, "{b}");
        assert_eq!(row.tool_name, full.tool_name);
        assert_eq!(row.status_code, i32::from(full.request.status_code));
        assert_eq!(row.response_time_ms, Some(1234));
        assert_eq!(
            row.error_message, full.request.error_message,
            "{b}: line break kept"
        );
        assert_eq!(row.request_size_bytes, Some(10));
        assert_eq!(row.response_size_bytes, Some(5_000_000_000), "{b}: i64");
        assert_eq!(row.ip_address, full.request.ip_address);
        assert_eq!(row.user_agent, full.request.user_agent);

        let t0 = now();
        for minutes in [1, 2, 30, 90, 180] {
            usage
                .record_api_key_usage(usage_at(
                    key_a,
                    t0 - Duration::minutes(minutes),
                    "search",
                    200,
                ))
                .await
                .unwrap();
        }
        usage
            .record_api_key_usage(usage_at(key_b, t0, "search", 200))
            .await
            .unwrap();
        for window in [0, 1, 2, 45, 100, 200] {
            let since = t0 - Duration::minutes(window);
            let expected = 1 + [1, 2, 30, 90, 180]
                .iter()
                .filter(|m| t0 - Duration::minutes(**m) >= since)
                .count() as u64;
            // `full` was recorded before t0, so only the wider windows see it.
            let expected = if full.request.timestamp >= since {
                expected
            } else {
                expected - 1
            };
            assert_eq!(
                usage
                    .current_usage(ApiKeyId::from_uuid(key_a), since)
                    .await
                    .unwrap(),
                expected,
                "{b}: window {window} min"
            );
        }
        assert_eq!(
            usage
                .current_usage(ApiKeyId::new(), t0 - Duration::days(1))
                .await
                .unwrap(),
            0,
            "{b}: unknown key has no usage"
        );
    }
}

#[tokio::test]
async fn api_key_usage_rejects_bad_input_and_unknown_keys_writing_nothing() {
    for (w, key_a, _) in keyed_worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        let base = || NewApiKeyUsage::new(ApiKeyId::from_uuid(key_a), "search", 200);
        let cases: Vec<(NewApiKeyUsage, &str)> = vec![
            (
                NewApiKeyUsage {
                    request: ServedRequest {
                        status_code: 99,
                        ..base().request
                    },
                    ..base()
                },
                "status_code",
            ),
            (
                NewApiKeyUsage {
                    request: ServedRequest {
                        status_code: 600,
                        ..base().request
                    },
                    ..base()
                },
                "status_code",
            ),
            (
                NewApiKeyUsage {
                    tool_name: " ".into(),
                    ..base()
                },
                "tool_name",
            ),
            (
                NewApiKeyUsage {
                    tool_name: "t".repeat(201),
                    ..base()
                },
                "tool_name",
            ),
            (
                NewApiKeyUsage {
                    request: ServedRequest {
                        response_time_ms: Some(u32::MAX),
                        ..base().request
                    },
                    ..base()
                },
                "response_time_ms",
            ),
            (
                NewApiKeyUsage {
                    request: ServedRequest {
                        request_size_bytes: Some(u64::MAX),
                        ..base().request
                    },
                    ..base()
                },
                "request_size_bytes",
            ),
            (
                NewApiKeyUsage {
                    request: ServedRequest {
                        error_message: Some("bell\u{7}".into()),
                        ..base().request
                    },
                    ..base()
                },
                "error_message",
            ),
            (
                NewApiKeyUsage {
                    request: ServedRequest {
                        user_agent: Some("a\nb".into()),
                        ..base().request
                    },
                    ..base()
                },
                "user_agent",
            ),
        ];
        for (bad, field) in cases {
            let err = usage.record_api_key_usage(bad).await.unwrap_err();
            assert_invalid(err, field, b);
        }
        let err = usage
            .record_api_key_usage(NewApiKeyUsage::new(ApiKeyId::new(), "search", 200))
            .await
            .unwrap_err();
        assert_foreign_key(err, b);
        assert_eq!(usage_rows(&w.t).await, 0, "{b}");
    }
}

#[tokio::test]
async fn a_batch_is_written_in_chunks_and_whole() {
    for (w, key_a, key_b) in keyed_worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        assert_eq!(
            usage.record_api_key_usage_batch(Vec::new()).await.unwrap(),
            0
        );
        let n = 2 * Usage::BATCH_ROWS + 203;
        let t0 = now() - Duration::hours(1);
        let batch: Vec<_> = (0..n)
            .map(|i| {
                let key = if i % 4 == 0 { key_b } else { key_a };
                usage_at(key, t0 + Duration::milliseconds(i as i64), "bulk", 200)
            })
            .collect();
        let for_a = batch
            .iter()
            .filter(|u| u.api_key_id.as_uuid() == key_a)
            .count() as u64;
        assert_eq!(
            usage.record_api_key_usage_batch(batch).await.unwrap(),
            n as u64,
            "{b}"
        );
        assert_eq!(usage_rows(&w.t).await, n as u64, "{b}");
        assert_eq!(
            usage
                .current_usage(ApiKeyId::from_uuid(key_a), t0)
                .await
                .unwrap(),
            for_a,
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_batch_with_one_bad_row_writes_nothing() {
    for (w, key_a, _) in keyed_worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        let n = 2 * Usage::BATCH_ROWS + 203;
        let good = || -> Vec<_> {
            (0..n)
                .map(|_| NewApiKeyUsage::new(ApiKeyId::from_uuid(key_a), "bulk", 200))
                .collect()
        };

        // Refused before anything is sent, naming the row.
        let mut invalid = good();
        invalid[700].request.status_code = 42;
        let reason = assert_invalid(
            usage.record_api_key_usage_batch(invalid).await.unwrap_err(),
            "status_code",
            b,
        );
        assert!(reason.contains("row 700"), "{b}: {reason}");

        // Refused by the database in the last chunk, after two chunks went
        // in: the transaction takes them back.
        let mut orphan = good();
        orphan[n - 3].api_key_id = ApiKeyId::new();
        let err = usage.record_api_key_usage_batch(orphan).await.unwrap_err();
        assert_foreign_key(err, b);
        assert_eq!(usage_rows(&w.t).await, 0, "{b}: nothing half written");
    }
}

#[tokio::test]
async fn a_batch_inside_a_transaction_uses_a_savepoint() {
    for (w, key_a, _) in keyed_worlds().await {
        let b = w.t.backend;
        let key = key_a;
        // The batch fails and rolls back to its savepoint; the row written
        // before it survives, and the transaction commits.
        let outcome = w
            .t
            .db
            .transaction(|tx| {
                Box::pin(async move {
                    tx.usage()
                        .record_api_key_usage(NewApiKeyUsage::new(
                            ApiKeyId::from_uuid(key),
                            "single",
                            200,
                        ))
                        .await?;
                    // The bad row sits in the second chunk, after a whole
                    // chunk went in.
                    let mut batch = vec![
                        NewApiKeyUsage::new(ApiKeyId::from_uuid(key), "bulk", 200);
                        Usage::BATCH_ROWS + 2
                    ];
                    batch[Usage::BATCH_ROWS + 1].api_key_id = ApiKeyId::new();
                    Ok(tx.usage().record_api_key_usage_batch(batch).await)
                })
            })
            .await
            .unwrap();
        assert_foreign_key(outcome.unwrap_err(), b);
        let tools: Vec<String> = api_key_usage::Entity::find()
            .all(w.t.db.unscoped_connection())
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.tool_name)
            .collect();
        assert_eq!(tools, ["single"], "{b}");

        // A batch that succeeded inside a transaction that then fails is
        // gone with it.
        let result: Result<(), _> =
            w.t.db
                .transaction(|tx| {
                    Box::pin(async move {
                        tx.usage()
                            .record_api_key_usage_batch(vec![
                                NewApiKeyUsage::new(
                                    ApiKeyId::from_uuid(key),
                                    "bulk",
                                    200
                                );
                                3
                            ])
                            .await?;
                        Err(DatabaseError::invalid("test", "abort"))
                    })
                })
                .await;
        assert!(result.is_err());
        assert_eq!(usage_rows(&w.t).await, 1, "{b}");
    }
}

/// What `usage_stats` should answer, computed from the rows themselves.
fn expected_stats(
    rows: &[NewApiKeyUsage],
    key: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> UsageStats {
    expected_over(rows, &[key], from, to)
}

/// The totals of the rows of `keys` in `[from, to)`, counted one by one.
fn expected_over(
    rows: &[NewApiKeyUsage],
    keys: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> UsageStats {
    let mut stats = UsageStats::default();
    let mut timed = 0u64;
    let mut by_tool = BTreeMap::new();
    for r in rows.iter().filter(|r| {
        keys.contains(&r.api_key_id.as_uuid())
            && r.request.timestamp >= from
            && r.request.timestamp < to
    }) {
        stats.total_requests += 1;
        if pierre_db::Usage::SUCCESS_STATUSES.contains(&r.request.status_code) {
            stats.successful_requests += 1;
        } else {
            stats.failed_requests += 1;
        }
        if let Some(ms) = r.request.response_time_ms {
            stats.total_response_time_ms += u64::from(ms);
            timed += 1;
        }
        *by_tool.entry(r.tool_name.clone()).or_insert(0) += 1;
    }
    stats.average_response_time_ms =
        (timed > 0).then(|| stats.total_response_time_ms as f64 / timed as f64);
    stats.requests_by_tool = by_tool;
    stats
}

#[tokio::test]
async fn per_user_stats_total_every_key_of_the_user_and_no_one_elses() {
    for (w, key_a, key_b) in keyed_worlds().await {
        let b = w.t.backend;
        // A second key of Ada's, and a key of Bob's in the same range.
        let key_a2 = api_key(&w.t, w.ada, ApiKeyTier::Starter).await;
        let from = now() - Duration::days(2);
        let to = from + Duration::hours(6);
        let mut rows = Vec::new();
        for i in 0..120i64 {
            let key = [key_a, key_a2, key_b][(i % 3) as usize];
            // Some before `from` and some at or after `to`.
            let at = from + Duration::minutes(i * 4 - 30);
            let tool = ["search", "fetch", "plan", "sync"][(i % 4) as usize];
            let status = [200, 201, 404, 500, 302][(i % 5) as usize];
            let mut u = usage_at(key, at, tool, status);
            u.request.response_time_ms = (i % 7 != 0).then_some((i * 13 % 500) as u32);
            rows.push(u);
        }
        w.t.db
            .usage()
            .record_api_key_usage_batch(rows.clone())
            .await
            .unwrap();

        let ada =
            w.t.db
                .usage()
                .user_usage_stats(w.ada, from, to)
                .await
                .unwrap();
        let expected = expected_over(&rows, &[key_a, key_a2], from, to);
        assert!(
            expected.total_requests > 40 && expected.failed_requests > 0,
            "{expected:?}"
        );
        assert!(expected.requests_by_tool.len() == 4);
        assert_eq!(ada, expected, "{b}");
        let bob =
            w.t.db
                .usage()
                .user_usage_stats(w.bob, from, to)
                .await
                .unwrap();
        assert_eq!(bob, expected_over(&rows, &[key_b], from, to), "{b}");
        // A user without keys has none; `to` before `from` is refused.
        let carl = common::user(&w.t, "carl@example.org").await;
        let none =
            w.t.db
                .usage()
                .user_usage_stats(carl, from, to)
                .await
                .unwrap();
        assert_eq!(none, UsageStats::default(), "{b}");
        let err =
            w.t.db
                .usage()
                .user_usage_stats(w.ada, to, from)
                .await
                .unwrap_err();
        assert_invalid(err, "to", b);
    }
}

#[tokio::test]
async fn usage_stats_aggregate_the_range_per_tool() {
    for (w, key_a, key_b) in keyed_worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        let from = now() - Duration::days(1);
        let to = from + Duration::hours(1);
        let spec: [(Uuid, i64, &str, u16, Option<u32>); 9] = [
            (key_a, -1, "search", 200, Some(10)), // before the range
            (key_a, 0, "search", 200, Some(100)), // at `from`: included
            (key_a, 60, "search", 404, Some(50)),
            (key_a, 120, "fetch", 500, None),
            (key_a, 180, "fetch", 201, Some(30)),
            (key_a, 240, "plan", 399, Some(21)),
            (key_a, 300, "plan", 400, Some(4)),
            (key_a, 3600, "search", 200, Some(999)), // at `to`: excluded
            (key_b, 60, "search", 200, Some(7)),     // another key
        ];
        let rows: Vec<_> = spec
            .iter()
            .map(|(key, secs, tool, status, ms)| {
                let mut u = usage_at(*key, from + Duration::seconds(*secs), tool, *status);
                u.request.response_time_ms = *ms;
                u
            })
            .collect();
        usage
            .record_api_key_usage_batch(rows.clone())
            .await
            .unwrap();

        let stats = usage
            .usage_stats(ApiKeyId::from_uuid(key_a), from, to)
            .await
            .unwrap();
        let expected = expected_stats(&rows, key_a, from, to);
        assert!(expected.total_requests > 0 && expected.failed_requests > 0);
        assert_eq!(stats, expected, "{b}");

        // A narrower range, and a key with no rows.
        let narrow_to = from + Duration::seconds(150);
        assert_eq!(
            usage
                .usage_stats(ApiKeyId::from_uuid(key_a), from, narrow_to)
                .await
                .unwrap(),
            expected_stats(&rows, key_a, from, narrow_to),
            "{b}"
        );
        assert_eq!(
            usage.usage_stats(ApiKeyId::new(), from, to).await.unwrap(),
            UsageStats::default(),
            "{b}"
        );

        let err = usage
            .usage_stats(ApiKeyId::from_uuid(key_a), to, from)
            .await
            .unwrap_err();
        assert_invalid(err, "to", b);
    }
}

#[tokio::test]
async fn jwt_usage_round_trips_counts_and_rejects_bad_input() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        let t0 = now();
        let mut full = NewJwtUsage::new(w.ada, "post", "/api/goals", 201);
        full.request.timestamp = t0 - Duration::minutes(5);
        full.request.response_time_ms = Some(12);
        full.request.request_size_bytes = Some(300);
        full.request.response_size_bytes = Some(40);
        full.request.ip_address = Some("192.0.2.1".into());
        full.request.user_agent = Some("app/2".into());
        let id = usage.record_jwt_usage(full.clone()).await.unwrap();
        let row = jwt_usage::Entity::find_by_id(id)
            .one(w.t.db.unscoped_connection())
            .await
            .unwrap()
            .expect("written");
        assert_eq!(row.user_id, w.ada.as_uuid());
        assert_eq!(row.method, "POST", "{b}: upper-cased");
        assert_eq!(row.endpoint, full.endpoint);
        assert_eq!(row.status_code, 201);
        assert_eq!(row.timestamp.to_utc(), full.request.timestamp, "{b}");
        assert_eq!(row.response_time_ms, Some(12));
        assert_eq!(row.request_size_bytes, Some(300));
        assert_eq!(row.response_size_bytes, Some(40));
        assert_eq!(row.ip_address, full.request.ip_address);
        assert_eq!(row.user_agent, full.request.user_agent);

        let mut old = NewJwtUsage::new(w.ada, "GET", "/api/goals", 200);
        old.request.timestamp = t0 - Duration::hours(3);
        usage.record_jwt_usage(old).await.unwrap();
        usage
            .record_jwt_usage(NewJwtUsage::new(w.bob, "GET", "/x", 200))
            .await
            .unwrap();
        assert_eq!(
            usage
                .current_jwt_usage(w.ada, t0 - Duration::hours(1))
                .await
                .unwrap(),
            1,
            "{b}"
        );
        assert_eq!(
            usage
                .current_jwt_usage(w.ada, t0 - Duration::hours(4))
                .await
                .unwrap(),
            2,
            "{b}"
        );
        assert_eq!(
            usage
                .current_jwt_usage(UserId::new(), t0 - Duration::hours(4))
                .await
                .unwrap(),
            0
        );

        let before = jwt_rows(&w.t).await;
        let base = || NewJwtUsage::new(w.ada, "GET", "/x", 200);
        for (bad, field) in [
            (
                NewJwtUsage {
                    method: "".into(),
                    ..base()
                },
                "method",
            ),
            (
                NewJwtUsage {
                    endpoint: " ".into(),
                    ..base()
                },
                "endpoint",
            ),
            (
                NewJwtUsage {
                    request: ServedRequest {
                        status_code: 1000,
                        ..base().request
                    },
                    ..base()
                },
                "status_code",
            ),
            (
                NewJwtUsage {
                    request: ServedRequest {
                        response_size_bytes: Some(u64::MAX),
                        ..base().request
                    },
                    ..base()
                },
                "response_size_bytes",
            ),
            (
                NewJwtUsage {
                    request: ServedRequest {
                        ip_address: Some("x".repeat(65)),
                        ..base().request
                    },
                    ..base()
                },
                "ip_address",
            ),
            (
                // JWT usage has no error column: refused, not dropped.
                NewJwtUsage {
                    request: ServedRequest {
                        error_message: Some("lost?".into()),
                        ..base().request
                    },
                    ..base()
                },
                "error_message",
            ),
        ] {
            assert_invalid(usage.record_jwt_usage(bad).await.unwrap_err(), field, b);
        }
        assert_foreign_key(
            usage
                .record_jwt_usage(NewJwtUsage::new(UserId::new(), "GET", "/x", 200))
                .await
                .unwrap_err(),
            b,
        );
        assert_eq!(jwt_rows(&w.t).await, before, "{b}: nothing written");
    }
}

#[tokio::test]
async fn request_logs_are_recorded_and_checked() {
    for (w, key_a, _) in keyed_worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        let mut log = NewRequestLog::new("delete", "/api/keys/1", 500);
        log.user_id = Some(w.ada);
        log.api_key_id = Some(ApiKeyId::from_uuid(key_a));
        log.request.response_time_ms = Some(8);
        log.request.error_message = Some("boom\n  at line 3".into());
        let id = usage.record_request_log(log.clone()).await.unwrap();
        let page = usage
            .list_request_logs(&RequestLogFilter::default(), &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(
            page.items,
            [RequestLog {
                id,
                user_id: log.user_id,
                api_key_id: log.api_key_id,
                timestamp: log.request.timestamp,
                method: "DELETE".into(),
                endpoint: log.endpoint.clone(),
                status_code: 500,
                response_time_ms: Some(8),
                error_message: log.request.error_message.clone(),
            }],
            "{b}"
        );

        let before = log_rows(&w.t).await;
        let base = || NewRequestLog::new("GET", "/x", 200);
        for (bad, field) in [
            (
                NewRequestLog {
                    request: ServedRequest {
                        status_code: 0,
                        ..base().request
                    },
                    ..base()
                },
                "status_code",
            ),
            (
                NewRequestLog {
                    method: "\t".into(),
                    ..base()
                },
                "method",
            ),
            (
                NewRequestLog {
                    endpoint: "/".repeat(2001),
                    ..base()
                },
                "endpoint",
            ),
            (
                NewRequestLog {
                    request: ServedRequest {
                        response_time_ms: Some(u32::MAX),
                        ..base().request
                    },
                    ..base()
                },
                "response_time_ms",
            ),
            (
                // Request logs keep no client details: refused, not dropped.
                NewRequestLog {
                    request: ServedRequest {
                        user_agent: Some("agent/1.0".into()),
                        ..base().request
                    },
                    ..base()
                },
                "user_agent",
            ),
            (
                NewRequestLog {
                    request: ServedRequest {
                        request_size_bytes: Some(1),
                        ..base().request
                    },
                    ..base()
                },
                "request_size_bytes",
            ),
        ] {
            let reason = assert_invalid(usage.record_request_log(bad).await.unwrap_err(), field, b);
            if matches!(field, "user_agent" | "request_size_bytes") {
                assert!(
                    reason.contains("request_logs has no column"),
                    "{b}: {reason}"
                );
            }
        }
        for bad in [
            NewRequestLog {
                user_id: Some(UserId::new()),
                ..base()
            },
            NewRequestLog {
                api_key_id: Some(ApiKeyId::new()),
                ..base()
            },
        ] {
            assert_foreign_key(usage.record_request_log(bad).await.unwrap_err(), b);
        }
        assert_eq!(log_rows(&w.t).await, before, "{b}: nothing written");
    }
}

#[tokio::test]
async fn request_logs_page_through_exactly_the_matching_rows() {
    for w in common::worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        let t0 = now() - Duration::days(2);
        let statuses = [200, 201, 301, 404, 500];
        let mut all = Vec::new();
        for i in 0..40u16 {
            let mut log =
                NewRequestLog::new("GET", format!("/r/{i}"), statuses[usize::from(i) % 5]);
            log.user_id = match i % 3 {
                0 => Some(w.ada),
                1 => Some(w.bob),
                _ => None,
            };
            // Pairs share a timestamp, so the id breaks ties.
            log.request.timestamp = t0 + Duration::seconds(i64::from(i / 2) * 10);
            let id = usage.record_request_log(log.clone()).await.unwrap();
            all.push(RequestLog {
                id,
                user_id: log.user_id,
                api_key_id: None,
                timestamp: log.request.timestamp,
                method: log.method,
                endpoint: log.endpoint,
                status_code: log.request.status_code,
                response_time_ms: None,
                error_message: None,
            });
        }
        all.sort_by_key(|l| (l.timestamp, l.id));
        let filters = [
            RequestLogFilter::default(),
            RequestLogFilter {
                user_id: Some(w.ada),
                ..Default::default()
            },
            RequestLogFilter {
                min_status: Some(400),
                ..Default::default()
            },
            RequestLogFilter {
                min_status: Some(200),
                max_status: Some(299),
                from: Some(t0 + Duration::seconds(30)),
                to: Some(t0 + Duration::seconds(150)),
                ..Default::default()
            },
            RequestLogFilter {
                user_id: Some(w.bob),
                max_status: Some(404),
                from: Some(t0 + Duration::seconds(50)),
                ..Default::default()
            },
            RequestLogFilter {
                to: Some(t0),
                ..Default::default()
            },
        ];
        for filter in filters {
            let expected: Vec<_> = all
                .iter()
                .filter(|l| filter.user_id.is_none_or(|u| l.user_id == Some(u)))
                .filter(|l| filter.min_status.is_none_or(|s| l.status_code >= s))
                .filter(|l| filter.max_status.is_none_or(|s| l.status_code <= s))
                .filter(|l| filter.from.is_none_or(|f| l.timestamp >= f))
                .filter(|l| filter.to.is_none_or(|t| l.timestamp < t))
                .cloned()
                .collect();
            let mut seen = Vec::new();
            let mut request = PageRequest::first(4);
            let mut pages = 0;
            loop {
                let page = usage.list_request_logs(&filter, &request).await.unwrap();
                pages += 1;
                assert!(page.items.len() <= 4);
                seen.extend(page.items);
                match page.next_cursor {
                    Some(cursor) => request = PageRequest::after(cursor, 4),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "{b}: {filter:?}");
            assert!(pages >= expected.len() / 4, "{b}");
        }

        // Out-of-order ranges are refused; a cursor belongs to its filter.
        let err = usage
            .list_request_logs(
                &RequestLogFilter {
                    min_status: Some(500),
                    max_status: Some(400),
                    ..Default::default()
                },
                &PageRequest::first(4),
            )
            .await
            .unwrap_err();
        assert_invalid(err, "max_status", b);
        let err = usage
            .list_request_logs(
                &RequestLogFilter {
                    from: Some(t0 + Duration::hours(1)),
                    to: Some(t0),
                    ..Default::default()
                },
                &PageRequest::first(4),
            )
            .await
            .unwrap_err();
        assert_invalid(err, "to", b);
        let cursor = usage
            .list_request_logs(&RequestLogFilter::default(), &PageRequest::first(4))
            .await
            .unwrap()
            .next_cursor
            .expect("more");
        let err = usage
            .list_request_logs(
                &RequestLogFilter {
                    user_id: Some(w.ada),
                    ..Default::default()
                },
                &PageRequest::after(cursor, 4),
            )
            .await
            .unwrap_err();
        assert_invalid(err, "cursor", b);
    }
}

#[tokio::test]
async fn system_stats_count_users_live_keys_and_recent_rows() {
    for (w, key_a, key_b) in keyed_worlds().await {
        let b = w.t.backend;
        let usage = w.t.db.usage();
        let keys = w.t.db.api_keys();
        let carol =
            w.t.db
                .users()
                .create(NewUser::new("carol@example.org", "h"))
                .await
                .unwrap()
                .id;
        let inactive = keys
            .create(NewApiKey::new(carol, "off", ApiKeyTier::Trial))
            .await
            .unwrap()
            .key;
        keys.deactivate(inactive.id, carol).await.unwrap();
        let mut expiring = NewApiKey::new(carol, "expired", ApiKeyTier::Trial);
        expiring.expires_at = Some(now() + Duration::days(1));
        let expired = keys.create(expiring).await.unwrap().key;
        api_keys::Entity::update_many()
            .col_expr(
                api_keys::Column::ExpiresAt,
                Expr::value(Some((now() - Duration::minutes(1)).fixed_offset())),
            )
            .filter(api_keys::Column::Id.eq(expired.id.as_uuid()))
            .exec(w.t.db.unscoped_connection())
            .await
            .unwrap();
        let mut future = NewApiKey::new(carol, "later", ApiKeyTier::Trial);
        future.expires_at = Some(now() + Duration::days(1));
        keys.create(future).await.unwrap();

        let since = now() - Duration::hours(1);
        let ages = [0i64, 10, 59, 61, 600];
        let recent = ages.iter().filter(|m| **m < 60).count() as u64;
        let mut batch = Vec::new();
        for minutes in ages {
            let at = now() - Duration::minutes(minutes);
            batch.push(usage_at(key_a, at, "t", 200));
            batch.push(usage_at(key_b, at, "t", 500));
            let mut jwt = NewJwtUsage::new(w.bob, "GET", "/x", 200);
            jwt.request.timestamp = at;
            usage.record_jwt_usage(jwt).await.unwrap();
            let mut log = NewRequestLog::new("GET", "/x", 200);
            log.request.timestamp = at;
            usage.record_request_log(log).await.unwrap();
        }
        usage.record_api_key_usage_batch(batch).await.unwrap();

        let all_keys = [w.ada, w.bob, carol];
        let mut live = 0;
        for user in all_keys {
            live += keys
                .list_for_user(user)
                .await
                .unwrap()
                .iter()
                .filter(|k| k.is_usable_at(now()))
                .count() as u64;
        }
        let stats = usage.system_stats(since).await.unwrap();
        assert_eq!(
            stats,
            SystemStats {
                users: 3,
                active_api_keys: live,
                api_key_requests: 2 * recent,
                jwt_requests: recent,
                request_logs: recent,
            },
            "{b}"
        );
        assert_eq!(live, 3, "{b}: a, b and the future key");
        let everything = usage.system_stats(now() - Duration::days(1)).await.unwrap();
        assert_eq!(everything.api_key_requests, 2 * ages.len() as u64, "{b}");
        assert_eq!(everything.jwt_requests, jwt_rows(&w.t).await, "{b}");
        assert_eq!(everything.request_logs, log_rows(&w.t).await, "{b}");
    }
}

#[tokio::test]
async fn top_tools_rank_by_count_then_name_with_a_limit() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let first = api_key(&w.t, w.ada, ApiKeyTier::Starter).await;
        let second = api_key(&w.t, w.ada, ApiKeyTier::Starter).await;
        let others = api_key(&w.t, w.bob, ApiKeyTier::Starter).await;
        let usage = w.t.db.usage();
        let now = Utc::now();
        // Ada: search 3 (over two keys), stats 2, activities 2, zones 1;
        // one search an hour ago falls outside the period; Bob's never count.
        let rows = [
            (first, "search", 0),
            (second, "search", 0),
            (first, "search", 0),
            (first, "stats", 0),
            (second, "stats", 0),
            (first, "activities", 0),
            (first, "activities", 0),
            (second, "zones", 0),
            (first, "search", 60),
            (others, "zones", 0),
            (others, "zones", 0),
        ];
        for (key, tool, minutes_ago) in rows {
            let mut u = NewApiKeyUsage::new(ApiKeyId::from_uuid(key), tool, 200);
            u.request.timestamp = now - Duration::minutes(minutes_ago);
            usage.record_api_key_usage(u).await.unwrap();
        }
        let (from, to) = (now - Duration::minutes(30), now + Duration::minutes(1));
        let top = usage.top_tools(w.ada, from, to, 3).await.unwrap();
        let want: Vec<(String, u64)> = [("search", 3), ("activities", 2), ("stats", 2)]
            .iter()
            .map(|(tool, n)| ((*tool).to_owned(), *n))
            .collect();
        assert_eq!(top, want, "{b}: most first, ties by name, cut at 3");
        let all = usage.top_tools(w.ada, from, to, 10).await.unwrap();
        assert_eq!(all.len(), 4, "{b}");
        assert_eq!(all[3], ("zones".to_owned(), 1), "{b}");
        assert!(
            usage.top_tools(w.ada, to, from, 3).await.is_err(),
            "{b}: reversed"
        );
        assert!(
            usage.top_tools(w.ada, from, to, 0).await.is_err(),
            "{b}: limit 0"
        );
    }
}

#[tokio::test]
async fn request_logs_filter_by_key_and_endpoint_and_stats_by_tenant() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        w.t.db
            .tenant(w.acme)
            .members()
            .add(w.bob, TenantRole::Member, None)
            .await
            .unwrap();
        let outsider = common::user(&w.t, "out@example.org").await;
        let bob_key = api_key(&w.t, w.bob, ApiKeyTier::Starter).await;
        let out_key = api_key(&w.t, outsider, ApiKeyTier::Starter).await;
        let usage = w.t.db.usage();
        for (user, api_key, endpoint) in [
            (w.bob, Some(bob_key), "/tools/search"),
            (w.bob, Some(bob_key), "/tools/stats"),
            (w.bob, None, "/tools/search"),
            (outsider, Some(out_key), "/tools/search"),
        ] {
            let mut log = NewRequestLog::new("POST", endpoint, 200);
            log.user_id = Some(user);
            log.api_key_id = api_key.map(ApiKeyId::from_uuid);
            usage.record_request_log(log).await.unwrap();
        }
        let count = async |filter: RequestLogFilter| {
            let page = usage
                .list_request_logs(&filter, &PageRequest::first(50))
                .await;
            page.unwrap().items.len()
        };
        let by_key = RequestLogFilter {
            api_key_id: Some(ApiKeyId::from_uuid(bob_key)),
            ..Default::default()
        };
        assert_eq!(count(by_key.clone()).await, 2, "{b}");
        let search = RequestLogFilter {
            endpoint: Some("/tools/search".into()),
            ..Default::default()
        };
        assert_eq!(count(search).await, 3, "{b}");
        let both = RequestLogFilter {
            endpoint: Some("/tools/search".into()),
            ..by_key
        };
        assert_eq!(count(both).await, 1, "{b}");

        let usage_row = |key| NewApiKeyUsage::new(key, "search", 200);
        usage
            .record_api_key_usage(usage_row(ApiKeyId::from_uuid(bob_key)))
            .await
            .unwrap();
        usage
            .record_api_key_usage(usage_row(ApiKeyId::from_uuid(out_key)))
            .await
            .unwrap();
        let since = Utc::now() - Duration::hours(1);
        let all = usage.system_stats(since).await.unwrap();
        let acme = usage.tenant_stats(w.acme, since).await.unwrap();
        assert_eq!(
            (all.users, all.request_logs, all.api_key_requests),
            (3, 4, 2),
            "{b}"
        );
        // Acme's members: Bob only (its owner, Ada, has no membership row
        // in this fixture).
        assert_eq!(
            (
                acme.users,
                acme.active_api_keys,
                acme.request_logs,
                acme.api_key_requests
            ),
            (1, 1, 3, 1),
            "{b}"
        );
        let empty = usage.tenant_stats(w.globex, since).await.unwrap();
        assert_eq!((empty.users, empty.request_logs), (0, 0), "{b}");
    }
}
