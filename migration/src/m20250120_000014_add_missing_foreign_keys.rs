//! M14: a2a_clients.user_id and user_configurations.user_id reference users.
//!
//! Orphans (rows whose user no longer exists) stop the migration with their
//! ids; nothing is deleted. PostgreSQL adds the keys with ALTER TABLE; SQLite
//! rebuilds both tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::guard::refuse_if_any;
use crate::m20250120_000004_a2a_schema::{A2A_CLIENTS_COLUMNS, a2a_clients, a2a_clients_user_fk};
use crate::m20250120_000009_tenant_management_schema::{
    USER_CONFIGURATIONS_COLUMNS, user_configurations, user_configurations_user_fk,
};
use crate::rebuild::{self, rebuild_sqlite_table};

async fn rebuild_both(tx: &SchemaManager<'_>, with_user_fk: bool) -> Result<(), DbErr> {
    let (table, indexes) = a2a_clients(with_user_fk);
    rebuild_sqlite_table(tx, "a2a_clients", table, indexes, &A2A_CLIENTS_COLUMNS).await?;
    rebuild_sqlite_table(
        tx,
        "user_configurations",
        user_configurations(with_user_fk),
        vec![],
        &USER_CONFIGURATIONS_COLUMNS,
    )
    .await
}

async fn add_keys(tx: &SchemaManager<'_>) -> Result<(), DbErr> {
    for (table, key) in [("a2a_clients", "id"), ("user_configurations", "user_id")] {
        refuse_if_any(
            tx,
            Query::select()
                .column(key)
                .from(table)
                .and_where(
                    Expr::col("user_id")
                        .not_in_subquery(Query::select().column("id").from("users").to_owned()),
                )
                .to_owned(),
            &format!("{table} has rows whose user does not exist (orphans)"),
        )
        .await?;
    }
    if tx.get_database_backend() != DbBackend::Postgres {
        return rebuild_both(tx, true).await;
    }
    tx.create_foreign_key(a2a_clients_user_fk()).await?;
    tx.create_foreign_key(user_configurations_user_fk()).await
}

async fn drop_keys(tx: &SchemaManager<'_>) -> Result<(), DbErr> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return rebuild_both(tx, false).await;
    }
    for table in ["a2a_clients", "user_configurations"] {
        tx.drop_foreign_key(
            ForeignKey::drop()
                .name(format!("fk_{table}_user_id"))
                .table(table)
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tx = rebuild::begin(manager).await?;
        let outcome = add_keys(&SchemaManager::new(&tx)).await;
        rebuild::finish(manager, tx, outcome).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tx = rebuild::begin(manager).await?;
        let outcome = drop_keys(&SchemaManager::new(&tx)).await;
        rebuild::finish(manager, tx, outcome).await
    }
}
