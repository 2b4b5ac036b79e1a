//! M15: the legacy per-provider token columns leave `users`;
//! `user_oauth_tokens` gains `last_sync`.
//!
//! Tokens still held in the legacy columns cannot be carried over here (the
//! new table stores them encrypted under keys this crate does not hold), so
//! the migration stops and names the users whose tokens must be moved first.

use sea_orm_migration::prelude::*;

use crate::builders::*;
use crate::guard::refuse_if_any;
use crate::m20250120_000001_users_schema::{LEGACY_TOKEN_COLUMNS, legacy_token_column};

/// The columns `down` drops (it adds the legacy ones back, empty).
pub const DROPPED_COLUMNS: [(&str, &str); 1] = [("user_oauth_tokens", "last_sync")];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let any_legacy = LEGACY_TOKEN_COLUMNS
            .iter()
            .fold(Condition::any(), |cond, column| {
                cond.add(Expr::col(*column).is_not_null())
            });
        refuse_if_any(
            manager,
            Query::select()
                .column("id")
                .from("users")
                .cond_where(any_legacy)
                .to_owned(),
            "users still hold OAuth tokens in the legacy strava_/fitbit_ columns \
             (move them to user_oauth_tokens with pierre-db first)",
        )
        .await?;
        for column in LEGACY_TOKEN_COLUMNS {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("user_oauth_tokens")
                    .add_column(time_null("last_sync"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in DROPPED_COLUMNS {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        for column in LEGACY_TOKEN_COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table("users")
                        .add_column(legacy_token_column(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
