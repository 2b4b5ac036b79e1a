//! After adoption, every credential the original issued still verifies
//! through the library's API, and after its first success is stored in
//! the library's own form.

use pierre_db::{A2aClientId, AdoptOptions, LegacySource, TenantId, UserId, chrono};

use super::fixture::{Legacy, sha256};
use crate::common;

async fn stored(t: &common::TestDb, sql: &str) -> String {
    let rows = common::text_column(&t.db, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows[0].clone()
}

#[tokio::test]
async fn every_credential_the_original_issued_verifies_and_is_then_stored_as_sha256() {
    for t in common::databases().await {
        let legacy = Legacy::new().await;
        let issued = legacy.every_table().await;
        let (api_key, mcp_token, a2a_client, a2a_secret, session) = (
            &issued.api_key,
            &issued.mcp_token,
            &issued.a2a_client,
            &issued.a2a_secret,
            &issued.session,
        );
        let (app_secret, old_app_secret) = (issued.app_secret, issued.old_app_secret);
        let (refresh, old_refresh, code) = (issued.refresh, issued.old_refresh, issued.code);
        let (ada, acme) = (issued.user.clone(), issued.tenant.clone());
        let source = LegacySource::open(&legacy.url()).await.unwrap();
        let report = source
            .adopt(&t.db, &legacy.master, &AdoptOptions::new())
            .await
            .unwrap();
        let forms: Vec<(&str, String, u64)> = report
            .legacy_hashes
            .iter()
            .map(|c| (c.column.as_str(), format!("{:?}", c.form), c.rows))
            .collect();
        assert_eq!(
            forms,
            // In loading order.
            [
                ("admin_tokens.token_hash", "Bcrypt".to_owned(), 1),
                ("oauth2_refresh_tokens.token", "HmacSha256".to_owned(), 2),
                ("oauth_apps.client_secret_hash", "HmacSha256".to_owned(), 1),
            ],
            "{}",
            t.backend
        );
        let kept = t.db.security().legacy_hmac_key().await.unwrap().unwrap();
        assert!(kept.kept);
        assert_eq!(kept.credentials, 3);
        let (ada, acme) = (
            UserId::from_uuid(ada.parse().unwrap()),
            TenantId::from_uuid(acme.parse().unwrap()),
        );

        // API key: found by the original's 12-character prefix, then
        // stored with the current one.
        let key = t.db.api_keys().find_by_prefix_and_verify(api_key).await;
        assert_eq!(key.unwrap().unwrap().user_id, ada, "{}", t.backend);
        let key = t.db.api_keys().find_by_prefix_and_verify(api_key).await;
        assert_eq!(key.unwrap().unwrap().key_prefix, &api_key[..20]);
        assert!(
            t.db.api_keys()
                .find_by_prefix_and_verify(&format!("{api_key}x"))
                .await
                .unwrap()
                .is_none()
        );

        let used = t.db.mcp_tokens().validate(mcp_token).await.unwrap();
        assert!(used.is_some(), "{}: the MCP token", t.backend);

        let client = A2aClientId::from_uuid(
            report
                .mapped_ids
                .iter()
                .find(|m| m.old == *a2a_client)
                .unwrap()
                .new,
        );
        assert!(
            t.db.a2a_clients()
                .verify_secret(client, a2a_secret)
                .await
                .unwrap()
        );
        assert!(
            !t.db
                .a2a_clients()
                .verify_secret(client, "a2a_secret_x")
                .await
                .unwrap()
        );
        assert!(t.db.a2a_sessions().get(session).await.unwrap().is_some());

        // OAuth apps: the secret kept in clear was hashed by adoption; the
        // HMAC one verifies with the kept key and is then stored as SHA-256.
        let apps = t.db.oauth_apps();
        assert!(
            apps.verify_client_secret("app-old", old_app_secret)
                .await
                .unwrap()
        );
        assert!(!apps.verify_client_secret("app-new", "wrong").await.unwrap());
        assert!(
            apps.verify_client_secret("app-new", app_secret)
                .await
                .unwrap()
        );
        let hash = "SELECT client_secret_hash FROM oauth_apps WHERE client_id = 'app-new'";
        assert_eq!(stored(&t, hash).await, sha256(app_secret));
        assert!(
            apps.verify_client_secret("app-new", app_secret)
                .await
                .unwrap()
        );

        // Refresh tokens and the code: consumed through the exchange.
        let now = chrono::Utc::now();
        let exchange = t.db.oauth2_exchange();
        let consumed = exchange
            .consume_refresh_token(refresh, "mcp-client", now)
            .await
            .unwrap();
        assert_eq!(consumed.unwrap().tenant_id, acme, "{}", t.backend);
        let consumed = exchange
            .consume_refresh_token(old_refresh, "mcp-client", now)
            .await
            .unwrap();
        assert!(consumed.is_some(), "{}: the token kept in clear", t.backend);
        assert!(
            exchange
                .consume_refresh_token(refresh, "mcp-client", now)
                .await
                .unwrap()
                .is_none(),
            "a consumed token is consumed once"
        );
        // An HMAC token revoked at logout is found by its form, and stays
        // revoked.
        let tokens_repo = t.db.tenant(acme).oauth2_refresh_tokens();
        assert!(
            tokens_repo
                .get(issued.revoked_refresh)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            tokens_repo.revoke(issued.revoked_refresh).await.unwrap(),
            "{}",
            t.backend
        );
        assert!(
            exchange
                .consume_refresh_token(issued.revoked_refresh, "mcp-client", now)
                .await
                .unwrap()
                .is_none()
        );
        let tokens = common::text_column(
            &t.db,
            &format!(
                "SELECT token FROM oauth2_refresh_tokens WHERE token <> '{}'",
                legacy.hmac(issued.revoked_refresh)
            ),
        )
        .await;
        let mut expected = vec![sha256(refresh), sha256(old_refresh)];
        let mut tokens = tokens;
        tokens.sort();
        expected.sort();
        assert_eq!(tokens, expected);
        let code = exchange
            .consume_auth_code(code, "mcp-client", "https://c.example/cb", now)
            .await
            .unwrap();
        assert!(code.is_some(), "{}: the code", t.backend);

        // The last HMAC credential upgraded, the original's key is gone.
        assert_eq!(t.db.security().legacy_hmac_key().await.unwrap(), None);
        assert_eq!(
            t.db.system_secrets()
                .get("adopted.legacy_hmac_key")
                .await
                .unwrap(),
            None
        );
    }
}

/// Tables the original never writes: adoption finds them empty.
const NEVER_WRITTEN: [&str; 3] = ["key_versions", "permission_delegations", "request_logs"];

#[tokio::test]
async fn a_row_in_every_table_the_original_writes_moves_and_reads_back() {
    for t in common::databases().await {
        let legacy = Legacy::new().await;
        let issued = legacy.every_table().await;
        let source = LegacySource::open(&legacy.url()).await.unwrap();
        let report = source
            .adopt(&t.db, &legacy.master, &AdoptOptions::new())
            .await
            .unwrap();
        assert_eq!(report.tables.len(), 44);
        for table in &report.tables {
            let name = table.table.as_str();
            if NEVER_WRITTEN.contains(&name) {
                assert_eq!(table.source_rows, 0, "{table:?}");
                continue;
            }
            assert!(table.source_rows > 0, "{}: no row in {name}", t.backend);
            assert_eq!(table.quarantined, 0, "{table:?}");
            let left_behind = u64::from(name == "system_secrets");
            assert_eq!(
                (table.moved, table.left_behind),
                (table.source_rows - left_behind, left_behind),
                "{}: {table:?}",
                t.backend
            );
        }
        let mapped = |old: &str| {
            report
                .mapped_ids
                .iter()
                .find(|m| m.old == old)
                .unwrap_or_else(|| panic!("{old} was not mapped: {:?}", report.mapped_ids))
                .new
        };
        let user = UserId::from_uuid(issued.user.parse().unwrap());
        let owner = UserId::from_uuid(issued.owner.parse().unwrap());
        let tenant = TenantId::from_uuid(issued.tenant.parse().unwrap());
        let uuid = |text: &str| pierre_db::uuid::Uuid::parse_str(text).unwrap();

        // Through the public API, a few of each kind: documents, lists,
        // tenant-owned rows, mapped ids, the UUID stored as a BLOB, and a
        // time stored in the original's second form.
        let goal = pierre_db::GoalId::from_uuid(uuid(&issued.goal));
        let goal = t.db.goals().get(user, goal).await.unwrap();
        assert_eq!(goal.data, serde_json::json!({"target_km": 100}));
        assert_eq!(goal.updated_at.to_rfc3339(), "2025-03-02T09:10:11+00:00");
        let insight = pierre_db::InsightId::from_uuid(uuid(&issued.insight));
        let insight = t.db.insights().get(user, insight).await.unwrap();
        assert!(insight.is_some(), "{}", t.backend);
        let profile = t.db.user_profiles().get(user).await.unwrap().unwrap();
        assert_eq!(profile.data, serde_json::json!({"weight_kg": 60}));
        let scope = t.db.tenant(tenant);
        let recipe = scope
            .recipes()
            .get(user, pierre_db::RecipeId::from_uuid(uuid(&issued.recipe)))
            .await
            .unwrap();
        assert_eq!(recipe.ingredients.len(), 1);
        let conversation = pierre_db::ConversationId::from_uuid(uuid(&issued.conversation));
        let messages = scope
            .chat()
            .messages(user, conversation, &pierre_db::PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(messages.items.len(), 1);
        let max_bpm = scope
            .admin_config()
            .get("heart_rate", "max_bpm")
            .await
            .unwrap();
        assert_eq!(max_bpm.unwrap().config_value, "190");
        let setting =
            t.db.system_settings()
                .get("registration_open")
                .await
                .unwrap();
        assert_eq!(setting.unwrap().value, "true");
        let task = pierre_db::A2aTaskId::from_uuid(mapped(&issued.task));
        assert!(
            t.db.a2a_tasks().get(user, task).await.is_ok(),
            "{}",
            t.backend
        );
        let admin = pierre_db::AdminTokenId::from_uuid(mapped(&issued.admin_token));
        assert_eq!(
            t.db.admin_tokens().get(admin).await.unwrap().service_name,
            "provisioner"
        );
        let from = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00+00:00").unwrap();
        let provisioned =
            t.db.provisioned_keys()
                .list_for_token(admin, from.to_utc(), chrono::Utc::now())
                .await
                .unwrap();
        assert_eq!(provisioned.len(), 1, "{}", t.backend);
        let members = scope.members().get(owner).await.unwrap();
        assert!(members.is_some(), "{}: the tenant's owner", t.backend);
        let state =
            t.db.oauth2_exchange()
                .consume_state("state-1", "mcp-client", chrono::Utc::now())
                .await
                .unwrap()
                .unwrap();
        assert_eq!(state.user_id, Some(user), "{}: the BLOB user id", t.backend);
        let app =
            t.db.user_oauth_apps()
                .get(user, pierre_db::OauthProvider::Fitbit)
                .await
                .unwrap()
                .unwrap();
        assert_eq!(app.client_secret.expose(), "ada-app-secret");
        let verified =
            t.db.security()
                .verify(100, |_| std::ops::ControlFlow::Continue(()))
                .await;
        assert!(verified.unwrap().unreadable.is_empty(), "{}", t.backend);
    }
}
