//! Agent-to-agent clients: `db.a2a_clients()`.
//!
//! Another AI agent registers as a client of a user (its owner), linked to
//! one of the owner's API keys. The layer generates the client secret
//! (`pa2a_…`, 256 random bits), returns it once and stores its SHA-256.
//! Every call that names a client also names its owner: a client of
//! another user is `NotFound`, never read or changed.

use chrono::{DateTime, Utc};
use entity::api_keys;
use entity::{a2a_client_api_keys as links, a2a_clients as clients, a2a_sessions as sessions};
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::hashing;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::ids::{A2aClientId, ApiKeyId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{expect_changed, string_list, unsigned};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;
use crate::validation::oauth::redirect_uri_list;

/// Longest presented secret looked at.
const MAX_PRESENTED: usize = 256;

/// An A2A client (without its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct A2aClient {
    /// The row id.
    pub id: A2aClientId,
    /// The user who owns it.
    pub owner: UserId,
    /// Its name, unique per owner by convention (see [`A2aClients::get_by_name`]).
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// The agent's public key (unique).
    pub public_key: String,
    /// The scopes it may be granted, from [`A2aClients::A2A_SCOPES`].
    pub permissions: Vec<String>,
    /// What the agent says it can do.
    pub capabilities: Vec<String>,
    /// Where it may be sent back.
    pub redirect_uris: Vec<String>,
    /// Requests allowed per window.
    pub rate_limit_requests: u32,
    /// The window, in seconds.
    pub rate_limit_window_seconds: u32,
    /// Whether it may act.
    pub is_active: bool,
    /// When it registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<clients::Model> for A2aClient {
    type Error = DatabaseError;

    fn try_from(m: clients::Model) -> Result<Self> {
        Ok(Self {
            id: A2aClientId::from_uuid(m.id),
            owner: UserId::from_uuid(m.user_id),
            name: m.name,
            description: m.description,
            public_key: m.public_key,
            permissions: string_list("a2a_clients.permissions", m.permissions)?,
            capabilities: string_list("a2a_clients.capabilities", m.capabilities)?,
            redirect_uris: string_list("a2a_clients.redirect_uris", m.redirect_uris)?,
            rate_limit_requests: unsigned(
                "a2a_clients.rate_limit_requests",
                m.rate_limit_requests,
            )?,
            rate_limit_window_seconds: unsigned(
                "a2a_clients.rate_limit_window_seconds",
                m.rate_limit_window_seconds,
            )?,
            is_active: m.is_active,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        })
    }
}

/// A client to register with [`A2aClients::register`].
#[derive(Clone, Debug)]
pub struct NewA2aClient {
    /// The user who owns it.
    pub owner: UserId,
    /// The owner's API key the client acts through.
    pub api_key_id: ApiKeyId,
    /// Its name.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// The agent's public key.
    pub public_key: String,
    /// Scopes, from [`A2aClients::A2A_SCOPES`].
    pub permissions: Vec<String>,
    /// What the agent can do (identifiers).
    pub capabilities: Vec<String>,
    /// Where it may be sent back (absolute http(s) URLs).
    pub redirect_uris: Vec<String>,
    /// Requests allowed per window (default 1000).
    pub rate_limit_requests: u32,
    /// The window in seconds (default 3600).
    pub rate_limit_window_seconds: u32,
}

impl NewA2aClient {
    /// A client with the given scopes and the default rate limit.
    pub fn new(
        owner: UserId,
        api_key_id: ApiKeyId,
        name: impl Into<String>,
        public_key: impl Into<String>,
        permissions: &[&str],
    ) -> Self {
        Self {
            owner,
            api_key_id,
            name: name.into(),
            description: None,
            public_key: public_key.into(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            capabilities: Vec::new(),
            redirect_uris: Vec::new(),
            rate_limit_requests: 1000,
            rate_limit_window_seconds: 3600,
        }
    }
}

/// A client just registered, with its secret in clear this one time.
#[derive(Debug)]
pub struct RegisteredA2aClient {
    /// The stored client.
    pub client: A2aClient,
    /// The client secret to hand to the agent now.
    pub secret: Secret,
}

/// A2A clients: `db.a2a_clients()`.
///
/// ```
/// use pierre_db::{A2aClients, ApiKeyTier, Database, MasterKey, NewA2aClient, NewApiKey, NewUser};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
/// let key = db.api_keys().create(NewApiKey::new(ada.id, "agents", ApiKeyTier::Starter)).await?;
/// let registered = db
///     .a2a_clients()
///     .register(NewA2aClient::new(ada.id, key.key.id, "coach-bot", "pk-1", &["read_stats"]))
///     .await?;
/// let id = registered.client.id;
/// assert!(db.a2a_clients().verify_secret(id, registered.secret.expose()).await?);
/// db.a2a_clients().deactivate(ada.id, id).await?;
/// assert!(!db.a2a_clients().verify_secret(id, registered.secret.expose()).await?);
/// # Ok(())
/// # }
/// ```
pub struct A2aClients<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl A2aClients<'_> {
    /// The scopes an A2A client may be granted.
    pub const A2A_SCOPES: [&'static str; 7] = [
        "read_activities",
        "read_athlete",
        "read_stats",
        "read_goals",
        "write_goals",
        "analytics",
        "tasks",
    ];
    /// How every client secret starts.
    pub const CLIENT_SECRET_PREFIX: &'static str = "pa2a_";
    /// How the original Pierre server's client secrets start: an adopted
    /// database holds their hashes, and they verify like the new ones.
    pub const LEGACY_CLIENT_SECRET_PREFIX: &'static str = "a2a_secret_";
    /// Longest client name.
    pub const MAX_NAME: usize = 200;
    /// Longest description.
    pub const MAX_DESCRIPTION: usize = 2000;
    /// Longest public key.
    pub const MAX_PUBLIC_KEY: usize = 8192;
    /// Most capabilities and redirect URIs a client lists.
    pub const MAX_LIST: usize = 32;
    /// Most requests a rate-limit window may allow.
    pub const MAX_RATE_LIMIT_REQUESTS: u32 = 10_000_000;
    /// Longest rate-limit window (30 days), in seconds.
    pub const MAX_RATE_LIMIT_WINDOW_SECONDS: u32 = 30 * 24 * 3600;
}

impl<'a> A2aClients<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Registers the client and links it to its API key, in one
    /// transaction. `InvalidInput` for a blank or over-long field, an
    /// unknown scope, a bad redirect URI or a rate limit out of range;
    /// `NotFound` when the API key is not the owner's; `Conflict` for a
    /// public key registered already.
    #[metered]
    #[instrument(skip_all, fields(user_id = %new.owner, a2a_client_id = tracing::field::Empty), err(Display))]
    pub async fn register(&self, new: NewA2aClient) -> Result<RegisteredA2aClient> {
        let name = validation::required("name", &new.name, A2aClients::MAX_NAME)?;
        let description = validation::optional_multiline(
            "description",
            new.description.as_deref(),
            A2aClients::MAX_DESCRIPTION,
        )?;
        validation::secret("public_key", &new.public_key, A2aClients::MAX_PUBLIC_KEY)?;
        let public_key = new.public_key.trim();
        let permissions =
            validation::known_values("permissions", &new.permissions, &A2aClients::A2A_SCOPES)?;
        if permissions.is_empty() {
            return Err(DatabaseError::invalid(
                "permissions",
                "must grant at least one scope",
            ));
        }
        if new.capabilities.len() > A2aClients::MAX_LIST {
            return Err(DatabaseError::invalid(
                "capabilities",
                format!("more than {}", A2aClients::MAX_LIST),
            ));
        }
        let capabilities = new
            .capabilities
            .iter()
            .map(|c| validation::identifier("capabilities", c, 64))
            .collect::<Result<Vec<_>>>()?;
        // Optional here (the schema's default is []), unlike OAuth clients.
        let redirect_uris = match new.redirect_uris.is_empty() {
            true => Vec::new(),
            false => redirect_uri_list(&new.redirect_uris, A2aClients::MAX_LIST)?,
        };
        let rate_limit_requests = validation::int_range(
            "rate_limit_requests",
            new.rate_limit_requests,
            1..=A2aClients::MAX_RATE_LIMIT_REQUESTS,
        )?;
        let rate_limit_window_seconds = validation::int_range(
            "rate_limit_window_seconds",
            new.rate_limit_window_seconds,
            1..=A2aClients::MAX_RATE_LIMIT_WINDOW_SECONDS,
        )?;
        let secret = hashing::generate(A2aClients::CLIENT_SECRET_PREFIX)?;
        let now = time::stored(time::now());
        let row = clients::Model {
            id: Uuid::now_v7(),
            user_id: new.owner.as_uuid(),
            name,
            description,
            public_key: public_key.to_owned(),
            client_secret: hashing::hash(secret.expose()),
            permissions: serde_json::json!(permissions),
            capabilities: serde_json::json!(capabilities),
            redirect_uris: serde_json::json!(redirect_uris),
            rate_limit_requests,
            rate_limit_window_seconds,
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        tracing::Span::current().record("a2a_client_id", tracing::field::display(row.id));
        let (owner, key, client_id) = (new.owner, new.api_key_id, row.id);
        let insert = row.clone();
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    // The key must be the owner's: checked in the same
                    // transaction as the link that relies on it.
                    let owned = api_keys::Entity::find_by_id(key.as_uuid())
                        .filter(api_keys::Column::UserId.eq(owner.as_uuid()))
                        .select_only()
                        .column(api_keys::Column::Id)
                        .tuples::<Uuid>()
                        .one_in(&tx)
                        .await?;
                    if owned.is_none() {
                        return Err(DatabaseError::not_found("api key", key));
                    }
                    clients::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
                        clients::ActiveModel::from(insert),
                    ))
                    .exec_without_returning_in(&tx)
                    .await?;
                    links::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
                        links::ActiveModel::from(links::Model {
                            client_id,
                            api_key_id: key.as_uuid(),
                            created_at: now,
                        }),
                    ))
                    .exec_without_returning_in(&tx)
                    .await?;
                    Ok(())
                })
            })
            .await?;
        Ok(RegisteredA2aClient {
            client: row.try_into()?,
            secret,
        })
    }

    /// The client if `owner` owns it; `NotFound` otherwise.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %id, user_id = %owner))]
    pub async fn get(&self, owner: UserId, id: A2aClientId) -> Result<A2aClient> {
        clients::Entity::find_by_id(id)
            .filter(clients::Column::UserId.eq(owner.as_uuid()))
            .one_in(&self.ctx)
            .await?
            .ok_or_else(|| DatabaseError::not_found("a2a client", id))?
            .try_into()
    }

    /// The owner's client with this name, if any (the oldest, should the
    /// owner have reused a name).
    #[metered]
    #[instrument(skip_all, fields(user_id = %owner))]
    pub async fn get_by_name(&self, owner: UserId, name: &str) -> Result<Option<A2aClient>> {
        let name = validation::required("name", name, A2aClients::MAX_NAME)?;
        clients::Entity::find()
            .filter(clients::Column::UserId.eq(owner.as_uuid()))
            .filter(clients::Column::Name.eq(name))
            .order_by_asc(clients::Column::CreatedAt)
            .order_by_asc(clients::Column::Id)
            .one_in(&self.ctx)
            .await?
            .map(A2aClient::try_from)
            .transpose()
    }

    /// The active client linked to this API key, if the key is active too.
    #[metered]
    #[instrument(skip_all, fields(api_key_id = %key))]
    pub async fn get_by_api_key(&self, key: ApiKeyId) -> Result<Option<A2aClient>> {
        let linked = Query::select()
            .column(links::Column::ClientId)
            .from(links::Entity)
            .inner_join(
                api_keys::Entity,
                Expr::col((api_keys::Entity, api_keys::Column::Id))
                    .equals((links::Entity, links::Column::ApiKeyId)),
            )
            .and_where(Expr::col((links::Entity, links::Column::ApiKeyId)).eq(key.as_uuid()))
            .and_where(Expr::col((api_keys::Entity, api_keys::Column::IsActive)).eq(true))
            .to_owned();
        clients::Entity::find()
            .filter(clients::Column::Id.in_subquery(linked))
            .filter(clients::Column::IsActive.eq(true))
            .order_by_asc(clients::Column::CreatedAt)
            .one_in(&self.ctx)
            .await?
            .map(A2aClient::try_from)
            .transpose()
    }

    /// The owner's clients, oldest first, one keyset page at a time.
    #[metered]
    #[instrument(skip_all, fields(user_id = %owner, limit = request.limit()))]
    pub async fn list_for_owner(
        &self,
        owner: UserId,
        request: &PageRequest,
    ) -> Result<Page<A2aClient>> {
        let page = keyset_page::<clients::Model>(
            &self.ctx,
            &self.ctx.list("a2a_clients").by(owner),
            request,
            clients::Entity::find().filter(clients::Column::UserId.eq(owner.as_uuid())),
        )
        .await?;
        page.try_map(A2aClient::try_from)
    }

    /// Whether `secret` is the secret of client `id` and the client is
    /// active. The hashes are compared in constant time.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %id))]
    pub async fn verify_secret(&self, id: A2aClientId, secret: &str) -> Result<bool> {
        let issued = [
            A2aClients::CLIENT_SECRET_PREFIX,
            A2aClients::LEGACY_CLIENT_SECRET_PREFIX,
        ]
        .iter()
        .any(|prefix| secret.starts_with(prefix));
        if !issued || secret.len() > MAX_PRESENTED {
            return Ok(false);
        }
        let stored: Option<(String, bool)> = clients::Entity::find_by_id(id)
            .select_only()
            .column(clients::Column::ClientSecret)
            .column(clients::Column::IsActive)
            .tuples()
            .one_in(&self.ctx)
            .await?;
        Ok(matches!(stored, Some((hash, true)) if hashing::verify(secret, &hash)))
    }

    /// Deactivates the client, ends its sessions and deactivates the API
    /// keys linked to it, in ONE transaction: a failure in any step leaves
    /// all three as they were. `NotFound` if `owner` does not own it.
    /// Deactivating twice is a no-op.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %id, user_id = %owner), err(Display))]
    pub async fn deactivate(&self, owner: UserId, id: A2aClientId) -> Result<()> {
        let now = time::stored(time::now());
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let changed = clients::Entity::update_many()
                        .col_expr(clients::Column::IsActive, Expr::value(false))
                        .col_expr(clients::Column::UpdatedAt, Expr::value(now))
                        .filter(clients::Column::Id.eq(id))
                        .filter(clients::Column::UserId.eq(owner.as_uuid()))
                        .exec_in(&tx)
                        .await?
                        .rows_affected;
                    expect_changed(changed, "a2a client", id)?;
                    // Ended: expired now, so every "unexpired only" read and
                    // touch refuses them.
                    sessions::Entity::update_many()
                        .col_expr(sessions::Column::ExpiresAt, Expr::value(now))
                        .filter(sessions::Column::ClientId.eq(id))
                        .filter(sessions::Column::ExpiresAt.gt(now))
                        .exec_in(&tx)
                        .await?;
                    let linked = Query::select()
                        .column(links::Column::ApiKeyId)
                        .from(links::Entity)
                        .and_where(Expr::col(links::Column::ClientId).eq(id))
                        .to_owned();
                    api_keys::Entity::update_many()
                        .col_expr(api_keys::Column::IsActive, Expr::value(false))
                        .filter(api_keys::Column::Id.in_subquery(linked))
                        .filter(api_keys::Column::IsActive.eq(true))
                        .exec_in(&tx)
                        .await?;
                    Ok(())
                })
            })
            .await
    }
}

/// Whether the client is active and `owner`'s: the guard of every write
/// that acts for a client (sessions, tasks).
pub(super) async fn active_client(ctx: &Ctx<'_>, owner: UserId, id: Uuid) -> Result<Vec<String>> {
    // FOR SHARE (PostgreSQL; SQLite's BEGIN IMMEDIATE already excludes
    // other writers): a deactivation waits for the write this guards.
    let found: Option<(serde_json::Value, bool)> = clients::Entity::find_by_id(id)
        .filter(clients::Column::UserId.eq(owner.as_uuid()))
        .select_only()
        .column(clients::Column::Permissions)
        .column(clients::Column::IsActive)
        .lock_shared()
        .tuples()
        .one_in(ctx)
        .await?;
    match found {
        None => Err(DatabaseError::not_found("a2a client", id)),
        Some((_, false)) => Err(DatabaseError::Rejected {
            credential: "a2a client",
            reason: "inactive",
        }),
        Some((permissions, true)) => string_list("a2a_clients.permissions", permissions),
    }
}

/// `NotFound` unless `owner` owns client `id` (active or not).
pub(super) async fn owned_client(ctx: &Ctx<'_>, owner: UserId, id: Uuid) -> Result<()> {
    let found: Option<Uuid> = clients::Entity::find_by_id(id)
        .filter(clients::Column::UserId.eq(owner.as_uuid()))
        .select_only()
        .column(clients::Column::Id)
        .tuples()
        .one_in(ctx)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| DatabaseError::not_found("a2a client", id))
}

keyset_order!(
    clients::Model,
    clients::Column,
    (clients::Column::CreatedAt, clients::Column::Id),
    Ascending,
    |row| Position {
        at: row.created_at.to_utc(),
        id: row.id,
    }
);
