//! M09: tenants, tenant_oauth_credentials, oauth_apps, key_versions,
//! audit_events, tenant_users, user_configurations; on PostgreSQL also the
//! tenant foreign keys of the tables created before `tenants` existed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::builders::*;
use crate::enums::*;
use crate::guard::{RowSet, delete_or_refuse};
use crate::m20250120_000001_users_schema::users_tenant_fk;

/// Tables created before `tenants` whose `tenant_id` must reference it.
/// SQLite declares these keys up front; PostgreSQL adds them here.
const EARLIER_TENANT_TABLES: [&str; 4] = [
    "user_oauth_tokens",
    "oauth2_auth_codes",
    "oauth2_refresh_tokens",
    "oauth2_states",
];

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 7] = [
    "user_configurations",
    "tenant_users",
    "audit_events",
    "key_versions",
    "oauth_apps",
    "tenant_oauth_credentials",
    "tenants",
];

/// Columns `down` sets to NULL in every row: the home-tenant link goes with
/// the tenants; the users stay.
pub const CLEARED_COLUMNS: [(&str, &str); 1] = [("users", "tenant_id")];

/// The rows `down` must delete (with consent) or refuse to lose: rows of the
/// earlier tables that belong to tenants, which dropping `tenants` removes
/// (SQLite's implicit `DELETE FROM tenants` cascades to them).
pub fn guarded() -> Vec<RowSet> {
    EARLIER_TENANT_TABLES
        .iter()
        .map(|table| {
            RowSet::new(
                table,
                first_key(table),
                Condition::all().add(Expr::col("tenant_id").is_not_null()),
                "that belong to tenants",
            )
        })
        .collect()
}

/// `tenant_oauth_credentials` with the given provider set (M09, rebuilt by M11).
pub fn tenant_oauth_credentials(
    backend: DbBackend,
    provider: EnumType,
) -> (TableCreateStatement, Vec<IndexCreateStatement>) {
    const T: &str = "tenant_oauth_credentials";
    let table = Table::create()
        .table(T)
        .col(pk("id"))
        .col(uuid("tenant_id"))
        .col(enum_col(backend, "provider", provider))
        .col(text("client_id"))
        .col(text("client_secret_encrypted"))
        .col(text("redirect_uri"))
        .col(json("scopes"))
        .col(
            ColumnDef::new("rate_limit_per_day")
                .integer()
                .null()
                .default(1000),
        )
        .col(flag("is_active", true))
        .col(time("created_at"))
        .col(time("updated_at"))
        .foreign_key(&mut fk_tenant(T))
        .to_owned();
    (table, vec![unique(T, &["tenant_id", "provider"])])
}

/// Column names of `tenant_oauth_credentials`, for rebuilds.
pub const TENANT_OAUTH_CREDENTIALS_COLUMNS: [&str; 11] = [
    "id",
    "tenant_id",
    "provider",
    "client_id",
    "client_secret_encrypted",
    "redirect_uri",
    "scopes",
    "rate_limit_per_day",
    "is_active",
    "created_at",
    "updated_at",
];

/// `user_configurations`, without (M09) or with (M14) its foreign key to users.
pub fn user_configurations(with_user_fk: bool) -> TableCreateStatement {
    let mut table = Table::create();
    table
        .table("user_configurations")
        .col(ColumnDef::new("user_id").uuid().not_null().primary_key())
        .col(json("config_data"))
        .col(time("created_at"))
        .col(time("updated_at"));
    if with_user_fk {
        table.foreign_key(&mut user_configurations_user_fk());
    }
    table.to_owned()
}

/// `user_configurations.user_id -> users(id) ON DELETE CASCADE` (added by M14).
pub fn user_configurations_user_fk() -> ForeignKeyCreateStatement {
    fk_user("user_configurations", "user_id")
}

/// Column names of `user_configurations`, for rebuilds.
pub const USER_CONFIGURATIONS_COLUMNS: [&str; 4] =
    ["user_id", "config_data", "created_at", "updated_at"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        create_types(manager, &[OAUTH_APP_TYPE, TENANT_ROLE]).await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("tenants")
                .col(pk("id"))
                .col(text("name"))
                .col(text("slug").unique_key())
                .col(text_null("domain").unique_key())
                .col(enum_col_default(
                    backend,
                    "plan",
                    SUBSCRIPTION_TIER,
                    "starter",
                ))
                .col(uuid("owner_user_id"))
                .col(flag("is_active", true))
                .col(time("created_at"))
                .col(time("updated_at"))
                .foreign_key(&mut fk(
                    "tenants",
                    "owner_user_id",
                    "users",
                    "id",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
            vec![
                index("tenants", &["owner_user_id"]),
                index("tenants", &["created_at", "id"]),
            ],
        )
        .await?;

        let (table, indexes) = tenant_oauth_credentials(backend, OAUTH_PROVIDER_V1);
        create_table_with_indexes(manager, table, indexes).await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("oauth_apps")
                .col(pk("id"))
                .col(text("client_id").unique_key())
                .col(text("client_secret_hash"))
                .col(text("name"))
                .col(text_null("description"))
                .col(json("redirect_uris"))
                .col(json("scopes"))
                .col(enum_col_default(
                    backend,
                    "app_type",
                    OAUTH_APP_TYPE,
                    "public",
                ))
                .col(uuid("owner_user_id"))
                .col(flag("is_active", true))
                .col(time("created_at"))
                .col(time("updated_at"))
                .foreign_key(&mut fk_user("oauth_apps", "owner_user_id"))
                .to_owned(),
            vec![index("oauth_apps", &["owner_user_id"])],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("key_versions")
                .col(pk("id"))
                .col(uuid_null("tenant_id"))
                .col(int("version"))
                .col(time("created_at"))
                .col(time_null("expires_at"))
                .col(flag("is_active", true))
                .col(text_default("algorithm", "AES-256-GCM"))
                .foreign_key(&mut fk_tenant("key_versions"))
                .to_owned(),
            // Unique per tenant, and once among the global (NULL-tenant) rows.
            vec![
                unique("key_versions", &["tenant_id", "version"])
                    .and_where(Expr::col("tenant_id").is_not_null())
                    .to_owned(),
                unique("key_versions", &["version"])
                    .name("ux_key_versions_global_version")
                    .and_where(Expr::col("tenant_id").is_null())
                    .to_owned(),
            ],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("audit_events")
                .col(pk("id"))
                .col(text("event_type"))
                .col(text("severity"))
                .col(text("message"))
                .col(text("source"))
                .col(text("result"))
                .col(uuid_null("tenant_id"))
                .col(uuid_null("user_id"))
                .col(text_null("ip_address"))
                .col(text_null("user_agent"))
                .col(json_null("metadata"))
                .col(time("timestamp"))
                .foreign_key(&mut fk_tenant("audit_events"))
                .foreign_key(&mut fk(
                    "audit_events",
                    "user_id",
                    "users",
                    "id",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
            vec![
                index("audit_events", &["tenant_id", "timestamp", "id"]),
                index("audit_events", &["user_id"]),
            ],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("tenant_users")
                .col(pk("id"))
                .col(uuid("tenant_id"))
                .col(uuid("user_id"))
                .col(enum_col_default(backend, "role", TENANT_ROLE, "member"))
                .col(json_null("permissions"))
                .col(uuid_null("invited_by"))
                .col(time("invited_at"))
                .col(time_null("joined_at"))
                .col(flag("is_active", true))
                .foreign_key(&mut fk_tenant("tenant_users"))
                .foreign_key(&mut fk_user("tenant_users", "user_id"))
                .foreign_key(&mut fk(
                    "tenant_users",
                    "invited_by",
                    "users",
                    "id",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
            vec![
                unique("tenant_users", &["tenant_id", "user_id"]),
                index("tenant_users", &["user_id"]),
                index("tenant_users", &["invited_by"]),
            ],
        )
        .await?;

        manager.create_table(user_configurations(false)).await?;

        if backend == DbBackend::Postgres {
            manager.create_foreign_key(users_tenant_fk()).await?;
            for table in EARLIER_TENANT_TABLES {
                manager.create_foreign_key(fk_tenant(table)).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for set in guarded() {
            delete_or_refuse(manager, &set).await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .drop_foreign_key(
                    ForeignKey::drop()
                        .name("fk_users_tenant_id")
                        .table("users")
                        .to_owned(),
                )
                .await?;
            for table in EARLIER_TENANT_TABLES {
                manager
                    .drop_foreign_key(
                        ForeignKey::drop()
                            .name(format!("fk_{table}_tenant_id"))
                            .table(table)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        for (table, column) in CLEARED_COLUMNS {
            manager
                .execute(
                    Query::update()
                        .table(table)
                        .value(
                            column,
                            Option::<sea_orm_migration::sea_orm::prelude::Uuid>::None,
                        )
                        .to_owned(),
                )
                .await?;
        }
        drop_tables(manager, &DROPPED_TABLES).await?;
        drop_types(manager, &[TENANT_ROLE, OAUTH_APP_TYPE]).await
    }
}

fn first_key(table: &str) -> &'static str {
    match table {
        "oauth2_auth_codes" => "code",
        "oauth2_refresh_tokens" => "token",
        "oauth2_states" => "state",
        _ => "id",
    }
}
