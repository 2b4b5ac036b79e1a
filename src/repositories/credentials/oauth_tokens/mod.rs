//! OAuth tokens of a tenant's users for fitness providers, encrypted at rest.
//!
//! Access and refresh tokens are sealed with the context
//! (`user_oauth_tokens`, column, tenant, user, provider): a token copied into
//! another tenant's, user's or provider's row, or into the other column,
//! fails to open instead of leaking.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::OauthProvider;
use entity::user_oauth_tokens as tokens;
use pierre_db_macros::metered;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Select, UpdateMany,
};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::columns::{OAUTH_ACCESS_TOKEN, OAUTH_REFRESH_TOKEN};
use crate::crypto::keyring::Keyring;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result, on_table};
use crate::ids::UserId;
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Scoped;
use crate::query::{Checked, RunSelect, RunWrite};
use crate::query::{Prepared, expect_changed, prepared};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;
use crate::validation::oauth::provider_name;

mod across_tenants;
pub use across_tenants::*;

mod stored;
use stored::{StoredToken, TOKEN_COLUMNS, decrypt, decrypt_all, stored};

mod types;
pub use types::*;

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
    /// (one row per user, tenant and provider; `last_sync` is kept). A time
    /// outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
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
    #[metered]
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
            .decoded_one::<StoredToken>(&self.scope)
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
    #[metered]
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
    #[metered]
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
    /// many users; all of a page's tokens are decrypted with the same keys.
    #[metered]
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
    /// survive it. `NotFound` if the user has no token for the provider here. A
    /// time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
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
    #[metered]
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

    /// Records a synchronization. `NotFound` without a token. A time outside
    /// the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
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
    #[metered]
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
    #[metered]
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

keyset_order!(
    StoredToken,
    tokens::Column,
    (tokens::Column::CreatedAt, tokens::Column::Id),
    Ascending,
    |row| Position {
        at: row.0.created_at.to_utc(),
        id: row.0.id,
    },
    decoded
);
