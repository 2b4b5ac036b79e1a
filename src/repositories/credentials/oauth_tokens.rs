//! OAuth tokens of a tenant's users for fitness providers, encrypted at rest.
//!
//! Access and refresh tokens are sealed with the context
//! (`user_oauth_tokens`, column, tenant, user, provider): a token copied into
//! another tenant's, user's or provider's row, or into the other column,
//! fails to open instead of leaking.

use crate::ids::OAuthTokenId;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::OauthProvider;
use entity::user_oauth_tokens as tokens;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, FromQueryResult, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, Select, UpdateMany,
};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::columns::{OAUTH_ACCESS_TOKEN, OAUTH_REFRESH_TOKEN};
use crate::crypto::keyring::Keyring;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result, on_table};
use crate::ids::{TenantId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::Scoped;
use crate::query::cells::read_named;
use crate::query::prepared;
use crate::query::{AllTenants, Checked, RunSelect, RunWrite};
use crate::query::{Prepared, expect_changed};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;
use crate::validation::oauth::provider_name;

/// A stored OAuth token, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthToken {
    /// The row id.
    pub id: OAuthTokenId,
    /// Whose token it is.
    pub user_id: UserId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The provider.
    pub provider: OauthProvider,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<Secret>,
    /// Usually `bearer`.
    pub token_type: String,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The granted scopes, as the provider wrote them.
    pub scope: Option<String>,
    /// When the provider's data was last synchronized.
    pub last_sync: Option<DateTime<Utc>>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The columns a token row is read from, in the order [`StoredToken`]
/// reads them.
const TOKEN_COLUMNS: [tokens::Column; 12] = [
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
struct StoredToken(tokens::Model);

impl FromQueryResult for StoredToken {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> std::result::Result<Self, DbErr> {
        let at = |i: usize, name: &str| -> std::result::Result<_, DbErr> {
            Ok(read_named::<DateTime<Utc>>(row, i, name)?.fixed_offset())
        };
        let at_opt = |i: usize, name: &str| -> std::result::Result<_, DbErr> {
            Ok(read_named::<Option<DateTime<Utc>>>(row, i, name)?.map(|t| t.fixed_offset()))
        };
        Ok(Self(tokens::Model {
            id: read_named(row, 0, "id")?,
            user_id: read_named(row, 1, "user_id")?,
            tenant_id: read_named(row, 2, "tenant_id")?,
            provider: read_named(row, 3, "provider")?,
            access_token: read_named(row, 4, "access_token")?,
            refresh_token: read_named(row, 5, "refresh_token")?,
            token_type: read_named(row, 6, "token_type")?,
            expires_at: at_opt(7, "expires_at")?,
            scope: read_named(row, 8, "scope")?,
            created_at: at(9, "created_at")?,
            updated_at: at(10, "updated_at")?,
            last_sync: at_opt(11, "last_sync")?,
        }))
    }
}

/// The token rows `select` finds.
async fn stored(
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

/// A token to store with [`OAuthTokens::upsert`].
#[derive(Clone, Debug)]
pub struct NewOAuthToken {
    /// Whose token it is.
    pub user_id: UserId,
    /// The provider.
    pub provider: OauthProvider,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token.
    pub refresh_token: Option<Secret>,
    /// The token type (`bearer` if unsure).
    pub token_type: String,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The granted scopes.
    pub scope: Option<String>,
}

impl NewOAuthToken {
    /// A bearer token without refresh token, expiry or scope.
    pub fn new(user_id: UserId, provider: OauthProvider, access_token: impl Into<Secret>) -> Self {
        Self {
            user_id,
            provider,
            access_token: access_token.into(),
            refresh_token: None,
            token_type: "bearer".to_owned(),
            expires_at: None,
            scope: None,
        }
    }
}

/// A tenant's OAuth tokens: `db.tenant(id).oauth_tokens()`.
pub struct OAuthTokens<'a> {
    scope: Scoped<'a>,
}

/// Limits of this repository's data.
impl OAuthTokens<'_> {
    /// Longest token accepted, in bytes.
    pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
    /// Longest scope string.
    pub const MAX_SCOPE: usize = 2000;
}

impl<'a> OAuthTokens<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Stores the user's token for the provider, replacing any earlier one
    /// (one row per user, tenant and provider; `last_sync` is kept).
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %token.user_id, provider = ?token.provider))]
    pub async fn upsert(&self, token: NewOAuthToken) -> Result<()> {
        let provider = provider_name(token.provider);
        validation::secret(
            "access_token",
            token.access_token.expose(),
            OAuthTokens::MAX_TOKEN_BYTES,
        )?;
        if let Some(refresh) = &token.refresh_token {
            validation::secret(
                "refresh_token",
                refresh.expose(),
                OAuthTokens::MAX_TOKEN_BYTES,
            )?;
        }
        let token_type =
            validation::identifier("token_type", &token.token_type.to_ascii_lowercase(), 32)?;
        let scope = validation::optional("scope", token.scope.as_deref(), OAuthTokens::MAX_SCOPE)?;
        let expires_at = token
            .expires_at
            .map(|at| time::checked("expires_at", at))
            .transpose()?;
        let now = time::stored(time::now());
        static UPSERT: Prepared = prepared!();
        self.scope
            .write_sealed(|keyring| {
                let (access, refresh) = self.seal_pair(
                    keyring,
                    token.user_id,
                    &provider,
                    &token.access_token,
                    token.refresh_token.as_ref(),
                )?;
                let row = tokens::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(token.user_id.as_uuid()),
                    provider: Set(provider.clone()),
                    access_token: Set(access),
                    refresh_token: Set(refresh),
                    token_type: Set(token_type.clone()),
                    expires_at: Set(expires_at),
                    scope: Set(scope.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    last_sync: Set(None),
                    ..Default::default()
                };
                self.scope.prepared_insert(&UPSERT, row, |insert| {
                    insert.on_conflict(
                        OnConflict::columns([
                            tokens::Column::UserId,
                            tokens::Column::TenantId,
                            tokens::Column::Provider,
                        ])
                        .update_columns([
                            tokens::Column::AccessToken,
                            tokens::Column::RefreshToken,
                            tokens::Column::TokenType,
                            tokens::Column::ExpiresAt,
                            tokens::Column::Scope,
                            tokens::Column::UpdatedAt,
                        ])
                        .to_owned(),
                    )
                })
            })
            .await?;
        Ok(())
    }

    /// The user's token for the provider, decrypted.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, provider = ?provider))]
    pub async fn get(&self, user: UserId, provider: OauthProvider) -> Result<Option<OAuthToken>> {
        let provider = provider_name(provider);
        // No LIMIT: (user, tenant, provider) is unique, and a bound
        // `LIMIT ?` makes SQLite re-prepare the statement on every call.
        static GET: Prepared = prepared!();
        let values = [user.as_uuid().into(), provider.as_str().into()];
        let statement =
            self.scope
                .prepared(&GET, values, |mine: Checked<Select<tokens::Entity>>| {
                    mine.select_only()
                        .columns(TOKEN_COLUMNS)
                        .filter(tokens::Column::UserId.eq(user.as_uuid()))
                        .filter(tokens::Column::Provider.eq(&provider))
                });
        let row = statement
            .models::<StoredToken>()
            .one_in(&self.scope)
            .await
            .map_err(on_table("user_oauth_tokens"))?;
        match row.map(|row| row.0) {
            Some(row) => {
                let mut keyring = self.scope.keyring().await?;
                Ok(Some(decrypt(&self.scope, &mut keyring, row).await?))
            }
            None => Ok(None),
        }
    }

    /// All of the user's tokens in this tenant, by provider.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user))]
    pub async fn list_for_user(&self, user: UserId) -> Result<Vec<OAuthToken>> {
        let select = self
            .scope
            .find::<tokens::Entity>()
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .order_by_asc(tokens::Column::Provider);
        let rows = stored(&self.scope, select).await?;
        decrypt_all(&self.scope, rows).await
    }

    /// Every user's token for the provider in this tenant (for sync jobs),
    /// oldest first.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), provider = ?provider))]
    pub async fn list_for_provider(&self, provider: OauthProvider) -> Result<Vec<OAuthToken>> {
        let provider = provider_name(provider);
        let select = self
            .scope
            .find::<tokens::Entity>()
            .filter(tokens::Column::Provider.eq(provider))
            .order_by_asc(tokens::Column::CreatedAt)
            .order_by_asc(tokens::Column::Id);
        let rows = stored(&self.scope, select).await?;
        decrypt_all(&self.scope, rows).await
    }

    /// [`Self::list_for_provider`] one keyset page at a time, oldest first
    /// (on `(tenant_id, provider, created_at, id)`), for sync jobs over
    /// many users; each page decrypted with one keyring.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), provider = ?provider, limit = request.limit()))]
    pub async fn list_for_provider_paged(
        &self,
        provider: OauthProvider,
        request: &PageRequest,
    ) -> Result<Page<OAuthToken>> {
        let name = provider_name(provider);
        let list = self.scope.list("user_oauth_tokens").by(&name);
        let select = self
            .scope
            .find::<tokens::Entity>()
            .select_only()
            .columns(TOKEN_COLUMNS)
            .filter(tokens::Column::Provider.eq(name));
        let page = keyset_page::<StoredToken>(&self.scope, &list, request, select).await?;
        let rows: Vec<tokens::Model> = page.items.into_iter().map(|row| row.0).collect();
        Ok(Page {
            items: decrypt_all(&self.scope, rows).await?,
            next_cursor: page.next_cursor,
            has_more: page.has_more,
        })
    }

    /// Replaces the access token after a refresh. The refresh token and the
    /// expiry are replaced when given and kept when `None`: many providers
    /// return no new refresh token on a refresh, and the stored one must
    /// survive it. `NotFound` if the user has no token for the provider here.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, provider = ?provider))]
    pub async fn refresh(
        &self,
        user: UserId,
        provider: OauthProvider,
        access_token: impl Into<Secret>,
        refresh_token: Option<Secret>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let access_token = access_token.into();
        let provider = provider_name(provider);
        validation::secret(
            "access_token",
            access_token.expose(),
            OAuthTokens::MAX_TOKEN_BYTES,
        )?;
        if let Some(refresh) = &refresh_token {
            validation::secret(
                "refresh_token",
                refresh.expose(),
                OAuthTokens::MAX_TOKEN_BYTES,
            )?;
        }
        let expires_at = expires_at
            .map(|at| time::checked("expires_at", at))
            .transpose()?;
        let changed = self
            .scope
            .write_sealed(|keyring| {
                let (access, refresh) = self.seal_pair(
                    keyring,
                    user,
                    &provider,
                    &access_token,
                    refresh_token.as_ref(),
                )?;
                let mut update = self
                    .scope
                    .update::<tokens::Entity>()
                    .col_expr(tokens::Column::AccessToken, access.into())
                    .col_expr(tokens::Column::UpdatedAt, time::stored(time::now()).into());
                if let Some(refresh) = refresh {
                    update = update.col_expr(tokens::Column::RefreshToken, Some(refresh).into());
                }
                if let Some(at) = expires_at {
                    update = update.col_expr(tokens::Column::ExpiresAt, Some(at).into());
                }
                Ok(update
                    .filter(tokens::Column::UserId.eq(user.as_uuid()))
                    .filter(tokens::Column::Provider.eq(provider.as_str()))
                    .build(self.scope.backend()))
            })
            .await?;
        expect_changed(changed, "oauth token", user)
    }

    /// When the provider's data was last synchronized for the user.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, provider = ?provider))]
    pub async fn last_sync(
        &self,
        user: UserId,
        provider: OauthProvider,
    ) -> Result<Option<DateTime<Utc>>> {
        let provider = provider_name(provider);
        let row = self
            .scope
            .find::<tokens::Entity>()
            .select_only()
            .column(tokens::Column::LastSync)
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .filter(tokens::Column::Provider.eq(provider))
            .tuples::<Option<sea_orm::prelude::DateTimeWithTimeZone>>()
            .one_in(&self.scope)
            .await
            .map_err(on_table("user_oauth_tokens"))?;
        match row {
            Some(at) => Ok(at.map(|t| t.to_utc())),
            None => Err(DatabaseError::not_found("oauth token", user)),
        }
    }

    /// Records a synchronization. `NotFound` without a token.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, provider = ?provider))]
    pub async fn update_last_sync(
        &self,
        user: UserId,
        provider: OauthProvider,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let provider = provider_name(provider);
        let update = self.scope.update::<tokens::Entity>().col_expr(
            tokens::Column::LastSync,
            Some(time::checked("at", at)?).into(),
        );
        self.update_one(user, provider, update).await
    }

    /// Deletes the user's token for the provider; whether one existed.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, provider = ?provider))]
    pub async fn delete(&self, user: UserId, provider: OauthProvider) -> Result<bool> {
        let provider = provider_name(provider);
        let deleted = self
            .scope
            .delete::<tokens::Entity>()
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .filter(tokens::Column::Provider.eq(provider))
            .exec_in(&self.scope)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// Deletes all of the user's tokens in this tenant; how many.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user))]
    pub async fn delete_all_for_user(&self, user: UserId) -> Result<u64> {
        Ok(self
            .scope
            .delete::<tokens::Entity>()
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.scope)
            .await?
            .rows_affected)
    }

    /// Runs `update` (made by the scope, so already of this tenant) on the
    /// user's row for the provider; `NotFound` when there is none.
    async fn update_one(
        &self,
        user: UserId,
        provider: String,
        update: Checked<UpdateMany<tokens::Entity>>,
    ) -> Result<()> {
        let changed = update
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .filter(tokens::Column::Provider.eq(provider))
            .exec_in(&self.scope)
            .await?
            .rows_affected;
        expect_changed(changed, "oauth token", user)
    }

    fn seal_pair(
        &self,
        keyring: &Keyring,
        user: UserId,
        provider: &str,
        access: &Secret,
        refresh: Option<&Secret>,
    ) -> Result<(String, Option<String>)> {
        let tenant = Some(self.scope.tenant().as_uuid());
        let user = Some(user.as_uuid());
        let access = keyring.seal(
            &OAUTH_ACCESS_TOKEN.context(tenant, user, &[provider])?,
            access,
        )?;
        let refresh = match refresh {
            Some(secret) => Some(keyring.seal(
                &OAUTH_REFRESH_TOKEN.context(tenant, user, &[provider])?,
                secret,
            )?),
            None => None,
        };
        Ok((access, refresh))
    }
}

async fn decrypt(
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

async fn decrypt_all(ctx: &Ctx<'_>, rows: Vec<tokens::Model>) -> Result<Vec<OAuthToken>> {
    // One keyring for the whole list, not one lookup per value.
    let mut keyring = ctx.keyring().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(decrypt(ctx, &mut keyring, row).await?);
    }
    Ok(out)
}

/// A user's OAuth tokens in every tenant: `db.across_tenants().oauth_tokens()`.
pub struct CrossTenantOAuthTokens<'a> {
    rows: AllTenants<'a>,
}

impl<'a> CrossTenantOAuthTokens<'a> {
    pub(crate) fn new(rows: AllTenants<'a>) -> Self {
        Self { rows }
    }

    /// Every token of the user, in every tenant (by tenant, then provider).
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn list_for_user(&self, user: UserId) -> Result<Vec<OAuthToken>> {
        let select = self
            .rows
            .find::<tokens::Entity>()
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .order_by_asc(tokens::Column::TenantId)
            .order_by_asc(tokens::Column::Provider);
        let rows = stored(&self.rows, select).await?;
        decrypt_all(&self.rows, rows).await
    }

    /// Deletes every token of the user in every tenant; how many.
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn delete_all_for_user(&self, user: UserId) -> Result<u64> {
        Ok(self
            .rows
            .delete::<tokens::Entity>()
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.rows)
            .await?
            .rows_affected)
    }
}

keyset_order!(
    StoredToken,
    tokens::Column,
    (tokens::Column::CreatedAt, tokens::Column::Id),
    Ascending,
    |row| Position {
        at: row.0.created_at.to_utc(),
        id: row.0.id,
    }
);
