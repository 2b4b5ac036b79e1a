//! What PostgreSQL's row-level security costs: the same operations on two
//! databases of the same server, both owned by and opened as a role the
//! wall applies to, one with the wall up and the handle setting its
//! tenant, one without; sides interleaved round by round.

use pierre_db::{
    ApiKeyTier, Database, DatabaseConfig, MasterKey, NewApiKey, NewApiKeyUsage, NewTenant, NewUser,
    OauthProvider, PageRequest, TenantId, UserId, UserStatus,
};
use sea_orm::ConnectionTrait;

use crate::{Report, Timing, interleaved, token};

const ROLE: &str = "pierre_bench_app";
const USERS: usize = 200;

/// One side: a handle, its tenant, its users and an API key.
struct Side {
    db: Database,
    tenant: TenantId,
    users: Vec<UserId>,
    key: pierre_db::ApiKeyId,
}

/// A database owned by [`ROLE`], opened as it, with the wall up or not.
async fn side(admin_url: &str, walled: bool) -> Side {
    let admin = sea_orm::Database::connect(admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!(
            "DO $$ BEGIN CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; \
             EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ))
        .await
        .unwrap();
    admin.close().await.ok();
    let name = format!("pierre_bench_rls_{}_{walled}", std::process::id());
    let url = crate::raw::fresh_postgres_database(admin_url, &name, Some(ROLE)).await;

    let mut config = DatabaseConfig::new(&url, MasterKey::generate().unwrap());
    config.migrate_on_connect = true;
    config.row_level_security = walled;
    let db = Database::connect_with(config).await.unwrap();
    if walled {
        assert!(db.row_level_security().enable().await.unwrap().enabled);
    }
    let owner = db
        .users()
        .create(NewUser::new("owner@bench.org", "h"))
        .await
        .unwrap()
        .id;
    let tenant = db
        .tenants()
        .create(NewTenant::new("Bench", "bench", owner))
        .await
        .unwrap()
        .id;
    let mut users = Vec::new();
    for i in 0..USERS {
        let mut new = NewUser::new(format!("u{i}@bench.org"), "h");
        new.status = UserStatus::Active;
        let user = db.users().create(new).await.unwrap().id;
        db.tenant(tenant)
            .oauth_tokens()
            .upsert(token(user, i))
            .await
            .unwrap();
        users.push(user);
    }
    let key = db
        .api_keys()
        .create(NewApiKey::new(owner, "bench", ApiKeyTier::Professional))
        .await
        .unwrap()
        .key
        .id;
    Side {
        db,
        tenant,
        users,
        key,
    }
}

/// `n` runs of `op` on each side per round (see [`interleaved`]);
/// returns (walled, open) timings.
async fn paired(
    n: usize,
    on: &Side,
    off: &Side,
    mut op: impl AsyncFnMut(&Side, usize),
) -> (Timing, Timing) {
    interleaved(n, async |first, i| {
        op(if first { on } else { off }, i).await
    })
    .await
}

/// The lines of row-level security on against off, on the server of
/// `admin_url`. The goal: point operations ≤ 1.3× the time without.
pub async fn rls_lines(admin_url: &str) -> Report {
    let on = side(admin_url, true).await;
    let off = side(admin_url, false).await;
    let mut report = Report {
        backend: "PostgreSQL: row-level security on (repo) vs off (raw column)",
        sqlite: false,
        rows: Vec::new(),
    };
    let goal = Some(1.0 / 1.3);

    let (walled, open) = paired(100, &on, &off, async |s, i| {
        let user = s.users[i % USERS];
        let scope = s.db.tenant(s.tenant);
        let found = scope.oauth_tokens().get(user, OauthProvider::Strava).await;
        assert!(found.unwrap().is_some());
    })
    .await;
    report.against("token get (tenant scope)", &walled, &open, goal);

    let (walled, open) = paired(100, &on, &off, async |s, i| {
        let user = s.users[i % USERS];
        assert!(s.db.users().get_by_id(user).await.unwrap().is_some());
    })
    .await;
    report.against("user by id (no tenant)", &walled, &open, goal);

    let (walled, open) = paired(50, &on, &off, async |s, i| {
        let user = s.users[i % USERS];
        let scope = s.db.tenant(s.tenant);
        scope.oauth_tokens().upsert(token(user, i)).await.unwrap();
    })
    .await;
    report.against("token upsert (tenant scope)", &walled, &open, goal);

    let (walled, open) = paired(20, &on, &off, async |s, _| {
        let first = PageRequest::first(50);
        let users = s.db.users();
        let page = users
            .list_by_status_paginated(UserStatus::Active, &first)
            .await;
        assert_eq!(page.unwrap().items.len(), 50);
    })
    .await;
    report.against("users page (50 rows)", &walled, &open, None);

    let (walled, open) = paired(100, &on, &off, async |s, i| {
        let mut usage = NewApiKeyUsage::new(s.key, "get_activities", 200);
        usage.request.response_time_ms = Some((i % 300) as u32);
        s.db.usage().record_api_key_usage(usage).await.unwrap();
    })
    .await;
    report.against("usage insert", &walled, &open, None);
    report
}
