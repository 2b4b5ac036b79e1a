//! OAuth applications registered by users: `db.oauth_apps()`.
//!
//! An app belongs to the user who registered it (not to a tenant). Its
//! client secret is generated here, returned once in clear by
//! [`OAuthApps::register`], and stored only as a SHA-256 hash
//! (`crypto::hashing`); [`OAuthApps::verify_client_secret`]
//! compares hashes in constant time.

use chrono::{DateTime, Utc};
use entity::oauth_apps as apps;
use entity::sea_orm_active_enums::OauthAppType;
use pierre_db_macros::metered;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::hashing;
use crate::crypto::legacy_hash as legacy;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::ids::{OAuthAppId, UserId};
use crate::keys::legacy_hmac;
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{expect_changed, string_list};
use crate::time;
use crate::validation;
use crate::validation::oauth;

/// Longest client id or secret [`OAuthApps::verify_client_secret`] looks at.
const MAX_CREDENTIAL_LEN: usize = 256;

/// A registered OAuth application (the secret's hash stays in the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthApp {
    /// The row id.
    pub id: OAuthAppId,
    /// The public client id.
    pub client_id: String,
    /// The name shown to people.
    pub name: String,
    /// What the app does.
    pub description: Option<String>,
    /// Where the app may receive authorization responses.
    pub redirect_uris: Vec<String>,
    /// The scopes the app may ask for.
    pub scopes: Vec<String>,
    /// Public or confidential client.
    pub app_type: OauthAppType,
    /// The user who registered the app.
    pub owner_user_id: UserId,
    /// Whether the app may be used.
    pub is_active: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<apps::Model> for OAuthApp {
    type Error = DatabaseError;

    fn try_from(m: apps::Model) -> Result<Self> {
        Ok(Self {
            id: OAuthAppId::from_uuid(m.id),
            client_id: m.client_id,
            name: m.name,
            description: m.description,
            redirect_uris: string_list("oauth_apps.redirect_uris", m.redirect_uris)?,
            scopes: string_list("oauth_apps.scopes", m.scopes)?,
            app_type: m.app_type,
            owner_user_id: UserId::from_uuid(m.owner_user_id),
            is_active: m.is_active,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        })
    }
}

/// What [`OAuthApps::register`] needs.
#[derive(Clone, Debug)]
pub struct NewOAuthApp {
    /// The registering user, who owns the app.
    pub owner: UserId,
    /// The name shown to people (required, at most 200 characters).
    pub name: String,
    /// What the app does (optional, at most 2000 characters).
    pub description: Option<String>,
    /// One to 20 absolute http(s) URLs without fragment (duplicates dropped).
    pub redirect_uris: Vec<String>,
    /// OAuth scope tokens the app may ask for (duplicates dropped).
    pub scopes: Vec<String>,
    /// Public (default) or confidential client.
    pub app_type: OauthAppType,
}

impl NewOAuthApp {
    /// A public app with one redirect URI and no scopes.
    pub fn new(owner: UserId, name: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        Self {
            owner,
            name: name.into(),
            description: None,
            redirect_uris: vec![redirect_uri.into()],
            scopes: Vec::new(),
            app_type: OauthAppType::Public,
        }
    }
}

/// A newly registered app and its client secret, in clear this one time
/// only (it is stored hashed and cannot be read back).
#[derive(Clone, Debug)]
pub struct RegisteredOAuthApp {
    /// The app.
    pub app: OAuthApp,
    /// The client secret to hand to the app's developer now.
    pub client_secret: Secret,
}

/// The OAuth applications repository: `db.oauth_apps()`.
pub struct OAuthApps<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl OAuthApps<'_> {
    /// Longest redirect URI accepted.
    pub const MAX_REDIRECT_URI: usize = oauth::MAX_REDIRECT_URI;
    /// Longest app name accepted.
    pub const MAX_NAME: usize = 200;
    /// Longest description accepted.
    pub const MAX_DESCRIPTION: usize = 2000;
    /// Most redirect URIs per app.
    pub const MAX_REDIRECT_URIS: usize = 20;
    /// Most scopes per app.
    pub const MAX_SCOPES: usize = 64;
    /// Longest scope accepted.
    pub const MAX_SCOPE_LEN: usize = 200;
    /// How every generated client id starts.
    pub const CLIENT_ID_PREFIX: &'static str = "app_";
    /// How every generated client secret starts.
    pub const CLIENT_SECRET_PREFIX: &'static str = "app_secret_";
}

impl<'a> OAuthApps<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Registers an app: generates its client id and client secret, stores
    /// the secret's hash only, and returns the secret in clear once.
    ///
    /// Errors: `InvalidInput` for a blank or over-long name or description,
    /// no redirect URI or more than 20, a redirect URI that is not an
    /// absolute http(s) URL (or has a fragment or user information), or
    /// malformed scopes; `ForeignKey` when the owner is not a user.
    ///
    /// ```
    /// use pierre_db::NewOAuthApp;
    /// use pierre_db::{Database, MasterKey, NewUser};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pierre_db::DatabaseError> {
    /// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
    /// # config.migrate_on_connect = true;
    /// # let db = Database::connect_with(config).await?;
    /// let dev = db.users().create(NewUser::new("dev@example.org", "hash")).await?;
    /// let registered = db
    ///     .oauth_apps()
    ///     .register(NewOAuthApp::new(dev.id, "Training log", "https://log.example.org/cb"))
    ///     .await?;
    /// let (client_id, secret) = (&registered.app.client_id, &registered.client_secret);
    /// assert!(db.oauth_apps().verify_client_secret(client_id, secret.expose()).await?);
    /// assert!(!db.oauth_apps().verify_client_secret(client_id, "guess").await?);
    /// # Ok(())
    /// # }
    /// ```
    #[metered]
    #[instrument(skip_all, fields(owner_id = %new.owner, client_id = tracing::field::Empty), err(Display))]
    pub async fn register(&self, new: NewOAuthApp) -> Result<RegisteredOAuthApp> {
        let name = validation::required("name", &new.name, OAuthApps::MAX_NAME)?;
        let description = validation::optional(
            "description",
            new.description.as_deref(),
            OAuthApps::MAX_DESCRIPTION,
        )?;
        let redirect_uris =
            oauth::redirect_uri_list(&new.redirect_uris, OAuthApps::MAX_REDIRECT_URIS)?;
        let scopes = oauth::scope_tokens(
            "scopes",
            &new.scopes,
            OAuthApps::MAX_SCOPES,
            OAuthApps::MAX_SCOPE_LEN,
        )?;
        let client_id = hashing::generate(OAuthApps::CLIENT_ID_PREFIX)?
            .expose()
            .to_owned();
        tracing::Span::current().record("client_id", client_id.as_str());
        let client_secret = hashing::generate(OAuthApps::CLIENT_SECRET_PREFIX)?;
        let now = time::stored(time::now());
        let row = apps::Model {
            id: Uuid::now_v7(),
            client_id,
            client_secret_hash: hashing::hash(client_secret.expose()),
            name,
            description,
            redirect_uris: serde_json::Value::from(redirect_uris),
            scopes: serde_json::Value::from(scopes),
            app_type: new.app_type,
            owner_user_id: new.owner.as_uuid(),
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        apps::Entity::insert(apps::ActiveModel::from(row.clone()).reset_all())
            .exec_without_returning_in(&self.ctx)
            .await?;
        Ok(RegisteredOAuthApp {
            app: row.try_into()?,
            client_secret,
        })
    }

    /// The app with this client id (active or not), if any.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id))]
    pub async fn get_by_client_id(&self, client_id: &str) -> Result<Option<OAuthApp>> {
        let client_id = validation::required("client_id", client_id, MAX_CREDENTIAL_LEN)?;
        apps::Entity::find()
            .filter(apps::Column::ClientId.eq(client_id))
            .one_in(&self.ctx)
            .await?
            .map(OAuthApp::try_from)
            .transpose()
    }

    /// Whether `client_secret` is the secret of the ACTIVE app `client_id`,
    /// compared in constant time. An unknown or deactivated app, a wrong,
    /// blank or over-long secret are all just `false` (never an error that
    /// would tell a caller which part was wrong); the hash is computed in
    /// every case.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id))]
    pub async fn verify_client_secret(&self, client_id: &str, client_secret: &str) -> Result<bool> {
        let client_id = client_id.trim();
        let usable = !client_id.is_empty()
            && client_id.len() <= MAX_CREDENTIAL_LEN
            && !client_secret.is_empty()
            && client_secret.len() <= MAX_CREDENTIAL_LEN;
        let stored = if usable {
            apps::Entity::find()
                .filter(apps::Column::ClientId.eq(client_id))
                .filter(apps::Column::IsActive.eq(true))
                .one_in(&self.ctx)
                .await?
                .map(|app| app.client_secret_hash)
        } else {
            None
        };
        // The original's HMAC form, in a database adopted from it: checked
        // with its key and replaced by the current form on success.
        if let Some(stored) = stored.as_deref().filter(|s| legacy::is_hmac_form(s)) {
            let Some(mac) = legacy_hmac::legacy_mac(self.ctx, client_secret).await? else {
                return Ok(false);
            };
            if !legacy::macs_match(&mac, stored) {
                return Ok(false);
            }
            self.upgrade_secret(client_id, stored, client_secret).await;
            return Ok(true);
        }
        // Without a stored hash, compare against one no input can match (not
        // hex), so the work done does not depend on whether the app exists.
        let candidate = if usable { client_secret } else { "" };
        let matched = hashing::verify(candidate, stored.as_deref().unwrap_or("-"));
        Ok(matched && stored.is_some())
    }

    /// Stores a verified legacy secret as SHA-256, if the row still holds
    /// the legacy form (a concurrent check may have upgraded it), then
    /// drops the legacy key if nothing needs it any more. The secret was
    /// verified already: a failure here is logged, and the next check
    /// tries again.
    async fn upgrade_secret(&self, client_id: &str, legacy_form: &str, secret: &str) {
        let outcome = apps::Entity::update_many()
            .col_expr(
                apps::Column::ClientSecretHash,
                Expr::value(hashing::hash(secret)),
            )
            .filter(apps::Column::ClientId.eq(client_id))
            .filter(apps::Column::ClientSecretHash.eq(legacy_form))
            .exec_in(&self.ctx)
            .await;
        let outcome = match outcome {
            Ok(_) => self.ctx.drop_unused_legacy_key().await,
            Err(err) => Err(err),
        };
        if let Err(err) = outcome {
            tracing::warn!(error = %err, "an adopted OAuth app secret was not brought to the current form");
        }
    }

    /// The apps `owner` registered (active or not), oldest first.
    #[metered]
    #[instrument(skip_all, fields(owner_id = %owner))]
    pub async fn list_for_owner(&self, owner: UserId) -> Result<Vec<OAuthApp>> {
        apps::Entity::find()
            .filter(apps::Column::OwnerUserId.eq(owner.as_uuid()))
            .order_by_asc(apps::Column::CreatedAt)
            .order_by_asc(apps::Column::Id)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(OAuthApp::try_from)
            .collect()
    }

    /// Deactivates the app, if `owner` owns it: its secret stops verifying.
    /// Deactivating an inactive app is a no-op. `NotFound` when there is no
    /// such app OR it belongs to another user (the same answer, so nobody
    /// learns which client ids exist).
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id, owner_id = %owner), err(Display))]
    pub async fn deactivate(&self, client_id: &str, owner: UserId) -> Result<()> {
        let client_id = validation::required("client_id", client_id, MAX_CREDENTIAL_LEN)?;
        let changed = apps::Entity::update_many()
            .col_expr(apps::Column::IsActive, Expr::value(false))
            .col_expr(
                apps::Column::UpdatedAt,
                Expr::value(time::stored(time::now())),
            )
            .filter(apps::Column::ClientId.eq(client_id.as_str()))
            .filter(apps::Column::OwnerUserId.eq(owner.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        expect_changed(changed, "oauth app", client_id)
    }
}
