//! M10: fitness_configurations.

use sea_orm_migration::prelude::*;

use crate::builders::*;

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 1] = ["fitness_configurations"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        const T: &str = "fitness_configurations";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(T)
                .col(pk("id"))
                .col(uuid("tenant_id"))
                .col(uuid_null("user_id"))
                .col(text_default("configuration_name", "default"))
                .col(json("config_data"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .foreign_key(&mut fk_tenant(T))
                .foreign_key(&mut fk_user(T, "user_id"))
                .to_owned(),
            // A plain UNIQUE treats NULLs as distinct, which would allow any
            // number of tenant defaults (user_id NULL) with the same name.
            // Two partial indexes make the key unique in both cases, on both
            // backends.
            vec![
                unique(T, &["tenant_id", "user_id", "configuration_name"])
                    .and_where(Expr::col("user_id").is_not_null())
                    .to_owned(),
                unique(T, &["tenant_id", "configuration_name"])
                    .name("ux_fitness_configurations_tenant_default")
                    .and_where(Expr::col("user_id").is_null())
                    .to_owned(),
                index(T, &["user_id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await
    }
}
