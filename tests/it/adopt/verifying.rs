//! After adoption, every credential the original issued still verifies
//! through the library's API, and after its first success is stored in
//! the library's own form.

use pierre_db::{A2aClientId, AdoptOptions, LegacySource, TenantId, UserId, chrono};

use super::fixture::Legacy;
use crate::common;

fn sha256(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

async fn stored(t: &common::TestDb, sql: &str) -> String {
    let rows = common::text_column(&t.db, sql).await;
    assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
    rows[0].clone()
}

#[tokio::test]
async fn every_credential_the_original_issued_verifies_and_is_then_stored_as_sha256() {
    for t in common::databases().await {
        let legacy = Legacy::new().await;
        let acme = legacy.tenant("acme").await;
        let ada = legacy.user("ada@example.org", Some(&acme)).await;
        let id = || pierre_db::uuid::Uuid::new_v4().to_string();
        let api_key = format!("pk_live_{}", "Ab3".repeat(11));
        let mcp_token = format!("mcp_{}", "f0".repeat(16));
        let a2a_client = format!("a2a_client_{}", id());
        let a2a_secret = format!("a2a_secret_{}", id());
        let session = format!("sess_{}", id());
        let (app_secret, old_app_secret) = ("app-secret-hmac", "app-secret-in-clear");
        let (refresh, old_refresh) = ("refresh-hmac", "refresh-in-clear");
        let code = "code-in-clear";
        legacy
            .sql(&format!(
                "INSERT INTO api_keys (id, user_id, name, key_hash, key_prefix, tier, is_active, \
                 created_at) VALUES ('{key_id}', '{ada}', 'cli', '{key_hash}', '{key_prefix}', \
                 'starter', 1, '2025-03-01T08:00:00+00:00'); \
                 INSERT INTO user_mcp_tokens (id, user_id, name, token_hash, token_prefix, \
                 created_at) VALUES ('{mcp_id}', '{ada}', 'desktop', '{mcp_hash}', 'mcp_f0f0f0f0', \
                 '2025-03-01T08:00:00+00:00'); \
                 INSERT INTO a2a_clients (id, user_id, name, public_key, client_secret, \
                 permissions, capabilities, redirect_uris, rate_limit_requests, \
                 rate_limit_window_seconds, is_active, created_at, updated_at) VALUES \
                 ('{a2a_client}', '{ada}', 'agent', 'PUBLIC', '{a2a_secret}', '[\"read\"]', '[]', \
                 '[]', 100, 60, 1, '2025-03-01T08:00:00+00:00', '2025-03-01T08:00:00+00:00'); \
                 INSERT INTO a2a_sessions (session_token, client_id, user_id, granted_scopes, \
                 expires_at, last_activity, created_at, requests_count) VALUES ('{session}', \
                 '{a2a_client}', '{ada}', 'read', '2030-01-01T00:00:00+00:00', \
                 '2025-03-02 08:00:00', '2025-03-01T08:00:00+00:00', 0); \
                 INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uris, \
                 scopes, owner_user_id, created_at, updated_at) VALUES \
                 ('{app_id}', 'app-new', '{app_mac}', 'new', '[\"https://a.example/cb\"]', \
                 '[\"read\"]', '{ada}', '2025-03-01T08:00:00+00:00', '2025-03-01T08:00:00+00:00'), \
                 ('{old_app_id}', 'app-old', '{old_app_secret}', 'old', \
                 '[\"https://a.example/cb\"]', '[\"read\"]', '{ada}', '2025-03-01T08:00:00+00:00', \
                 '2025-03-01T08:00:00+00:00'); \
                 INSERT INTO oauth2_clients (id, client_id, client_secret_hash, redirect_uris, \
                 grant_types, response_types, created_at) VALUES ('{client_row}', 'mcp-client', \
                 '{client_hash}', '[\"https://c.example/cb\"]', '[\"authorization_code\"]', \
                 '[\"code\"]', '2025-03-01T08:00:00+00:00'); \
                 INSERT INTO oauth2_refresh_tokens (token, client_id, user_id, tenant_id, \
                 expires_at, created_at) VALUES \
                 ('{refresh_mac}', 'mcp-client', '{ada}', '{acme}', '2030-01-01T00:00:00+00:00', \
                 '2025-03-01T08:00:00+00:00'), \
                 ('{old_refresh}', 'mcp-client', '{ada}', '{acme}', '2030-01-01T00:00:00+00:00', \
                 '2025-03-01T08:00:00+00:00'); \
                 INSERT INTO oauth2_auth_codes (code, client_id, user_id, tenant_id, redirect_uri, \
                 expires_at) VALUES ('{code}', 'mcp-client', '{ada}', '{acme}', \
                 'https://c.example/cb', '2030-01-01T00:00:00+00:00')",
                key_id = id(),
                key_hash = sha256(&api_key),
                key_prefix = &api_key[..12],
                mcp_id = id(),
                mcp_hash = sha256(&mcp_token),
                app_id = id(),
                app_mac = legacy.hmac(app_secret),
                old_app_id = id(),
                client_row = id(),
                client_hash = sha256("client-secret"),
                refresh_mac = legacy.hmac(refresh),
            ))
            .await;
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
                ("oauth2_refresh_tokens.token", "HmacSha256".to_owned(), 1),
                ("oauth_apps.client_secret_hash", "HmacSha256".to_owned(), 1),
            ],
            "{}",
            t.backend
        );
        let kept = t.db.security().legacy_hmac_key().await.unwrap().unwrap();
        assert!(kept.kept);
        assert_eq!(kept.credentials, 2);
        let (ada, acme) = (
            UserId::from_uuid(ada.parse().unwrap()),
            TenantId::from_uuid(acme.parse().unwrap()),
        );

        // API key: found by the original's 12-character prefix, then
        // stored with the current one.
        let key = t.db.api_keys().find_by_prefix_and_verify(&api_key).await;
        assert_eq!(key.unwrap().unwrap().user_id, ada, "{}", t.backend);
        let key = t.db.api_keys().find_by_prefix_and_verify(&api_key).await;
        assert_eq!(key.unwrap().unwrap().key_prefix, &api_key[..20]);
        assert!(
            t.db.api_keys()
                .find_by_prefix_and_verify(&format!("{api_key}x"))
                .await
                .unwrap()
                .is_none()
        );

        let used = t.db.mcp_tokens().validate(&mcp_token).await.unwrap();
        assert!(used.is_some(), "{}: the MCP token", t.backend);

        let client = A2aClientId::from_uuid(
            report
                .mapped_ids
                .iter()
                .find(|m| m.old == a2a_client)
                .unwrap()
                .new,
        );
        assert!(
            t.db.a2a_clients()
                .verify_secret(client, &a2a_secret)
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
        assert!(t.db.a2a_sessions().get(&session).await.unwrap().is_some());

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
        let tokens = common::text_column(&t.db, "SELECT token FROM oauth2_refresh_tokens").await;
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
