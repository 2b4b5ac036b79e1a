//! M08: oauth2_clients, oauth2_auth_codes, oauth2_refresh_tokens, oauth2_states
//! (this server as an OAuth 2.0 authorization server).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::builders::*;

fn to_client(table: &'static str) -> ForeignKeyCreateStatement {
    fk(
        table,
        "client_id",
        "oauth2_clients",
        "client_id",
        ForeignKeyAction::Cascade,
    )
}

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 4] = [
    "oauth2_states",
    "oauth2_refresh_tokens",
    "oauth2_auth_codes",
    "oauth2_clients",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Forward references to M09's `tenants` on SQLite; see M01 for why.
        let sqlite = manager.get_database_backend() == DbBackend::Sqlite;

        manager
            .create_table(
                Table::create()
                    .table("oauth2_clients")
                    .col(pk("id"))
                    .col(text("client_id").unique_key())
                    .col(text("client_secret_hash"))
                    .col(json("redirect_uris"))
                    .col(json("grant_types"))
                    .col(json("response_types"))
                    .col(text_null("client_name"))
                    .col(text_null("client_uri"))
                    .col(text_null("scope"))
                    .col(time("created_at"))
                    .col(time_null("expires_at"))
                    .to_owned(),
            )
            .await?;

        const CODES: &str = "oauth2_auth_codes";
        let mut codes = Table::create();
        codes
            .table(CODES)
            .col(text_pk("code"))
            .col(text("client_id"))
            .col(uuid("user_id"))
            .col(uuid("tenant_id"))
            .col(text("redirect_uri"))
            .col(text_null("scope"))
            .col(time("expires_at"))
            .col(flag("used", false))
            .col(text_null("state"))
            .col(text_null("code_challenge"))
            .col(text_null("code_challenge_method"))
            .foreign_key(&mut to_client(CODES))
            .foreign_key(&mut fk_user(CODES, "user_id"));
        if sqlite {
            codes.foreign_key(&mut fk_tenant(CODES));
        }
        create_table_with_indexes(
            manager,
            codes.to_owned(),
            vec![
                index(CODES, &["client_id"]),
                index(CODES, &["user_id"]),
                index(CODES, &["tenant_id"]),
                index(CODES, &["expires_at"]),
            ],
        )
        .await?;

        const REFRESH: &str = "oauth2_refresh_tokens";
        let mut refresh = Table::create();
        refresh
            .table(REFRESH)
            .col(text_pk("token"))
            .col(text("client_id"))
            .col(uuid("user_id"))
            .col(uuid("tenant_id"))
            .col(text_null("scope"))
            .col(time("expires_at"))
            .col(time("created_at"))
            .col(flag("revoked", false))
            .foreign_key(&mut to_client(REFRESH))
            .foreign_key(&mut fk_user(REFRESH, "user_id"));
        if sqlite {
            refresh.foreign_key(&mut fk_tenant(REFRESH));
        }
        create_table_with_indexes(
            manager,
            refresh.to_owned(),
            vec![
                index(REFRESH, &["client_id"]),
                index(REFRESH, &["user_id"]),
                index(REFRESH, &["tenant_id"]),
                index(REFRESH, &["expires_at"]),
            ],
        )
        .await?;

        const STATES: &str = "oauth2_states";
        let mut states = Table::create();
        states
            .table(STATES)
            .col(text_pk("state"))
            .col(text("client_id"))
            .col(uuid_null("user_id"))
            .col(uuid_null("tenant_id"))
            .col(text("redirect_uri"))
            .col(text_null("scope"))
            .col(text_null("code_challenge"))
            .col(text_null("code_challenge_method"))
            .col(time("created_at"))
            .col(time("expires_at"))
            .col(flag("used", false))
            .foreign_key(&mut to_client(STATES))
            .foreign_key(&mut fk_user(STATES, "user_id"));
        if sqlite {
            states.foreign_key(&mut fk_tenant(STATES));
        }
        create_table_with_indexes(
            manager,
            states.to_owned(),
            vec![
                index(STATES, &["client_id"]),
                index(STATES, &["user_id"]),
                index(STATES, &["tenant_id"]),
                index(STATES, &["expires_at"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await
    }
}
