//! A tenant's own OAuth client credentials per provider (tenant-scoped):
//! `db.tenant(id).oauth_credentials()`.
//!
//! The client secret is encrypted with the context
//! (`TENANT_CLIENT_SECRET`: table, column, tenant, provider), so a secret
//! copied into another tenant's or provider's row fails to open, and the
//! rotation job re-encrypts it like every other sealed column.
//!
//! [`TenantOAuthCredentials::get`] decrypts; [`TenantOAuthCredentials::list`]
//! returns [`TenantOAuthCredentialSummary`] rows without the secret and
//! neither reads nor decrypts it.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::OauthProvider;
use entity::tenant_oauth_credentials as creds;
use pierre_db_macros::metered;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DerivePartialModel, QueryFilter};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::columns::TENANT_CLIENT_SECRET;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result, on_table};
use crate::ids::{TenantId, TenantOAuthCredentialId};
use crate::query::Scoped;
use crate::query::{RunSelect, RunWrite};
use crate::query::{string_list, unsigned_opt};
use crate::time;
use crate::validation::oauth::{self, ClientCredentials, provider_name};

/// A tenant's OAuth client credentials for one provider, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantOAuthCredential {
    /// The row id.
    pub id: TenantOAuthCredentialId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The provider.
    pub provider: OauthProvider,
    /// The client id the provider issued to the tenant.
    pub client_id: String,
    /// The client secret, decrypted.
    pub client_secret: Secret,
    /// Where the provider sends users back.
    pub redirect_uri: String,
    /// The scopes requested from the provider.
    pub scopes: Vec<String>,
    /// Calls to the provider allowed per day (`None`: no limit).
    pub rate_limit_per_day: Option<u32>,
    /// Whether the credentials are in use.
    pub is_active: bool,
    /// When they were first stored.
    pub created_at: DateTime<Utc>,
    /// When they last changed.
    pub updated_at: DateTime<Utc>,
}

/// A tenant's OAuth client credentials for one provider, without the
/// secret (as [`TenantOAuthCredentials::list`] returns them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantOAuthCredentialSummary {
    /// The row id.
    pub id: TenantOAuthCredentialId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The provider.
    pub provider: OauthProvider,
    /// The client id the provider issued to the tenant.
    pub client_id: String,
    /// Where the provider sends users back.
    pub redirect_uri: String,
    /// The scopes requested from the provider.
    pub scopes: Vec<String>,
    /// Calls to the provider allowed per day (`None`: no limit).
    pub rate_limit_per_day: Option<u32>,
    /// Whether the credentials are in use.
    pub is_active: bool,
    /// When they were first stored.
    pub created_at: DateTime<Utc>,
    /// When they last changed.
    pub updated_at: DateTime<Utc>,
}

/// Credentials to store with [`TenantOAuthCredentials::upsert`].
#[derive(Clone, Debug)]
pub struct NewTenantOAuthCredential {
    /// The provider.
    pub provider: OauthProvider,
    /// The client id (required, at most 256 characters).
    pub client_id: String,
    /// The client secret (stored encrypted).
    pub client_secret: Secret,
    /// An absolute http(s) URL.
    pub redirect_uri: String,
    /// OAuth scope tokens (duplicates dropped).
    pub scopes: Vec<String>,
    /// Calls allowed per day (`None`: no limit; at most `i32::MAX`).
    pub rate_limit_per_day: Option<u32>,
}

impl NewTenantOAuthCredential {
    /// Credentials without scopes and with the default daily limit (1000).
    pub fn new(
        provider: OauthProvider,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            provider,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: redirect_uri.into(),
            scopes: Vec::new(),
            rate_limit_per_day: Some(TenantOAuthCredentials::DEFAULT_RATE_LIMIT_PER_DAY),
        }
    }
}

/// The columns a summary needs: never the encrypted secret.
#[derive(DerivePartialModel)]
#[sea_orm(entity = "creds::Entity")]
struct SummaryRow {
    id: Uuid,
    tenant_id: Uuid,
    provider: OauthProvider,
    client_id: String,
    redirect_uri: String,
    scopes: serde_json::Value,
    rate_limit_per_day: Option<i32>,
    is_active: bool,
    created_at: sea_orm::prelude::DateTimeWithTimeZone,
    updated_at: sea_orm::prelude::DateTimeWithTimeZone,
}

/// A tenant's OAuth client credentials: `db.tenant(id).oauth_credentials()`.
pub struct TenantOAuthCredentials<'a> {
    scope: Scoped<'a>,
}

/// Limits of a provider's client credentials.
impl TenantOAuthCredentials<'_> {
    /// Longest OAuth client id accepted.
    pub const MAX_CLIENT_ID: usize = oauth::MAX_CLIENT_ID;
    /// Longest OAuth client secret accepted, in bytes.
    pub const MAX_CLIENT_SECRET_BYTES: usize = oauth::MAX_CLIENT_SECRET_BYTES;
    /// Longest redirect URI accepted.
    pub const MAX_REDIRECT_URI: usize = oauth::MAX_REDIRECT_URI;
}

/// Limits and fixed values of this repository's data.
impl TenantOAuthCredentials<'_> {
    /// Most scopes per credential.
    pub const MAX_SCOPES: usize = 64;
    /// Longest scope accepted.
    pub const MAX_SCOPE_LEN: usize = 200;
    /// The daily rate limit [`NewTenantOAuthCredential::new`] sets.
    pub const DEFAULT_RATE_LIMIT_PER_DAY: u32 = 1000;
}

impl<'a> TenantOAuthCredentials<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Stores the tenant's credentials for the provider, replacing any
    /// earlier ones (one row per tenant and provider; the replaced row keeps
    /// its id and creation time and becomes active again).
    ///
    /// Errors: `InvalidInput` for an unknown provider, a blank or over-long
    /// client id or secret, a redirect URI that is not an absolute http(s)
    /// URL, malformed scopes or a rate limit above `i32::MAX` (nothing is
    /// written); `ForeignKey` when the tenant does not exist.
    ///
    /// ```
    /// use pierre_db::NewTenantOAuthCredential;
    /// # use pierre_db::NewTenant;
    /// # use pierre_db::{Database, MasterKey, NewUser};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pierre_db::DatabaseError> {
    /// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
    /// # config.migrate_on_connect = true;
    /// # let db = Database::connect_with(config).await?;
    /// # let owner = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
    /// # let tenant = db.tenants().create(NewTenant::new("Acme", "acme", owner.id)).await?;
    /// let credentials = db.tenant(tenant.id).oauth_credentials();
    /// let mut new = NewTenantOAuthCredential::new(
    ///     pierre_db::OauthProvider::Strava, "12345", "client-secret", "https://acme.example.org/oauth/strava");
    /// new.scopes = vec!["read".into(), "activity:read_all".into()];
    /// credentials.upsert(new).await?;
    /// let stored = credentials.get(pierre_db::OauthProvider::Strava).await?.expect("stored");
    /// assert_eq!(stored.client_secret.expose(), "client-secret");
    /// assert_eq!(stored.scopes, ["read", "activity:read_all"]);
    /// # Ok(())
    /// # }
    /// ```
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), provider = ?new.provider), err(Display))]
    pub async fn upsert(&self, new: NewTenantOAuthCredential) -> Result<()> {
        let ClientCredentials {
            provider,
            client_id,
            redirect_uri,
        } = oauth::client_credentials(
            new.provider,
            &new.client_id,
            &new.client_secret,
            &new.redirect_uri,
        )?;
        let scopes = oauth::scope_tokens(
            "scopes",
            &new.scopes,
            TenantOAuthCredentials::MAX_SCOPES,
            TenantOAuthCredentials::MAX_SCOPE_LEN,
        )?;
        let rate_limit = new
            .rate_limit_per_day
            .map(|limit| {
                i32::try_from(limit)
                    .map_err(|_| DatabaseError::invalid("rate_limit_per_day", "too large"))
            })
            .transpose()?;
        let context = TENANT_CLIENT_SECRET.context(
            Some(self.scope.tenant().as_uuid()),
            None,
            &[&provider_name(provider)],
        )?;
        let now = time::stored(time::now());
        let scopes = serde_json::Value::from(scopes);
        self.scope
            .write_sealed(|keyring| {
                let row = creds::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    provider: Set(provider),
                    client_id: Set(client_id.clone()),
                    client_secret_encrypted: Set(keyring.seal(&context, &new.client_secret)?),
                    redirect_uri: Set(redirect_uri.clone()),
                    scopes: Set(scopes.clone()),
                    rate_limit_per_day: Set(rate_limit),
                    is_active: Set(true),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                };
                Ok(self
                    .scope
                    .insert(row)?
                    .on_conflict(
                        OnConflict::columns([creds::Column::TenantId, creds::Column::Provider])
                            .update_columns([
                                creds::Column::ClientId,
                                creds::Column::ClientSecretEncrypted,
                                creds::Column::RedirectUri,
                                creds::Column::Scopes,
                                creds::Column::RateLimitPerDay,
                                creds::Column::IsActive,
                                creds::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .build(self.scope.backend()))
            })
            .await?;
        Ok(())
    }

    /// The tenant's credentials for the provider, with the secret
    /// decrypted. `InvalidInput` for an unknown provider; `Crypto` when the
    /// stored secret does not open (tampered, or moved from another row).
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), provider = ?provider))]
    pub async fn get(&self, provider: OauthProvider) -> Result<Option<TenantOAuthCredential>> {
        let Some(row) = self
            .scope
            .find::<creds::Entity>()
            .filter(creds::Column::Provider.eq(provider))
            .one_in(&self.scope)
            .await
            .map_err(on_table("tenant_oauth_credentials"))?
        else {
            return Ok(None);
        };
        let client_secret = self
            .scope
            .open(
                &TENANT_CLIENT_SECRET.context(
                    Some(row.tenant_id),
                    None,
                    &[&provider_name(row.provider)],
                )?,
                &row.client_secret_encrypted,
            )
            .await?;
        Ok(Some(TenantOAuthCredential {
            id: TenantOAuthCredentialId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            provider: row.provider,
            client_id: row.client_id,
            client_secret,
            redirect_uri: row.redirect_uri,
            scopes: string_list("tenant_oauth_credentials.scopes", row.scopes)?,
            rate_limit_per_day: unsigned_opt(
                "tenant_oauth_credentials.rate_limit_per_day",
                row.rate_limit_per_day,
            )?,
            is_active: row.is_active,
            created_at: row.created_at.to_utc(),
            updated_at: row.updated_at.to_utc(),
        }))
    }

    /// The tenant's credentials for every provider, by provider name, WITHOUT
    /// the secrets: the encrypted column is neither read nor decrypted. Use
    /// [`TenantOAuthCredentials::get`] for the one that is needed.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant()))]
    pub async fn list(&self) -> Result<Vec<TenantOAuthCredentialSummary>> {
        let mut rows = self
            .scope
            .find::<creds::Entity>()
            .partial_models::<SummaryRow>()
            .all_in(&self.scope)
            .await
            .map_err(on_table("tenant_oauth_credentials"))?;
        // At most one row per provider. Sorted here, by name: ORDER BY on
        // PostgreSQL's native enum would follow the declaration order.
        rows.sort_by_cached_key(|row| provider_name(row.provider));
        rows.into_iter()
            .map(|row| {
                Ok(TenantOAuthCredentialSummary {
                    id: TenantOAuthCredentialId::from_uuid(row.id),
                    tenant_id: TenantId::from_uuid(row.tenant_id),
                    provider: row.provider,
                    client_id: row.client_id,
                    redirect_uri: row.redirect_uri,
                    scopes: string_list("tenant_oauth_credentials.scopes", row.scopes)?,
                    rate_limit_per_day: unsigned_opt(
                        "tenant_oauth_credentials.rate_limit_per_day",
                        row.rate_limit_per_day,
                    )?,
                    is_active: row.is_active,
                    created_at: row.created_at.to_utc(),
                    updated_at: row.updated_at.to_utc(),
                })
            })
            .collect()
    }

    /// Deletes the tenant's credentials for the provider; whether there
    /// were any. `InvalidInput` for an unknown provider.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), provider = ?provider), err(Display))]
    pub async fn delete(&self, provider: OauthProvider) -> Result<bool> {
        let deleted = self
            .scope
            .delete::<creds::Entity>()
            .filter(creds::Column::Provider.eq(provider))
            .exec_in(&self.scope)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }
}
