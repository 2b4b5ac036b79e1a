//! After M21: indexes that serve the content lists' keyset orders exactly.
//!
//! M17 indexes conversations by (tenant_id, user_id, updated_at) and
//! messages by (conversation_id, created_at). The lists page on
//! (updated_at, id) and (created_at, id): without `id` in the index, both
//! backends sort the rows that share a timestamp (SQLite: a temp B-tree
//! for the right part of the ORDER BY; PostgreSQL: an incremental sort).
//! These indexes replace M17's, which they cover.
//!
//! Recipes list newest first on M19's (tenant_id, user_id, created_at,
//! id); a list filtered by meal timing gets an index of its own, so it
//! neither sorts nor reads the user's other recipes.

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

/// (table, columns) of indexes this migration adds.
const ADDED: [(&str, &[&str]); 1] = [(
    "recipes",
    &["tenant_id", "user_id", "meal_timing", "created_at", "id"],
)];

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
        for (table, columns) in ADDED {
            manager.create_index(index(table, columns)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, columns) in ADDED {
            manager
                .drop_index(
                    Index::drop()
                        .name(name(table, columns))
                        .table(table)
                        .to_owned(),
                )
                .await?;
        }
        for (table, old, new) in INDEXES {
            manager.create_index(index(table, old)).await?;
            manager
                .drop_index(Index::drop().name(name(table, new)).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
