//! API-key and JWT usage and statistics (request logs: [`super::request_logs`]).
//!
//! These are the write-heavy tables: a row per request. Rows carry a
//! client-made id and the time the request happened, and are inserted
//! without asking for them back; [`Usage::record_api_key_usage_batch`]
//! writes buffered rows in multi-row statements inside one transaction.
//! Reads are counts and aggregates computed by the database in one round
//! trip each.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{api_key_usage, api_keys, jwt_usage, request_logs, users};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, IntoColumnRef, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{ApiKeyId, TenantId, UserId};
use crate::query::{Ctx, Prepared, unsigned};
use crate::scope::TenantScope;
use crate::time;
use crate::validation;

/// Longest tool name.
pub const MAX_TOOL_NAME: usize = 200;
/// Longest endpoint (path).
pub const MAX_ENDPOINT: usize = 2000;
/// Longest HTTP method.
pub const MAX_METHOD: usize = 16;
/// Longest error message; line breaks are kept.
pub const MAX_ERROR_MESSAGE: usize = 4000;
/// Longest IP address text.
pub const MAX_IP_ADDRESS: usize = 64;
/// Longest user agent.
pub const MAX_USER_AGENT: usize = 512;
/// Rows per INSERT statement in a batch: 500 rows × 11 columns stays far
/// below SQLite's 32,766 bound values per statement.
pub const BATCH_ROWS: usize = 500;
const _: () = assert!(BATCH_ROWS * 11 <= 32_766);

const MAX_I32: u32 = i32::MAX as u32;
const MAX_I64: u64 = i64::MAX as u64;

/// One request made with an API key, for [`Usage::record_api_key_usage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKeyUsage {
    /// The key used (must exist: `ForeignKey` otherwise).
    pub api_key_id: ApiKeyId,
    /// When the request happened.
    pub timestamp: DateTime<Utc>,
    /// The tool or operation called.
    pub tool_name: String,
    /// The HTTP status answered (100–599).
    pub status_code: u16,
    /// How long the answer took.
    pub response_time_ms: Option<u32>,
    /// The error, for failed requests.
    pub error_message: Option<String>,
    /// Request body size.
    pub request_size_bytes: Option<u64>,
    /// Response body size.
    pub response_size_bytes: Option<u64>,
    /// The client's address.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

impl NewApiKeyUsage {
    /// A request happening now, without the optional details.
    pub fn new(api_key_id: ApiKeyId, tool_name: impl Into<String>, status_code: u16) -> Self {
        Self {
            api_key_id,
            timestamp: time::now(),
            tool_name: tool_name.into(),
            status_code,
            response_time_ms: None,
            error_message: None,
            request_size_bytes: None,
            response_size_bytes: None,
            ip_address: None,
            user_agent: None,
        }
    }
}

/// One request authenticated with a JWT, for [`Usage::record_jwt_usage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJwtUsage {
    /// The user (must exist: `ForeignKey` otherwise).
    pub user_id: UserId,
    /// When the request happened.
    pub timestamp: DateTime<Utc>,
    /// The path called.
    pub endpoint: String,
    /// The HTTP method (stored upper-case).
    pub method: String,
    /// The HTTP status answered (100–599).
    pub status_code: u16,
    /// How long the answer took.
    pub response_time_ms: Option<u32>,
    /// Request body size.
    pub request_size_bytes: Option<u64>,
    /// Response body size.
    pub response_size_bytes: Option<u64>,
    /// The client's address.
    pub ip_address: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
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
            timestamp: time::now(),
            endpoint: endpoint.into(),
            method: method.into(),
            status_code,
            response_time_ms: None,
            request_size_bytes: None,
            response_size_bytes: None,
            ip_address: None,
            user_agent: None,
        }
    }
}

/// An API key's usage over a time range, from [`Usage::usage_stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageStats {
    /// Requests in the range.
    pub total_requests: u64,
    /// Requests answered 2xx ([`crate::SUCCESS_STATUSES`]).
    pub successful_requests: u64,
    /// The other requests.
    pub failed_requests: u64,
    /// Sum of the recorded response times.
    pub total_response_time_ms: u64,
    /// Mean response time over the requests that recorded one; `None` if
    /// none did.
    pub average_response_time_ms: Option<f64>,
    /// Requests per tool name.
    pub requests_by_tool: BTreeMap<String, u64>,
}

/// Platform-wide counts, from [`Usage::system_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemStats {
    /// Every user account.
    pub users: u64,
    /// Keys that are active and not expired now.
    pub active_api_keys: u64,
    /// API-key requests since the window start.
    pub api_key_requests: u64,
    /// JWT requests since the window start.
    pub jwt_requests: u64,
    /// Logged requests since the window start.
    pub request_logs: u64,
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

impl<'a> Usage<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Records one API-key request and returns the row id. Bad input is
    /// `InvalidInput`; an unknown key is `ForeignKey`.
    #[instrument(skip_all, fields(api_key_id = %usage.api_key_id, status_code = usage.status_code), err(Display))]
    pub async fn record_api_key_usage(&self, usage: NewApiKeyUsage) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let row = api_key_usage_row(id, usage)?;
        static INSERT: Prepared = Prepared::new();
        let statement = INSERT.insert(self.ctx.backend(), row, |insert| insert);
        self.ctx.conn().execute_raw(statement).await?;
        Ok(id)
    }

    /// How many requests the key made at or after `since` (for rate
    /// limiting over a window).
    #[instrument(skip_all, fields(api_key_id = %key_id))]
    pub async fn current_usage(&self, key_id: ApiKeyId, since: DateTime<Utc>) -> Result<u64> {
        count(
            &self.ctx.conn(),
            api_key_usage::Entity::find()
                .filter(api_key_usage::Column::ApiKeyId.eq(key_id.as_uuid()))
                .filter(api_key_usage::Column::Timestamp.gte(time::checked("since", since)?)),
        )
        .await
    }

    /// The key's usage in `[from, to)`, aggregated by the database in one
    /// query (one row per tool, folded here). An unknown key has no usage;
    /// `from` after `to` is `InvalidInput`.
    #[instrument(skip_all, fields(api_key_id = %key_id), err(Display))]
    pub async fn usage_stats(
        &self,
        key_id: ApiKeyId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<UsageStats> {
        validation::ordered("to", from, to)?;
        let response_ms = || Expr::col(api_key_usage::Column::ResponseTimeMs);
        let rows: Vec<(String, i64, i64, Option<i64>, i64)> = api_key_usage::Entity::find()
            .select_only()
            .column(api_key_usage::Column::ToolName)
            .column_as(Expr::col(Asterisk).count(), "requests")
            .column_as(
                Expr::expr(super::successes(api_key_usage::Column::StatusCode)).count(),
                "successes",
            )
            .column_as(response_ms().sum(), "total_ms")
            .column_as(response_ms().count(), "timed")
            .filter(api_key_usage::Column::ApiKeyId.eq(key_id.as_uuid()))
            .filter(api_key_usage::Column::Timestamp.gte(time::checked("from", from)?))
            .filter(api_key_usage::Column::Timestamp.lt(time::checked("to", to)?))
            .group_by(api_key_usage::Column::ToolName)
            .order_by_asc(api_key_usage::Column::ToolName)
            .into_tuple()
            .all(&self.ctx.conn())
            .await?;
        let mut stats = UsageStats::default();
        let mut timed = 0u64;
        for (tool, requests, successes, total_ms, timed_rows) in rows {
            let requests = count_of(requests)?;
            let successes = count_of(successes)?;
            stats.total_requests += requests;
            stats.successful_requests += successes;
            stats.failed_requests += requests.saturating_sub(successes);
            stats.total_response_time_ms += count_of(total_ms.unwrap_or(0))?;
            timed += count_of(timed_rows)?;
            stats.requests_by_tool.insert(tool, requests);
        }
        if timed > 0 {
            stats.average_response_time_ms =
                Some(stats.total_response_time_ms as f64 / timed as f64);
        }
        Ok(stats)
    }

    /// The user's `limit` most used tools in `[from, to)`, over all their
    /// API keys: (tool, requests), most requests first, ties by tool name;
    /// grouped, ordered and cut by the database in one query.
    #[instrument(skip_all, fields(user_id = %user, limit), err(Display))]
    pub async fn top_tools(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(String, u64)>> {
        validation::ordered("to", from, to)?;
        let limit = validation::int_range::<u32, u64>("limit", limit, 1..=1000)?;
        let keys = Query::select()
            .column(api_keys::Column::Id)
            .from(api_keys::Entity)
            .and_where(Expr::col(api_keys::Column::UserId).eq(user.as_uuid()))
            .to_owned();
        let requests = Expr::col(Asterisk).count();
        let rows: Vec<(String, i64)> = api_key_usage::Entity::find()
            .select_only()
            .column(api_key_usage::Column::ToolName)
            .column_as(requests.clone(), "requests")
            .filter(Expr::col(api_key_usage::Column::ApiKeyId).in_subquery(keys))
            .filter(api_key_usage::Column::Timestamp.gte(time::checked("from", from)?))
            .filter(api_key_usage::Column::Timestamp.lt(time::checked("to", to)?))
            .group_by(api_key_usage::Column::ToolName)
            .order_by_desc(requests)
            .order_by_asc(api_key_usage::Column::ToolName)
            .limit(limit)
            .into_tuple()
            .all(&self.ctx.conn())
            .await?;
        rows.into_iter()
            .map(|(tool, n)| Ok((tool, count_of(n)?)))
            .collect()
    }

    /// Records one JWT-authenticated request and returns the row id. Bad
    /// input is `InvalidInput`; an unknown user is `ForeignKey`.
    #[instrument(skip_all, fields(user_id = %usage.user_id, status_code = usage.status_code), err(Display))]
    pub async fn record_jwt_usage(&self, usage: NewJwtUsage) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let client = client_details(
            usage.request_size_bytes,
            usage.response_size_bytes,
            usage.ip_address.as_deref(),
            usage.user_agent.as_deref(),
        )?;
        let row = jwt_usage::ActiveModel {
            id: Set(id),
            user_id: Set(usage.user_id.as_uuid()),
            timestamp: Set(time::checked("timestamp", usage.timestamp)?),
            endpoint: Set(validation::required(
                "endpoint",
                &usage.endpoint,
                MAX_ENDPOINT,
            )?),
            method: Set(method(&usage.method)?),
            status_code: Set(status_code(usage.status_code)?),
            response_time_ms: Set(response_time(usage.response_time_ms)?),
            request_size_bytes: Set(client.request_size_bytes),
            response_size_bytes: Set(client.response_size_bytes),
            ip_address: Set(client.ip_address),
            user_agent: Set(client.user_agent),
        };
        jwt_usage::Entity::insert(row)
            .exec_without_returning(&self.ctx.conn())
            .await?;
        Ok(id)
    }

    /// How many JWT requests the user made at or after `since`.
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn current_jwt_usage(&self, user: UserId, since: DateTime<Utc>) -> Result<u64> {
        count(
            &self.ctx.conn(),
            jwt_usage::Entity::find()
                .filter(jwt_usage::Column::UserId.eq(user.as_uuid()))
                .filter(jwt_usage::Column::Timestamp.gte(time::checked("since", since)?)),
        )
        .await
    }

    /// Counts across the platform in one query: users, keys usable now,
    /// and API-key requests, JWT requests and logged requests at or after
    /// `since`.
    #[instrument(skip_all)]
    pub async fn system_stats(&self, since: DateTime<Utc>) -> Result<SystemStats> {
        self.stats(since, None).await
    }

    /// [`Self::system_stats`] for one tenant: its members, their keys and
    /// their requests (a user who belongs to several tenants counts in
    /// each).
    #[instrument(skip_all, fields(tenant_id = %tenant))]
    pub async fn tenant_stats(
        &self,
        tenant: TenantId,
        since: DateTime<Utc>,
    ) -> Result<SystemStats> {
        self.stats(since, Some(tenant)).await
    }

    /// The counts, of everyone or of `tenant`'s members, in one query.
    async fn stats(&self, since: DateTime<Utc>, tenant: Option<TenantId>) -> Result<SystemStats> {
        let now = time::stored(time::now());
        let since = time::checked("since", since)?;
        let count_all = || Expr::col(Asterisk).count();
        // The members, through the tenant's scope (never a hand-written
        // tenant filter); `None` counts everyone.
        let members = tenant.map(|tenant| {
            TenantScope::new(self.ctx, tenant)
                .scoped
                .find::<entity::tenant_users::Entity>()
                .select_only()
                .column(entity::tenant_users::Column::UserId)
                .into_query()
        });
        let of_members = |column: sea_orm::sea_query::ColumnRef| {
            members.clone().map(|m| Expr::col(column).in_subquery(m))
        };
        let member_keys = members.clone().map(|m| {
            Query::select()
                .column(api_keys::Column::Id)
                .from(api_keys::Entity)
                .and_where(Expr::col(api_keys::Column::UserId).in_subquery(m))
                .to_owned()
        });
        let users = users::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
            .apply_if(
                of_members(users::Column::Id.into_column_ref()),
                QueryFilter::filter,
            )
            .into_query();
        let active_keys = api_keys::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
            .filter(api_keys::Column::IsActive.eq(true))
            .filter(
                Condition::any()
                    .add(api_keys::Column::ExpiresAt.is_null())
                    .add(api_keys::Column::ExpiresAt.gt(now)),
            )
            .apply_if(
                of_members(api_keys::Column::UserId.into_column_ref()),
                QueryFilter::filter,
            )
            .into_query();
        let key_requests = api_key_usage::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
            .filter(api_key_usage::Column::Timestamp.gte(since))
            .apply_if(
                member_keys.map(|k| Expr::col(api_key_usage::Column::ApiKeyId).in_subquery(k)),
                QueryFilter::filter,
            )
            .into_query();
        let jwt_requests = jwt_usage::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
            .filter(jwt_usage::Column::Timestamp.gte(since))
            .apply_if(
                of_members(jwt_usage::Column::UserId.into_column_ref()),
                QueryFilter::filter,
            )
            .into_query();
        let logs = request_logs::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
            .filter(request_logs::Column::Timestamp.gte(since))
            .apply_if(
                of_members(request_logs::Column::UserId.into_column_ref()),
                QueryFilter::filter,
            )
            .into_query();
        let statement = Query::select()
            .expr_as(Expr::from(users), "users")
            .expr_as(Expr::from(active_keys), "active_api_keys")
            .expr_as(Expr::from(key_requests), "api_key_requests")
            .expr_as(Expr::from(jwt_requests), "jwt_requests")
            .expr_as(Expr::from(logs), "request_logs")
            .to_owned();
        let row = self
            .ctx
            .conn()
            .query_one(&statement)
            .await?
            .ok_or_else(|| DatabaseError::Decode("system stats returned no row".into()))?;
        let get = |column: &str| -> Result<u64> { count_of(row.try_get::<i64>("", column)?) };
        Ok(SystemStats {
            users: get("users")?,
            active_api_keys: get("active_api_keys")?,
            api_key_requests: get("api_key_requests")?,
            jwt_requests: get("jwt_requests")?,
            request_logs: get("request_logs")?,
        })
    }
}

impl<'a> Usage<'a> {
    /// Records many API-key requests (a buffer flushed by the server) in
    /// multi-row statements of [`BATCH_ROWS`] rows, all inside one
    /// transaction (a savepoint when already in one): either every row is
    /// written or none is. Every row is checked before anything is sent; a
    /// bad one is `InvalidInput` naming its index, an unknown key is
    /// `ForeignKey`. Returns how many rows were written.
    #[instrument(skip_all, fields(rows = usage.len()), err(Display))]
    pub async fn record_api_key_usage_batch(&self, usage: Vec<NewApiKeyUsage>) -> Result<u64> {
        let rows = usage
            .into_iter()
            .enumerate()
            .map(|(i, u)| api_key_usage_row(Uuid::now_v7(), u).map_err(|err| at_row(i, err)))
            .collect::<Result<Vec<_>>>()?;
        super::insert_in_batches(&self.ctx, rows, BATCH_ROWS).await
    }
}

/// Checks a usage row and makes it ready to insert.
fn api_key_usage_row(id: Uuid, usage: NewApiKeyUsage) -> Result<api_key_usage::ActiveModel> {
    let client = client_details(
        usage.request_size_bytes,
        usage.response_size_bytes,
        usage.ip_address.as_deref(),
        usage.user_agent.as_deref(),
    )?;
    Ok(api_key_usage::ActiveModel {
        id: Set(id),
        api_key_id: Set(usage.api_key_id.as_uuid()),
        timestamp: Set(time::checked("timestamp", usage.timestamp)?),
        tool_name: Set(tool_name(&usage.tool_name)?),
        status_code: Set(status_code(usage.status_code)?),
        response_time_ms: Set(response_time(usage.response_time_ms)?),
        error_message: Set(error_message(usage.error_message.as_deref())?),
        request_size_bytes: Set(client.request_size_bytes),
        response_size_bytes: Set(client.response_size_bytes),
        ip_address: Set(client.ip_address),
        user_agent: Set(client.user_agent),
    })
}

/// What every request-usage row (API key, JWT, A2A) records of the client,
/// checked by one policy.
pub(crate) struct ClientDetails {
    pub request_size_bytes: Option<i64>,
    pub response_size_bytes: Option<i64>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Checks the client details of a request-usage row.
pub(crate) fn client_details(
    request_size_bytes: Option<u64>,
    response_size_bytes: Option<u64>,
    ip_address: Option<&str>,
    user_agent: Option<&str>,
) -> Result<ClientDetails> {
    Ok(ClientDetails {
        request_size_bytes: size("request_size_bytes", request_size_bytes)?,
        response_size_bytes: size("response_size_bytes", response_size_bytes)?,
        ip_address: validation::optional("ip_address", ip_address, MAX_IP_ADDRESS)?,
        user_agent: validation::optional("user_agent", user_agent, MAX_USER_AGENT)?,
    })
}

/// The tool a request-usage row names.
pub(crate) fn tool_name(name: &str) -> Result<String> {
    validation::required("tool_name", name, MAX_TOOL_NAME)
}

/// The error a request-usage row records.
pub(crate) fn error_message(message: Option<&str>) -> Result<Option<String>> {
    validation::optional_multiline("error_message", message, MAX_ERROR_MESSAGE)
}

/// Names the row of a batch that failed validation.
pub(crate) fn at_row(index: usize, err: DatabaseError) -> DatabaseError {
    match err {
        DatabaseError::InvalidInput { field, reason } => DatabaseError::InvalidInput {
            field,
            reason: format!("row {index}: {reason}"),
        },
        other => other,
    }
}

pub(crate) fn status_code(code: u16) -> Result<i32> {
    validation::int_range("status_code", code, 100..=599)
}

pub(crate) fn response_time(ms: Option<u32>) -> Result<Option<i32>> {
    ms.map(|ms| validation::int_range("response_time_ms", ms, 0..=MAX_I32))
        .transpose()
}

pub(crate) fn size(field: &'static str, bytes: Option<u64>) -> Result<Option<i64>> {
    bytes
        .map(|b| validation::int_range(field, b, 0..=MAX_I64))
        .transpose()
}

pub(super) fn method(method: &str) -> Result<String> {
    Ok(validation::required("method", method, MAX_METHOD)?.to_ascii_uppercase())
}

/// `SELECT COUNT(*)` of `select`, without selecting any column.
pub(crate) async fn count<E: EntityTrait, C: ConnectionTrait>(
    conn: &C,
    select: Select<E>,
) -> Result<u64> {
    let n: Option<i64> = select
        .select_only()
        .column_as(Expr::col(Asterisk).count(), "n")
        .into_tuple()
        .one(conn)
        .await?;
    count_of(n.unwrap_or(0))
}

/// A count the database computed.
fn count_of(value: i64) -> Result<u64> {
    unsigned("count", value)
}
