//! API-key and JWT usage (statistics: [`super::stats`]; request logs:
//! [`super::request_logs`]).
//!
//! These are the write-heavy tables: a row per request. Rows carry a
//! client-made id and the time the request happened, and are inserted
//! without asking for them back; [`Usage::record_api_key_usage_batch`]
//! writes buffered rows in multi-row statements inside one transaction.
//! Reads are counts and aggregates computed by the database in one round
//! trip each.

use chrono::{DateTime, Utc};
use entity::{api_key_usage, jwt_usage};
use pierre_db_macros::metered;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tracing::instrument;
use uuid::Uuid;

use crate::error::Result;
use crate::ids::{ApiKeyId, UsageId, UserId};
use crate::query::Ctx;
use crate::query::{Prepared, prepared, unsigned};
use crate::query::{RunInsert, RunSelect};
use crate::time;
use crate::validation::request;
use crate::validation::request::{Kept, ServedRequest, at_row, endpoint, method, tool_name};

const _: () = assert!(Usage::BATCH_ROWS * 11 <= 32_766);

/// One request made with an API key, for [`Usage::record_api_key_usage`].
/// Every field of its [`ServedRequest`] is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKeyUsage {
    /// The key used (must exist: `ForeignKey` otherwise).
    pub api_key_id: ApiKeyId,
    /// The tool or operation called.
    pub tool_name: String,
    /// When, how it was answered, and who asked.
    pub request: ServedRequest,
}

impl NewApiKeyUsage {
    /// A request happening now, without the optional details.
    pub fn new(api_key_id: ApiKeyId, tool_name: impl Into<String>, status_code: u16) -> Self {
        Self {
            api_key_id,
            tool_name: tool_name.into(),
            request: ServedRequest::now(status_code),
        }
    }
}

/// One request authenticated with a JWT, for [`Usage::record_jwt_usage`].
/// Its [`ServedRequest`]'s `error_message` is not kept (the table has no
/// column for it): setting one is `InvalidInput`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJwtUsage {
    /// The user (must exist: `ForeignKey` otherwise).
    pub user_id: UserId,
    /// The path called.
    pub endpoint: String,
    /// The HTTP method (stored upper-case).
    pub method: String,
    /// When, how it was answered, and who asked.
    pub request: ServedRequest,
}

impl NewJwtUsage {
    /// A request happening now, without the optional details.
    pub fn new(
        user_id: UserId,
        method: impl Into<String>,
        endpoint: impl Into<String>,
        status_code: u16,
    ) -> Self {
        Self {
            user_id,
            endpoint: endpoint.into(),
            method: method.into(),
            request: ServedRequest::now(status_code),
        }
    }
}

/// Usage and request logs: `db.usage()`.
///
/// ```
/// use pierre_db::chrono::{Duration, Utc};
/// use pierre_db::{Database, MasterKey, NewUser};
/// use pierre_db::NewJwtUsage;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let user = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
/// let hour_ago = Utc::now() - Duration::hours(1);
/// db.usage().record_jwt_usage(NewJwtUsage::new(user.id, "GET", "/activities", 200)).await?;
/// assert_eq!(db.usage().current_jwt_usage(user.id, hour_ago).await?, 1);
/// # Ok(())
/// # }
/// ```
pub struct Usage<'a> {
    pub(super) ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl Usage<'_> {
    /// Rows per INSERT statement in a batch.
    // 500 rows × 11 columns stays far below SQLite's 32,766 bound values
    // per statement.
    pub const BATCH_ROWS: usize = 500;
    /// The HTTP status codes every usage statistic counts as successes: 2xx.
    pub const SUCCESS_STATUSES: std::ops::RangeInclusive<u16> = 200..=299;
    /// Longest endpoint path.
    pub const MAX_ENDPOINT: usize = request::MAX_ENDPOINT;
    /// Longest HTTP method.
    pub const MAX_METHOD: usize = request::MAX_METHOD;
    /// Longest tool name.
    pub const MAX_TOOL_NAME: usize = request::MAX_TOOL_NAME;
}

impl<'a> Usage<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Records one API-key request and returns the row id. Bad input is
    /// `InvalidInput`; an unknown key is `ForeignKey`. A time outside the years
    /// 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(api_key_id = %usage.api_key_id, status_code = usage.request.status_code), err(Display))]
    pub async fn record_api_key_usage(&self, usage: NewApiKeyUsage) -> Result<UsageId> {
        let id = Uuid::now_v7();
        let row = api_key_usage_row(id, usage)?;
        static INSERT: Prepared = prepared!();
        let statement = INSERT.insert(self.ctx.backend(), row, |insert| insert);
        statement.execute_in(&self.ctx).await?;
        Ok(UsageId::from_uuid(id))
    }

    /// How many requests the key made at or after `since` (for rate
    /// limiting over a window). A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(api_key_id = %key_id))]
    pub async fn current_usage(&self, key_id: ApiKeyId, since: DateTime<Utc>) -> Result<u64> {
        api_key_usage::Entity::find()
            .filter(api_key_usage::Column::ApiKeyId.eq(key_id.as_uuid()))
            .filter(api_key_usage::Column::Timestamp.gte(time::checked("since", since)?))
            .count_in(&self.ctx)
            .await
    }

    /// Records one JWT-authenticated request and returns the row id. Bad
    /// input is `InvalidInput`; an unknown user is `ForeignKey`. A time outside
    /// the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(user_id = %usage.user_id, status_code = usage.request.status_code), err(Display))]
    pub async fn record_jwt_usage(&self, usage: NewJwtUsage) -> Result<UsageId> {
        let id = Uuid::now_v7();
        let served = usage.request.checked(Kept {
            table: "jwt_usage",
            error: false,
            client: true,
        })?;
        let row = jwt_usage::ActiveModel {
            id: Set(id),
            user_id: Set(usage.user_id.as_uuid()),
            timestamp: Set(served.timestamp),
            endpoint: Set(endpoint(&usage.endpoint)?),
            method: Set(method(&usage.method)?),
            status_code: Set(served.status_code),
            response_time_ms: Set(served.response_time_ms),
            request_size_bytes: Set(served.request_size_bytes),
            response_size_bytes: Set(served.response_size_bytes),
            ip_address: Set(served.ip_address),
            user_agent: Set(served.user_agent),
        };
        jwt_usage::Entity::insert(row)
            .exec_without_returning_in(&self.ctx)
            .await?;
        Ok(UsageId::from_uuid(id))
    }

    /// How many JWT requests the user made at or after `since`. A time outside
    /// the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn current_jwt_usage(&self, user: UserId, since: DateTime<Utc>) -> Result<u64> {
        jwt_usage::Entity::find()
            .filter(jwt_usage::Column::UserId.eq(user.as_uuid()))
            .filter(jwt_usage::Column::Timestamp.gte(time::checked("since", since)?))
            .count_in(&self.ctx)
            .await
    }
}

impl<'a> Usage<'a> {
    /// Records many API-key requests (a buffer flushed by the server) in
    /// multi-row statements of [`Usage::BATCH_ROWS`] rows, all inside one
    /// transaction (a savepoint when already in one): either every row is
    /// written or none is. Every row is checked before anything is sent; a
    /// bad one is `InvalidInput` naming its index, an unknown key is
    /// `ForeignKey`. Returns how many rows were written. A time outside the
    /// years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(rows = usage.len()), err(Display))]
    pub async fn record_api_key_usage_batch(&self, usage: Vec<NewApiKeyUsage>) -> Result<u64> {
        let rows = usage
            .into_iter()
            .enumerate()
            .map(|(i, u)| api_key_usage_row(Uuid::now_v7(), u).map_err(|err| at_row(i, err)))
            .collect::<Result<Vec<_>>>()?;
        super::insert_in_batches(&self.ctx, rows, Usage::BATCH_ROWS).await
    }
}

/// Checks a usage row and makes it ready to insert.
fn api_key_usage_row(id: Uuid, usage: NewApiKeyUsage) -> Result<api_key_usage::ActiveModel> {
    let served = usage.request.checked(Kept {
        table: "api_key_usage",
        error: true,
        client: true,
    })?;
    Ok(api_key_usage::ActiveModel {
        id: Set(id),
        api_key_id: Set(usage.api_key_id.as_uuid()),
        timestamp: Set(served.timestamp),
        tool_name: Set(tool_name(&usage.tool_name)?),
        status_code: Set(served.status_code),
        response_time_ms: Set(served.response_time_ms),
        error_message: Set(served.error_message),
        request_size_bytes: Set(served.request_size_bytes),
        response_size_bytes: Set(served.response_size_bytes),
        ip_address: Set(served.ip_address),
        user_agent: Set(served.user_agent),
    })
}

/// A count the database computed.
pub(super) fn count_of(value: i64) -> Result<u64> {
    unsigned("count", value)
}
