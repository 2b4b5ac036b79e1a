//! After M23: indexes that serve the keyset lists of users' goals,
//! insights and OAuth notifications, newest first on `(…, created_at, id)`.
//! M03's `(user_id, created_at)` indexes of goals and insights are
//! replaced by ones that end in `id`; insights filtered by type get their
//! own; notifications keep M07's `(user_id, read_at)` for the unread ones.
//! A tenant's tokens of one provider page for sync jobs on `(tenant_id,
//! provider, created_at, id)` (M06's `(tenant_id, provider)` stays, for
//! SCHEMA.md).

use sea_orm_migration::prelude::*;

use crate::builders::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, the index it replaces, the keyset index)
const REPLACED: [(&str, &[&str], &[&str]); 2] = [
    (
        "goals",
        &["user_id", "created_at"],
        &["user_id", "created_at", "id"],
    ),
    (
        "insights",
        &["user_id", "created_at"],
        &["user_id", "created_at", "id"],
    ),
];

/// (table, columns) of indexes this migration adds.
const ADDED: [(&str, &[&str]); 3] = [
    ("insights", &["user_id", "insight_type", "created_at", "id"]),
    ("oauth_notifications", &["user_id", "created_at", "id"]),
    (
        "user_oauth_tokens",
        &["tenant_id", "provider", "created_at", "id"],
    ),
];

fn drop(table: &str, columns: &[&str]) -> IndexDropStatement {
    Index::drop()
        .name(format!("idx_{table}_{}", columns.join("_")))
        .table(table.to_owned())
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, old, new) in REPLACED {
            manager.create_index(index(table, new)).await?;
            manager.drop_index(drop(table, old)).await?;
        }
        for (table, columns) in ADDED {
            manager.create_index(index(table, columns)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, columns) in ADDED {
            manager.drop_index(drop(table, columns)).await?;
        }
        for (table, old, new) in REPLACED {
            manager.create_index(index(table, old)).await?;
            manager.drop_index(drop(table, new)).await?;
        }
        Ok(())
    }
}
