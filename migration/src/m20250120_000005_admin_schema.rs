//! M05: admin_tokens, admin_token_usage, admin_provisioned_keys, system_secrets, rsa_keypairs.

use sea_orm_migration::prelude::*;

use crate::builders::*;

fn to_admin_token(table: &'static str) -> ForeignKeyCreateStatement {
    fk(
        table,
        "admin_token_id",
        "admin_tokens",
        "id",
        ForeignKeyAction::Cascade,
    )
}

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 5] = [
    "rsa_keypairs",
    "system_secrets",
    "admin_provisioned_keys",
    "admin_token_usage",
    "admin_tokens",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table_with_indexes(
            manager,
            Table::create()
                .table("admin_tokens")
                .col(pk("id"))
                .col(text("service_name"))
                .col(text_null("service_description"))
                .col(text("token_hash").unique_key())
                .col(text("token_prefix"))
                .col(text("jwt_secret_hash"))
                .col(json_default("permissions", r#"["provision_keys"]"#))
                .col(flag("is_super_admin", false))
                .col(flag("is_active", true))
                .col(time("created_at"))
                .col(time_null("expires_at"))
                .col(time_null("last_used_at"))
                .col(text_null("last_used_ip"))
                .col(bigint_default("usage_count", 0))
                .to_owned(),
            vec![index("admin_tokens", &["token_prefix"])],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("admin_token_usage")
                .col(pk("id"))
                .col(uuid("admin_token_id"))
                .col(time("timestamp"))
                .col(text("action"))
                .col(text_null("target_resource"))
                .col(text_null("ip_address"))
                .col(text_null("user_agent"))
                .col(bigint_null("request_size_bytes"))
                .col(ColumnDef::new("success").boolean().not_null())
                .col(text_null("error_message"))
                .col(int_null("response_time_ms"))
                .foreign_key(&mut to_admin_token("admin_token_usage"))
                .to_owned(),
            vec![index("admin_token_usage", &["admin_token_id", "timestamp"])],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("admin_provisioned_keys")
                .col(pk("id"))
                .col(uuid("admin_token_id"))
                .col(uuid("api_key_id"))
                .col(text("user_email"))
                .col(text("requested_tier"))
                .col(time("provisioned_at"))
                .col(text("provisioned_by_service"))
                .col(int("rate_limit_requests"))
                .col(text("rate_limit_period"))
                .col(text_default("key_status", "active"))
                .col(time_null("revoked_at"))
                .col(text_null("revoked_reason"))
                .foreign_key(&mut to_admin_token("admin_provisioned_keys"))
                .foreign_key(&mut fk(
                    "admin_provisioned_keys",
                    "api_key_id",
                    "api_keys",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            vec![
                index("admin_provisioned_keys", &["admin_token_id"]),
                index("admin_provisioned_keys", &["api_key_id"]),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("system_secrets")
                    .col(text_pk("secret_type"))
                    .col(text("secret_value"))
                    .col(time("created_at"))
                    .col(time("updated_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("rsa_keypairs")
                    .col(text_pk("kid"))
                    .col(text("private_key_pem"))
                    .col(text("public_key_pem"))
                    .col(time("created_at"))
                    .col(flag("is_active", false))
                    .col(int("key_size_bits"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await
    }
}
