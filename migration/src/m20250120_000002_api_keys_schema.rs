//! M02: api_keys, api_key_usage.

use sea_orm_migration::prelude::*;

use crate::builders::*;
use crate::enums::*;

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 2] = ["api_key_usage", "api_keys"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        create_types(manager, &[API_KEY_TIER]).await?;
        create_table_with_indexes(
            manager,
            Table::create()
                .table("api_keys")
                .col(pk("id"))
                .col(uuid("user_id"))
                .col(text("name"))
                .col(text_null("description"))
                .col(text("key_hash").unique_key())
                .col(text("key_prefix").unique_key())
                .col(enum_col(backend, "tier", API_KEY_TIER))
                .col(int_null("rate_limit_requests"))
                .col(int_null("rate_limit_window_seconds"))
                .col(flag("is_active", true))
                .col(time_null("expires_at"))
                .col(time_null("last_used_at"))
                .col(time("created_at"))
                .foreign_key(&mut fk_user("api_keys", "user_id"))
                .to_owned(),
            vec![
                index("api_keys", &["user_id", "created_at", "id"]),
                index("api_keys", &["expires_at"]),
            ],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("api_key_usage")
                .col(pk("id"))
                .col(uuid("api_key_id"))
                .col(time("timestamp"))
                .col(text("tool_name"))
                .col(int("status_code"))
                .col(int_null("response_time_ms"))
                .col(text_null("error_message"))
                .col(bigint_null("request_size_bytes"))
                .col(bigint_null("response_size_bytes"))
                .col(text_null("ip_address"))
                .col(text_null("user_agent"))
                .foreign_key(&mut fk(
                    "api_key_usage",
                    "api_key_id",
                    "api_keys",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            vec![index("api_key_usage", &["api_key_id", "timestamp"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await?;
        drop_types(manager, &[API_KEY_TIER]).await
    }
}
