//! M12: users.role; impersonation_sessions, permission_delegations, user_mcp_tokens.

use sea_orm_migration::prelude::*;

use crate::builders::*;
use crate::enums::*;

/// The columns `down` drops: the role, which `is_admin` only partly restores.
pub const DROPPED_COLUMNS: [(&str, &str); 1] = [("users", "role")];

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 3] = [
    "user_mcp_tokens",
    "permission_delegations",
    "impersonation_sessions",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        create_types(manager, &[USER_ROLE]).await?;
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(enum_col_default(backend, "role", USER_ROLE, "user"))
                    .to_owned(),
            )
            .await?;
        // Existing administrators keep their rights under the new column.
        manager
            .execute(
                Query::update()
                    .table("users")
                    .value("role", Expr::val("admin").as_enum(USER_ROLE.name))
                    .and_where(Expr::col("is_admin").eq(true))
                    .to_owned(),
            )
            .await?;

        const IMP: &str = "impersonation_sessions";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(IMP)
                .col(pk("id"))
                .col(uuid("impersonator_id"))
                .col(uuid("target_user_id"))
                .col(text_null("reason"))
                .col(time("started_at"))
                .col(time_null("ended_at"))
                .col(flag("is_active", true))
                .col(time("created_at"))
                .foreign_key(&mut fk_user(IMP, "impersonator_id"))
                .foreign_key(&mut fk_user(IMP, "target_user_id"))
                .to_owned(),
            vec![
                index(IMP, &["impersonator_id", "started_at"]),
                index(IMP, &["target_user_id"]),
            ],
        )
        .await?;

        const DEL: &str = "permission_delegations";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(DEL)
                .col(pk("id"))
                .col(uuid("grantor_id"))
                .col(uuid("grantee_id"))
                .col(bigint_default("permissions", 0))
                .col(time_null("expires_at"))
                .col(time_null("revoked_at"))
                .col(time("created_at"))
                .foreign_key(&mut fk_user(DEL, "grantor_id"))
                .foreign_key(&mut fk_user(DEL, "grantee_id"))
                .to_owned(),
            vec![
                unique(DEL, &["grantor_id", "grantee_id"]),
                index(DEL, &["grantee_id"]),
            ],
        )
        .await?;

        const MCP: &str = "user_mcp_tokens";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(MCP)
                .col(pk("id"))
                .col(uuid("user_id"))
                .col(text("name"))
                .col(text("token_hash").unique_key())
                .col(text("token_prefix"))
                .col(time_null("expires_at"))
                .col(time_null("last_used_at"))
                .col(bigint_default("usage_count", 0))
                .col(flag("is_revoked", false))
                .col(time("created_at"))
                .foreign_key(&mut fk_user(MCP, "user_id"))
                .to_owned(),
            vec![index(MCP, &["user_id", "created_at"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await?;
        for (table, column) in DROPPED_COLUMNS {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        drop_types(manager, &[USER_ROLE]).await
    }
}
