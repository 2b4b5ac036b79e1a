//! A database written the way the original server writes one: its schema,
//! its `_sqlx_migrations` ledger, its data key wrapped by its master key
//! (ring directly, as the original does, not the library's legacy reader),
//! and rows in its conventions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use pierre_db::MasterKey;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};

/// The original's schema, as adoption reads it.
const DDL: &str = include_str!("../../../src/adopt/legacy_schema.sql");

/// The original's migrations: `20250120000001` … `…021`, no `…016`.
fn mirrored_versions() -> impl Iterator<Item = i64> {
    (1..=21)
        .filter(|n| *n != 16)
        .map(|n| 20_250_120_000_000 + n)
}

pub struct Legacy {
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// The original server's master key.
    pub master: MasterKey,
    data_key: [u8; 32],
}

impl Legacy {
    /// A database after the original's 20 migrations, with its data key.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pierre.db");
        let random = SystemRandom::new();
        let mut master = [0u8; 32];
        let mut data_key = [0u8; 32];
        random.fill(&mut master).unwrap();
        random.fill(&mut data_key).unwrap();
        let legacy = Self {
            _dir: dir,
            path,
            master: MasterKey::from_bytes(&master).unwrap(),
            data_key,
        };
        let conn = legacy.open(true).await;
        conn.execute_unprepared(DDL).await.unwrap();
        for version in mirrored_versions() {
            ledger_insert(&conn, version, true).await;
        }
        let wrapped = seal(&master, "", &data_key);
        let now = "2025-06-01T10:00:00.000000+00:00";
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "INSERT INTO system_secrets (secret_type, secret_value, created_at, updated_at) \
             VALUES ('database_encryption_key', ?, ?, ?)",
            [wrapped.into(), now.into(), now.into()],
        ))
        .await
        .unwrap();
        conn.close().await.unwrap();
        legacy
    }

    /// The URL of the source, as a user would give it.
    pub fn url(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    /// Runs `sql` on the source (the tests' own changes to it).
    pub async fn sql(&self, sql: &str) {
        let conn = self.open(false).await;
        conn.execute_unprepared(sql).await.unwrap();
        conn.close().await.unwrap();
    }

    /// Adds a ledger row, as the original's migrator would.
    pub async fn ledger_row(&self, version: i64, success: bool) {
        let conn = self.open(false).await;
        ledger_insert(&conn, version, success).await;
        conn.close().await.unwrap();
    }

    /// `n` users as the original writes them: `role` never set (admins
    /// have `is_admin = 1`), `last_active` from `datetime('now')`.
    pub async fn users(&self, n: usize) {
        let conn = self.open(false).await;
        for i in 0..n {
            conn.execute_raw(Statement::from_sql_and_values(
                conn.get_database_backend(),
                "INSERT INTO users (id, email, display_name, password_hash, tier, is_active, \
                 user_status, is_admin, created_at, last_active) \
                 VALUES (?, ?, ?, '$2b$12$abcdefghijklmnopqrstuv', 'starter', 1, 'active', ?, \
                 '2025-03-01T08:00:00.123+00:00', datetime('now'))",
                [
                    pierre_db::uuid::Uuid::new_v4().to_string().into(),
                    format!("user{i}@example.org").into(),
                    Value::from(Some(format!("User {i}"))),
                    i64::from(i == 0).into(),
                ],
            ))
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
    }

    /// A tenant with its owner (a user row), returning the tenant id.
    pub async fn tenant(&self, slug: &str) -> String {
        let tenant = pierre_db::uuid::Uuid::new_v4().to_string();
        let owner = pierre_db::uuid::Uuid::new_v4().to_string();
        self.exec(
            "INSERT INTO users (id, email, password_hash, created_at, last_active) \
             VALUES (?, ?, 'x', '2025-03-01T08:00:00+00:00', '2025-03-01 08:00:00')",
            vec![owner.clone().into(), format!("owner@{slug}.example").into()],
        )
        .await;
        self.exec(
            "INSERT INTO tenants (id, name, slug, owner_user_id, created_at, updated_at) \
             VALUES (?, ?, ?, ?, '2025-03-01T08:00:00+00:00', '2025-03-01T08:00:00+00:00')",
            vec![
                tenant.clone().into(),
                slug.into(),
                slug.into(),
                owner.into(),
            ],
        )
        .await;
        tenant
    }

    /// An OAuth token row as the original writes it: both tokens sealed
    /// under `tenant|user|provider|user_oauth_tokens`, the refresh token
    /// optional. Returns the row id.
    pub async fn oauth_token(
        &self,
        tenant: &str,
        user: &str,
        provider: &str,
        access: &str,
        refresh: Option<&str>,
    ) -> String {
        let id = pierre_db::uuid::Uuid::new_v4().to_string();
        let aad = format!("{tenant}|{user}|{provider}|user_oauth_tokens");
        let refresh = refresh.map(|r| self.seal(&aad, r));
        self.exec(
            "INSERT INTO user_oauth_tokens (id, user_id, tenant_id, provider, access_token, \
             refresh_token, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, '2025-04-01T09:30:00.5+00:00', '2025-04-01T09:30:00.5+00:00')",
            vec![
                id.clone().into(),
                user.into(),
                tenant.into(),
                provider.into(),
                self.seal(&aad, access).into(),
                Value::from(refresh),
            ],
        )
        .await;
        id
    }

    /// A tenant's OAuth client credentials as the original writes them: a
    /// NULL id, the secret sealed under `tenant|provider|tenant_oauth_credentials`,
    /// or under no context at all when `with_context` is false (the
    /// original's `encrypt_data`).
    pub async fn tenant_credentials(
        &self,
        tenant: &str,
        provider: &str,
        secret: &str,
        with_context: bool,
    ) {
        let aad = if with_context {
            format!("{tenant}|{provider}|tenant_oauth_credentials")
        } else {
            String::new()
        };
        self.exec(
            "INSERT INTO tenant_oauth_credentials (id, tenant_id, provider, client_id, \
             client_secret_encrypted, redirect_uri, scopes, created_at, updated_at) \
             VALUES (NULL, ?, ?, 'client', ?, 'https://app.example/cb', '[\"read\"]', \
             '2025-04-01 09:30:00', '2025-04-01 09:30:00')",
            vec![
                tenant.into(),
                provider.into(),
                self.seal(&aad, secret).into(),
            ],
        )
        .await;
    }

    /// A user as the original writes one, in `tenant` if given; returns
    /// its id.
    pub async fn user(&self, email: &str, tenant: Option<&str>) -> String {
        let id = pierre_db::uuid::Uuid::new_v4().to_string();
        self.exec(
            "INSERT INTO users (id, email, display_name, password_hash, tier, tenant_id, \
             is_active, user_status, is_admin, created_at, last_active) \
             VALUES (?, ?, NULL, '$2b$12$abcdefghijklmnopqrstuv', 'starter', ?, 1, 'active', 0, \
             '2025-03-01T08:00:00.123456+00:00', '2025-03-02 10:11:12')",
            vec![
                id.clone().into(),
                email.into(),
                Value::from(tenant.map(str::to_owned)),
            ],
        )
        .await;
        id
    }

    /// A credential in the original's HMAC form: standard base64 of
    /// HMAC-SHA256 under its data key.
    pub fn hmac(&self, credential: &str) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.data_key);
        STANDARD.encode(ring::hmac::sign(&key, credential.as_bytes()).as_ref())
    }

    /// `plaintext` sealed the original's way under `aad` with its data key.
    pub fn seal(&self, aad: &str, plaintext: &str) -> String {
        seal(&self.data_key, aad, plaintext.as_bytes())
    }

    /// Runs one statement with `values` bound.
    pub async fn exec(&self, sql: &str, values: Vec<Value>) {
        let conn = self.open(false).await;
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap();
        conn.close().await.unwrap();
    }

    /// The file's bytes, to show it was not written.
    pub fn file_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }

    /// Its tables and their columns.
    pub async fn columns(&self) -> BTreeMap<String, BTreeSet<String>> {
        let conn = self.open(false).await;
        let columns = columns_of(&conn).await;
        conn.close().await.unwrap();
        columns
    }

    async fn open(&self, create: bool) -> DatabaseConnection {
        let mode = if create { "?mode=rwc" } else { "" };
        sea_orm::Database::connect(format!("sqlite://{}{mode}", self.path.display()))
            .await
            .unwrap()
    }
}

/// The tables of a SQLite database (its own and the migration ledgers
/// excepted) and their columns.
pub async fn columns_of(conn: &impl ConnectionTrait) -> BTreeMap<String, BTreeSet<String>> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' \
             AND m.name NOT IN ('_sqlx_migrations', 'seaql_migrations')",
        ))
        .await
        .unwrap();
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        let (table, column): (String, String) = (
            row.try_get_by_index(0).unwrap(),
            row.try_get_by_index(1).unwrap(),
        );
        tables.entry(table).or_default().insert(column);
    }
    tables
}

async fn ledger_insert(conn: &DatabaseConnection, version: i64, success: bool) {
    // sqlx keeps the SHA-384 of the migration's text.
    let checksum = ring::digest::digest(&ring::digest::SHA384, version.to_string().as_bytes());
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, ?, ?, ?, ?)",
        [
            version.into(),
            format!("migration {version}").into(),
            success.into(),
            checksum.as_ref().to_vec().into(),
            1_234_567i64.into(),
        ],
    ))
    .await
    .unwrap();
}

/// AES-256-GCM the original's way: base64 of nonce ‖ ciphertext ‖ tag,
/// `aad` as UTF-8.
fn seal(key: &[u8], aad: &str, plaintext: &[u8]) -> String {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).unwrap());
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).unwrap();
    let mut sealed = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad.as_bytes()),
        &mut sealed,
    )
    .unwrap();
    let mut raw = nonce.to_vec();
    raw.extend_from_slice(&sealed);
    STANDARD.encode(raw)
}

/// What [`Legacy::every_table`] issued, in clear, as the original's
/// callers hold it.
pub struct Issued {
    pub tenant: String,
    pub user: String,
    pub owner: String,
    pub api_key: String,
    pub api_key_id: String,
    pub mcp_token: String,
    pub a2a_client: String,
    pub a2a_secret: String,
    pub session: String,
    pub app_secret: &'static str,
    pub old_app_secret: &'static str,
    pub refresh: &'static str,
    pub revoked_refresh: &'static str,
    pub old_refresh: &'static str,
    pub code: &'static str,
    pub admin_token: String,
    pub task: String,
    pub goal: String,
    pub insight: String,
    pub recipe: String,
    pub conversation: String,
}

/// Lowercase hex SHA-256, the original's hash of API keys, MCP tokens and
/// A2A secrets of its later code.
pub fn sha256(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Legacy {
    /// A row in every table the original writes (`user_oauth_apps`
    /// included; not `user_oauth_app_credentials`, `key_versions`,
    /// `permission_delegations` or `request_logs`, which it never writes),
    /// with the original's id forms, NULL ids, both time forms, a UUID as a
    /// BLOB, comma-joined scopes, and credentials in each of its forms.
    pub async fn every_table(&self) -> Issued {
        let tenant = self.tenant("acme").await;
        let owner = self.user("owner2@acme.example", Some(&tenant)).await;
        let user = self.user("ada@example.org", Some(&tenant)).await;
        self.oauth_token(&tenant, &user, "strava", "ada-access", Some("ada-refresh"))
            .await;
        self.tenant_credentials(&tenant, "strava", "client-secret", true)
            .await;
        let id = || pierre_db::uuid::Uuid::new_v4().to_string();
        let hex = |byte: &str| byte.repeat(16);
        let issued = Issued {
            api_key: format!("pk_live_{}", "Ab3".repeat(11)),
            api_key_id: id(),
            mcp_token: format!("mcp_{}", hex("f0")),
            a2a_client: format!("a2a_client_{}", id()),
            a2a_secret: format!("a2a_secret_{}", id()),
            session: format!("sess_{}", id()),
            app_secret: "app-secret-hmac",
            old_app_secret: "app-secret-in-clear",
            refresh: "refresh-hmac",
            revoked_refresh: "refresh-hmac-revoked-at-logout",
            old_refresh: "refresh-in-clear",
            code: "code-in-clear",
            admin_token: format!("admin_{}", hex("ad")),
            task: format!("task_{}", id()),
            goal: id(),
            insight: id(),
            recipe: id(),
            conversation: id(),
            tenant,
            user,
            owner,
        };
        let Issued {
            tenant,
            user,
            owner,
            ..
        } = &issued;
        let t = "'2025-03-01T08:00:00+00:00'";
        let plain = "'2025-03-02 09:10:11'";
        let later = "'2030-01-01T00:00:00+00:00'";
        self.sql(&format!(
            "INSERT INTO tenant_users (id, tenant_id, user_id, role, invited_at, is_active) \
             VALUES ('{tu}', '{tenant}', '{owner}', 'owner', {t}, 1); \
             INSERT INTO system_settings (key, value, description, created_at, updated_at) \
             VALUES ('registration_open', 'true', 'sign-ups', {plain}, {t}); \
             INSERT INTO admin_config_categories (id, name, display_name, display_order, \
             is_active) VALUES ('cat_heart_rate', 'heart_rate', 'Heart rate', 1, 1); \
             INSERT INTO system_secrets (secret_type, secret_value, created_at, updated_at) \
             VALUES ('admin_jwt_secret', 'jwt-secret', {plain}, {t}); \
             INSERT INTO rsa_keypairs (kid, private_key_pem, public_key_pem, created_at, \
             is_active, key_size_bits) VALUES ('key_20250601_100000', 'PRIVATE PEM', \
             'PUBLIC PEM', {t}, 1, 2048); \
             INSERT INTO admin_tokens (id, service_name, token_hash, token_prefix, \
             jwt_secret_hash, created_at, last_used_at) VALUES ('{admin}', 'provisioner', \
             '$2b$12$abcdefghijklmnopqrstuuKq8G0mF0dD1nCq5o7HkB2Y3w4Y5zX6e', 'eyJhbGciOi', \
             '{jwt_hash}', {t}, {plain}); \
             INSERT INTO admin_token_usage (id, admin_token_id, timestamp, action, success) \
             VALUES (NULL, '{admin}', {t}, 'provision_key', 1); \
             INSERT INTO oauth2_clients (id, client_id, client_secret_hash, redirect_uris, \
             grant_types, response_types, created_at) VALUES ('mcp_client_{mcp_hex}', \
             'mcp-client', '{client_hash}', '[\"https://c.example/cb\"]', \
             '[\"authorization_code\"]', '[\"code\"]', {t}); \
             INSERT INTO user_profiles (user_id, profile_data, created_at, updated_at) VALUES \
             ('{user}', '{{\"weight_kg\":60}}', {t}, {t}); \
             INSERT INTO user_configurations (user_id, config_data, created_at, updated_at) \
             VALUES ('{user}', '{{\"units\":\"metric\"}}', {t}, {t}); \
             INSERT INTO user_mcp_tokens (id, user_id, name, token_hash, token_prefix, \
             created_at) VALUES ('{mcp_id}', '{user}', 'desktop', '{mcp_hash}', \
             'mcp_f0f0f0f0', {t}); \
             INSERT INTO api_keys (id, user_id, name, key_hash, key_prefix, tier, is_active, \
             created_at, last_used_at) VALUES ('{key_id}', '{user}', 'cli', '{key_hash}', \
             '{key_prefix}', 'starter', 1, {t}, {plain}); \
             INSERT INTO api_key_usage (id, api_key_id, timestamp, tool_name, status_code) \
             VALUES (NULL, '{key_id}', {t}, 'get_activities', 200); \
             INSERT INTO jwt_usage (id, user_id, timestamp, endpoint, method, status_code) \
             VALUES (NULL, '{user}', {t}, '/api/me', 'GET', 200); \
             INSERT INTO a2a_clients (id, user_id, name, public_key, client_secret, \
             permissions, capabilities, redirect_uris, rate_limit_requests, \
             rate_limit_window_seconds, is_active, created_at, updated_at) VALUES \
             ('{a2a_client}', '{user}', 'agent', 'PUBLIC', '{a2a_secret}', '[\"read\"]', '[]', \
             '[]', 100, 60, 1, {t}, {t}); \
             INSERT INTO a2a_client_api_keys (client_id, api_key_id, created_at) VALUES \
             ('{a2a_client}', '{key_id}', {t}); \
             INSERT INTO a2a_sessions (session_token, client_id, user_id, granted_scopes, \
             expires_at, last_activity, created_at, requests_count) VALUES ('{session}', \
             '{a2a_client}', '{user}', 'read,write', {later}, {plain}, {t}, 0); \
             INSERT INTO a2a_tasks (id, client_id, task_type, input_data, status, created_at, \
             updated_at) VALUES ('{task}', '{a2a_client}', 'analyze', '{{}}', 'pending', {t}, \
             {plain}); \
             INSERT INTO a2a_usage (id, client_id, session_token, timestamp, tool_name, \
             status_code, protocol_version, client_capabilities, granted_scopes) VALUES \
             (NULL, '{a2a_client}', '{session}', {t}, 'search', 200, '1.0', '[]', \
             '[\"read\"]'); \
             INSERT INTO admin_provisioned_keys (id, admin_token_id, api_key_id, user_email, \
             requested_tier, provisioned_at, provisioned_by_service, rate_limit_requests, \
             rate_limit_period) VALUES (NULL, '{admin}', '{key_id}', 'ada@example.org', \
             'starter', {t}, 'provisioner', 1000, 'month'); \
             INSERT INTO admin_config_overrides (id, category, config_key, config_value, \
             data_type, tenant_id, created_by, created_at, updated_at) VALUES ('{override_id}', \
             'heart_rate', 'max_bpm', '190', 'integer', '{tenant}', '{owner}', {t}, {t}); \
             INSERT INTO admin_config_audit (id, timestamp, admin_user_id, admin_email, \
             category, config_key, new_value, data_type, tenant_id) VALUES ('{audit_id}', {t}, \
             '{owner}', 'owner2@acme.example', 'heart_rate', 'max_bpm', '190', 'integer', \
             '{tenant}'); \
             INSERT INTO audit_events (id, event_type, severity, message, source, result, \
             tenant_id, user_id, timestamp) VALUES ('{event_id}', 'login', 'info', 'signed in', \
             'api', 'success', '{tenant}', '{user}', {t}); \
             INSERT INTO oauth2_auth_codes (code, client_id, user_id, tenant_id, redirect_uri, \
             expires_at) VALUES ('{code}', 'mcp-client', '{user}', '{tenant}', \
             'https://c.example/cb', {later}); \
             INSERT INTO oauth2_refresh_tokens (token, client_id, user_id, tenant_id, \
             expires_at, created_at) VALUES \
             ('{refresh_mac}', 'mcp-client', '{user}', '{tenant}', {later}, {t}), \
             ('{revoked_mac}', 'mcp-client', '{user}', '{tenant}', {later}, {t}), \
             ('{old_refresh}', 'mcp-client', '{user}', '{tenant}', {later}, {t}); \
             INSERT INTO oauth2_states (state, client_id, user_id, tenant_id, redirect_uri, \
             created_at, expires_at) VALUES ('state-1', 'mcp-client', x'{user_blob}', \
             '{tenant}', 'https://c.example/cb', {t}, {later}); \
             INSERT INTO oauth_apps (id, client_id, client_secret_hash, name, redirect_uris, \
             scopes, owner_user_id, created_at, updated_at) VALUES \
             ('app_{app_hex}', 'app-new', '{app_mac}', 'new', '[\"https://a.example/cb\"]', \
             '[\"read\"]', '{user}', {t}, {t}), \
             ('{old_app_id}', 'app-old', '{old_app_secret}', 'old', \
             '[\"https://a.example/cb\"]', '[\"read\"]', '{user}', {t}, {t}); \
             INSERT INTO oauth_notifications (id, user_id, provider, message, created_at, \
             read_at) VALUES ('{note_id}', '{user}', 'strava', 'connected', {t}, {plain}); \
             INSERT INTO impersonation_sessions (id, impersonator_id, target_user_id, started_at, \
             ended_at, is_active, created_at) VALUES ('{imp_id}', '{owner}', '{user}', {t}, {t}, \
             0, {t}); \
             INSERT INTO fitness_configurations (id, tenant_id, user_id, configuration_name, \
             config_data, created_at, updated_at) VALUES (NULL, '{tenant}', NULL, 'zones', \
             '{{\"v\":1}}', {t}, {t}); \
             INSERT INTO goals (id, user_id, goal_data, created_at, updated_at) VALUES \
             ('{goal}', '{user}', '{{\"target_km\":100}}', {t}, {plain}); \
             INSERT INTO insights (id, user_id, insight_type, insight_data, created_at) VALUES \
             ('{insight}', '{user}', 'trend', '{{\"up\":true}}', {t}); \
             INSERT INTO chat_conversations (id, user_id, tenant_id, title, created_at, \
             updated_at) VALUES ('{conversation}', '{user}', '{tenant}', 'Plan', {t}, {t}); \
             INSERT INTO chat_messages (id, conversation_id, role, content, created_at) VALUES \
             ('{message_id}', '{conversation}', 'user', 'hello', {t}); \
             INSERT INTO recipes (id, user_id, tenant_id, name, instructions, created_at, \
             updated_at) VALUES ('{recipe}', '{user}', '{tenant}', 'Oats', '[\"Cook.\"]', {t}, \
             {t}); \
             INSERT INTO recipe_ingredients (id, recipe_id, name, amount, unit, grams) VALUES \
             ('{ingredient_id}', '{recipe}', 'oats', 80, 'grams', 80); \
             INSERT INTO user_oauth_apps (id, user_id, provider, client_id, client_secret, \
             redirect_uri, created_at, updated_at) VALUES ('{uoa_id}', '{user}', 'fitbit', \
             'ada-client', 'ada-app-secret', 'https://ada.example/cb', {plain}, {plain})",
            tu = id(),
            admin = issued.admin_token,
            jwt_hash = sha256("jwt-secret"),
            mcp_hex = hex("0c"),
            client_hash = sha256("client-secret"),
            mcp_id = id(),
            mcp_hash = sha256(&issued.mcp_token),
            key_id = issued.api_key_id,
            key_hash = sha256(&issued.api_key),
            key_prefix = &issued.api_key[..12],
            a2a_client = issued.a2a_client,
            a2a_secret = issued.a2a_secret,
            session = issued.session,
            task = issued.task,
            override_id = id(),
            audit_id = id(),
            event_id = id(),
            code = issued.code,
            refresh_mac = self.hmac(issued.refresh),
            revoked_mac = self.hmac(issued.revoked_refresh),
            old_refresh = issued.old_refresh,
            user_blob = user.replace('-', ""),
            app_hex = hex("a9"),
            app_mac = self.hmac(issued.app_secret),
            old_app_id = id(),
            old_app_secret = issued.old_app_secret,
            note_id = id(),
            imp_id = id(),
            goal = issued.goal,
            insight = issued.insight,
            conversation = issued.conversation,
            message_id = id(),
            recipe = issued.recipe,
            ingredient_id = id(),
            uoa_id = id(),
        ))
        .await;
        issued
    }
}
