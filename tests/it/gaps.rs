//! Methods the original had that the first repositories lacked: tenant
//! update, deactivation and ownership transfer (the owner keeps its
//! membership), a user's home tenant, a user's top tools, the admin
//! lookups of API keys, tokens paged per provider, request logs by key and
//! endpoint, and usage counts per tenant.

use chrono::{Duration, Utc};
use pierre_db::repositories::credentials::api_keys::NewApiKey;
use pierre_db::repositories::usage::api_usage::NewApiKeyUsage;
use pierre_db::{
    ApiKeyTier, DatabaseError, NewOAuthToken, NewRequestLog, NewTenant, OauthProvider, PageRequest,
    RequestLogFilter, SubscriptionTier, TenantId, TenantRole, TenantUpdate,
};

use crate::common;

#[tokio::test]
async fn the_owner_keeps_a_membership_until_ownership_moves() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = common::user(&t, "ada@example.org").await;
        let bob = common::user(&t, "bob@example.org").await;
        let tenant =
            t.db.tenants()
                .create(NewTenant::new("Acme", "acme-runners", ada))
                .await
                .unwrap()
                .id;
        let members = t.db.tenant(tenant).members();
        members.add(bob, TenantRole::Member, None).await.unwrap();

        let err = members.remove(ada).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: {err}"
        );
        let err = members
            .change_role(ada, TenantRole::Admin)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: {err}"
        );
        assert_eq!(
            members.get_user_role(ada).await.unwrap(),
            Some(TenantRole::Owner)
        );
        // Other members come and go as before.
        members.change_role(bob, TenantRole::Admin).await.unwrap();

        // A non-member cannot receive it.
        let carol = common::user(&t, "carol@example.org").await;
        let err =
            t.db.tenants()
                .transfer_ownership(tenant, carol)
                .await
                .unwrap_err();
        assert!(matches!(err, DatabaseError::NotFound { .. }), "{b}: {err}");

        let moved =
            t.db.tenants()
                .transfer_ownership(tenant, bob)
                .await
                .unwrap();
        assert_eq!(moved.owner_user_id, bob, "{b}");
        assert_eq!(
            members.get_user_role(bob).await.unwrap(),
            Some(TenantRole::Owner)
        );
        assert_eq!(
            members.get_user_role(ada).await.unwrap(),
            Some(TenantRole::Admin)
        );
        assert!(members.remove(ada).await.unwrap(), "{b}: removable now");
        assert!(
            members.remove(bob).await.is_err(),
            "{b}: the new owner is kept"
        );

        // Update and deactivate.
        let updated =
            t.db.tenants()
                .update(
                    tenant,
                    TenantUpdate {
                        name: Some("Acme Club".into()),
                        domain: Some("acme.example.org".into()),
                        plan: Some(SubscriptionTier::Enterprise),
                    },
                )
                .await
                .unwrap();
        assert_eq!(
            (
                updated.name.as_str(),
                updated.domain.as_deref(),
                updated.plan
            ),
            (
                "Acme Club",
                Some("acme.example.org"),
                SubscriptionTier::Enterprise
            ),
            "{b}"
        );
        let cleared =
            t.db.tenants()
                .update(
                    tenant,
                    TenantUpdate {
                        domain: Some(String::new()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        assert_eq!((cleared.name.as_str(), cleared.domain), ("Acme Club", None));
        let bad = TenantUpdate {
            domain: Some("not a domain".into()),
            ..Default::default()
        };
        assert!(t.db.tenants().update(tenant, bad).await.is_err(), "{b}");
        assert!(t.db.tenants().deactivate(tenant).await.unwrap(), "{b}");
        assert!(!t.db.tenants().deactivate(tenant).await.unwrap(), "{b}");
        assert!(
            !t.db
                .tenants()
                .get_by_id(tenant)
                .await
                .unwrap()
                .unwrap()
                .is_active
        );
        let unknown = TenantId::new();
        assert!(t.db.tenants().deactivate(unknown).await.is_err(), "{b}");
    }
}

#[tokio::test]
async fn a_users_home_tenant_must_exist() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let users = w.t.db.users();
        users.update_tenant_id(w.bob, Some(w.acme)).await.unwrap();
        let bob = users.get_by_id(w.bob).await.unwrap().unwrap();
        assert_eq!(bob.tenant_id, Some(w.acme), "{b}");
        let err = users
            .update_tenant_id(w.bob, Some(TenantId::new()))
            .await
            .unwrap_err();
        match &err {
            DatabaseError::ForeignKey { table, columns } => {
                assert_eq!(table.as_deref(), Some("users"), "{b}");
                assert_eq!(columns, &["tenant_id"], "{b}");
            }
            other => panic!("{b}: {other}"),
        }
        assert!(err.to_string().contains("tenant_id"), "{b}: {err}");
        users.update_tenant_id(w.bob, None).await.unwrap();
        assert_eq!(
            users.get_by_id(w.bob).await.unwrap().unwrap().tenant_id,
            None
        );
    }
}

#[tokio::test]
async fn top_tools_rank_by_count_then_name_with_a_limit() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let key = |owner| NewApiKey::new(owner, "k", ApiKeyTier::Starter);
        let first = w.t.db.api_keys().create(key(w.ada)).await.unwrap().key.id;
        let second = w.t.db.api_keys().create(key(w.ada)).await.unwrap().key.id;
        let others = w.t.db.api_keys().create(key(w.bob)).await.unwrap().key.id;
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
            let mut u = NewApiKeyUsage::new(key, tool, 200);
            u.timestamp = now - Duration::minutes(minutes_ago);
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
async fn admins_look_up_keys_without_the_owner() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let keys = w.t.db.api_keys();
        let made = keys
            .create(NewApiKey::new(w.bob, "k", ApiKeyTier::Starter))
            .await
            .unwrap()
            .key;
        assert_eq!(keys.admin_get_by_id(made.id).await.unwrap(), made, "{b}");
        let listed = keys
            .admin_list_by_owner_email("BOB@example.org")
            .await
            .unwrap();
        assert_eq!(listed, vec![made], "{b}: the email is normalized");
        assert!(
            keys.admin_list_by_owner_email("ada@example.org")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            keys.admin_list_by_owner_email("not an email")
                .await
                .is_err(),
            "{b}"
        );
    }
}

#[tokio::test]
async fn tokens_of_a_provider_page_for_sync_jobs() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let tokens = w.t.db.tenant(w.acme).oauth_tokens();
        let mut users = Vec::new();
        for i in 0..7 {
            let user = common::user(&w.t, &format!("sync{i}@example.org")).await;
            let token = NewOAuthToken::new(user, OauthProvider::Strava, format!("tok-{i}"));
            tokens.upsert(token).await.unwrap();
            users.push(user);
        }
        let garmin = NewOAuthToken::new(w.ada, OauthProvider::Garmin, "g");
        tokens.upsert(garmin).await.unwrap();
        let elsewhere = NewOAuthToken::new(w.bob, OauthProvider::Strava, "other tenant");
        w.t.db
            .tenant(w.globex)
            .oauth_tokens()
            .upsert(elsewhere)
            .await
            .unwrap();

        let mut request = PageRequest::first(3);
        let mut seen = Vec::new();
        loop {
            let page = tokens
                .list_for_provider_paged(OauthProvider::Strava, &request)
                .await
                .unwrap();
            assert!(page.items.len() <= 3, "{b}");
            for token in &page.items {
                assert_eq!(token.tenant_id, w.acme, "{b}");
                seen.push((token.user_id, token.access_token.expose().to_owned()));
            }
            match page.next_cursor {
                Some(cursor) => request = PageRequest::after(cursor, 3),
                None => break,
            }
        }
        let want: Vec<_> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (*u, format!("tok-{i}")))
            .collect();
        assert_eq!(seen, want, "{b}: oldest first, decrypted, this tenant only");
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
        let key = |owner| NewApiKey::new(owner, "k", ApiKeyTier::Starter);
        let bob_key = w.t.db.api_keys().create(key(w.bob)).await.unwrap().key.id;
        let out_key =
            w.t.db
                .api_keys()
                .create(key(outsider))
                .await
                .unwrap()
                .key
                .id;
        let usage = w.t.db.usage();
        for (user, api_key, endpoint) in [
            (w.bob, Some(bob_key), "/tools/search"),
            (w.bob, Some(bob_key), "/tools/stats"),
            (w.bob, None, "/tools/search"),
            (outsider, Some(out_key), "/tools/search"),
        ] {
            let mut log = NewRequestLog::new("POST", endpoint, 200);
            log.user_id = Some(user);
            log.api_key_id = api_key;
            usage.record_request_log(log).await.unwrap();
        }
        let count = async |filter: RequestLogFilter| {
            let page = usage
                .list_request_logs(&filter, &PageRequest::first(50))
                .await;
            page.unwrap().items.len()
        };
        let by_key = RequestLogFilter {
            api_key_id: Some(bob_key),
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
            .record_api_key_usage(usage_row(bob_key))
            .await
            .unwrap();
        usage
            .record_api_key_usage(usage_row(out_key))
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
