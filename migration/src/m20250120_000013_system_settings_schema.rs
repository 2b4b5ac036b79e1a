//! M13: system_settings, seeded with `auto_approval_enabled = 'false'`.

use sea_orm_migration::prelude::*;

use crate::builders::*;

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 1] = ["system_settings"];

/// The setting `up` seeds: key, value, description.
const SEED: (&str, &str, &str) = (
    "auto_approval_enabled",
    "false",
    "Approve new users automatically instead of leaving them pending",
);

/// The row `up` seeded, as it seeded it: dropping it loses nothing (an
/// operator's edit of it, e.g. `value = 'true'`, does count).
pub fn seeded() -> Condition {
    let (key, value, description) = SEED;
    Condition::all()
        .add(Expr::col("key").eq(key))
        .add(Expr::col("value").eq(value))
        // `description` may be NULL: compared only when it is not, so that
        // the condition is never NULL (its negation counts the other rows).
        .add(Expr::col("description").is_not_null())
        .add(Expr::col("description").eq(description))
}

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
                        SEED.0.into(),
                        SEED.1.into(),
                        SEED.2.into(),
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
        drop_tables(manager, &DROPPED_TABLES).await
    }
}
