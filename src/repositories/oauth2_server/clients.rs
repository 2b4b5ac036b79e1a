//! The authorization server's registered clients: `db.oauth2_clients()`.
//!
//! Clients are global (an MCP client serves every tenant). The client id
//! and a 256-bit client secret are generated here; the secret is returned
//! once by [`OAuth2Clients::register`] and stored only as its SHA-256.

use chrono::{DateTime, Duration, Utc};
use entity::oauth2_clients as clients;
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use tracing::instrument;
use uuid::Uuid;

use super::rules::{self};
use crate::crypto::secret::Secret;
use crate::crypto::{hashing, legacy_hash};
use crate::error::{DatabaseError, Result};
use crate::ids::OAuth2ClientId;
use crate::query::Ctx;
use crate::query::cells::{Cell, Decode, Row, at, read_time, read_time_opt};
use crate::query::{Prepared, prepared, string_list};
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::time;
use crate::validation;
use crate::validation::oauth::{MAX_REDIRECT_URI, redirect_uri_list};

/// A registered client (its secret's hash stays in the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2Client {
    /// The row id.
    pub id: OAuth2ClientId,
    /// The public client id.
    pub client_id: String,
    /// Where authorization responses may be sent.
    pub redirect_uris: Vec<String>,
    /// The grant types it may use.
    pub grant_types: Vec<String>,
    /// The response types it may ask for.
    pub response_types: Vec<String>,
    /// The name shown to people.
    pub client_name: Option<String>,
    /// The client's home page.
    pub client_uri: Option<String>,
    /// The scopes it may ask for (space-separated), if limited.
    pub scope: Option<String>,
    /// When it registered.
    pub created_at: DateTime<Utc>,
    /// When it stops being usable (deactivation sets this to the time of
    /// deactivation).
    pub expires_at: Option<DateTime<Utc>>,
}

impl OAuth2Client {
    /// Whether the client may be used at `now`. Any time is accepted, outside
    /// the years 0000–9999 too: nothing is stored or queried.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl TryFrom<clients::Model> for OAuth2Client {
    type Error = DatabaseError;

    fn try_from(m: clients::Model) -> Result<Self> {
        Ok(Self {
            id: OAuth2ClientId::from_uuid(m.id),
            client_id: m.client_id,
            redirect_uris: string_list("oauth2_clients.redirect_uris", m.redirect_uris)?,
            grant_types: string_list("oauth2_clients.grant_types", m.grant_types)?,
            response_types: string_list("oauth2_clients.response_types", m.response_types)?,
            client_name: m.client_name,
            client_uri: m.client_uri,
            scope: m.scope,
            created_at: m.created_at.to_utc(),
            expires_at: m.expires_at.map(|at| at.to_utc()),
        })
    }
}

/// What [`OAuth2Clients::register`] needs.
#[derive(Clone, Debug)]
pub struct NewOAuth2Client {
    /// One to 20 absolute http(s) URLs (duplicates dropped).
    pub redirect_uris: Vec<String>,
    /// From `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// From `code`.
    pub response_types: Vec<String>,
    /// The name shown to people.
    pub client_name: Option<String>,
    /// The client's home page (an http(s) URL).
    pub client_uri: Option<String>,
    /// The scopes it may ask for (space-separated), if limited.
    pub scope: Option<String>,
    /// How long the registration lasts; `None` is until deactivated.
    pub ttl: Option<Duration>,
}

impl NewOAuth2Client {
    /// A client of the authorization-code flow with refresh tokens, with
    /// one redirect URI.
    pub fn new(redirect_uri: impl Into<String>) -> Self {
        Self {
            redirect_uris: vec![redirect_uri.into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            client_name: None,
            client_uri: None,
            scope: None,
            ttl: None,
        }
    }
}

/// A newly registered client and its secret, in clear this one time only.
#[derive(Clone, Debug)]
pub struct RegisteredOAuth2Client {
    /// The client.
    pub client: OAuth2Client,
    /// The client secret to hand to the client now.
    pub client_secret: Secret,
}

/// The authorization server's clients: `db.oauth2_clients()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewOAuth2Client};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let registered = db
///     .oauth2_clients()
///     .register(NewOAuth2Client::new("https://claude.example/callback"))
///     .await?;
/// let id = &registered.client.client_id;
/// let secret = registered.client_secret.expose();
/// assert!(db.oauth2_clients().verify_secret(id, secret).await?.is_some());
/// assert!(db.oauth2_clients().verify_secret(id, "guess").await?.is_none());
/// # Ok(())
/// # }
/// ```
pub struct OAuth2Clients<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl OAuth2Clients<'_> {
    /// Most redirect URIs per client.
    pub const MAX_REDIRECT_URIS: usize = 20;
    /// Longest client name or client URI.
    pub const MAX_CLIENT_NAME: usize = 200;
    /// How every generated client id starts.
    pub const CLIENT_ID_PREFIX: &'static str = "mcp_";
    /// How every generated client secret starts.
    pub const CLIENT_SECRET_PREFIX: &'static str = "mcp_secret_";
    /// The longest lifetime accepted for anything issued here.
    pub const MAX_TTL: Duration = Duration::days(365);
    /// The grant types a client may register.
    pub const GRANT_TYPES: [&'static str; 3] =
        ["authorization_code", "refresh_token", "client_credentials"];
    /// The response types a client may register.
    pub const RESPONSE_TYPES: [&'static str; 1] = ["code"];
    /// The only PKCE method accepted (`plain` is refused, RFC 7636 §7.2).
    pub const PKCE_METHOD: &'static str = "S256";
    /// Most scopes in one scope string.
    pub const MAX_SCOPES: usize = 64;
    /// Longest single scope.
    pub const MAX_SCOPE_LEN: usize = 200;
}

impl<'a> OAuth2Clients<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Registers a client: generates its id and secret, stores the secret's
    /// hash only, and returns the secret in clear once. `InvalidInput` for
    /// no or too many redirect URIs, a URI that is not an absolute http(s)
    /// URL, an unknown grant or response type, a malformed scope, or a
    /// lifetime that is not positive.
    #[metered]
    #[instrument(skip_all, fields(client_id = tracing::field::Empty), err(Display))]
    pub async fn register(&self, new: NewOAuth2Client) -> Result<RegisteredOAuth2Client> {
        let redirect_uris =
            redirect_uri_list(&new.redirect_uris, OAuth2Clients::MAX_REDIRECT_URIS)?;
        let grant_types =
            rules::known_list("grant_types", &new.grant_types, &OAuth2Clients::GRANT_TYPES)?;
        let response_types = rules::known_list(
            "response_types",
            &new.response_types,
            &OAuth2Clients::RESPONSE_TYPES,
        )?;
        let client_name = validation::optional(
            "client_name",
            new.client_name.as_deref(),
            OAuth2Clients::MAX_CLIENT_NAME,
        )?;
        let client_uri = new
            .client_uri
            .as_deref()
            .map(|uri| validation::http_url("client_uri", uri, MAX_REDIRECT_URI))
            .transpose()?;
        let scope = rules::scope(new.scope.as_deref())?;
        let now = time::now();
        let expires_at = new
            .ttl
            .map(|ttl| rules::expiry(now, Some(ttl), ttl))
            .transpose()?;
        let client_id = hashing::generate(OAuth2Clients::CLIENT_ID_PREFIX)?
            .expose()
            .to_owned();
        tracing::Span::current().record("client_id", client_id.as_str());
        let client_secret = hashing::generate(OAuth2Clients::CLIENT_SECRET_PREFIX)?;
        let row = clients::Model {
            id: Uuid::now_v7(),
            client_id,
            client_secret_hash: hashing::hash(client_secret.expose()),
            redirect_uris: serde_json::Value::from(redirect_uris),
            grant_types: serde_json::Value::from(grant_types),
            response_types: serde_json::Value::from(response_types),
            client_name,
            client_uri,
            scope,
            created_at: time::stored(now),
            expires_at: expires_at.map(time::stored),
        };
        clients::Entity::insert(clients::ActiveModel::from(row.clone()).reset_all())
            .exec_without_returning_in(&self.ctx)
            .await?;
        Ok(RegisteredOAuth2Client {
            client: row.try_into()?,
            client_secret,
        })
    }

    /// The client with this id (active or not), if any.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id))]
    pub async fn get(&self, client_id: &str) -> Result<Option<OAuth2Client>> {
        if !rules::presentable(client_id) {
            return Ok(None);
        }
        self.row(client_id)
            .await?
            .map(OAuth2Client::try_from)
            .transpose()
    }

    /// The client if `client_secret` is the secret of the ACTIVE client
    /// `client_id`, compared in constant time. Unknown, expired or
    /// deactivated clients and wrong secrets are all `None`; the hash is
    /// computed in every case.
    ///
    /// A secret still stored in the original server's Argon2id form (an
    /// adopted database) is checked in that form and, when it matches,
    /// replaced by this crate's form in the same call. That check is
    /// slower (tens of milliseconds, on a blocking thread), so until its
    /// first use such a client answers measurably later than others. That check needs the
    /// `adopt` feature: without it such a client is
    /// [`DatabaseError::Unsupported`], never a silent `None`.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id))]
    pub async fn verify_secret(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Option<OAuth2Client>> {
        let now = time::stored(time::now());
        let stored = if rules::presentable(client_id) {
            self.row(client_id)
                .await?
                .filter(|row| row.expires_at.is_none_or(|at| at > now))
        } else {
            None
        };
        let candidate = if rules::presentable(client_secret) {
            client_secret
        } else {
            ""
        };
        // Without a stored hash, compare against one no input can match, so
        // the work done does not tell whether the client exists.
        let hash = stored.as_ref().map_or("-", |row| &row.client_secret_hash);
        match legacy_hash::Form::of(hash) {
            None if !hashing::verify(candidate, hash) => return Ok(None),
            None => {}
            Some(form) => {
                if !legacy_hash::verify(form, candidate, hash).await? {
                    return Ok(None);
                }
                // The secret is right whether or not the upgrade lands (a
                // busy writer, a read-only connection): the next
                // verification tries again.
                if let Err(err) = self.upgrade_secret(client_id, hash, candidate).await {
                    tracing::warn!(error = %err, "the legacy client secret hash was not upgraded");
                }
            }
        }
        stored.map(OAuth2Client::try_from).transpose()
    }

    /// Replaces a legacy hash that just verified with this crate's form,
    /// only if it is still the stored one: of several callers verifying
    /// at once, one writes, and none overwrites a secret changed meanwhile.
    async fn upgrade_secret(&self, client_id: &str, legacy: &str, secret: &str) -> Result<()> {
        clients::Entity::update_many()
            .col_expr(
                clients::Column::ClientSecretHash,
                Expr::value(hashing::hash(secret)),
            )
            .filter(clients::Column::ClientId.eq(client_id))
            .filter(clients::Column::ClientSecretHash.eq(legacy))
            .exec_in(&self.ctx)
            .await?;
        Ok(())
    }

    /// The row of `client_id`: every token request reads it, so its text
    /// is built once (and without `LIMIT`: `client_id` is unique).
    async fn row(&self, client_id: &str) -> Result<Option<clients::Model>> {
        static BY_CLIENT_ID: Prepared = prepared!();
        let statement = BY_CLIENT_ID.statement(self.ctx.backend(), vec![client_id.into()], || {
            clients::Entity::find().filter(clients::Column::ClientId.eq(client_id))
        });
        // All rows (at most one): see `check_active`.
        Ok(statement
            .decoded_all(&self.ctx, Some(<clients::Model as Decode>::decode))
            .await?
            .pop())
    }

    /// Every client (active or not), oldest first. Clients are registered
    /// by hand or by dynamic registration: a short list.
    #[metered]
    #[instrument(skip_all)]
    pub async fn list(&self) -> Result<Vec<OAuth2Client>> {
        clients::Entity::find()
            .order_by_asc(clients::Column::CreatedAt)
            .order_by_asc(clients::Column::Id)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(OAuth2Client::try_from)
            .collect()
    }

    /// Deactivates the client now: its secret stops verifying and nothing
    /// more is issued to it. An already expired client keeps its earlier
    /// expiry. `NotFound` for an unknown client.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id), err(Display))]
    pub async fn deactivate(&self, client_id: &str) -> Result<()> {
        if self.get(client_id).await?.is_none() {
            return Err(DatabaseError::not_found("oauth2 client", client_id));
        }
        let now = time::stored(time::now());
        // An already expired client matches nothing: it is inactive, which
        // is the goal, and its earlier expiry stays.
        clients::Entity::update_many()
            .col_expr(clients::Column::ExpiresAt, Expr::value(now))
            .filter(clients::Column::ClientId.eq(client_id))
            .filter(
                clients::Column::ExpiresAt
                    .is_null()
                    .or(clients::Column::ExpiresAt.gt(now)),
            )
            .exec_in(&self.ctx)
            .await?;
        Ok(())
    }

    /// Checks that `client_id` is an active client that registered
    /// `redirect_uri` (returned normalized), or `InvalidInput` saying which
    /// is wrong: a code issued to either could never be exchanged.
    pub(crate) async fn usable_with(&self, client_id: &str, redirect_uri: &str) -> Result<String> {
        let redirect_uri = validation::http_url("redirect_uri", redirect_uri, MAX_REDIRECT_URI)?;
        let client = self.usable(client_id).await?;
        if !client.redirect_uris.contains(&redirect_uri) {
            return Err(DatabaseError::invalid(
                "redirect_uri",
                "not one of the client's registered redirect URIs",
            ));
        }
        Ok(redirect_uri)
    }

    /// The active client `client_id`, or `InvalidInput`.
    async fn usable(&self, client_id: &str) -> Result<OAuth2Client> {
        match self.get(client_id).await? {
            Some(client) if client.is_active_at(time::now()) => Ok(client),
            _ => Err(inactive()),
        }
    }

    /// Checks that `client_id` is an active client, or `InvalidInput`.
    /// Every token refresh asks, so it reads one column with a statement
    /// built once.
    pub(crate) async fn check_active(&self, client_id: &str) -> Result<()> {
        static EXPIRY: Prepared = prepared!();
        let statement = EXPIRY.statement(self.ctx.backend(), vec![client_id.into()], || {
            clients::Entity::find()
                .select_only()
                .column(clients::Column::ExpiresAt)
                .filter(clients::Column::ClientId.eq(client_id))
        });
        // `.all()`, not `.one()` as the `prepared` module advises: with
        // `.one()` in these two reads, the bench's PostgreSQL users page
        // (which never calls them) ran at 0.83-0.88x raw in all six runs,
        // against 0.93-0.97x in the five without. PostgreSQL's driver
        // reads the whole reply either way, so the cause is not in the
        // protocol; it stays unexplained, and the reads stay as they were.
        let expiry = statement.models::<Expiry>().all_in(&self.ctx).await?.pop();
        match expiry {
            Some(Expiry(at)) if at.is_none_or(|at| at > time::now()) => Ok(()),
            _ => Err(inactive()),
        }
    }
}

/// A client row by position, as `Entity::find()` selects it (every column
/// in declaration order): for the reads on the calling thread.
impl Decode for clients::Model {
    fn decode(row: Row<'_>) -> std::result::Result<Self, sea_orm::DbErr> {
        use clients::Column as C;
        Ok(Self {
            id: Cell::read(row, at!(C::Id))?,
            client_id: Cell::read(row, at!(C::ClientId))?,
            client_secret_hash: Cell::read(row, at!(C::ClientSecretHash))?,
            redirect_uris: Cell::read(row, at!(C::RedirectUris))?,
            grant_types: Cell::read(row, at!(C::GrantTypes))?,
            response_types: Cell::read(row, at!(C::ResponseTypes))?,
            client_name: Cell::read(row, at!(C::ClientName))?,
            client_uri: Cell::read(row, at!(C::ClientUri))?,
            scope: Cell::read(row, at!(C::Scope))?,
            created_at: read_time(row, at!(C::CreatedAt))?,
            expires_at: read_time_opt(row, at!(C::ExpiresAt))?,
        })
    }
}

fn inactive() -> DatabaseError {
    DatabaseError::invalid("client_id", "no active client with this id")
}

/// A client's `expires_at`, read by position (see the `cells` module).
struct Expiry(Option<DateTime<Utc>>);

impl FromQueryResult for Expiry {
    fn from_query_result(
        row: &sea_orm::QueryResult,
        _prefix: &str,
    ) -> std::result::Result<Self, sea_orm::DbErr> {
        Ok(Self(Cell::read(row, 0)?))
    }
}
