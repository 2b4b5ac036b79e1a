-- The SQLite schema of the ORIGINAL Pierre server after its sqlx migrations
-- 20250120000001 … 20250120000021 (there is no …016): the final state after
-- the M11/M14/M15 table rebuilds and the M12/M15/M18 ALTERs. Adoption reads
-- it to learn which tables and columns a source must have (run on an
-- in-memory database and read back); the tests write their sources with it.
--
-- This is the original's layout, not this project's: the schema rules this
-- project applies are deliberately not applied. Written from the design's
-- schema and legacy-format notes, with the FOREIGN KEY / UNIQUE / CHECK
-- clauses as the original's published migrations have them.
--
-- Conventions of the original: ids, timestamps and enums are TEXT, booleans
-- INTEGER 0/1, JSON documents and lists TEXT. Every `id TEXT PRIMARY KEY` is
-- nullable, as in the original: SQLite accepts NULL in a non-INTEGER primary
-- key, and real databases hold NULL ids in tenant_oauth_credentials,
-- api_key_usage, jwt_usage, a2a_usage, admin_token_usage,
-- admin_provisioned_keys and fitness_configurations. Timestamps are free
-- TEXT: both RFC 3339 (`+00:00`) and `YYYY-MM-DD HH:MM:SS` occur, sometimes
-- in one column.
--
-- No rows: seed rows (system_settings 'auto_approval_enabled', the
-- admin_config_categories rows of M20/M21) and ledger rows are the
-- writer's. Column order follows the original: rebuilt tables in their
-- rebuilt order, columns added by ALTER TABLE ADD COLUMN at the end.

-- ===========================================================================
-- sqlx migration ledger (created by sqlx's migrator before M01, SQLite form)
-- ===========================================================================
CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);

-- ===========================================================================
-- M01 20250120000001_users_schema (users rebuilt by M15, altered by M12/M18;
-- user_oauth_app_credentials rebuilt by M11)
-- ===========================================================================
-- The strava_/fitbit_ access_token, refresh_token, expires_at, scope and
-- last_sync columns of M01 are gone (M15 rebuild). role comes from M12 (its
-- CHECK was kept by the M15 rebuild; the original never writes it, so admins
-- have is_admin = 1 and role = 'user'); firebase_uid and auth_provider from
-- M18 (ADD COLUMN, hence last). tenant_id and approved_by have NO foreign key
-- in the original.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT UNIQUE NOT NULL,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    tier TEXT NOT NULL DEFAULT 'starter' CHECK (tier IN ('starter', 'professional', 'enterprise')),
    tenant_id TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    user_status TEXT NOT NULL DEFAULT 'pending' CHECK (user_status IN ('pending', 'active', 'suspended')),
    is_admin INTEGER NOT NULL DEFAULT 0,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('super_admin', 'admin', 'user')),
    approved_by TEXT,
    approved_at TEXT,
    created_at TEXT NOT NULL,
    last_active TEXT NOT NULL,
    firebase_uid TEXT,
    auth_provider TEXT NOT NULL DEFAULT 'email'
);
CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_is_active ON users(is_active);
CREATE INDEX idx_users_status ON users(user_status);
-- M18: uniqueness of firebase_uid is a partial unique index, not a column constraint.
CREATE UNIQUE INDEX idx_users_firebase_uid ON users(firebase_uid) WHERE firebase_uid IS NOT NULL;
CREATE INDEX idx_users_auth_provider ON users(auth_provider);

CREATE TABLE user_profiles (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    profile_data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Provider CHECK as widened by M11 (rebuild with INSERT OR IGNORE). Never
-- written by the original.
CREATE TABLE user_oauth_app_credentials (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('strava', 'fitbit', 'garmin', 'whoop', 'terra')),
    client_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE(user_id, provider)
);
CREATE INDEX idx_user_oauth_apps_user ON user_oauth_app_credentials(user_id);
CREATE INDEX idx_user_oauth_apps_provider ON user_oauth_app_credentials(provider);
CREATE INDEX idx_user_oauth_apps_user_provider ON user_oauth_app_credentials(user_id, provider);

-- ===========================================================================
-- M02 20250120000002_api_keys_schema
-- ===========================================================================
-- last_used_at may be 'YYYY-MM-DD HH:MM:SS' (CURRENT_TIMESTAMP).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    key_hash TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    tier TEXT NOT NULL CHECK (tier IN ('trial', 'starter', 'professional', 'enterprise')),
    rate_limit_requests INTEGER,
    rate_limit_window_seconds INTEGER,
    is_active INTEGER NOT NULL DEFAULT 1,
    expires_at TEXT,
    last_used_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE(key_hash),
    UNIQUE(key_prefix)
);
CREATE INDEX idx_api_keys_user_id ON api_keys(user_id);
CREATE INDEX idx_api_keys_key_prefix ON api_keys(key_prefix);

-- id is NULL in real rows (the original inserted no id).
CREATE TABLE api_key_usage (
    id TEXT PRIMARY KEY,
    api_key_id TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    timestamp TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_time_ms INTEGER,
    error_message TEXT,
    request_size_bytes INTEGER,
    response_size_bytes INTEGER,
    ip_address TEXT,
    user_agent TEXT
);
CREATE INDEX idx_api_key_usage_key_id ON api_key_usage(api_key_id);
CREATE INDEX idx_api_key_usage_timestamp ON api_key_usage(timestamp);

-- ===========================================================================
-- M03 20250120000003_analytics_schema
-- ===========================================================================
-- id is NULL in real rows.
CREATE TABLE jwt_usage (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    timestamp TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    method TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_time_ms INTEGER,
    request_size_bytes INTEGER,
    response_size_bytes INTEGER,
    ip_address TEXT,
    user_agent TEXT
);
CREATE INDEX idx_jwt_usage_user_id ON jwt_usage(user_id);
CREATE INDEX idx_jwt_usage_timestamp ON jwt_usage(timestamp);

-- updated_at may be 'YYYY-MM-DD HH:MM:SS'.
CREATE TABLE goals (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    goal_data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_goals_user_id ON goals(user_id);

CREATE TABLE insights (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    activity_id TEXT,
    insight_type TEXT NOT NULL,
    insight_data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_insights_user_id ON insights(user_id);
CREATE INDEX idx_insights_activity_id ON insights(activity_id);

-- Never written by the original.
CREATE TABLE request_logs (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    api_key_id TEXT REFERENCES api_keys(id) ON DELETE CASCADE,
    timestamp TEXT NOT NULL,
    method TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_time_ms INTEGER,
    error_message TEXT
);
CREATE INDEX idx_request_logs_timestamp ON request_logs(timestamp);

-- ===========================================================================
-- M04 20250120000004_a2a_schema (a2a_clients rebuilt by M14)
-- ===========================================================================
-- M14 rebuilt a2a_clients to add the users FK (copying only rows whose user
-- exists: orphans were dropped by the original). ids may be
-- 'a2a_client_<uuid>'; client_secret is plaintext 'a2a_secret_<uuid>' in
-- 20-migration-era rows.
CREATE TABLE a2a_clients (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    public_key TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    permissions TEXT NOT NULL,
    capabilities TEXT NOT NULL DEFAULT '[]',
    redirect_uris TEXT NOT NULL DEFAULT '[]',
    rate_limit_requests INTEGER NOT NULL DEFAULT 1000,
    rate_limit_window_seconds INTEGER NOT NULL DEFAULT 3600,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE(public_key)
);
CREATE INDEX idx_a2a_clients_user_id ON a2a_clients(user_id);

-- session_token is plaintext 'sess_<uuid>'; granted_scopes is comma-joined
-- text, not JSON; last_activity may be 'YYYY-MM-DD HH:MM:SS'.
CREATE TABLE a2a_sessions (
    session_token TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES a2a_clients(id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    granted_scopes TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_activity TEXT NOT NULL,
    created_at TEXT NOT NULL,
    requests_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_a2a_sessions_client_id ON a2a_sessions(client_id);
CREATE INDEX idx_a2a_sessions_expires_at ON a2a_sessions(expires_at);

-- ids may be 'task_<uuid>'; updated_at may be 'YYYY-MM-DD HH:MM:SS'.
CREATE TABLE a2a_tasks (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES a2a_clients(id) ON DELETE CASCADE,
    task_type TEXT NOT NULL,
    input_data TEXT NOT NULL,
    output_data TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    error_message TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX idx_a2a_tasks_client_id ON a2a_tasks(client_id);
CREATE INDEX idx_a2a_tasks_status ON a2a_tasks(status);

-- id is NULL in real rows.
CREATE TABLE a2a_usage (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES a2a_clients(id) ON DELETE CASCADE,
    session_token TEXT REFERENCES a2a_sessions(session_token) ON DELETE SET NULL,
    timestamp TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    response_time_ms INTEGER,
    status_code INTEGER NOT NULL,
    error_message TEXT,
    request_size_bytes INTEGER,
    response_size_bytes INTEGER,
    ip_address TEXT,
    user_agent TEXT,
    protocol_version TEXT NOT NULL DEFAULT '1.0',
    client_capabilities TEXT NOT NULL DEFAULT '[]',
    granted_scopes TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX idx_a2a_usage_client_id ON a2a_usage(client_id);
CREATE INDEX idx_a2a_usage_timestamp ON a2a_usage(timestamp);

CREATE TABLE a2a_client_api_keys (
    client_id TEXT NOT NULL REFERENCES a2a_clients(id) ON DELETE CASCADE,
    api_key_id TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (client_id, api_key_id)
);
CREATE INDEX idx_a2a_client_api_keys_api_key_id ON a2a_client_api_keys(api_key_id);

-- ===========================================================================
-- M05 20250120000005_admin_schema
-- ===========================================================================
-- ids may be 'admin_<32 hex>'; token_hash is bcrypt; last_used_at may be
-- 'YYYY-MM-DD HH:MM:SS'.
CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    service_name TEXT NOT NULL,
    service_description TEXT,
    token_hash TEXT NOT NULL,
    token_prefix TEXT NOT NULL,
    jwt_secret_hash TEXT NOT NULL,
    permissions TEXT NOT NULL DEFAULT '["provision_keys"]',
    is_super_admin INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    last_used_ip TEXT,
    usage_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_admin_tokens_service ON admin_tokens(service_name);
CREATE INDEX idx_admin_tokens_prefix ON admin_tokens(token_prefix);

-- id is NULL in real rows.
CREATE TABLE admin_token_usage (
    id TEXT PRIMARY KEY,
    admin_token_id TEXT NOT NULL REFERENCES admin_tokens(id) ON DELETE CASCADE,
    timestamp TEXT NOT NULL,
    action TEXT NOT NULL,
    target_resource TEXT,
    ip_address TEXT,
    user_agent TEXT,
    request_size_bytes INTEGER,
    success INTEGER NOT NULL,
    error_message TEXT,
    response_time_ms INTEGER
);
CREATE INDEX idx_admin_usage_token_id ON admin_token_usage(admin_token_id);
CREATE INDEX idx_admin_usage_timestamp ON admin_token_usage(timestamp);

-- id is NULL in real rows. api_key_id has NO foreign key in the original
-- (a foreign key to api_keys is this project's rule); key_status has no CHECK.
CREATE TABLE admin_provisioned_keys (
    id TEXT PRIMARY KEY,
    admin_token_id TEXT NOT NULL REFERENCES admin_tokens(id) ON DELETE CASCADE,
    api_key_id TEXT NOT NULL,
    user_email TEXT NOT NULL,
    requested_tier TEXT NOT NULL,
    provisioned_at TEXT NOT NULL,
    provisioned_by_service TEXT NOT NULL,
    rate_limit_requests INTEGER NOT NULL,
    rate_limit_period TEXT NOT NULL,
    key_status TEXT NOT NULL DEFAULT 'active',
    revoked_at TEXT,
    revoked_reason TEXT
);
CREATE INDEX idx_admin_provisioned_token ON admin_provisioned_keys(admin_token_id);

-- 'database_encryption_key' holds the wrapped data key; other rows plaintext.
CREATE TABLE system_secrets (
    secret_type TEXT PRIMARY KEY,
    secret_value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_system_secrets_type ON system_secrets(secret_type);

-- kid may be 'key_YYYYMMDD_HHMMSS'; private_key_pem is plaintext.
CREATE TABLE rsa_keypairs (
    kid TEXT PRIMARY KEY,
    private_key_pem TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    created_at TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 0,
    key_size_bits INTEGER NOT NULL
);
CREATE INDEX idx_rsa_keypairs_active ON rsa_keypairs(is_active);

-- ===========================================================================
-- M06 20250120000006_oauth_tokens_schema (last_sync added by M15)
-- ===========================================================================
-- No foreign keys at all in the original (user_id, tenant_id unconstrained);
-- provider has no CHECK. access_token/refresh_token are AES-GCM with AAD.
CREATE TABLE user_oauth_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    token_type TEXT NOT NULL DEFAULT 'bearer',
    expires_at TEXT,
    scope TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_sync TEXT,
    UNIQUE(user_id, tenant_id, provider)
);
CREATE INDEX idx_user_oauth_tokens_user ON user_oauth_tokens(user_id);
CREATE INDEX idx_user_oauth_tokens_tenant_provider ON user_oauth_tokens(tenant_id, provider);

-- ===========================================================================
-- M07 20250120000007_oauth_notifications_schema
-- ===========================================================================
-- read_at may be 'YYYY-MM-DD HH:MM:SS'.
CREATE TABLE oauth_notifications (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    success INTEGER NOT NULL DEFAULT 1,
    message TEXT NOT NULL,
    expires_at TEXT,
    created_at TEXT NOT NULL,
    read_at TEXT,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX idx_oauth_notifications_user_id ON oauth_notifications (user_id);
CREATE INDEX idx_oauth_notifications_user_unread ON oauth_notifications (user_id, read_at);

-- ===========================================================================
-- M08 20250120000008_oauth2_schema
-- ===========================================================================
-- Only client_id is a foreign key (to oauth2_clients.client_id); user_id and
-- tenant_id are unconstrained in all three child tables.
CREATE TABLE oauth2_clients (
    id TEXT PRIMARY KEY,
    client_id TEXT UNIQUE NOT NULL,
    client_secret_hash TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    response_types TEXT NOT NULL,
    client_name TEXT,
    client_uri TEXT,
    scope TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX idx_oauth2_clients_client_id ON oauth2_clients(client_id);

-- code is plaintext.
CREATE TABLE oauth2_auth_codes (
    code TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT,
    expires_at TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    state TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    FOREIGN KEY (client_id) REFERENCES oauth2_clients(client_id) ON DELETE CASCADE
);
CREATE INDEX idx_oauth2_auth_codes_code ON oauth2_auth_codes(code);
CREATE INDEX idx_oauth2_auth_codes_expires_at ON oauth2_auth_codes(expires_at);
CREATE INDEX idx_oauth2_auth_codes_tenant_user ON oauth2_auth_codes(tenant_id, user_id);

-- token is plaintext in 20-migration-era databases.
CREATE TABLE oauth2_refresh_tokens (
    token TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    scope TEXT,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (client_id) REFERENCES oauth2_clients(client_id) ON DELETE CASCADE
);
CREATE INDEX idx_oauth2_refresh_tokens_token ON oauth2_refresh_tokens(token);
CREATE INDEX idx_oauth2_refresh_tokens_tenant_user ON oauth2_refresh_tokens(tenant_id, user_id);
CREATE INDEX idx_oauth2_refresh_tokens_user_id ON oauth2_refresh_tokens(user_id);

-- user_id: the original's migration declares it TEXT, but the rows hold a
-- 16-byte BLOB; declared BLOB here so the column's
-- affinity matches the stored values. No foreign key either way.
CREATE TABLE oauth2_states (
    state TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id BLOB,
    tenant_id TEXT,
    redirect_uri TEXT NOT NULL,
    scope TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (client_id) REFERENCES oauth2_clients(client_id) ON DELETE CASCADE
);
CREATE INDEX idx_oauth2_states_state ON oauth2_states(state);
CREATE INDEX idx_oauth2_states_expires_at ON oauth2_states(expires_at);

-- ===========================================================================
-- M09 20250120000009_tenant_management_schema (tenant_oauth_credentials
-- rebuilt by M11, user_configurations rebuilt by M14)
-- ===========================================================================
-- owner_user_id has NO foreign key in the original.
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT UNIQUE NOT NULL,
    domain TEXT UNIQUE,
    plan TEXT NOT NULL DEFAULT 'starter' CHECK (plan IN ('starter', 'professional', 'enterprise')),
    owner_user_id TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_tenants_slug ON tenants(slug);
CREATE INDEX idx_tenants_owner ON tenants(owner_user_id);

-- As rebuilt by M11 (provider CHECK widened). id is NULL in real rows.
CREATE TABLE tenant_oauth_credentials (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider TEXT NOT NULL CHECK (provider IN ('strava', 'fitbit', 'garmin', 'whoop', 'terra')),
    client_id TEXT NOT NULL,
    client_secret_encrypted TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    rate_limit_per_day INTEGER DEFAULT 1000,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE(tenant_id, provider)
);
CREATE INDEX idx_tenant_oauth_tenant ON tenant_oauth_credentials(tenant_id);
CREATE INDEX idx_tenant_oauth_provider ON tenant_oauth_credentials(provider);

-- Non-UUID ids ('app_<32 hex>', 'mcp_client_<32 hex>', …) occur in legacy
-- databases (the legacy-format notes do not say in which columns); ids here are
-- free TEXT. client_secret_hash is the plaintext secret in 20-migration-era rows.
CREATE TABLE oauth_apps (
    id TEXT PRIMARY KEY,
    client_id TEXT UNIQUE NOT NULL,
    client_secret_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    app_type TEXT NOT NULL DEFAULT 'public' CHECK (app_type IN ('public', 'confidential')),
    owner_user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_oauth_apps_client_id ON oauth_apps(client_id);
CREATE INDEX idx_oauth_apps_owner ON oauth_apps(owner_user_id);

-- UNIQUE(tenant_id, version) does not bind rows whose tenant_id is NULL
-- (SQLite treats NULLs as distinct). Never written by the original.
CREATE TABLE key_versions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    algorithm TEXT NOT NULL DEFAULT 'AES-256-GCM',
    UNIQUE(tenant_id, version)
);
CREATE INDEX idx_key_versions_tenant ON key_versions(tenant_id);
CREATE INDEX idx_key_versions_active ON key_versions(tenant_id, is_active);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    source TEXT NOT NULL,
    result TEXT NOT NULL,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    ip_address TEXT,
    user_agent TEXT,
    metadata TEXT,
    timestamp TEXT NOT NULL
);
CREATE INDEX idx_audit_events_tenant ON audit_events(tenant_id);
CREATE INDEX idx_audit_events_timestamp ON audit_events(timestamp);

-- Holds only owners in real databases (members are linked by users.tenant_id).
CREATE TABLE tenant_users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    permissions TEXT,
    invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    invited_at TEXT NOT NULL,
    joined_at TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    UNIQUE(tenant_id, user_id)
);
CREATE INDEX idx_tenant_users_tenant ON tenant_users(tenant_id);
CREATE INDEX idx_tenant_users_user ON tenant_users(user_id);

-- As rebuilt by M14 (users FK added; the original dropped orphan rows).
CREATE TABLE user_configurations (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    config_data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- ===========================================================================
-- M10 20250120000010_fitness_configurations_schema
-- ===========================================================================
-- id is NULL in real rows. user_id has NO foreign key in the original. The
-- UNIQUE does not bind rows whose user_id is NULL, so tenant-level defaults
-- can be duplicated (they are, in real databases).
CREATE TABLE fitness_configurations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT,
    configuration_name TEXT NOT NULL DEFAULT 'default',
    config_data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE(tenant_id, user_id, configuration_name)
);
CREATE INDEX idx_fitness_configs_tenant ON fitness_configurations(tenant_id);
CREATE INDEX idx_fitness_configs_user ON fitness_configurations(user_id);
CREATE INDEX idx_fitness_configs_tenant_user ON fitness_configurations(tenant_id, user_id);

-- M11 20250120000011_expand_oauth_provider_constraints: no new table (rebuilt
-- user_oauth_app_credentials and tenant_oauth_credentials, shown above).

-- ===========================================================================
-- M12 20250120000012_user_roles_permissions (also users.role, shown above)
-- ===========================================================================
CREATE TABLE impersonation_sessions (
    id TEXT PRIMARY KEY,
    impersonator_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    target_user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reason TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_impersonation_active ON impersonation_sessions(impersonator_id, is_active);
CREATE INDEX idx_impersonation_target ON impersonation_sessions(target_user_id);

-- Never written by the original.
CREATE TABLE permission_delegations (
    id TEXT PRIMARY KEY,
    grantor_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    grantee_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permissions INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE(grantor_id, grantee_id)
);
CREATE INDEX idx_delegation_grantee ON permission_delegations(grantee_id);
CREATE INDEX idx_delegation_grantor ON permission_delegations(grantor_id);

CREATE TABLE user_mcp_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    token_prefix TEXT NOT NULL,
    expires_at TEXT,
    last_used_at TEXT,
    usage_count INTEGER NOT NULL DEFAULT 0,
    is_revoked INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_user_tokens_user ON user_mcp_tokens(user_id, is_revoked);
CREATE INDEX idx_user_tokens_prefix ON user_mcp_tokens(token_prefix);

-- ===========================================================================
-- M13 20250120000013_system_settings_schema
-- ===========================================================================
-- Seed row 'auto_approval_enabled' = 'false' (datetime('now') timestamps,
-- i.e. 'YYYY-MM-DD HH:MM:SS') is not inserted here.
CREATE TABLE system_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_system_settings_key ON system_settings(key);

-- M14 20250120000014_add_missing_foreign_keys: no new table (rebuilt
-- a2a_clients and user_configurations, shown above).
-- M15 20250120000015_remove_legacy_user_token_columns: no new table (rebuilt
-- users, added user_oauth_tokens.last_sync, shown above).

-- ===========================================================================
-- M17 20250120000017_chat_schema
-- ===========================================================================
-- tenant_id has NO foreign key in the original (user_id has one).
CREATE TABLE chat_conversations (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    title TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT 'gemini-2.0-flash-exp',
    system_prompt TEXT,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_chat_conversations_user ON chat_conversations(user_id);
CREATE INDEX idx_chat_conversations_tenant ON chat_conversations(tenant_id);
CREATE INDEX idx_chat_conversations_user_tenant ON chat_conversations(user_id, tenant_id);
CREATE INDEX idx_chat_conversations_updated ON chat_conversations(updated_at DESC);

CREATE TABLE chat_messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES chat_conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL,
    token_count INTEGER,
    finish_reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX idx_chat_messages_conversation ON chat_messages(conversation_id);
CREATE INDEX idx_chat_messages_conversation_created ON chat_messages(conversation_id, created_at ASC);

-- M18 20250120000018_firebase_auth: no new table (users.firebase_uid,
-- users.auth_provider and their indexes, shown above).

-- ===========================================================================
-- M19 20250120000019_recipes_schema
-- ===========================================================================
-- tenant_id has NO foreign key in the original (user_id has one).
CREATE TABLE recipes (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    servings INTEGER NOT NULL DEFAULT 1 CHECK (servings > 0),
    prep_time_mins INTEGER CHECK (prep_time_mins >= 0),
    cook_time_mins INTEGER CHECK (cook_time_mins >= 0),
    instructions TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    meal_timing TEXT NOT NULL DEFAULT 'general' CHECK (meal_timing IN ('pre_training', 'post_training', 'rest_day', 'general')),
    cached_calories REAL,
    cached_protein_g REAL,
    cached_carbs_g REAL,
    cached_fat_g REAL,
    cached_fiber_g REAL,
    cached_sodium_mg REAL,
    cached_sugar_g REAL,
    nutrition_validated_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_recipes_user ON recipes(user_id);
CREATE INDEX idx_recipes_tenant ON recipes(tenant_id);
CREATE INDEX idx_recipes_user_tenant ON recipes(user_id, tenant_id);
CREATE INDEX idx_recipes_meal_timing ON recipes(meal_timing);
CREATE INDEX idx_recipes_updated ON recipes(updated_at DESC);
CREATE INDEX idx_recipes_created ON recipes(created_at DESC);

CREATE TABLE recipe_ingredients (
    id TEXT PRIMARY KEY,
    recipe_id TEXT NOT NULL REFERENCES recipes(id) ON DELETE CASCADE,
    fdc_id INTEGER,
    name TEXT NOT NULL,
    amount REAL NOT NULL CHECK (amount > 0),
    unit TEXT NOT NULL DEFAULT 'grams' CHECK (unit IN ('grams', 'milliliters', 'cups', 'tablespoons', 'teaspoons', 'pieces', 'ounces', 'pounds', 'kilograms')),
    grams REAL NOT NULL CHECK (grams >= 0),
    preparation TEXT,
    sort_order INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX idx_recipe_ingredients_recipe ON recipe_ingredients(recipe_id);
CREATE INDEX idx_recipe_ingredients_fdc ON recipe_ingredients(fdc_id) WHERE fdc_id IS NOT NULL;
CREATE INDEX idx_recipe_ingredients_order ON recipe_ingredients(recipe_id, sort_order);

-- ===========================================================================
-- M20 20250120000020_admin_config_schema
-- ===========================================================================
-- created_by references users(id) with no ON DELETE action (NO ACTION, which
-- behaves like RESTRICT at statement end). UNIQUE(category, config_key,
-- tenant_id) does not bind rows whose tenant_id is NULL (global rows).
CREATE TABLE admin_config_overrides (
    id TEXT PRIMARY KEY,
    category TEXT NOT NULL,
    config_key TEXT NOT NULL,
    config_value TEXT NOT NULL,
    data_type TEXT NOT NULL CHECK (data_type IN ('float', 'integer', 'boolean', 'string', 'enum')),
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    reason TEXT,
    UNIQUE(category, config_key, tenant_id)
);
CREATE INDEX idx_admin_config_overrides_tenant ON admin_config_overrides(tenant_id);
CREATE INDEX idx_admin_config_overrides_category ON admin_config_overrides(category);
CREATE INDEX idx_admin_config_overrides_key ON admin_config_overrides(config_key);
CREATE INDEX idx_admin_config_overrides_category_key ON admin_config_overrides(category, config_key);

-- data_type has no CHECK here in the original.
CREATE TABLE admin_config_audit (
    id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    admin_user_id TEXT NOT NULL REFERENCES users(id),
    admin_email TEXT NOT NULL,
    category TEXT NOT NULL,
    config_key TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT NOT NULL,
    data_type TEXT NOT NULL,
    reason TEXT,
    tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    ip_address TEXT,
    user_agent TEXT
);
CREATE INDEX idx_admin_config_audit_timestamp ON admin_config_audit(timestamp DESC);
CREATE INDEX idx_admin_config_audit_category ON admin_config_audit(category);
CREATE INDEX idx_admin_config_audit_key ON admin_config_audit(config_key);
CREATE INDEX idx_admin_config_audit_admin ON admin_config_audit(admin_user_id);
CREATE INDEX idx_admin_config_audit_tenant ON admin_config_audit(tenant_id);

-- ids are 'cat_*'. Seed rows of M20 (13) and M21 (6) are not inserted here.
CREATE TABLE admin_config_categories (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    display_order INTEGER NOT NULL DEFAULT 0,
    icon TEXT,
    is_active INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX idx_admin_config_categories_order ON admin_config_categories(display_order);

-- M21 20250120000021_add_config_categories: no new table (seed rows only).

-- ###########################################################################
-- RUN-TIME TABLE, NOT PART OF THE MIGRATION LEDGER
-- Created by the original's SQLite layer on first use of the "user OAuth
-- apps" calls (CREATE TABLE IF NOT EXISTS inside list/store functions), so a
-- legacy database may or may not have it. Not one of the 44 managed tables;
-- client_secret is PLAINTEXT; created_at/updated_at default to
-- CURRENT_TIMESTAMP ('YYYY-MM-DD HH:MM:SS').
-- ###########################################################################
CREATE TABLE user_oauth_apps (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    UNIQUE(user_id, provider),
    FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
