//! M13: system_settings, seeded with `auto_approval_enabled = 'false'`.

use sea_orm_migration::prelude::*;

use crate::builders::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("system_settings")
                    .col(text_pk("key"))
                    .col(text("value"))
                    .col(text_null("description"))
                    .col(time("created_at"))
                    .col(time("updated_at"))
                    .to_owned(),
            )
            .await?;
        let now = now();
        manager
            .execute(
                Query::insert()
                    .into_table("system_settings")
                    .columns(["key", "value", "description", "created_at", "updated_at"])
                    .values([
                        "auto_approval_enabled".into(),
                        "false".into(),
                        "Approve new users automatically instead of leaving them pending".into(),
                        now.into(),
                        now.into(),
                    ])
                    .map_err(|err| DbErr::Migration(err.to_string()))?
                    .on_conflict(OnConflict::column("key").do_nothing().to_owned())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["system_settings"]).await
    }
}
