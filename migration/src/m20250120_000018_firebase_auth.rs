//! M18: users.firebase_uid (unique when set) and users.auth_provider.

use sea_orm_migration::prelude::*;

use crate::builders::*;

/// The columns `down` drops.
pub const DROPPED_COLUMNS: [(&str, &str); 2] =
    [("users", "auth_provider"), ("users", "firebase_uid")];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite cannot add a UNIQUE column; a unique index does the same
        // job on both backends (NULLs stay distinct, so many users have none).
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(text_null("firebase_uid"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(text_default("auth_provider", "email"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique("users", &["firebase_uid"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_users_firebase_uid")
                    .table("users")
                    .to_owned(),
            )
            .await?;
        for (table, column) in DROPPED_COLUMNS {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
