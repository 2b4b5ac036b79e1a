//! What the read-replica path costs: the same reads through `db.replica()`
//! (routed to a streaming standby of the benchmark's server) and through a
//! handle opened on that standby directly, sides interleaved round by
//! round; the difference is the routing. The primary's own path is beside
//! them for scale.

use std::time::{Duration, Instant};

use pierre_db::{
    ApiKeyTier, Database, DatabaseConfig, MasterKey, NewApiKey, NewApiKeyUsage, NewUser,
    PageRequest, UserStatus,
};

use crate::{ROUNDS, Report, interleaved};

const USERS: usize = 200;
const USAGE_ROWS: usize = 2_000;

/// The replica lines, on a database of the server of `admin_url` and the
/// same database on `standby_url`'s server. The goal: routing costs at
/// most 5% (≥ 0.95× a handle on the replica itself).
pub async fn replica_lines(admin_url: &str, standby_url: &str) -> Report {
    let name = format!("pierre_bench_replica_{}", std::process::id());
    let url = crate::raw::fresh_postgres_database(admin_url, &name, None).await;
    let server = standby_url.rsplit_once('/').unwrap().0;
    let replica_url = format!("{server}/{name}");
    let key = MasterKey::generate().unwrap();

    let mut config = DatabaseConfig::new(&url, key.clone());
    config.migrate_on_connect = true;
    config.replica_urls = vec![replica_url.clone()];
    config.replica_check_interval = Duration::from_millis(100);
    let routed = Database::connect_with(config).await.unwrap();
    let owner = routed
        .users()
        .create(NewUser::new("owner@bench.org", "h"))
        .await
        .unwrap()
        .id;
    for i in 0..USERS {
        let mut new = NewUser::new(format!("u{i}@bench.org"), "h");
        new.status = UserStatus::Active;
        routed.users().create(new).await.unwrap();
    }
    let api_key = routed
        .api_keys()
        .create(NewApiKey::new(owner, "bench", ApiKeyTier::Professional))
        .await
        .unwrap()
        .key
        .id;
    let mut rows = Vec::new();
    for i in 0..USAGE_ROWS {
        let mut usage = NewApiKeyUsage::new(api_key, ["get_activities", "get_athlete"][i % 2], 200);
        usage.request.response_time_ms = Some((i % 300) as u32);
        rows.push(usage);
    }
    routed
        .usage()
        .record_api_key_usage_batch(rows)
        .await
        .unwrap();

    // The handle's own writes above: wait until the replica has them, so
    // its reads are routed there (and checked against the direct side).
    let deadline = Instant::now() + Duration::from_secs(30);
    let direct = loop {
        let mut config = DatabaseConfig::new(&replica_url, key.clone());
        config.require_migrated = true;
        if let Ok(direct) = Database::connect_with(config).await
            && direct.users().count().await.unwrap_or(0) == USERS as u64 + 1
        {
            break direct;
        }
        assert!(Instant::now() < deadline, "the standby never caught up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = routed.replica_status().await[0].reads;

    let mut report = Report {
        backend: "PostgreSQL: replica path (repo) vs a handle on the replica itself (raw column)",
        sqlite: false,
        rows: Vec::new(),
    };
    let goal = Some(0.95);
    let first = PageRequest::first(50);
    let on = |routed_side: bool| if routed_side { None } else { Some(&direct) };

    let (r, d) = interleaved(20, async |side, _| {
        let users = match on(side) {
            None => routed.replica().users(),
            Some(db) => db.users(),
        };
        let page = users.list_by_status_paginated(UserStatus::Active, &first);
        assert_eq!(page.await.unwrap().items.len(), 50);
    })
    .await;
    report.against("users page (50 rows)", &r, &d, goal);

    let (from, to) = (
        pierre_db::chrono::Utc::now() - chrono_days(1),
        pierre_db::chrono::Utc::now() + chrono_days(1),
    );
    let (r, d) = interleaved(20, async |side, _| {
        let usage = match on(side) {
            None => routed.replica().usage(),
            Some(db) => db.usage(),
        };
        let stats = usage.usage_stats(api_key, from, to).await.unwrap();
        assert_eq!(stats.total_requests, USAGE_ROWS as u64);
    })
    .await;
    report.against("usage statistics", &r, &d, goal);

    // For scale: the replica path beside the primary's own (other server).
    let (r, p) = interleaved(20, async |side, _| {
        let users = if side {
            routed.replica().users()
        } else {
            routed.users()
        };
        let page = users.list_by_status_paginated(UserStatus::Active, &first);
        assert_eq!(page.await.unwrap().items.len(), 50);
    })
    .await;
    report.against("users page: replica path vs primary", &r, &p, None);

    // A read the replica could not take (a check slow on a loaded machine)
    // goes to the primary; most must have been the replica's.
    let served = routed.replica_status().await[0].reads - before;
    let asked = (ROUNDS * 60) as u64;
    println!("(replica path: {served} of {asked} routed reads served by the replica)");
    assert!(
        served * 10 >= asked * 9,
        "the routed side was mostly not served by the replica ({served} of {asked})"
    );
    report
}

fn chrono_days(days: i64) -> pierre_db::chrono::Duration {
    pierre_db::chrono::Duration::days(days)
}
