//! M04: a2a_clients, a2a_sessions, a2a_tasks, a2a_usage, a2a_client_api_keys.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::builders::*;
use crate::enums::*;

/// `a2a_clients`, without (M04) or with (M14) its foreign key to users.
pub fn a2a_clients(with_user_fk: bool) -> (TableCreateStatement, Vec<IndexCreateStatement>) {
    const T: &str = "a2a_clients";
    let mut table = Table::create();
    table
        .table(T)
        .col(pk("id"))
        .col(uuid("user_id"))
        .col(text("name"))
        .col(text_null("description"))
        .col(text("public_key").unique_key())
        .col(text("client_secret"))
        .col(json("permissions"))
        .col(json_default("capabilities", "[]"))
        .col(json_default("redirect_uris", "[]"))
        .col(int_default("rate_limit_requests", 1000))
        .col(int_default("rate_limit_window_seconds", 3600))
        .col(flag("is_active", true))
        .col(time("created_at"))
        .col(time("updated_at"));
    if with_user_fk {
        table.foreign_key(&mut a2a_clients_user_fk());
    }
    (table.to_owned(), vec![index(T, &["user_id"])])
}

/// `a2a_clients.user_id -> users(id) ON DELETE CASCADE` (added by M14).
pub fn a2a_clients_user_fk() -> ForeignKeyCreateStatement {
    fk_user("a2a_clients", "user_id")
}

/// Column names of `a2a_clients`, for rebuilds.
pub const A2A_CLIENTS_COLUMNS: [&str; 14] = [
    "id",
    "user_id",
    "name",
    "description",
    "public_key",
    "client_secret",
    "permissions",
    "capabilities",
    "redirect_uris",
    "rate_limit_requests",
    "rate_limit_window_seconds",
    "is_active",
    "created_at",
    "updated_at",
];

fn to_client(table: &'static str) -> ForeignKeyCreateStatement {
    fk(
        table,
        "client_id",
        "a2a_clients",
        "id",
        ForeignKeyAction::Cascade,
    )
}

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 5] = [
    "a2a_client_api_keys",
    "a2a_usage",
    "a2a_tasks",
    "a2a_sessions",
    "a2a_clients",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend: DbBackend = manager.get_database_backend();
        create_types(manager, &[TASK_STATUS]).await?;

        let (table, indexes) = a2a_clients(false);
        create_table_with_indexes(manager, table, indexes).await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("a2a_sessions")
                .col(text_pk("session_token"))
                .col(uuid("client_id"))
                .col(uuid_null("user_id"))
                .col(json("granted_scopes"))
                .col(time("expires_at"))
                .col(time("last_activity"))
                .col(time("created_at"))
                .col(bigint_default("requests_count", 0))
                .foreign_key(&mut to_client("a2a_sessions"))
                .foreign_key(&mut fk_user("a2a_sessions", "user_id"))
                .to_owned(),
            vec![
                index("a2a_sessions", &["client_id"]),
                index("a2a_sessions", &["user_id"]),
                index("a2a_sessions", &["expires_at"]),
            ],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("a2a_tasks")
                .col(pk("id"))
                .col(uuid("client_id"))
                .col(text("task_type"))
                .col(json("input_data"))
                .col(json_null("output_data"))
                .col(enum_col_default(backend, "status", TASK_STATUS, "pending"))
                .col(text_null("error_message"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .col(time_null("completed_at"))
                .foreign_key(&mut to_client("a2a_tasks"))
                .to_owned(),
            vec![
                index("a2a_tasks", &["client_id", "created_at", "id"]),
                index("a2a_tasks", &["status"]),
            ],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("a2a_usage")
                .col(pk("id"))
                .col(uuid("client_id"))
                .col(text_null("session_token"))
                .col(time("timestamp"))
                .col(text("tool_name"))
                .col(int_null("response_time_ms"))
                .col(int("status_code"))
                .col(text_null("error_message"))
                .col(bigint_null("request_size_bytes"))
                .col(bigint_null("response_size_bytes"))
                .col(text_null("ip_address"))
                .col(text_null("user_agent"))
                .col(text_default("protocol_version", "1.0"))
                .col(json_default("client_capabilities", "[]"))
                .col(json_default("granted_scopes", "[]"))
                .foreign_key(&mut to_client("a2a_usage"))
                .foreign_key(&mut fk(
                    "a2a_usage",
                    "session_token",
                    "a2a_sessions",
                    "session_token",
                    ForeignKeyAction::SetNull,
                ))
                .to_owned(),
            vec![
                index("a2a_usage", &["client_id", "timestamp"]),
                index("a2a_usage", &["session_token"]),
            ],
        )
        .await?;

        create_table_with_indexes(
            manager,
            Table::create()
                .table("a2a_client_api_keys")
                .col(uuid("client_id"))
                .col(uuid("api_key_id"))
                .col(time("created_at"))
                .primary_key(Index::create().col("client_id").col("api_key_id"))
                .foreign_key(&mut to_client("a2a_client_api_keys"))
                .foreign_key(&mut fk(
                    "a2a_client_api_keys",
                    "api_key_id",
                    "api_keys",
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            vec![index("a2a_client_api_keys", &["api_key_id"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await?;
        drop_types(manager, &[TASK_STATUS]).await
    }
}
