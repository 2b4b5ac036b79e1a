//! M11: the OAuth credential tables accept garmin, whoop and terra.
//!
//! PostgreSQL: values are added to the `oauth_provider` type; `down` swaps
//! in a narrower type. SQLite: both tables are rebuilt with the new CHECK,
//! keeping every row. `down` refuses while rows use the new providers (with
//! the operator's consent, it deletes them: see `crate::guard`).

use sea_orm_migration::prelude::extension::postgres::Type;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::enums::*;
use crate::guard::{RowSet, delete_or_refuse};
use crate::m20250120_000001_users_schema::{
    USER_OAUTH_APP_CREDENTIALS_COLUMNS, user_oauth_app_credentials,
};
use crate::m20250120_000009_tenant_management_schema::{
    TENANT_OAUTH_CREDENTIALS_COLUMNS, tenant_oauth_credentials,
};
use crate::rebuild::{self, rebuild_sqlite_table};

const TABLES: [&str; 2] = ["user_oauth_app_credentials", "tenant_oauth_credentials"];

/// The rows `down` must delete (with consent) or refuse to lose: those
/// whose provider the narrower constraint rejects.
pub fn guarded() -> Vec<RowSet> {
    TABLES
        .iter()
        .map(|table| {
            RowSet::new(
                table,
                "id",
                Condition::all().add(
                    Expr::col("provider")
                        .cast_as("text")
                        .is_not_in(OAUTH_PROVIDER_V1.values.iter().copied()),
                ),
                "with providers that the narrower constraint rejects",
            )
        })
        .collect()
}

async fn rebuild_both(tx: &SchemaManager<'_>, provider: EnumType) -> Result<(), DbErr> {
    let (table, indexes) = user_oauth_app_credentials(DbBackend::Sqlite, provider);
    rebuild_sqlite_table(
        tx,
        "user_oauth_app_credentials",
        table,
        indexes,
        &USER_OAUTH_APP_CREDENTIALS_COLUMNS,
    )
    .await?;
    let (table, indexes) = tenant_oauth_credentials(DbBackend::Sqlite, provider);
    rebuild_sqlite_table(
        tx,
        "tenant_oauth_credentials",
        table,
        indexes,
        &TENANT_OAUTH_CREDENTIALS_COLUMNS,
    )
    .await
}

async fn widen(tx: &SchemaManager<'_>) -> Result<(), DbErr> {
    if tx.get_database_backend() != DbBackend::Postgres {
        return rebuild_both(tx, OAUTH_PROVIDER_V2).await;
    }
    let added = OAUTH_PROVIDER_V2
        .values
        .iter()
        .filter(|v| !OAUTH_PROVIDER_V1.values.contains(v));
    for value in added {
        tx.alter_type(
            Type::alter()
                .name(OAUTH_PROVIDER_V2.name)
                .add_value(*value)
                .if_not_exists(),
        )
        .await?;
    }
    Ok(())
}

async fn narrow(tx: &SchemaManager<'_>) -> Result<(), DbErr> {
    for set in guarded() {
        delete_or_refuse(tx, &set).await?;
    }
    match tx.get_database_backend() {
        DbBackend::Postgres => narrow_postgres_type(tx).await,
        _ => rebuild_both(tx, OAUTH_PROVIDER_V1).await,
    }
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
        let outcome = widen(&SchemaManager::new(&tx)).await;
        rebuild::finish(manager, tx, outcome).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tx = rebuild::begin(manager).await?;
        let outcome = narrow(&SchemaManager::new(&tx)).await;
        rebuild::finish(manager, tx, outcome).await
    }
}

/// PostgreSQL cannot remove enum values: swap in a new type and convert.
async fn narrow_postgres_type(tx: &SchemaManager<'_>) -> Result<(), DbErr> {
    const WIDE: &str = "oauth_provider_wide";
    tx.alter_type(Type::alter().name(OAUTH_PROVIDER_V1.name).rename_to(WIDE))
        .await?;
    create_types(tx, &[OAUTH_PROVIDER_V1]).await?;
    for table in TABLES {
        tx.alter_table(
            Table::alter()
                .table(table)
                .modify_column(
                    ColumnDef::new("provider")
                        .custom(OAUTH_PROVIDER_V1.name)
                        .using(
                            Expr::col("provider")
                                .cast_as("text")
                                .cast_as(OAUTH_PROVIDER_V1.name),
                        ),
                )
                .to_owned(),
        )
        .await?;
    }
    tx.drop_type(Type::drop().name(WIDE).to_owned()).await
}
