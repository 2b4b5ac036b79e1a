//! After M22: impersonation's invariant and the keyset lists of the
//! privileged tables.
//!
//! - An impersonator has at most one active session: a partial unique
//!   index on `impersonator_id WHERE is_active` makes the database refuse a
//!   second, whatever the callers race.
//! - Sessions list by impersonator, by target, or all, newest first on
//!   `(…, started_at, id)`; M12's `(impersonator_id, started_at)` and
//!   `(target_user_id)` are replaced by indexes that end in `id`.
//! - The configuration audit lists per tenant on `(tenant_id, timestamp,
//!   id)`, replacing M20's `(tenant_id, timestamp)`.

use sea_orm_migration::prelude::*;

use crate::builders::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const IMP: &str = "impersonation_sessions";
const AUD: &str = "admin_config_audit";

/// (table, the index it replaces, the keyset index)
const REPLACED: [(&str, &[&str], &[&str]); 3] = [
    (
        IMP,
        &["impersonator_id", "started_at"],
        &["impersonator_id", "started_at", "id"],
    ),
    (
        IMP,
        &["target_user_id"],
        &["target_user_id", "started_at", "id"],
    ),
    (
        AUD,
        &["tenant_id", "timestamp"],
        &["tenant_id", "timestamp", "id"],
    ),
];

const ACTIVE: &str = "ux_impersonation_sessions_active_impersonator";

fn name(table: &str, columns: &[&str]) -> String {
    format!("idx_{table}_{}", columns.join("_"))
}

fn drop(table: &str, name: String) -> IndexDropStatement {
    Index::drop().name(name).table(table.to_owned()).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, old, new) in REPLACED {
            manager.create_index(index(table, new)).await?;
            manager.drop_index(drop(table, name(table, old))).await?;
        }
        manager
            .create_index(index(IMP, &["started_at", "id"]))
            .await?;
        manager
            .create_index(
                unique(IMP, &["impersonator_id"])
                    .name(ACTIVE)
                    .and_where(Expr::col("is_active").eq(true))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(drop(IMP, ACTIVE.to_owned())).await?;
        manager
            .drop_index(drop(IMP, name(IMP, &["started_at", "id"])))
            .await?;
        for (table, old, new) in REPLACED {
            manager.create_index(index(table, old)).await?;
            manager.drop_index(drop(table, name(table, new))).await?;
        }
        Ok(())
    }
}
