//! M17: chat_conversations, chat_messages.

use sea_orm_migration::prelude::*;

use crate::builders::*;
use crate::enums::*;

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 2] = ["chat_messages", "chat_conversations"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        create_types(manager, &[CHAT_ROLE]).await?;

        const CONV: &str = "chat_conversations";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(CONV)
                .col(pk("id"))
                .col(uuid("user_id"))
                .col(uuid("tenant_id"))
                .col(text("title"))
                .col(text_default("model", "gemini-2.0-flash-exp"))
                .col(text_null("system_prompt"))
                .col(bigint_default("total_tokens", 0))
                .col(time("created_at"))
                .col(time("updated_at"))
                .foreign_key(&mut fk_user(CONV, "user_id"))
                .foreign_key(&mut fk_tenant(CONV))
                .to_owned(),
            vec![
                index(CONV, &["tenant_id", "user_id", "updated_at"]),
                index(CONV, &["user_id"]),
            ],
        )
        .await?;

        const MSG: &str = "chat_messages";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(MSG)
                .col(pk("id"))
                .col(uuid("conversation_id"))
                .col(enum_col(backend, "role", CHAT_ROLE))
                .col(text("content"))
                .col(int_null("token_count"))
                .col(text_null("finish_reason"))
                .col(time("created_at"))
                .foreign_key(&mut fk(
                    MSG,
                    "conversation_id",
                    CONV,
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            vec![index(MSG, &["conversation_id", "created_at"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await?;
        drop_types(manager, &[CHAT_ROLE]).await
    }
}
