//! M06: user_oauth_tokens.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::builders::*;

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 1] = ["user_oauth_tokens"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        const T: &str = "user_oauth_tokens";
        let mut table = Table::create();
        table
            .table(T)
            .col(pk("id"))
            .col(uuid("user_id"))
            .col(uuid("tenant_id"))
            .col(text("provider"))
            .col(text("access_token"))
            .col(text_null("refresh_token"))
            .col(text_default("token_type", "bearer"))
            .col(time_null("expires_at"))
            .col(text_null("scope"))
            .col(time("created_at"))
            .col(time("updated_at"))
            .foreign_key(&mut fk_user(T, "user_id"));
        if manager.get_database_backend() == DbBackend::Sqlite {
            // Forward reference to M09's `tenants`; see M01 for why.
            table.foreign_key(&mut fk_tenant(T));
        }
        create_table_with_indexes(
            manager,
            table.to_owned(),
            vec![
                unique(T, &["user_id", "tenant_id", "provider"]),
                index(T, &["tenant_id", "provider"]),
                index(T, &["tenant_id", "user_id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await
    }
}
