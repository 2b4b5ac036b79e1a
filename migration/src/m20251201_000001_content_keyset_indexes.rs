//! After M21: indexes that serve the chat lists' keyset orders exactly.
//!
//! M17 indexes conversations by (tenant_id, user_id, updated_at) and
//! messages by (conversation_id, created_at). The lists page on
//! (updated_at, id) and (created_at, id): without `id` in the index, both
//! backends sort the rows that share a timestamp (SQLite: a temp B-tree
//! for the right part of the ORDER BY; PostgreSQL: an incremental sort).
//! These indexes replace M17's, which they cover.

use sea_orm_migration::prelude::*;

use crate::builders::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, M17's index columns, the keyset index columns)
const INDEXES: [(&str, &[&str], &[&str]); 2] = [
    (
        "chat_conversations",
        &["tenant_id", "user_id", "updated_at"],
        &["tenant_id", "user_id", "updated_at", "id"],
    ),
    (
        "chat_messages",
        &["conversation_id", "created_at"],
        &["conversation_id", "created_at", "id"],
    ),
];

fn name(table: &str, columns: &[&str]) -> String {
    format!("idx_{table}_{}", columns.join("_"))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, old, new) in INDEXES {
            manager.create_index(index(table, new)).await?;
            manager
                .drop_index(Index::drop().name(name(table, old)).table(table).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, old, new) in INDEXES {
            manager.create_index(index(table, old)).await?;
            manager
                .drop_index(Index::drop().name(name(table, new)).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
