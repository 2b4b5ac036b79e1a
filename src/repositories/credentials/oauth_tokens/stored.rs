//! Reading stored token rows: by position, from the columns the SELECT
//! lists, and opened under their encryption context.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::OauthProvider;
use entity::user_oauth_tokens as tokens;
use sea_orm::{DbErr, QuerySelect, Select};
use std::sync::Arc;

use super::types::OAuthToken;
use crate::crypto::columns::{OAUTH_ACCESS_TOKEN, OAUTH_REFRESH_TOKEN};
use crate::crypto::keyring::Keyring;
use crate::error::{DatabaseError, Result, on_table};
use crate::ids::{OAuthTokenId, TenantId, UserId};
use crate::query::Ctx;
use crate::query::cells::{Decode, Row, at, decoded_rows, read_named};
use crate::query::{Checked, RunSelect};

/// The columns a token row is read from; [`StoredToken`] finds each
/// one's position in this list.
pub(super) const TOKEN_COLUMNS: [tokens::Column; 12] = [
    tokens::Column::Id,
    tokens::Column::UserId,
    tokens::Column::TenantId,
    tokens::Column::Provider,
    tokens::Column::AccessToken,
    tokens::Column::RefreshToken,
    tokens::Column::TokenType,
    tokens::Column::ExpiresAt,
    tokens::Column::Scope,
    tokens::Column::CreatedAt,
    tokens::Column::UpdatedAt,
    tokens::Column::LastSync,
];

/// A stored token row, read by position through the driver (see the
/// `cells` module); decode errors name the column.
pub(super) struct StoredToken(pub(super) tokens::Model);

decoded_rows!(StoredToken);

impl Decode for StoredToken {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        let time = |i: usize, name: &str| -> std::result::Result<_, DbErr> {
            Ok(read_named::<DateTime<Utc>>(row, i, name)?.fixed_offset())
        };
        let time_opt = |i: usize, name: &str| -> std::result::Result<_, DbErr> {
            Ok(read_named::<Option<DateTime<Utc>>>(row, i, name)?.map(|t| t.fixed_offset()))
        };
        Ok(Self(tokens::Model {
            id: read_named(row, at!(TOKEN_COLUMNS, tokens::Column::Id), "id")?,
            user_id: read_named(row, at!(TOKEN_COLUMNS, tokens::Column::UserId), "user_id")?,
            tenant_id: read_named(
                row,
                at!(TOKEN_COLUMNS, tokens::Column::TenantId),
                "tenant_id",
            )?,
            provider: read_named(
                row,
                at!(TOKEN_COLUMNS, tokens::Column::Provider),
                "provider",
            )?,
            access_token: read_named(
                row,
                at!(TOKEN_COLUMNS, tokens::Column::AccessToken),
                "access_token",
            )?,
            refresh_token: read_named(
                row,
                at!(TOKEN_COLUMNS, tokens::Column::RefreshToken),
                "refresh_token",
            )?,
            token_type: read_named(
                row,
                at!(TOKEN_COLUMNS, tokens::Column::TokenType),
                "token_type",
            )?,
            expires_at: time_opt(at!(TOKEN_COLUMNS, tokens::Column::ExpiresAt), "expires_at")?,
            scope: read_named(row, at!(TOKEN_COLUMNS, tokens::Column::Scope), "scope")?,
            created_at: time(at!(TOKEN_COLUMNS, tokens::Column::CreatedAt), "created_at")?,
            updated_at: time(at!(TOKEN_COLUMNS, tokens::Column::UpdatedAt), "updated_at")?,
            last_sync: time_opt(at!(TOKEN_COLUMNS, tokens::Column::LastSync), "last_sync")?,
        }))
    }
}

/// The token rows `select` finds.
pub(super) async fn stored(
    ctx: &Ctx<'_>,
    select: Checked<Select<tokens::Entity>>,
) -> Result<Vec<tokens::Model>> {
    Ok(select
        .select_only()
        .columns(TOKEN_COLUMNS)
        .models::<StoredToken>()
        .all_in(ctx)
        .await
        .map_err(on_table("user_oauth_tokens"))?
        .into_iter()
        .map(|row| row.0)
        .collect())
}

pub(super) async fn decrypt(
    ctx: &Ctx<'_>,
    keyring: &mut Arc<Keyring>,
    row: tokens::Model,
) -> Result<OAuthToken> {
    let tenant = Some(row.tenant_id);
    let user = Some(row.user_id);
    // Before opening: the provider is part of the encryption context, so
    // an unknown one would otherwise surface as a failed authentication.
    let known = OauthProvider::try_from(row.provider.as_str()).map_err(|_| {
        DatabaseError::Decode(format!(
            "user_oauth_tokens.provider: unknown provider {:?}",
            row.provider
        ))
    })?;
    let provider = row.provider.as_str();
    let access_token = ctx
        .open_with(
            keyring,
            &OAUTH_ACCESS_TOKEN.context(tenant, user, &[provider])?,
            &row.access_token,
        )
        .await?;
    let refresh_token = match &row.refresh_token {
        Some(sealed) => Some(
            ctx.open_with(
                keyring,
                &OAUTH_REFRESH_TOKEN.context(tenant, user, &[provider])?,
                sealed,
            )
            .await?,
        ),
        None => None,
    };
    Ok(OAuthToken {
        id: OAuthTokenId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        tenant_id: TenantId::from_uuid(row.tenant_id),
        provider: known,
        access_token,
        refresh_token,
        token_type: row.token_type,
        expires_at: row.expires_at.map(|t| t.to_utc()),
        scope: row.scope,
        last_sync: row.last_sync.map(|t| t.to_utc()),
        created_at: row.created_at.to_utc(),
        updated_at: row.updated_at.to_utc(),
    })
}

pub(super) async fn decrypt_all(
    ctx: &Ctx<'_>,
    rows: Vec<tokens::Model>,
) -> Result<Vec<OAuthToken>> {
    // One keyring for the whole list, not one lookup per value.
    let mut keyring = ctx.keyring().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(decrypt(ctx, &mut keyring, row).await?);
    }
    Ok(out)
}
