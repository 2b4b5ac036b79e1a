//! API keys: generated once, stored hashed, looked up by prefix.
//!
//! A key is `pk_live_` followed by 256 random bits in base64url
//! (`hashing::generate`). Only its SHA-256 is stored, with a *display
//! prefix*: the first [`ApiKeys::DISPLAY_PREFIX_LEN`] characters, unique, shown in
//! lists so that people can tell their keys apart, and used to find the row
//! when a key is presented. The prefix carries 72 of the 256 random bits:
//! two keys sharing a prefix is negligible (about 10⁻⁴ after a billion keys)
//! and the 184 bits it does not reveal are still far beyond guessing.
//!
//! These tables have no `tenant_id`: a key belongs to a user, and every
//! lookup that could reveal someone else's key takes the owner and answers
//! `NotFound` for anyone else.

use chrono::Utc;
use entity::{api_keys, users};
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::hashing;
use crate::error::{DatabaseError, Result};
use crate::ids::{ApiKeyId, UserId};
use crate::pagination::{MAX_PAGE_SIZE, Page, PageRequest, Position, checked_limit};
use crate::query::Ctx;
use crate::query::cells::{Cell, Decode, Row, at, decoded_rows, read_enum};
use crate::query::{Prepared, expect_changed, latest, prepared};
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

mod types;
pub use types::*;

/// Longest presented key that is even hashed; anything longer is not ours.
const MAX_PRESENTED_KEY: usize = 256;

/// The columns the key lookup reads, in the order [`KeyRow`] reads them.
const LOOKUP_COLUMNS: [api_keys::Column; 13] = [
    api_keys::Column::Id,
    api_keys::Column::UserId,
    api_keys::Column::Name,
    api_keys::Column::Description,
    api_keys::Column::KeyPrefix,
    api_keys::Column::Tier,
    api_keys::Column::RateLimitRequests,
    api_keys::Column::RateLimitWindowSeconds,
    api_keys::Column::IsActive,
    api_keys::Column::ExpiresAt,
    api_keys::Column::LastUsedAt,
    api_keys::Column::CreatedAt,
    api_keys::Column::KeyHash,
];

/// A key row read by position through the driver on the authentication
/// path (see the `cells` module); [`ApiKey::try_from`] turns it into the
/// domain type as for any other read.
struct KeyRow(api_keys::Model);

decoded_rows!(KeyRow);

impl Decode for KeyRow {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        let at = |t: chrono::DateTime<Utc>| t.fixed_offset();
        Ok(Self(api_keys::Model {
            id: Uuid::read(row, at!(LOOKUP_COLUMNS, api_keys::Column::Id))?,
            user_id: Uuid::read(row, at!(LOOKUP_COLUMNS, api_keys::Column::UserId))?,
            name: String::read(row, at!(LOOKUP_COLUMNS, api_keys::Column::Name))?,
            description: Cell::read(row, at!(LOOKUP_COLUMNS, api_keys::Column::Description))?,
            key_prefix: String::read(row, at!(LOOKUP_COLUMNS, api_keys::Column::KeyPrefix))?,
            tier: read_enum(row, at!(LOOKUP_COLUMNS, api_keys::Column::Tier))?,
            rate_limit_requests: Cell::read(
                row,
                at!(LOOKUP_COLUMNS, api_keys::Column::RateLimitRequests),
            )?,
            rate_limit_window_seconds: Cell::read(
                row,
                at!(LOOKUP_COLUMNS, api_keys::Column::RateLimitWindowSeconds),
            )?,
            is_active: bool::read(row, at!(LOOKUP_COLUMNS, api_keys::Column::IsActive))?,
            expires_at: Option::<chrono::DateTime<Utc>>::read(
                row,
                at!(LOOKUP_COLUMNS, api_keys::Column::ExpiresAt),
            )?
            .map(at),
            last_used_at: Option::<chrono::DateTime<Utc>>::read(
                row,
                at!(LOOKUP_COLUMNS, api_keys::Column::LastUsedAt),
            )?
            .map(at),
            created_at: at(Cell::read(
                row,
                at!(LOOKUP_COLUMNS, api_keys::Column::CreatedAt),
            )?),
            key_hash: String::read(row, at!(LOOKUP_COLUMNS, api_keys::Column::KeyHash))?,
        }))
    }
}

fn to_keys(rows: Vec<api_keys::Model>) -> Result<Vec<ApiKey>> {
    rows.into_iter().map(ApiKey::try_from).collect()
}

/// The API keys repository: `db.api_keys()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewUser};
/// use pierre_db::{ApiKeyTier, NewApiKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let user = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
/// let created = db
///     .api_keys()
///     .create(NewApiKey::new(user.id, "CI", ApiKeyTier::Starter))
///     .await?;
/// // The plaintext goes to the user once; afterwards only its hash is known.
/// let found = db.api_keys().find_by_prefix_and_verify(created.plaintext.expose()).await?;
/// assert_eq!(found.map(|k| k.id), Some(created.key.id));
/// assert!(!format!("{created:?}").contains(created.plaintext.expose()));
/// # Ok(())
/// # }
/// ```
pub struct ApiKeys<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl ApiKeys<'_> {
    /// What every generated key starts with.
    pub const KEY_PREFIX: &'static str = "pk_live_";
    /// Characters of a key kept in clear as its display prefix (`pk_live_` and
    /// 12 random characters).
    pub const DISPLAY_PREFIX_LEN: usize = 20;
    /// Characters of a key the original Pierre server kept as its prefix.
    pub const LEGACY_PREFIX_LEN: usize = 12;
    /// Longest key name.
    pub const MAX_NAME: usize = 100;
    /// Longest key description.
    pub const MAX_DESCRIPTION: usize = 500;
}

impl<'a> ApiKeys<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Creates a key and returns it with its plaintext, which is not stored
    /// and cannot be recovered. A bad name, description, limit or expiry is
    /// `InvalidInput`; an unknown user is `ForeignKey`. A time outside the
    /// years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(user_id = %new.user_id, api_key_id = tracing::field::Empty), err(Display))]
    pub async fn create(&self, new: NewApiKey) -> Result<CreatedApiKey> {
        let name = validation::required("name", &new.name, ApiKeys::MAX_NAME)?;
        let description = validation::optional(
            "description",
            new.description.as_deref(),
            ApiKeys::MAX_DESCRIPTION,
        )?;
        let (requests, window) = match (new.rate_limit_requests, new.rate_limit_window_seconds) {
            (Some(r), Some(w)) => (
                Some(validation::int_range(
                    "rate_limit_requests",
                    r,
                    1..=u32::MAX,
                )?),
                Some(validation::int_range(
                    "rate_limit_window_seconds",
                    w,
                    1..=u32::MAX,
                )?),
            ),
            (None, None) => (None, None),
            _ => {
                return Err(DatabaseError::invalid(
                    "rate_limit_window_seconds",
                    "requests and window are set together or not at all",
                ));
            }
        };
        let now = time::now();
        let expires_at = new
            .expires_at
            .map(|at| validation::expiry("expires_at", time::checked_utc("expires_at", at)?, now))
            .transpose()?;

        let plaintext = hashing::generate(ApiKeys::KEY_PREFIX)?;
        let key_prefix = display_prefix(plaintext.expose())
            .ok_or_else(|| DatabaseError::invalid("key", "generated key is too short"))?
            .to_owned();
        let id = ApiKeyId::new();
        tracing::Span::current().record("api_key_id", tracing::field::display(id));
        let model = api_keys::Model {
            id: id.as_uuid(),
            user_id: new.user_id.as_uuid(),
            name,
            description,
            key_hash: hashing::hash(plaintext.expose()),
            key_prefix,
            tier: new.tier,
            rate_limit_requests: requests,
            rate_limit_window_seconds: window,
            is_active: true,
            expires_at: expires_at.map(time::stored),
            last_used_at: None,
            created_at: time::stored(now),
        };
        let active = api_keys::ActiveModel::from(model.clone()).reset_all();
        api_keys::Entity::insert(active)
            .exec_without_returning_in(&self.ctx)
            .await?;
        Ok(CreatedApiKey {
            key: ApiKey::try_from(model)?,
            plaintext,
        })
    }

    /// The key whose plaintext this is, if it exists, its hash matches
    /// (compared in constant time), it is active and it has not expired.
    /// Anything else, a malformed string included, is `None`: the caller
    /// learns nothing about which check failed.
    ///
    /// A key of the original Pierre server (in a database adopted from it)
    /// is stored with the first [`Self::LEGACY_PREFIX_LEN`] characters as
    /// its prefix: it is found by those when no key has the longer one, and
    /// on its first success its prefix is brought to the current length.
    #[metered]
    #[instrument(skip_all, fields(api_key_id = tracing::field::Empty))]
    pub async fn find_by_prefix_and_verify(&self, plaintext: &str) -> Result<Option<ApiKey>> {
        if plaintext.len() > MAX_PRESENTED_KEY {
            return Ok(None);
        }
        let current =
            display_prefix(plaintext).filter(|_| plaintext.starts_with(ApiKeys::KEY_PREFIX));
        let mut found = None;
        if let Some(prefix) = current {
            found = self.by_prefix(prefix).await?;
        }
        let mut legacy = false;
        if found.is_none() {
            let Some(prefix) = plaintext.get(..ApiKeys::LEGACY_PREFIX_LEN) else {
                return Ok(None);
            };
            found = self.by_prefix(prefix).await?;
            legacy = true;
        }
        let Some(row) = found else {
            return Ok(None);
        };
        if !hashing::verify(plaintext, &row.key_hash) {
            return Ok(None);
        }
        let key = ApiKey::try_from(row)?;
        if !key.is_usable_at(time::now()) {
            return Ok(None);
        }
        if legacy && let Some(prefix) = current {
            self.upgrade_prefix(key.id, &key.key_prefix, prefix).await;
        }
        tracing::Span::current().record("api_key_id", tracing::field::display(key.id));
        Ok(Some(key))
    }

    /// The key stored with this prefix.
    async fn by_prefix(&self, prefix: &str) -> Result<Option<api_keys::Model>> {
        // No LIMIT: `key_prefix` is unique, and a bound `LIMIT ?` makes
        // SQLite re-prepare the statement on every call.
        static LOOKUP: Prepared = prepared!();
        let statement = LOOKUP.statement(self.ctx.backend(), vec![prefix.into()], || {
            api_keys::Entity::find()
                .select_only()
                .columns(LOOKUP_COLUMNS)
                .filter(api_keys::Column::KeyPrefix.eq(prefix))
        });
        Ok(statement
            .decoded_one::<KeyRow>(&self.ctx)
            .await?
            .map(|KeyRow(row)| row))
    }

    /// Stores an adopted key's prefix at the current length, if it still
    /// has the old one. The key was verified already: a failure here is
    /// logged, and the next use tries again.
    async fn upgrade_prefix(&self, id: ApiKeyId, old: &str, new: &str) {
        let outcome = api_keys::Entity::update_many()
            .col_expr(api_keys::Column::KeyPrefix, Expr::value(new))
            .filter(api_keys::Column::Id.eq(id.as_uuid()))
            .filter(api_keys::Column::KeyPrefix.eq(old))
            .exec_in(&self.ctx)
            .await;
        if let Err(err) = outcome {
            tracing::warn!(api_key_id = %id, error = %err, "an adopted key's prefix was not brought to the current length");
        }
    }

    /// The key if `owner` owns it; `NotFound` if it does not exist or
    /// belongs to someone else (the two are indistinguishable).
    #[metered]
    #[instrument(skip_all, fields(api_key_id = %key_id, user_id = %owner))]
    pub async fn get_by_id_for_owner(&self, key_id: ApiKeyId, owner: UserId) -> Result<ApiKey> {
        let row = api_keys::Entity::find_by_id(key_id.as_uuid())
            .filter(api_keys::Column::UserId.eq(owner.as_uuid()))
            .one_in(&self.ctx)
            .await?
            .ok_or_else(|| DatabaseError::not_found("api key", key_id))?;
        ApiKey::try_from(row)
    }

    /// ADMIN: the key with this id, whoever owns it. For operators' tools
    /// only; user-facing code uses [`Self::get_by_id_for_owner`].
    #[metered]
    #[instrument(skip_all, fields(api_key_id = %key_id), err(Display))]
    pub async fn admin_get_by_id(&self, key_id: ApiKeyId) -> Result<ApiKey> {
        let row = api_keys::Entity::find_by_id(key_id.as_uuid())
            .one_in(&self.ctx)
            .await?
            .ok_or_else(|| DatabaseError::not_found("api key", key_id))?;
        ApiKey::try_from(row)
    }

    /// ADMIN: the keys of the user with this email, oldest first (none for
    /// an unknown email). `InvalidInput` for a malformed email.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn admin_list_by_owner_email(&self, email: &str) -> Result<Vec<ApiKey>> {
        let email = validation::email(email)?;
        let owner = Query::select()
            .column(users::Column::Id)
            .from(users::Entity)
            .and_where(Expr::col(users::Column::Email).eq(email))
            .to_owned();
        api_keys::Entity::find()
            .filter(Expr::col(api_keys::Column::UserId).in_subquery(owner))
            .order_by_asc(api_keys::Column::CreatedAt)
            .order_by_asc(api_keys::Column::Id)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(ApiKey::try_from)
            .collect()
    }

    /// All of the user's keys, active or not, oldest first.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn list_for_user(&self, user: UserId) -> Result<Vec<ApiKey>> {
        let rows = api_keys::Entity::find()
            .filter(api_keys::Column::UserId.eq(user.as_uuid()))
            .order_by_asc(api_keys::Column::CreatedAt)
            .order_by_asc(api_keys::Column::Id)
            .all_in(&self.ctx)
            .await?;
        to_keys(rows)
    }

    /// Keys matching `filter`, oldest first, one keyset page at a time. A
    /// cursor is accepted only with the filter it was issued for.
    #[metered]
    #[instrument(skip_all, fields(user_id = ?filter.user_id, active = ?filter.active, tier = ?filter.tier, limit = request.limit()))]
    pub async fn list_filtered(
        &self,
        filter: &ApiKeyFilter,
        request: &PageRequest,
    ) -> Result<Page<ApiKey>> {
        let mut select = api_keys::Entity::find();
        if let Some(user) = filter.user_id {
            select = select.filter(api_keys::Column::UserId.eq(user.as_uuid()));
        }
        if let Some(active) = filter.active {
            select = select.filter(api_keys::Column::IsActive.eq(active));
        }
        if let Some(tier) = filter.tier {
            select = select.filter(api_keys::Column::Tier.eq(tier));
        }
        let list = self
            .ctx
            .list("api_keys.filtered")
            .by(filter.user_id)
            .by(filter.active)
            .by(filter.tier);
        let page = keyset_page::<api_keys::Model>(&self.ctx, &list, request, select).await?;
        page.try_map(ApiKey::try_from)
    }

    /// Records that the key was used now; a later time already stored is
    /// kept (`last_used_at` never moves back). `NotFound` for an unknown
    /// key.
    #[metered]
    #[instrument(skip_all, fields(api_key_id = %key_id))]
    pub async fn update_last_used(&self, key_id: ApiKeyId) -> Result<()> {
        let changed = api_keys::Entity::update_many()
            .col_expr(
                api_keys::Column::LastUsedAt,
                latest(api_keys::Column::LastUsedAt, time::stored(time::now())),
            )
            .filter(api_keys::Column::Id.eq(key_id.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        expect_changed(changed, "api key", key_id)
    }

    /// Deactivates `owner`'s key (idempotent). `NotFound` if it does not
    /// exist or belongs to someone else.
    #[metered]
    #[instrument(skip_all, fields(api_key_id = %key_id, user_id = %owner))]
    pub async fn deactivate(&self, key_id: ApiKeyId, owner: UserId) -> Result<()> {
        let changed = api_keys::Entity::update_many()
            .col_expr(api_keys::Column::IsActive, Expr::value(false))
            .filter(api_keys::Column::Id.eq(key_id.as_uuid()))
            .filter(api_keys::Column::UserId.eq(owner.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        expect_changed(changed, "api key", key_id)
    }

    /// Deactivates every active key whose expiry has passed and returns how
    /// many. Expired keys are deactivated, not deleted: deleting a key would
    /// cascade to its usage history and unlink its request logs, and the
    /// owner still sees the key, marked inactive, in their list.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn cleanup_expired(&self) -> Result<u64> {
        Ok(api_keys::Entity::update_many()
            .col_expr(api_keys::Column::IsActive, Expr::value(false))
            .filter(api_keys::Column::IsActive.eq(true))
            .filter(api_keys::Column::ExpiresAt.lte(time::stored(time::now())))
            .exec_in(&self.ctx)
            .await?
            .rows_affected)
    }

    /// Keys whose expiry has passed, active or not, earliest expiry first,
    /// at most `limit`. A `limit` of 0 or above
    /// [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE) is `InvalidInput`, never cut
    /// short.
    #[metered]
    #[instrument(skip_all, fields(limit))]
    pub async fn list_expired(&self, limit: u32) -> Result<Vec<ApiKey>> {
        let limit = checked_limit(limit, MAX_PAGE_SIZE, "list_filtered")?;
        let rows = api_keys::Entity::find()
            .filter(api_keys::Column::ExpiresAt.lte(time::stored(time::now())))
            .order_by_asc(api_keys::Column::ExpiresAt)
            .order_by_asc(api_keys::Column::Id)
            .limit(limit)
            .all_in(&self.ctx)
            .await?;
        to_keys(rows)
    }
}

/// The display prefix of a key, if it is long enough.
fn display_prefix(key: &str) -> Option<&str> {
    key.get(..ApiKeys::DISPLAY_PREFIX_LEN)
}

keyset_order!(
    api_keys::Model,
    api_keys::Column,
    (api_keys::Column::CreatedAt, api_keys::Column::Id),
    Ascending,
    |m| Position {
        at: m.created_at.to_utc(),
        id: m.id,
    }
);
