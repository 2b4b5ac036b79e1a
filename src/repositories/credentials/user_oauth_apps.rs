//! Users' own OAuth app credentials per provider: `db.user_oauth_apps()`.
//!
//! A user may bring their own client id and secret for a provider (one row
//! per user and provider). The client secret is encrypted with the context
//! (`USER_APP_CLIENT_SECRET`: table, column, user, provider), so a secret
//! copied into another user's or provider's row fails to open, and the
//! rotation job re-encrypts it like every other sealed column.
//!
//! [`UserOAuthApps::get`] decrypts; [`UserOAuthApps::list`] returns
//! [`UserOAuthAppSummary`] rows without the secret and neither reads nor
//! decrypts it.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::OauthProvider;
use entity::user_oauth_app_credentials as creds;
use pierre_db_macros::metered;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DerivePartialModel, EntityTrait, QueryFilter};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::columns::USER_APP_CLIENT_SECRET;
use crate::crypto::secret::Secret;
use crate::error::{Result, on_table};
use crate::ids::{UserId, UserOAuthAppId};
use crate::query::Ctx;
use crate::query::{Allowed, RunSelect, RunWrite};
use crate::time;
use crate::validation::oauth::{self, ClientCredentials, provider_name};

/// A user's own OAuth app credentials for one provider, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserOAuthApp {
    /// The row id.
    pub id: UserOAuthAppId,
    /// Whose credentials they are.
    pub user_id: UserId,
    /// The provider.
    pub provider: OauthProvider,
    /// The client id of the user's app at the provider.
    pub client_id: String,
    /// The client secret, decrypted.
    pub client_secret: Secret,
    /// Where the provider sends the user back.
    pub redirect_uri: String,
    /// When they were first stored.
    pub created_at: DateTime<Utc>,
    /// When they last changed.
    pub updated_at: DateTime<Utc>,
}

/// A user's own OAuth app credentials for one provider, without the secret
/// (as [`UserOAuthApps::list`] returns them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserOAuthAppSummary {
    /// The row id.
    pub id: UserOAuthAppId,
    /// Whose credentials they are.
    pub user_id: UserId,
    /// The provider.
    pub provider: OauthProvider,
    /// The client id of the user's app at the provider.
    pub client_id: String,
    /// Where the provider sends the user back.
    pub redirect_uri: String,
    /// When they were first stored.
    pub created_at: DateTime<Utc>,
    /// When they last changed.
    pub updated_at: DateTime<Utc>,
}

/// Credentials to store with [`UserOAuthApps::store`].
#[derive(Clone, Debug)]
pub struct NewUserOAuthApp {
    /// Whose credentials they are.
    pub user_id: UserId,
    /// The provider.
    pub provider: OauthProvider,
    /// The client id (required, at most 256 characters).
    pub client_id: String,
    /// The client secret (stored encrypted).
    pub client_secret: Secret,
    /// An absolute http(s) URL.
    pub redirect_uri: String,
}

impl NewUserOAuthApp {
    /// Collects the fields.
    pub fn new(
        user_id: UserId,
        provider: OauthProvider,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            user_id,
            provider,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uri: redirect_uri.into(),
        }
    }
}

/// Users' own OAuth app credentials: `db.user_oauth_apps()`.
pub struct UserOAuthApps<'a> {
    ctx: Ctx<'a>,
}

/// Limits of a provider's client credentials.
impl UserOAuthApps<'_> {
    /// Longest OAuth client id accepted.
    pub const MAX_CLIENT_ID: usize = oauth::MAX_CLIENT_ID;
    /// Longest OAuth client secret accepted, in bytes.
    pub const MAX_CLIENT_SECRET_BYTES: usize = oauth::MAX_CLIENT_SECRET_BYTES;
    /// Longest redirect URI accepted.
    pub const MAX_REDIRECT_URI: usize = oauth::MAX_REDIRECT_URI;
}

impl<'a> UserOAuthApps<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    fn of_user(&self, user: UserId) -> sea_orm::Select<creds::Entity> {
        creds::Entity::find().filter(creds::Column::UserId.eq(user.as_uuid()))
    }

    /// Stores the user's credentials for the provider, replacing earlier
    /// ones (the replaced row keeps its id and creation time).
    ///
    /// Errors: `InvalidInput` for an unknown provider, a blank or over-long
    /// client id or secret, or a redirect URI that is not an absolute
    /// http(s) URL (nothing is written); `ForeignKey` when the user does not
    /// exist.
    ///
    /// ```
    /// use pierre_db::{Database, MasterKey, NewUser, NewUserOAuthApp, OauthProvider};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pierre_db::DatabaseError> {
    /// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
    /// # config.migrate_on_connect = true;
    /// # let db = Database::connect_with(config).await?;
    /// let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
    /// let apps = db.user_oauth_apps();
    /// apps.store(NewUserOAuthApp::new(
    ///     ada.id, OauthProvider::Fitbit, "23ABCD", "fitbit-secret", "https://pierre.example.org/cb",
    /// ))
    /// .await?;
    /// let stored = apps.get(ada.id, OauthProvider::Fitbit).await?.expect("stored");
    /// assert_eq!(stored.client_secret.expose(), "fitbit-secret");
    /// # Ok(())
    /// # }
    /// ```
    #[metered]
    #[instrument(skip_all, fields(user_id = %new.user_id, provider = ?new.provider), err(Display))]
    pub async fn store(&self, new: NewUserOAuthApp) -> Result<()> {
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
        let context = USER_APP_CLIENT_SECRET.context(
            None,
            Some(new.user_id.as_uuid()),
            &[&provider_name(provider)],
        )?;
        let now = time::stored(time::now());
        self.ctx
            .write_sealed(|keyring| {
                let row = creds::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(new.user_id.as_uuid()),
                    provider: Set(provider),
                    client_id: Set(client_id.clone()),
                    client_secret: Set(keyring.seal(&context, &new.client_secret)?),
                    redirect_uri: Set(redirect_uri.clone()),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                Ok(creds::Entity::insert(row)
                    .on_conflict(
                        OnConflict::columns([creds::Column::UserId, creds::Column::Provider])
                            .update_columns([
                                creds::Column::ClientId,
                                creds::Column::ClientSecret,
                                creds::Column::RedirectUri,
                                creds::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .checked()
                    .build(self.ctx.backend()))
            })
            .await?;
        Ok(())
    }

    /// The user's credentials for the provider, with the secret decrypted.
    /// `InvalidInput` for an unknown provider; `Crypto` when the stored
    /// secret does not open (tampered, or moved from another row).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, provider = ?provider))]
    pub async fn get(&self, user: UserId, provider: OauthProvider) -> Result<Option<UserOAuthApp>> {
        let Some(row) = self
            .of_user(user)
            .filter(creds::Column::Provider.eq(provider))
            .one_in(&self.ctx)
            .await
            .map_err(on_table("user_oauth_app_credentials"))?
        else {
            return Ok(None);
        };
        let client_secret = self
            .ctx
            .open(
                &USER_APP_CLIENT_SECRET.context(
                    None,
                    Some(row.user_id),
                    &[&provider_name(row.provider)],
                )?,
                &row.client_secret,
            )
            .await?;
        Ok(Some(UserOAuthApp {
            id: UserOAuthAppId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            provider: row.provider,
            client_id: row.client_id,
            client_secret,
            redirect_uri: row.redirect_uri,
            created_at: row.created_at.to_utc(),
            updated_at: row.updated_at.to_utc(),
        }))
    }

    /// The user's credentials for every provider, by provider name, WITHOUT the
    /// secrets: the encrypted column is neither read nor decrypted. Use
    /// [`UserOAuthApps::get`] for the one that is needed.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn list(&self, user: UserId) -> Result<Vec<UserOAuthAppSummary>> {
        let mut rows = self
            .of_user(user)
            .partial_models::<SummaryRow>()
            .all_in(&self.ctx)
            .await
            .map_err(on_table("user_oauth_app_credentials"))?;
        // At most one row per provider. Sorted here, by name: ORDER BY on
        // PostgreSQL's native enum would follow the declaration order.
        rows.sort_by_cached_key(|row| provider_name(row.provider));
        Ok(rows
            .into_iter()
            .map(|row| UserOAuthAppSummary {
                id: UserOAuthAppId::from_uuid(row.id),
                user_id: UserId::from_uuid(row.user_id),
                provider: row.provider,
                client_id: row.client_id,
                redirect_uri: row.redirect_uri,
                created_at: row.created_at.to_utc(),
                updated_at: row.updated_at.to_utc(),
            })
            .collect())
    }

    /// Deletes the user's credentials for the provider; whether there were
    /// any. `InvalidInput` for an unknown provider.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, provider = ?provider), err(Display))]
    pub async fn remove(&self, user: UserId, provider: OauthProvider) -> Result<bool> {
        let deleted = creds::Entity::delete_many()
            .filter(creds::Column::UserId.eq(user.as_uuid()))
            .filter(creds::Column::Provider.eq(provider))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }
}

/// The columns a summary needs: never the encrypted secret.
#[derive(DerivePartialModel)]
#[sea_orm(entity = "creds::Entity")]
struct SummaryRow {
    id: Uuid,
    user_id: Uuid,
    provider: OauthProvider,
    client_id: String,
    redirect_uri: String,
    created_at: sea_orm::prelude::DateTimeWithTimeZone,
    updated_at: sea_orm::prelude::DateTimeWithTimeZone,
}
