//! Schema migrations of pierre-db.
//!
//! Twenty migrations, in the order of the original design (there is no
//! M16), build the 44 tables on SQLite and PostgreSQL from one code path,
//! and three more fit indexes to the repositories' lists and invariants
//! (`m20251201_000001`: chat and recipes; `m20251201_000002`: one active
//! impersonation per impersonator, impersonation and configuration audit
//! lists; `m20251201_000003`: goals, insights, notifications). One code
//! path: SeaORM's schema builder, with backend-specific steps only where
//! the backends differ (native enum types and `ALTER TABLE ... ADD CONSTRAINT` on
//! PostgreSQL, table rebuilds on SQLite). Run them with
//! `cargo run -p migration -- -u URL up`, `sea-orm-cli migrate up -d migration
//! -u URL`, or `pierre_db::Database::migrate`.
//!
//! Migrations that rebuild SQLite tables turn foreign-key enforcement off for
//! their transaction, which only works on a single connection: run them on a
//! one-connection pool (the CLI and `pierre_db` do).
//!
//! No migration silently drops rows, up or down. Going up, a step that would
//! lose rows stops and names them. Going down, [`down_losses`] counts what
//! the steps would lose (tables, columns and rows, from [`down_catalog`])
//! before any of them runs, and [`down_checked`] refuses unless the
//! operator consents; under consent ([`with_consent`]) the guards of M09 and
//! M11 delete the rows they protect instead of refusing half-way. A plain
//! `Migrator::down` runs no such check: its guards still refuse, but only
//! when their step is reached.

#![deny(missing_docs)]

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod builders;
mod down_plan;
mod enums;
mod guard;
mod rebuild;

pub use down_plan::{
    DownEffects, Loss, LossKind, down_catalog, down_checked, down_losses, down_steps, refusal,
};
pub use guard::{RowSet, with_consent};

mod m20250120_000001_users_schema;
mod m20250120_000002_api_keys_schema;
mod m20250120_000003_analytics_schema;
mod m20250120_000004_a2a_schema;
mod m20250120_000005_admin_schema;
mod m20250120_000006_oauth_tokens_schema;
mod m20250120_000007_oauth_notifications_schema;
mod m20250120_000008_oauth2_schema;
mod m20250120_000009_tenant_management_schema;
mod m20250120_000010_fitness_configurations_schema;
mod m20250120_000011_expand_oauth_provider_constraints;
mod m20250120_000012_user_roles_permissions;
mod m20250120_000013_system_settings_schema;
mod m20250120_000014_add_missing_foreign_keys;
mod m20250120_000015_remove_legacy_user_token_columns;
mod m20250120_000017_chat_schema;
mod m20250120_000018_firebase_auth;
mod m20250120_000019_recipes_schema;
mod m20250120_000020_admin_config_schema;
mod m20250120_000021_add_config_categories;
mod m20251201_000001_content_keyset_indexes;
mod m20251201_000002_privileged_indexes;
mod m20251201_000003_profile_keyset_indexes;

/// The 44 application tables, in creation order (`seaql_migrations` aside).
pub const TABLES: [&str; 44] = [
    "users",
    "user_profiles",
    "user_oauth_app_credentials",
    "api_keys",
    "api_key_usage",
    "jwt_usage",
    "goals",
    "insights",
    "request_logs",
    "a2a_clients",
    "a2a_sessions",
    "a2a_tasks",
    "a2a_usage",
    "a2a_client_api_keys",
    "admin_tokens",
    "admin_token_usage",
    "admin_provisioned_keys",
    "system_secrets",
    "rsa_keypairs",
    "user_oauth_tokens",
    "oauth_notifications",
    "oauth2_clients",
    "oauth2_auth_codes",
    "oauth2_refresh_tokens",
    "oauth2_states",
    "tenants",
    "tenant_oauth_credentials",
    "oauth_apps",
    "key_versions",
    "audit_events",
    "tenant_users",
    "user_configurations",
    "fitness_configurations",
    "impersonation_sessions",
    "permission_delegations",
    "user_mcp_tokens",
    "system_settings",
    "chat_conversations",
    "chat_messages",
    "recipes",
    "recipe_ingredients",
    "admin_config_overrides",
    "admin_config_audit",
    "admin_config_categories",
];

/// The migrator: every migration of the schema, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250120_000001_users_schema::Migration),
            Box::new(m20250120_000002_api_keys_schema::Migration),
            Box::new(m20250120_000003_analytics_schema::Migration),
            Box::new(m20250120_000004_a2a_schema::Migration),
            Box::new(m20250120_000005_admin_schema::Migration),
            Box::new(m20250120_000006_oauth_tokens_schema::Migration),
            Box::new(m20250120_000007_oauth_notifications_schema::Migration),
            Box::new(m20250120_000008_oauth2_schema::Migration),
            Box::new(m20250120_000009_tenant_management_schema::Migration),
            Box::new(m20250120_000010_fitness_configurations_schema::Migration),
            Box::new(m20250120_000011_expand_oauth_provider_constraints::Migration),
            Box::new(m20250120_000012_user_roles_permissions::Migration),
            Box::new(m20250120_000013_system_settings_schema::Migration),
            Box::new(m20250120_000014_add_missing_foreign_keys::Migration),
            Box::new(m20250120_000015_remove_legacy_user_token_columns::Migration),
            Box::new(m20250120_000017_chat_schema::Migration),
            Box::new(m20250120_000018_firebase_auth::Migration),
            Box::new(m20250120_000019_recipes_schema::Migration),
            Box::new(m20250120_000020_admin_config_schema::Migration),
            Box::new(m20250120_000021_add_config_categories::Migration),
            Box::new(m20251201_000001_content_keyset_indexes::Migration),
            Box::new(m20251201_000002_privileged_indexes::Migration),
            Box::new(m20251201_000003_profile_keyset_indexes::Migration),
        ]
    }
}
