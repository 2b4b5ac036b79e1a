//! M07: oauth_notifications.

use sea_orm_migration::prelude::*;

use crate::builders::*;

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 1] = ["oauth_notifications"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        const T: &str = "oauth_notifications";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(T)
                .col(pk("id"))
                .col(uuid("user_id"))
                .col(text("provider"))
                .col(flag("success", true))
                .col(text("message"))
                .col(time_null("expires_at"))
                .col(time("created_at"))
                .col(time_null("read_at"))
                .foreign_key(&mut fk_user(T, "user_id"))
                .to_owned(),
            vec![index(T, &["user_id", "read_at"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await
    }
}
