//! M03: jwt_usage, goals, insights, request_logs.

use sea_orm_migration::prelude::*;

use crate::builders::*;

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 4] = ["request_logs", "insights", "goals", "jwt_usage"];

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
                .table("jwt_usage")
                .col(pk("id"))
                .col(uuid("user_id"))
                .col(time("timestamp"))
                .col(text("endpoint"))
                .col(text("method"))
                .col(int("status_code"))
                .col(int_null("response_time_ms"))
                .col(bigint_null("request_size_bytes"))
                .col(bigint_null("response_size_bytes"))
                .col(text_null("ip_address"))
                .col(text_null("user_agent"))
                .foreign_key(&mut fk_user("jwt_usage", "user_id"))
                .to_owned(),
            vec![index("jwt_usage", &["user_id", "timestamp"])],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("goals")
                .col(pk("id"))
                .col(uuid("user_id"))
                .col(json("goal_data"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .foreign_key(&mut fk_user("goals", "user_id"))
                .to_owned(),
            vec![index("goals", &["user_id", "created_at"])],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("insights")
                .col(pk("id"))
                .col(uuid("user_id"))
                .col(text_null("activity_id"))
                .col(text("insight_type"))
                .col(json("insight_data"))
                .col(time("created_at"))
                .foreign_key(&mut fk_user("insights", "user_id"))
                .to_owned(),
            vec![index("insights", &["user_id", "created_at"])],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("request_logs")
                .col(pk("id"))
                .col(uuid_null("user_id"))
                .col(uuid_null("api_key_id"))
                .col(time("timestamp"))
                .col(text("method"))
                .col(text("endpoint"))
                .col(int("status_code"))
                .col(int_null("response_time_ms"))
                .col(text_null("error_message"))
                .foreign_key(&mut fk_user("request_logs", "user_id"))
                .foreign_key(&mut fk(
                    "request_logs",
                    "api_key_id",
                    "api_keys",
                    "id",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
            vec![
                index("request_logs", &["user_id", "timestamp"]),
                index("request_logs", &["api_key_id"]),
                index("request_logs", &["timestamp", "id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await
    }
}
