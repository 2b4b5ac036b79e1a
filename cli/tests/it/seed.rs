//! Seeds a migrated database so that every one of the schema's 44 tables
//! (all but `seaql_migrations`) holds at least one row, and the four large
//! ones (`users`, `api_key_usage`, `request_logs`, `user_oauth_tokens`) hold
//! as many as a [`Scale`] asks for: what `pierre-db copy` is tested and
//! benchmarked against (the benchmark includes this file by path).
//!
//! Every row that carries a secret goes through the library's repositories,
//! so encrypted columns are sealed under the AAD of their row and hashed
//! columns hold real hashes: a verifier afterwards opens every sealed value.
//! Only the three large tables without secrets (`users`, `api_key_usage`,
//! `request_logs`) are bulk-inserted below the API, with multi-row INSERTs
//! in a few transactions, because one call per row is far too slow for
//! 100,000 rows in a debug build. Tokens are sealed one by one by the
//! library, but many per transaction.
//!
//! Filled before this runs: `key_versions` and `system_secrets` (data key v1,
//! on the first connect) and `admin_config_categories` and `system_settings`
//! (seeded by the migrations). A named secret and a setting are added anyway;
//! the categories have no write API and are left as the migrations made them.

use pierre_db::chrono::{DateTime, Duration, FixedOffset, Utc};
use pierre_db::crypto::hashing;
use pierre_db::uuid::Uuid;
use pierre_db::{
    AdminTokenUse, ApiKeyTier, AuditSeverity, ChatRole, ConfigActor, ConfigChange, ConfigDataType,
    Database, IngredientUnit, MealTiming, NewA2aClient, NewA2aUsage, NewAdminToken, NewApiKey,
    NewAuditEvent, NewAuthCode, NewChatMessage, NewConversation, NewIngredient, NewInsight,
    NewJwtUsage, NewOAuth2Client, NewOAuth2State, NewOAuthApp, NewOAuthNotification, NewOAuthToken,
    NewRefreshToken, NewRsaKeyPair, NewTenant, NewTenantOAuthCredential, NewUser, NewUserOAuthApp,
    OauthAppType, OauthProvider, RecipeDraft, Secret, ServedRequest, SubscriptionTier, TaskStatus,
    TenantId, TenantRole, UserId, UserRole, UserStatus,
};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, TransactionTrait};
use serde_json::json;

/// How many rows the large tables get.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// Bulk-inserted users (`athlete{i}@example.org`), beyond the few the
    /// API creates.
    pub users: usize,
    /// `api_key_usage` rows.
    pub usage: usize,
    /// `request_logs` rows.
    pub request_logs: usize,
    /// `user_oauth_tokens` rows: one Strava token for each of the first
    /// `tokens` athletes, so at most `users`.
    pub tokens: usize,
}

/// Rows per INSERT: 1000 rows of at most 16 columns stay well below
/// SQLite's 32,766 bound values per statement (and PostgreSQL's 65,535).
const ROWS_PER_STATEMENT: usize = 1000;
/// INSERT statements per bulk transaction.
const STATEMENTS_PER_TX: usize = 10;
/// Token upserts (each sealing two values) per library transaction.
const TOKENS_PER_TX: usize = 2000;
/// API keys the usage rows are spread over.
const USAGE_KEYS: usize = 4;

/// The OAuth 2.0 client's redirect URI.
const CALLBACK: &str = "https://coach.example.org/oauth/callback";
/// A valid S256 PKCE challenge (RFC 7636, appendix B), as tests/it/oauth2_server.rs uses.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A JWT-shaped admin token, as tests/it/platform.rs uses.
const ADMIN_JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMifQ.c2lnbmF0dXJlLXJhbmRvbS1wYXJ0";
const TOOLS: [&str; 5] = [
    "get_activities",
    "get_athlete",
    "get_stats",
    "analyze_activity",
    "set_goal",
];
const ENDPOINTS: [(&str, &str); 4] = [
    ("GET", "/api/activities"),
    ("GET", "/api/athlete"),
    ("POST", "/api/goals"),
    ("GET", "/api/insights"),
];

/// Puts at least one row in every one of the 44 tables (every table of the
/// schema except seaql_migrations), and `scale` rows in the large ones:
/// users, api_key_usage, request_logs, user_oauth_tokens. `db` is a migrated
/// database opened with the library (Database::connect_with).
pub async fn every_table(db: &Database, scale: &Scale) {
    assert!(
        scale.tokens <= scale.users,
        "one token per athlete: {} tokens need as many users, not {}",
        scale.tokens,
        scale.users
    );

    // users, tenants, tenant_users.
    let admin = db
        .users()
        .create(NewUser {
            display_name: Some("Platform Admin".into()),
            ..NewUser::new("admin@example.org", "$argon2id$v=19$seed-admin")
        })
        .await
        .expect("create the admin")
        .id;
    let owner = db
        .users()
        .create(NewUser {
            display_name: Some("Ada Owner".into()),
            tier: SubscriptionTier::Professional,
            ..NewUser::new("owner@example.org", "$argon2id$v=19$seed-owner")
        })
        .await
        .expect("create the owner")
        .id;
    for user in [admin, owner] {
        db.users()
            .update_status(user, UserStatus::Active, Some(admin))
            .await
            .expect("approve");
    }
    let tenant = db
        .tenants()
        .create(NewTenant {
            plan: SubscriptionTier::Professional,
            ..NewTenant::new("Acme Runners", "acme", owner)
        })
        .await
        .expect("create the tenant")
        .id;
    db.tenant(tenant)
        .members()
        .add(admin, TenantRole::Admin, Some(owner))
        .await
        .expect("add the admin to the tenant");

    let athletes = bulk_users(db.unscoped_connection(), tenant, admin, scale.users).await;
    if let Some(&first) = athletes.first() {
        db.tenant(tenant)
            .members()
            .add(first, TenantRole::Member, Some(owner))
            .await
            .expect("add an athlete to the tenant");
    }

    // api_keys, then the bulk api_key_usage and request_logs.
    let mut keys = Vec::with_capacity(USAGE_KEYS);
    for n in 0..USAGE_KEYS {
        let created = db
            .api_keys()
            .create(NewApiKey {
                description: Some(format!("seeded key {n}")),
                ..NewApiKey::new(owner, format!("key-{n}"), ApiKeyTier::Professional)
            })
            .await
            .expect("create an API key");
        keys.push(created.key.id);
    }
    let key_ids: Vec<Uuid> = keys.iter().map(|k| k.as_uuid()).collect();
    bulk_usage(db.unscoped_connection(), &key_ids, scale.usage).await;
    let log_users: Vec<Uuid> = if athletes.is_empty() {
        vec![owner.as_uuid()]
    } else {
        athletes.iter().map(|a| a.as_uuid()).collect()
    };
    bulk_request_logs(
        db.unscoped_connection(),
        &log_users,
        &key_ids,
        scale.request_logs,
    )
    .await;

    // user_oauth_tokens: the athletes' Strava tokens, plus the owner's.
    seal_tokens(db, tenant, &athletes[..scale.tokens]).await;
    for provider in [OauthProvider::Fitbit, OauthProvider::Garmin] {
        let mut token = NewOAuthToken::new(owner, provider, format!("owner-{provider:?}-access"));
        token.refresh_token = Some(Secret::new(format!("owner-{provider:?}-refresh")));
        db.tenant(tenant)
            .oauth_tokens()
            .upsert(token)
            .await
            .expect("store the owner's token");
    }

    credentials(db, tenant, owner).await;
    a2a(db, owner, keys[0]).await;
    oauth2_server(db, tenant, owner).await;
    platform(db, owner, admin).await;
    content(db, tenant, owner).await;
    configuration(db, tenant, owner, admin).await;
    profile(db, owner).await;
}

/// Now, in UTC whole microseconds (as the library stores times).
fn now() -> DateTime<FixedOffset> {
    let at = Utc::now();
    DateTime::<Utc>::from_timestamp_micros(at.timestamp_micros())
        .expect("now is in range")
        .fixed_offset()
}

/// Inserts `count` rows made by `row(i)`, [`ROWS_PER_STATEMENT`] per
/// INSERT and [`STATEMENTS_PER_TX`] INSERTs per transaction (the same
/// `insert_many` the library's own batches use: src/repositories/usage/mod.rs).
async fn bulk<A>(conn: &DatabaseConnection, count: usize, mut row: impl FnMut(usize) -> A)
where
    A: ActiveModelTrait + Send + 'static,
{
    let mut next = 0;
    while next < count {
        let txn = conn.begin().await.expect("begin a bulk transaction");
        for _ in 0..STATEMENTS_PER_TX {
            if next >= count {
                break;
            }
            let end = (next + ROWS_PER_STATEMENT).min(count);
            let chunk: Vec<A> = (next..end).map(&mut row).collect();
            let written = A::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await
                .expect("bulk insert");
            assert_eq!(written, (end - next) as u64, "rows written by one INSERT");
            next = end;
        }
        txn.commit().await.expect("commit a bulk transaction");
    }
}

/// `count` active athletes whose home tenant is `tenant`, approved by
/// `admin`, created 1 ms apart over the past year; returns their ids.
async fn bulk_users(
    conn: &DatabaseConnection,
    tenant: TenantId,
    admin: UserId,
    count: usize,
) -> Vec<UserId> {
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
    let base = now() - Duration::days(365);
    bulk(conn, count, |i| {
        let created = base + Duration::milliseconds(i as i64);
        let pending = i % 25 == 24;
        let firebase = i % 100 == 99;
        entity::users::ActiveModel {
            id: Set(ids[i]),
            email: Set(format!("athlete{i}@example.org")),
            display_name: Set(Some(format!("Athlete {i}"))),
            password_hash: Set(format!("$argon2id$v=19$seed-{i}")),
            tier: Set(match i % 50 {
                0 => SubscriptionTier::Enterprise,
                n if n % 10 == 0 => SubscriptionTier::Professional,
                _ => SubscriptionTier::Starter,
            }),
            tenant_id: Set(Some(tenant.as_uuid())),
            is_active: Set(true),
            user_status: Set(if pending {
                UserStatus::Pending
            } else {
                UserStatus::Active
            }),
            is_admin: Set(false),
            approved_by: Set((!pending).then(|| admin.as_uuid())),
            approved_at: Set((!pending).then_some(created)),
            created_at: Set(created),
            last_active: Set(created),
            role: Set(UserRole::User),
            firebase_uid: Set(firebase.then(|| format!("firebase-{i}"))),
            auth_provider: Set(if firebase { "firebase" } else { "email" }.to_owned()),
        }
    })
    .await;
    ids.into_iter().map(UserId::from_uuid).collect()
}

/// `count` API-key requests over the past week, spread over `keys`: mostly
/// 200, some 429 and 500 with their error.
async fn bulk_usage(conn: &DatabaseConnection, keys: &[Uuid], count: usize) {
    let end = now();
    bulk(conn, count, |i| {
        let (status, error) = status_of(i);
        entity::api_key_usage::ActiveModel {
            id: Set(Uuid::now_v7()),
            api_key_id: Set(keys[i % keys.len()]),
            timestamp: Set(end - Duration::seconds((i % 604_800) as i64)),
            tool_name: Set(TOOLS[i % TOOLS.len()].to_owned()),
            status_code: Set(status),
            response_time_ms: Set(Some(20 + (i % 900) as i32)),
            error_message: Set(error),
            request_size_bytes: Set(Some(256 + (i % 1024) as i64)),
            response_size_bytes: Set(Some(2048 + (i % 8192) as i64)),
            ip_address: Set(Some(format!("10.0.{}.{}", (i / 256) % 256, i % 256))),
            user_agent: Set(Some("pierre-seed/1.0".to_owned())),
        }
    })
    .await;
}

/// `count` logged requests over the past week, by `users` in turn, every
/// other one made with one of `keys`.
async fn bulk_request_logs(conn: &DatabaseConnection, users: &[Uuid], keys: &[Uuid], count: usize) {
    let end = now();
    bulk(conn, count, |i| {
        let (status, error) = status_of(i);
        let (method, endpoint) = ENDPOINTS[i % ENDPOINTS.len()];
        entity::request_logs::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(Some(users[i % users.len()])),
            api_key_id: Set((i % 2 == 0).then(|| keys[i % keys.len()])),
            timestamp: Set(end - Duration::seconds((i % 604_800) as i64)),
            method: Set(method.to_owned()),
            endpoint: Set(endpoint.to_owned()),
            status_code: Set(status),
            response_time_ms: Set(Some(5 + (i % 400) as i32)),
            error_message: Set(error),
        }
    })
    .await;
}

/// The HTTP status of request `i`, and its error when it failed.
fn status_of(i: usize) -> (i32, Option<String>) {
    match i % 20 {
        18 => (429, Some("rate limit exceeded".to_owned())),
        19 => (500, Some("upstream provider timed out".to_owned())),
        _ => (200, None),
    }
}

/// One Strava token (access and refresh) for each of `users`, sealed by
/// the library, [`TOKENS_PER_TX`] upserts per transaction (as
/// cli/tests/it.rs `seed_into` does).
async fn seal_tokens(db: &Database, tenant: TenantId, users: &[UserId]) {
    for (n, batch) in users.chunks(TOKENS_PER_TX).enumerate() {
        let batch = batch.to_vec();
        let first = n * TOKENS_PER_TX;
        db.transaction(move |tx| {
            let batch = batch.clone();
            Box::pin(async move {
                let tokens = tx.tenant(tenant).oauth_tokens();
                for (offset, user) in batch.into_iter().enumerate() {
                    let i = first + offset;
                    let mut token =
                        NewOAuthToken::new(user, OauthProvider::Strava, format!("access-{i}"));
                    token.refresh_token = Some(Secret::new(format!("refresh-{i}")));
                    token.expires_at = Some(Utc::now() + Duration::hours(6));
                    token.scope = Some("read,activity:read_all".to_owned());
                    tokens.upsert(token).await?;
                }
                Ok(())
            })
        })
        .await
        .expect("seal a batch of tokens");
    }
}

/// tenant_oauth_credentials, oauth_apps, user_oauth_app_credentials.
async fn credentials(db: &Database, tenant: TenantId, owner: UserId) {
    db.tenant(tenant)
        .oauth_credentials()
        .upsert(NewTenantOAuthCredential {
            scopes: vec!["read".into(), "activity:read_all".into()],
            ..NewTenantOAuthCredential::new(
                OauthProvider::Strava,
                "acme-strava-client",
                "acme-strava-secret",
                "https://acme.example.org/oauth/strava/callback",
            )
        })
        .await
        .expect("store the tenant's Strava credentials");
    db.oauth_apps()
        .register(NewOAuthApp {
            description: Some("Acme's coaching dashboard".into()),
            scopes: vec!["read".into()],
            app_type: OauthAppType::Confidential,
            ..NewOAuthApp::new(owner, "Acme Coach", CALLBACK)
        })
        .await
        .expect("register an OAuth app");
    db.user_oauth_apps()
        .store(NewUserOAuthApp::new(
            owner,
            OauthProvider::Fitbit,
            "owner-fitbit-client",
            "owner-fitbit-secret",
            "https://app.example.org/oauth/fitbit/callback",
        ))
        .await
        .expect("store the owner's Fitbit app");
}

/// a2a_clients, a2a_client_api_keys, a2a_sessions, a2a_tasks, a2a_usage.
async fn a2a(db: &Database, owner: UserId, key: pierre_db::ApiKeyId) {
    let client = db
        .a2a_clients()
        .register(NewA2aClient::new(
            owner,
            key,
            "coach-bot",
            "pk-coach-bot-seed",
            &["read_activities", "read_stats", "tasks"],
        ))
        .await
        .expect("register an A2A client")
        .client;
    let opened = db
        .a2a_sessions()
        .create(
            owner,
            client.id,
            Some(owner),
            &["read_activities", "tasks"],
            Utc::now() + Duration::hours(1),
        )
        .await
        .expect("open an A2A session");
    let tasks = db.a2a_tasks();
    let task = tasks
        .create(owner, client.id, "analyze", json!({ "activity_id": "a-1" }))
        .await
        .expect("submit an A2A task");
    tasks
        .update_status(owner, task.id, TaskStatus::Running, None, None)
        .await
        .expect("start the task");
    tasks
        .update_status(
            owner,
            task.id,
            TaskStatus::Completed,
            Some(json!({ "tss": 87 })),
            None,
        )
        .await
        .expect("complete the task");
    db.a2a_usage()
        .record(NewA2aUsage {
            // The stored session key is the token's hash (src/repositories/a2a/sessions.rs:107).
            session_token_hash: Some(hashing::hash(opened.token.expose())),
            request: ServedRequest {
                response_time_ms: Some(42),
                ..ServedRequest::now(200)
            },
            ..NewA2aUsage::new(client.id, "get_activities", 200)
        })
        .await
        .expect("record A2A usage");
}

/// oauth2_clients, oauth2_auth_codes, oauth2_refresh_tokens, oauth2_states.
async fn oauth2_server(db: &Database, tenant: TenantId, owner: UserId) {
    let client_id = db
        .oauth2_clients()
        .register(NewOAuth2Client {
            client_name: Some("Acme Coach".into()),
            client_uri: Some("https://coach.example.org".into()),
            scope: Some("read write".into()),
            ..NewOAuth2Client::new(CALLBACK)
        })
        .await
        .expect("register an OAuth 2.0 client")
        .client
        .client_id;
    let scoped = db.tenant(tenant);
    scoped
        .oauth2_auth_codes()
        .issue(NewAuthCode {
            scope: Some("read".into()),
            state: Some("seed-state".into()),
            ..NewAuthCode::new(&client_id, owner, CALLBACK, CHALLENGE)
        })
        .await
        .expect("issue an authorization code");
    scoped
        .oauth2_refresh_tokens()
        .issue(NewRefreshToken {
            scope: Some("read".into()),
            ..NewRefreshToken::new(&client_id, owner)
        })
        .await
        .expect("issue a refresh token");
    scoped
        .oauth2_states()
        .store(NewOAuth2State {
            user_id: Some(owner),
            scope: Some("read".into()),
            code_challenge: Some(CHALLENGE.into()),
            ..NewOAuth2State::new("state-in-tenant", &client_id, CALLBACK)
        })
        .await
        .expect("store a tenant's state");
    db.oauth2_exchange()
        .store_state(NewOAuth2State::new("state-no-tenant", &client_id, CALLBACK))
        .await
        .expect("store a state of no tenant");
}

/// admin_tokens, admin_token_usage, admin_provisioned_keys, user_mcp_tokens,
/// system_secrets, rsa_keypairs, impersonation_sessions,
/// permission_delegations, jwt_usage.
async fn platform(db: &Database, owner: UserId, admin: UserId) {
    let token = db
        .admin_tokens()
        .create(NewAdminToken {
            service_description: Some("provisioning service".into()),
            ..NewAdminToken::new(ADMIN_JWT, "admin-signing-secret", "ops")
        })
        .await
        .expect("create an admin token");
    db.admin_tokens()
        .record_use(
            token.id,
            AdminTokenUse {
                ip_address: Some("10.0.0.1".into()),
                ..AdminTokenUse::new("provision_key")
            },
        )
        .await
        .expect("record an admin token use");
    db.provisioned_keys()
        .provision(
            token.id,
            "owner@example.org",
            NewApiKey::new(owner, "provisioned", ApiKeyTier::Starter),
            "month",
        )
        .await
        .expect("provision a key");
    db.mcp_tokens()
        .create(
            owner,
            "claude-desktop",
            Some(Utc::now() + Duration::days(90)),
        )
        .await
        .expect("create an MCP token");
    db.system_secrets()
        .put("session_key", Secret::new("seeded-session-signing-key"))
        .await
        .expect("store a system secret");
    let rsa = db.rsa_keys();
    rsa.save(NewRsaKeyPair {
        kid: "seed-2025".into(),
        private_key_pem: Secret::new(
            "-----BEGIN PRIVATE KEY-----\nc2VlZA==\n-----END PRIVATE KEY-----",
        ),
        public_key_pem: "-----BEGIN PUBLIC KEY-----\nc2VlZA==\n-----END PUBLIC KEY-----".into(),
        key_size_bits: 2048,
    })
    .await
    .expect("save an RSA key pair");
    rsa.set_active("seed-2025").await.expect("activate it");
    db.impersonations()
        .start(admin, owner, Some("support ticket 42"))
        .await
        .expect("start an impersonation");
    db.permission_delegations()
        .grant(owner, admin, 0b0110, Some(Utc::now() + Duration::days(30)))
        .await
        .expect("grant a delegation");
    db.usage()
        .record_jwt_usage(NewJwtUsage {
            request: ServedRequest {
                response_time_ms: Some(35),
                ip_address: Some("192.0.2.10".into()),
                ..ServedRequest::now(200)
            },
            ..NewJwtUsage::new(owner, "GET", "/api/activities", 200)
        })
        .await
        .expect("record JWT usage");
}

/// fitness_configurations, chat_conversations, chat_messages, recipes,
/// recipe_ingredients.
async fn content(db: &Database, tenant: TenantId, owner: UserId) {
    let scoped = db.tenant(tenant);
    let fitness = scoped.fitness_configs();
    fitness
        .save_tenant_default("zones", json!({ "max_hr": 190 }))
        .await
        .expect("save the tenant's default");
    fitness
        .save_for_user(owner, "zones", json!({ "max_hr": 182 }))
        .await
        .expect("save the owner's override");

    let chat = scoped.chat();
    let conversation = chat
        .create_conversation(NewConversation {
            system_prompt: Some("You are a running coach.".into()),
            ..NewConversation::new(owner, "Marathon block")
        })
        .await
        .expect("start a conversation");
    chat.add_message(
        owner,
        conversation.id,
        NewChatMessage::new(ChatRole::User, "How long should my long run be?"),
    )
    .await
    .expect("add the question");
    chat.add_message(
        owner,
        conversation.id,
        NewChatMessage {
            token_count: Some(42),
            finish_reason: Some("stop".into()),
            ..NewChatMessage::new(ChatRole::Assistant, "About 30 km this week.")
        },
    )
    .await
    .expect("add the answer");

    let mut oats = NewIngredient::new("Rolled oats", 80.0, IngredientUnit::Grams, 80.0);
    oats.fdc_id = Some(173_904);
    scoped
        .recipes()
        .create(
            owner,
            RecipeDraft {
                description: Some("Carbs before a long run".into()),
                servings: 2,
                prep_time_mins: Some(5),
                instructions: vec!["Mix.".into(), "Wait overnight.".into()],
                tags: vec!["breakfast".into()],
                meal_timing: MealTiming::PreTraining,
                ingredients: vec![
                    oats,
                    NewIngredient::new("Milk", 1.0, IngredientUnit::Cups, 244.0),
                ],
                ..RecipeDraft::new("Overnight oats")
            },
        )
        .await
        .expect("create a recipe");
}

/// system_settings, admin_config_overrides, admin_config_audit (global and
/// tenant rows), audit_events (tenant and platform rows).
async fn configuration(db: &Database, tenant: TenantId, owner: UserId, admin: UserId) {
    db.system_settings()
        .set("support_email", "help@example.org", Some("Where help goes"))
        .await
        .expect("set a system setting");
    let actor = ConfigActor {
        ip_address: Some("10.0.0.2".into()),
        ..ConfigActor::new(admin, "admin@example.org")
    };
    db.global_admin_config()
        .set(
            ConfigChange {
                reason: Some("launch limits".into()),
                ..ConfigChange::new("rate_limiting", "burst", "10", ConfigDataType::Integer)
            },
            &actor,
        )
        .await
        .expect("set a global override");
    db.tenant(tenant)
        .admin_config()
        .set(
            ConfigChange::new("rate_limiting", "burst", "50", ConfigDataType::Integer),
            &actor,
        )
        .await
        .expect("set a tenant override");

    let mut login = NewAuditEvent::new(
        "user.login",
        AuditSeverity::Info,
        "Owner signed in",
        "auth",
        "success",
    );
    login.user_id = Some(owner);
    login.ip_address = Some("198.51.100.7".into());
    login.metadata = Some(json!({ "method": "password" }));
    db.tenant(tenant)
        .audit_events()
        .record(login)
        .await
        .expect("record a tenant audit event");
    db.global_audit_events()
        .record(NewAuditEvent::new(
            "key.rotated",
            AuditSeverity::Warning,
            "Data key rotated",
            "security",
            "success",
        ))
        .await
        .expect("record a platform audit event");
}

/// user_profiles, user_configurations, goals, insights, oauth_notifications.
async fn profile(db: &Database, owner: UserId) {
    db.user_profiles()
        .upsert(owner, json!({ "weight_kg": 61.5, "ftp": 250 }))
        .await
        .expect("save a profile");
    db.user_configurations()
        .save(owner, json!({ "units": "metric" }))
        .await
        .expect("save a configuration");
    db.goals()
        .create(
            owner,
            json!({ "goal_type": "distance", "target_value": 1000.0 }),
        )
        .await
        .expect("create a goal");
    db.insights()
        .store(
            owner,
            NewInsight {
                activity_id: Some("activity-1".into()),
                ..NewInsight::new(json!({ "type": "recovery", "score": 80 }))
            },
        )
        .await
        .expect("store an insight");
    db.oauth_notifications()
        .store(NewOAuthNotification {
            user_id: owner,
            provider: "strava".into(),
            success: true,
            message: "Strava connected".into(),
            expires_at: Some(Utc::now() + Duration::days(7)),
        })
        .await
        .expect("store a notification");
}
