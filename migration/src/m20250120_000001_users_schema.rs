//! M01: users, user_profiles, user_oauth_app_credentials.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::builders::*;
use crate::enums::*;

/// The OAuth providers' legacy token columns on `users`, removed by M15.
pub const LEGACY_TOKEN_COLUMNS: [&str; 10] = [
    "strava_access_token",
    "strava_refresh_token",
    "strava_expires_at",
    "strava_scope",
    "strava_last_sync",
    "fitbit_access_token",
    "fitbit_refresh_token",
    "fitbit_expires_at",
    "fitbit_scope",
    "fitbit_last_sync",
];

/// A legacy token column as M01 defines it (times for `*_expires_at`/`*_last_sync`).
pub fn legacy_token_column(name: &'static str) -> ColumnDef {
    if name.ends_with("_at") || name.ends_with("_sync") {
        time_null(name)
    } else {
        text_null(name)
    }
}

/// `user_oauth_app_credentials` with the given provider set (M01, rebuilt by M11).
pub fn user_oauth_app_credentials(
    backend: DbBackend,
    provider: EnumType,
) -> (TableCreateStatement, Vec<IndexCreateStatement>) {
    const T: &str = "user_oauth_app_credentials";
    let table = Table::create()
        .table(T)
        .col(pk("id"))
        .col(uuid("user_id"))
        .col(enum_col(backend, "provider", provider))
        .col(text("client_id"))
        .col(text("client_secret"))
        .col(text("redirect_uri"))
        .col(time("created_at"))
        .col(time("updated_at"))
        .foreign_key(&mut fk_user(T, "user_id"))
        .to_owned();
    (table, vec![unique(T, &["user_id", "provider"])])
}

/// Column names of `user_oauth_app_credentials`, for rebuilds.
pub const USER_OAUTH_APP_CREDENTIALS_COLUMNS: [&str; 8] = [
    "id",
    "user_id",
    "provider",
    "client_id",
    "client_secret",
    "redirect_uri",
    "created_at",
    "updated_at",
];

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 3] = ["user_oauth_app_credentials", "user_profiles", "users"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        create_types(
            manager,
            &[SUBSCRIPTION_TIER, USER_STATUS, OAUTH_PROVIDER_V1],
        )
        .await?;

        let mut users = Table::create();
        users
            .table("users")
            .col(pk("id"))
            .col(text("email").unique_key())
            .col(text_null("display_name"))
            .col(text("password_hash"))
            .col(enum_col_default(
                backend,
                "tier",
                SUBSCRIPTION_TIER,
                "starter",
            ))
            .col(uuid_null("tenant_id"))
            .col(flag("is_active", true))
            .col(enum_col_default(
                backend,
                "user_status",
                USER_STATUS,
                "pending",
            ))
            .col(flag("is_admin", false))
            .col(uuid_null("approved_by"))
            .col(time_null("approved_at"))
            .col(time("created_at"))
            .col(time("last_active"));
        for column in LEGACY_TOKEN_COLUMNS {
            users.col(legacy_token_column(column));
        }
        users.foreign_key(&mut fk(
            "users",
            "approved_by",
            "users",
            "id",
            ForeignKeyAction::SetNull,
        ));
        if backend == DbBackend::Sqlite {
            // `tenants` arrives in M09. SQLite accepts a reference to a table
            // that does not exist yet (and cannot add one later without a
            // rebuild); PostgreSQL gets this key from M09 with ALTER TABLE.
            users.foreign_key(&mut users_tenant_fk());
        }
        create_table_with_indexes(
            manager,
            users.to_owned(),
            vec![
                index("users", &["tenant_id"]),
                index("users", &["approved_by"]),
                index("users", &["user_status", "created_at", "id"]),
                index("users", &["created_at", "id"]),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("user_profiles")
                    .col(ColumnDef::new("user_id").uuid().not_null().primary_key())
                    .col(json("profile_data"))
                    .col(time("created_at"))
                    .col(time("updated_at"))
                    .foreign_key(&mut fk_user("user_profiles", "user_id"))
                    .to_owned(),
            )
            .await?;

        let (table, indexes) = user_oauth_app_credentials(backend, OAUTH_PROVIDER_V1);
        create_table_with_indexes(manager, table, indexes).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await?;
        drop_types(
            manager,
            &[OAUTH_PROVIDER_V1, USER_STATUS, SUBSCRIPTION_TIER],
        )
        .await
    }
}

/// `users.tenant_id -> tenants(id) ON DELETE SET NULL` (the legacy home tenant).
pub fn users_tenant_fk() -> ForeignKeyCreateStatement {
    fk(
        "users",
        "tenant_id",
        "tenants",
        "id",
        ForeignKeyAction::SetNull,
    )
}
