//! # pierre-db
//!
//! The database layer of the Pierre multi-tenant fitness platform, on
//! SeaORM 2.0: one schema (44 tables, migrated by the `migration` crate) on
//! SQLite (embedded, the default) or PostgreSQL (feature `postgres`).
//!
//! - [`Database::connect`] picks the backend from the URL and configures the
//!   pool; [`Database::migrate`] brings the schema up to date.
//! - Errors are one type, [`DatabaseError`], classified from driver codes;
//!   [`Database::transaction`] re-runs a transaction on contention.
//! - Lists page with opaque keyset cursors ([`PageRequest`], [`Page`]).
//!
//! # Tables, repositories, accessors
//!
//! | table | repository | accessor |
//! |---|---|---|
//! | `users` | [`Users`] | `db.users()` |
//! | `tenants` | [`Tenants`] | `db.tenants()` |
//! | `tenant_users` | [`TenantMembers`] | `db.tenant(t).members()` |
//! | `user_oauth_tokens` | [`OAuthTokens`], [`CrossTenantOAuthTokens`] | `db.tenant(t).oauth_tokens()`, `db.across_tenants().oauth_tokens()` |
//! | `tenant_oauth_credentials` | [`TenantOAuthCredentials`] | `db.tenant(t).oauth_credentials()` |
//! | `oauth_apps` | [`OAuthApps`] | `db.oauth_apps()` |
//! | `user_oauth_app_credentials` | [`UserOAuthApps`] | `db.user_oauth_apps()` |
//! | `api_keys` | [`ApiKeys`] | `db.api_keys()` |
//! | `api_key_usage`, `jwt_usage`, `request_logs` | [`Usage`] | `db.usage()` |
//! | `oauth2_clients` | [`OAuth2Clients`] | `db.oauth2_clients()` |
//! | `oauth2_auth_codes` | [`OAuth2AuthCodes`] | `db.tenant(t).oauth2_auth_codes()` |
//! | `oauth2_refresh_tokens` | [`OAuth2RefreshTokens`] | `db.tenant(t).oauth2_refresh_tokens()` |
//! | `oauth2_states` | [`OAuth2States`] | `db.tenant(t).oauth2_states()` |
//! | `oauth2_auth_codes`, `oauth2_refresh_tokens`, `oauth2_states` (consumption) | [`OAuth2Exchange`] | `db.oauth2_exchange()` |
//! | `key_versions`, `system_secrets` (data keys) | [`Security`] | `db.security()` |
//! | `admin_tokens`, `admin_token_usage` | [`AdminTokens`] | `db.admin_tokens()` |
//! | `admin_provisioned_keys` | [`ProvisionedKeys`] | `db.provisioned_keys()` |
//! | `user_mcp_tokens` | [`McpTokens`] | `db.mcp_tokens()` |
//! | `system_secrets` (named secrets) | [`SystemSecrets`] | `db.system_secrets()` |
//! | `rsa_keypairs` | [`RsaKeys`] | `db.rsa_keys()` |
//! | `chat_conversations`, `chat_messages` | [`Chat`] | `db.tenant(t).chat()` |
//! | `fitness_configurations` | [`FitnessConfigs`] | `db.tenant(t).fitness_configs()` |
//! | `recipes`, `recipe_ingredients` | [`Recipes`] | `db.tenant(t).recipes()` |
//! | `impersonation_sessions` | [`Impersonations`] | `db.impersonations()` |
//! | `permission_delegations` | [`PermissionDelegations`] | `db.permission_delegations()` |
//! | `system_settings` | [`SystemSettings`] | `db.system_settings()` |
//! | `admin_config_overrides`, `admin_config_audit` (tenant rows), `admin_config_categories` | [`AdminConfig`] | `db.tenant(t).admin_config()` |
//! | `admin_config_overrides`, `admin_config_audit` (global rows), `admin_config_categories` | [`AdminConfig`] | `db.global_admin_config()` |
//! | `audit_events` (tenant rows) | [`AuditEvents`] | `db.tenant(t).audit_events()` |
//! | `audit_events` (platform rows) | [`AuditEvents`] | `db.global_audit_events()` |
//! | `user_profiles` | [`UserProfiles`] | `db.user_profiles()` |
//! | `user_configurations` | [`UserConfigurations`] | `db.user_configurations()` |
//! | `goals` | [`Goals`] | `db.goals()` |
//! | `insights` | [`Insights`] | `db.insights()` |
//! | `oauth_notifications` | [`OAuthNotifications`] | `db.oauth_notifications()` |
//! | `a2a_clients`, `a2a_client_api_keys` | [`A2aClients`] | `db.a2a_clients()` |
//! | `a2a_sessions` | [`A2aSessions`] | `db.a2a_sessions()` |
//! | `a2a_tasks` | [`A2aTasks`] | `db.a2a_tasks()` |
//! | `a2a_usage` | [`A2aUsage`] | `db.a2a_usage()` |
//!
//! Tenant-owned tables are reached only through `db.tenant(t)`; see
//! [`TenantScope`].
//!
//! # Errors in `main`
//!
//! A [`DatabaseError`]'s `Display` is written for the person who must act
//! on it, fix included. A `main` that returns `Result<(), DatabaseError>`
//! prints the `Debug` form instead (`Error: NotMigrated { pending: 23 }`),
//! so print the error yourself:
//!
//! ```
//! use std::process::ExitCode;
//!
//! async fn run() -> Result<(), pierre_db::DatabaseError> {
//!     let key = pierre_db::MasterKey::generate()?;
//!     let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", key);
//!     config.migrate_on_connect = true; // without it: the error below
//!     let _db = pierre_db::Database::connect_with(config).await?;
//!     Ok(())
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> ExitCode {
//!     match run().await {
//!         Ok(()) => ExitCode::SUCCESS,
//!         Err(err) => {
//!             // "the database is not migrated (23 migration(s) pending): run …"
//!             eprintln!("error: {err}");
//!             ExitCode::FAILURE
//!         }
//!     }
//! }
//! ```
//!
//! ```
//! use pierre_db::{Database, MasterKey};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), pierre_db::DatabaseError> {
//! let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
//! config.migrate_on_connect = true;
//! let db = Database::connect_with(config).await?;
//! assert!(db.health().await?.latest_migration.is_some());
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]
// Library code never unwraps (the workspace's lints): a failure is a
// `DatabaseError` the caller can act on. Unit tests may.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "a failed unit test panics"))]

#[cfg(feature = "adopt")]
mod adopt;
mod backend;
#[cfg(feature = "sqlite")]
mod calling_thread;
mod config;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod crypto;
#[cfg(not(feature = "internals"))]
mod crypto;
mod database;
mod error;
mod ids;
mod keys;
mod pagination;
mod query;
mod replicas;
mod repositories;
mod restore;
pub mod rls;
mod scope;
mod security;
mod shared;
#[cfg(all(feature = "sqlite", feature = "internals"))]
#[doc(hidden)]
pub mod sqlite_planner;
#[cfg(all(feature = "sqlite", not(feature = "internals")))]
mod sqlite_planner;
mod tables;
#[cfg(feature = "metrics")]
pub mod telemetry;
mod time;
mod transactions;
mod validation;

#[cfg(feature = "adopt")]
pub use adopt::{
    AdoptOptions, AdoptionReport, ColumnCount, CredentialCount, CredentialForm, LegacyCell,
    LegacyCredentials, LegacyInventory, LegacyRows, LegacySecrets, LegacySource, MappedId,
    TableAdopted, TableRows,
};
pub use backend::{Backend, SUPPORTED_URLS};
#[cfg(feature = "sqlite")]
pub use calling_thread::{CALLING_THREAD_BUSY_TIMEOUT, CallingThreadReads};
/// The date and time crate of the API (`DateTime<Utc>` in and out), at the
/// version this crate uses: `pierre_db::chrono::Utc::now()`.
pub use chrono;
pub use config::{
    DatabaseConfig, ENV_ACQUIRE_TIMEOUT, ENV_CONNECT_TIMEOUT, ENV_DATABASE_URL, ENV_IDLE_TIMEOUT,
    ENV_KEY_REFRESH_INTERVAL, ENV_MASTER_KEY, ENV_MASTER_KEY_FILE, ENV_MAX_CONNECTIONS,
    ENV_MAX_LIFETIME, ENV_MAX_REPLICA_LAG_MS, ENV_MIN_CONNECTIONS, ENV_REPLICA_CHECK_INTERVAL_MS,
    ENV_REPLICA_URLS, ENV_ROW_LEVEL_SECURITY, ENV_SQLITE_CALLING_THREAD_READS,
};
pub use crypto::CryptoError;
pub use crypto::master::{MASTER_KEY_LEN, MasterKey};
pub use crypto::secret::Secret;
pub use database::{Database, Health};
/// The tier of an API key, which sets its rate limit: `Trial`, `Starter`,
/// `Professional`, `Enterprise`.
pub use entity::sea_orm_active_enums::ApiKeyTier;
/// Who speaks in a chat message: `System`, `User`, `Assistant`.
pub use entity::sea_orm_active_enums::ChatRole;
/// The type of an admin configuration value: `Float`, `Integer`,
/// `Boolean`, `String`, `Enum`.
pub use entity::sea_orm_active_enums::ConfigDataType;
/// The unit of a recipe ingredient's amount: `Grams`, `Milliliters`,
/// `Cups`, `Tablespoons`, `Teaspoons`, `Pieces`, `Ounces`, `Pounds`,
/// `Kilograms`.
pub use entity::sea_orm_active_enums::IngredientUnit;
/// When in the training day a recipe fits: `PreTraining`,
/// `PostTraining`, `RestDay`, `General`.
pub use entity::sea_orm_active_enums::MealTiming;
/// Whether an OAuth app can keep a secret: `Public` (no client secret) or
/// `Confidential`.
pub use entity::sea_orm_active_enums::OauthAppType;
/// A fitness provider the platform connects to through OAuth: `Strava`,
/// `Fitbit`, `Garmin`, `Whoop`, `Terra` (the closed set the schema allows).
pub use entity::sea_orm_active_enums::OauthProvider;
/// A user's subscription: `Starter`, `Professional`, `Enterprise`.
pub use entity::sea_orm_active_enums::SubscriptionTier;
/// Where an A2A task is in its life cycle: `Pending`, `Running`,
/// `Completed`, `Failed`, `Cancelled` (the last three are final).
pub use entity::sea_orm_active_enums::TaskStatus;
/// A member's role in a tenant: `Owner`, `Admin`, `Member`, `Viewer`.
pub use entity::sea_orm_active_enums::TenantRole;
/// A user's platform role: `User`, `Admin`, `SuperAdmin`.
pub use entity::sea_orm_active_enums::UserRole;
/// A user's account state: `Pending` (awaiting approval), `Active`,
/// `Suspended`.
pub use entity::sea_orm_active_enums::UserStatus;
pub use error::{ConnectProblem, DatabaseError, Result};
pub use ids::{
    A2aClientId, A2aTaskId, AdminTokenId, ApiKeyId, AuditEventId, ConfigAuditId, ConfigOverrideId,
    ConversationId, DelegationId, FitnessConfigId, GoalId, ImpersonationId, IngredientId,
    InsightId, McpTokenId, MembershipId, MessageId, NotificationId, OAuth2ClientId, OAuthAppId,
    OAuthTokenId, ProvisionedKeyId, RecipeId, TenantId, TenantOAuthCredentialId, UsageId, UserId,
    UserOAuthAppId,
};
pub use pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest};
pub use query::TxFuture;
pub use replicas::{ReplicaStatus, check_replicas};
pub use repositories::a2a::{
    A2aClient, A2aClients, A2aDailyUsage, A2aSession, A2aSessions, A2aTask, A2aTasks, A2aUsage,
    A2aUsageStats, NewA2aClient, NewA2aUsage, OpenedA2aSession, RegisteredA2aClient,
};
pub use repositories::audit::{
    AuditEvent, AuditEventFilter, AuditEvents, AuditSeverity, NewAuditEvent,
};
pub use repositories::configuration::{
    AdminConfig, ConfigActor, ConfigAuditEntry, ConfigAuditFilter, ConfigCategory, ConfigChange,
    ConfigOverride, SystemSetting, SystemSettings,
};
pub use repositories::content::{
    Chat, ChatMessage, Conversation, ConversationSummary, FitnessConfigs, FitnessConfiguration,
    Ingredient, NewChatMessage, NewConversation, NewIngredient, Nutrition, Recipe, RecipeDraft,
    RecipeFilter, RecipeWithIngredients, Recipes,
};
pub use repositories::credentials::{
    ApiKey, ApiKeyFilter, ApiKeys, CreatedApiKey, CrossTenantOAuthTokens, NewApiKey, NewOAuthApp,
    NewOAuthToken, NewTenantOAuthCredential, NewUserOAuthApp, OAuthApp, OAuthApps, OAuthToken,
    OAuthTokens, RegisteredOAuthApp, TenantOAuthCredential, TenantOAuthCredentialSummary,
    TenantOAuthCredentials, UserOAuthApp, UserOAuthAppSummary, UserOAuthApps, parse_provider,
    provider_name,
};
pub use repositories::identity::{
    NewTenant, NewUser, Tenant, TenantMember, TenantMembers, TenantUpdate, Tenants, User, Users,
};
pub use repositories::oauth2_server::{
    AuthCode, IssuedAuthCode, IssuedRefreshToken, NewAuthCode, NewOAuth2Client, NewOAuth2State,
    NewRefreshToken, OAuth2AuthCodes, OAuth2Client, OAuth2Clients, OAuth2Exchange,
    OAuth2RefreshTokens, OAuth2State, OAuth2States, PurgedCounts, RefreshToken,
    RegisteredOAuth2Client, RotatedRefreshToken, pkce_s256_challenge, verify_pkce,
};
pub use repositories::platform::{
    AdminToken, AdminTokenUsage, AdminTokenUse, AdminTokens, CreatedMcpToken, McpToken,
    McpTokenUse, McpTokens, NewAdminToken, NewRsaKeyPair, ProvisionedApiKey, ProvisionedKey,
    ProvisionedKeys, RsaKeyPair, RsaKeys, SystemSecrets,
};
pub use repositories::privileged::{
    Delegation, ImpersonationFilter, ImpersonationSession, Impersonations, PermissionDelegations,
};
pub use repositories::profile::{
    Goal, Goals, Insight, Insights, NewInsight, NewOAuthNotification, OAuthNotification,
    OAuthNotifications, UserConfigurations, UserDocument, UserProfiles,
};
pub use repositories::usage::{
    NewApiKeyUsage, NewJwtUsage, NewRequestLog, RequestLog, RequestLogFilter, SystemStats, Usage,
    UsageStats,
};
pub use restore::{RestoreOptions, RestoreReport, restore_backup};
pub use scope::{AcrossTenants, ReplicaReads, TenantScope};
pub use security::{
    ColumnCheck, KeyVersionInfo, LegacyHmacKey, ReencryptProgress, ReencryptReport, SealedCounts,
    Security, UnreadableValue, VerifyProgress, VerifyReport,
};
/// The JSON crate of the API (`serde_json::Value` fields), at the version
/// this crate uses.
pub use serde_json;
#[cfg(feature = "internals")]
pub use time::FrozenClock;
pub use validation::request::ServedRequest;

/// Syntax checks the repositories apply to internet names, for an
/// application that checks input before it calls (a form, say).
pub mod syntax {
    pub use crate::validation::{MAX_DOMAIN_LEN, MAX_EMAIL_LEN, domain_name, email, http_url};
}

/// **Internals** (feature `internals`), for the compile-fail tests: what a
/// repository inside this crate holds (its context, the tenant scope) and
/// the executor traits it runs statements with. A case written against
/// these, the way a repository is written, shows that the type system
/// (not a text search) refuses an unfiltered statement on a tenant-owned
/// table.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    /// Which prepared statements checked their values against their
    /// builder on this thread (debug builds).
    #[cfg(debug_assertions)]
    pub use crate::query::prepared_checks;
    pub use crate::query::{
        AllTenants, Allowed, Checked, Ctx, NullableTenant, RunInsert, RunSelect, RunWrite, Scoped,
        TenantColumn, Unowned,
    };
    /// The entities and the ORM a repository is written with. The
    /// compile-fail harness links this crate alone (by file, so that
    /// nothing is built twice), and reaches them through here.
    pub use {entity, sea_orm};

    /// The features this build was compiled with, `[sqlite, postgres,
    /// adopt, metrics]` (`internals` is on, or this module would not exist): the
    /// compile-fail harness checks it to pick, among the builds side by
    /// side in a target folder, the one its binary linked.
    pub const FEATURES: [bool; 4] = [
        cfg!(feature = "sqlite"),
        cfg!(feature = "postgres"),
        cfg!(feature = "adopt"),
        cfg!(feature = "metrics"),
    ];
}
pub use transactions::{RetryPolicy, Tx};
/// The UUID crate of the API (row ids), at the version this crate uses.
pub use uuid;
