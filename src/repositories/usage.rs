//! API-key and JWT usage, request logs and statistics.
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
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select,
    TransactionSession, TransactionTrait,
};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{ApiKeyId, UserId};
use crate::pagination::{Page, PageRequest, Position, keyset_page};
use crate::repositories::Ctx;
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

/// HTTP status codes below this count as successes.
const FIRST_FAILURE_STATUS: i32 = 400;
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

/// One request to log, for [`Usage::record_request_log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRequestLog {
    /// The user, when known (must exist).
    pub user_id: Option<UserId>,
    /// The API key, when one was used (must exist).
    pub api_key_id: Option<ApiKeyId>,
    /// When the request happened.
    pub timestamp: DateTime<Utc>,
    /// The HTTP method (stored upper-case).
    pub method: String,
    /// The path called.
    pub endpoint: String,
    /// The HTTP status answered (100–599).
    pub status_code: u16,
    /// How long the answer took.
    pub response_time_ms: Option<u32>,
    /// The error, for failed requests.
    pub error_message: Option<String>,
}

impl NewRequestLog {
    /// An anonymous request happening now.
    pub fn new(method: impl Into<String>, endpoint: impl Into<String>, status_code: u16) -> Self {
        Self {
            user_id: None,
            api_key_id: None,
            timestamp: time::now(),
            method: method.into(),
            endpoint: endpoint.into(),
            status_code,
            response_time_ms: None,
            error_message: None,
        }
    }
}

/// A logged request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    /// The row id.
    pub id: Uuid,
    /// The user, when known.
    pub user_id: Option<UserId>,
    /// The API key, when one was used (cleared if the key is deleted).
    pub api_key_id: Option<ApiKeyId>,
    /// When the request happened.
    pub timestamp: DateTime<Utc>,
    /// The HTTP method.
    pub method: String,
    /// The path called.
    pub endpoint: String,
    /// The HTTP status answered.
    pub status_code: u16,
    /// How long the answer took.
    pub response_time_ms: Option<u32>,
    /// The error, for failed requests.
    pub error_message: Option<String>,
}

impl TryFrom<request_logs::Model> for RequestLog {
    type Error = DatabaseError;

    fn try_from(m: request_logs::Model) -> Result<Self> {
        let bad =
            |column: &str| DatabaseError::Decode(format!("request_logs.{column} out of range"));
        Ok(Self {
            id: m.id,
            user_id: m.user_id.map(Into::into),
            api_key_id: m.api_key_id.map(Into::into),
            timestamp: m.timestamp.to_utc(),
            method: m.method,
            endpoint: m.endpoint,
            status_code: u16::try_from(m.status_code).map_err(|_| bad("status_code"))?,
            response_time_ms: m
                .response_time_ms
                .map(|v| u32::try_from(v).map_err(|_| bad("response_time_ms")))
                .transpose()?,
            error_message: m.error_message,
        })
    }
}

/// Which logs [`Usage::list_request_logs`] returns; `None` matches anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestLogFilter {
    /// Only this user's requests.
    pub user_id: Option<UserId>,
    /// Only statuses at least this.
    pub min_status: Option<u16>,
    /// Only statuses at most this.
    pub max_status: Option<u16>,
    /// Only requests at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only requests before this time.
    pub to: Option<DateTime<Utc>>,
}

/// An API key's usage over a time range, from [`Usage::usage_stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageStats {
    /// Requests in the range.
    pub total_requests: u64,
    /// Requests answered with a status below 400.
    pub successful_requests: u64,
    /// Requests answered with a status of 400 or more.
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
/// use chrono::{Duration, Utc};
/// use pierre_db::{Database, MasterKey, NewUser};
/// use pierre_db::repositories::usage::NewJwtUsage;
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
pub struct Usage<'a, C> {
    ctx: Ctx<'a, C>,
}

impl<'a, C: ConnectionTrait> Usage<'a, C> {
    pub(crate) fn new(ctx: Ctx<'a, C>) -> Self {
        Self { ctx }
    }

    /// Records one API-key request and returns the row id. Bad input is
    /// `InvalidInput`; an unknown key is `ForeignKey`.
    #[instrument(skip_all, fields(api_key_id = %usage.api_key_id, status_code = usage.status_code), err(Display))]
    pub async fn record_api_key_usage(&self, usage: NewApiKeyUsage) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let row = api_key_usage_row(id, usage)?;
        api_key_usage::Entity::insert(row)
            .exec_without_returning(self.ctx.conn)
            .await?;
        Ok(id)
    }

    /// How many requests the key made at or after `since` (for rate
    /// limiting over a window).
    #[instrument(skip_all, fields(api_key_id = %key_id))]
    pub async fn current_usage(&self, key_id: ApiKeyId, since: DateTime<Utc>) -> Result<u64> {
        count(
            self.ctx.conn,
            api_key_usage::Entity::find()
                .filter(api_key_usage::Column::ApiKeyId.eq(key_id.as_uuid()))
                .filter(api_key_usage::Column::Timestamp.gte(bound(since))),
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
        let status = Expr::col(api_key_usage::Column::StatusCode);
        let response_ms = || Expr::col(api_key_usage::Column::ResponseTimeMs);
        let rows: Vec<(String, i64, i64, Option<i64>, i64)> = api_key_usage::Entity::find()
            .select_only()
            .column(api_key_usage::Column::ToolName)
            .column_as(Expr::col(Asterisk).count(), "requests")
            .column_as(
                Expr::case(status.lt(FIRST_FAILURE_STATUS), 1).count(),
                "successes",
            )
            .column_as(response_ms().sum(), "total_ms")
            .column_as(response_ms().count(), "timed")
            .filter(api_key_usage::Column::ApiKeyId.eq(key_id.as_uuid()))
            .filter(api_key_usage::Column::Timestamp.gte(bound(from)))
            .filter(api_key_usage::Column::Timestamp.lt(bound(to)))
            .group_by(api_key_usage::Column::ToolName)
            .order_by_asc(api_key_usage::Column::ToolName)
            .into_tuple()
            .all(self.ctx.conn)
            .await?;
        let mut stats = UsageStats::default();
        let mut timed = 0u64;
        for (tool, requests, successes, total_ms, timed_rows) in rows {
            let requests = non_negative(requests)?;
            let successes = non_negative(successes)?;
            stats.total_requests += requests;
            stats.successful_requests += successes;
            stats.failed_requests += requests.saturating_sub(successes);
            stats.total_response_time_ms += non_negative(total_ms.unwrap_or(0))?;
            timed += non_negative(timed_rows)?;
            stats.requests_by_tool.insert(tool, requests);
        }
        if timed > 0 {
            stats.average_response_time_ms =
                Some(stats.total_response_time_ms as f64 / timed as f64);
        }
        Ok(stats)
    }

    /// Records one JWT-authenticated request and returns the row id. Bad
    /// input is `InvalidInput`; an unknown user is `ForeignKey`.
    #[instrument(skip_all, fields(user_id = %usage.user_id, status_code = usage.status_code), err(Display))]
    pub async fn record_jwt_usage(&self, usage: NewJwtUsage) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let row = jwt_usage::ActiveModel {
            id: Set(id),
            user_id: Set(usage.user_id.as_uuid()),
            timestamp: Set(bound(usage.timestamp)),
            endpoint: Set(validation::required(
                "endpoint",
                &usage.endpoint,
                MAX_ENDPOINT,
            )?),
            method: Set(method(&usage.method)?),
            status_code: Set(status_code(usage.status_code)?),
            response_time_ms: Set(response_time(usage.response_time_ms)?),
            request_size_bytes: Set(size("request_size_bytes", usage.request_size_bytes)?),
            response_size_bytes: Set(size("response_size_bytes", usage.response_size_bytes)?),
            ip_address: Set(validation::optional(
                "ip_address",
                usage.ip_address.as_deref(),
                MAX_IP_ADDRESS,
            )?),
            user_agent: Set(validation::optional(
                "user_agent",
                usage.user_agent.as_deref(),
                MAX_USER_AGENT,
            )?),
        };
        jwt_usage::Entity::insert(row)
            .exec_without_returning(self.ctx.conn)
            .await?;
        Ok(id)
    }

    /// How many JWT requests the user made at or after `since`.
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn current_jwt_usage(&self, user: UserId, since: DateTime<Utc>) -> Result<u64> {
        count(
            self.ctx.conn,
            jwt_usage::Entity::find()
                .filter(jwt_usage::Column::UserId.eq(user.as_uuid()))
                .filter(jwt_usage::Column::Timestamp.gte(bound(since))),
        )
        .await
    }

    /// Logs one request and returns the row id. Bad input is
    /// `InvalidInput`; an unknown user or key is `ForeignKey`.
    #[instrument(skip_all, fields(user_id = ?log.user_id, api_key_id = ?log.api_key_id, status_code = log.status_code), err(Display))]
    pub async fn record_request_log(&self, log: NewRequestLog) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let row = request_logs::ActiveModel {
            id: Set(id),
            user_id: Set(log.user_id.map(|u| u.as_uuid())),
            api_key_id: Set(log.api_key_id.map(|k| k.as_uuid())),
            timestamp: Set(bound(log.timestamp)),
            method: Set(method(&log.method)?),
            endpoint: Set(validation::required(
                "endpoint",
                &log.endpoint,
                MAX_ENDPOINT,
            )?),
            status_code: Set(status_code(log.status_code)?),
            response_time_ms: Set(response_time(log.response_time_ms)?),
            error_message: Set(validation::optional_multiline(
                "error_message",
                log.error_message.as_deref(),
                MAX_ERROR_MESSAGE,
            )?),
        };
        request_logs::Entity::insert(row)
            .exec_without_returning(self.ctx.conn)
            .await?;
        Ok(id)
    }

    /// Logged requests matching `filter`, oldest first, one keyset page at
    /// a time (ordered by `(timestamp, id)`). A status or time range whose
    /// ends are out of order is `InvalidInput`; a cursor is accepted only
    /// with the filter it was issued for.
    #[instrument(skip_all, fields(user_id = ?filter.user_id, limit = request.limit()), err(Display))]
    pub async fn list_request_logs(
        &self,
        filter: &RequestLogFilter,
        request: &PageRequest,
    ) -> Result<Page<RequestLog>> {
        let mut select = request_logs::Entity::find();
        if let Some(user) = filter.user_id {
            select = select.filter(request_logs::Column::UserId.eq(user.as_uuid()));
        }
        if let (Some(min), Some(max)) = (filter.min_status, filter.max_status) {
            validation::ordered("max_status", min, max)?;
        }
        if let Some(min) = filter.min_status {
            select = select.filter(request_logs::Column::StatusCode.gte(i32::from(min)));
        }
        if let Some(max) = filter.max_status {
            select = select.filter(request_logs::Column::StatusCode.lte(i32::from(max)));
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            validation::ordered("to", from, to)?;
        }
        if let Some(from) = filter.from {
            select = select.filter(request_logs::Column::Timestamp.gte(bound(from)));
        }
        if let Some(to) = filter.to {
            select = select.filter(request_logs::Column::Timestamp.lt(bound(to)));
        }
        let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros());
        let scope = format!(
            "request_logs:user={};status={:?}..{:?};time={:?}..{:?}",
            filter.user_id.map(|u| u.to_string()).unwrap_or_default(),
            filter.min_status,
            filter.max_status,
            micros(filter.from),
            micros(filter.to),
        );
        let page = keyset_page(
            self.ctx.conn,
            self.ctx.cursors(),
            &scope,
            request,
            select,
            (request_logs::Column::Timestamp, request_logs::Column::Id),
            |m| Position {
                at: m.timestamp.to_utc(),
                id: m.id,
            },
        )
        .await?;
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(RequestLog::try_from)
                .collect::<Result<_>>()?,
            next_cursor: page.next_cursor,
            has_more: page.has_more,
        })
    }

    /// Counts across the platform in one query: users, keys usable now,
    /// and API-key requests, JWT requests and logged requests at or after
    /// `since`.
    #[instrument(skip_all)]
    pub async fn system_stats(&self, since: DateTime<Utc>) -> Result<SystemStats> {
        let now = time::stored(time::now());
        let since = bound(since);
        let count_all = || Expr::col(Asterisk).count();
        let users = users::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
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
            .into_query();
        let key_requests = api_key_usage::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
            .filter(api_key_usage::Column::Timestamp.gte(since))
            .into_query();
        let jwt_requests = jwt_usage::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
            .filter(jwt_usage::Column::Timestamp.gte(since))
            .into_query();
        let logs = request_logs::Entity::find()
            .select_only()
            .column_as(count_all(), "n")
            .filter(request_logs::Column::Timestamp.gte(since))
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
            .conn
            .query_one(&statement)
            .await?
            .ok_or_else(|| DatabaseError::Decode("system stats returned no row".into()))?;
        let get = |column: &str| -> Result<u64> { non_negative(row.try_get::<i64>("", column)?) };
        Ok(SystemStats {
            users: get("users")?,
            active_api_keys: get("active_api_keys")?,
            api_key_requests: get("api_key_requests")?,
            jwt_requests: get("jwt_requests")?,
            request_logs: get("request_logs")?,
        })
    }
}

impl<'a, C: ConnectionTrait + TransactionTrait> Usage<'a, C> {
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
        if rows.is_empty() {
            return Ok(0);
        }
        let txn = self.ctx.conn.begin().await?;
        let mut written = 0;
        let mut rows = rows.into_iter();
        loop {
            let chunk: Vec<_> = rows.by_ref().take(BATCH_ROWS).collect();
            if chunk.is_empty() {
                break;
            }
            match api_key_usage::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await
            {
                Ok(n) => written += n,
                Err(err) => {
                    // The rollback's own failure matters less than the cause.
                    let _ = txn.rollback().await;
                    return Err(err.into());
                }
            }
        }
        txn.commit().await?;
        Ok(written)
    }
}

/// Checks a usage row and makes it ready to insert.
fn api_key_usage_row(id: Uuid, usage: NewApiKeyUsage) -> Result<api_key_usage::ActiveModel> {
    Ok(api_key_usage::ActiveModel {
        id: Set(id),
        api_key_id: Set(usage.api_key_id.as_uuid()),
        timestamp: Set(bound(usage.timestamp)),
        tool_name: Set(validation::required(
            "tool_name",
            &usage.tool_name,
            MAX_TOOL_NAME,
        )?),
        status_code: Set(status_code(usage.status_code)?),
        response_time_ms: Set(response_time(usage.response_time_ms)?),
        error_message: Set(validation::optional_multiline(
            "error_message",
            usage.error_message.as_deref(),
            MAX_ERROR_MESSAGE,
        )?),
        request_size_bytes: Set(size("request_size_bytes", usage.request_size_bytes)?),
        response_size_bytes: Set(size("response_size_bytes", usage.response_size_bytes)?),
        ip_address: Set(validation::optional(
            "ip_address",
            usage.ip_address.as_deref(),
            MAX_IP_ADDRESS,
        )?),
        user_agent: Set(validation::optional(
            "user_agent",
            usage.user_agent.as_deref(),
            MAX_USER_AGENT,
        )?),
    })
}

/// Names the row of a batch that failed validation.
fn at_row(index: usize, err: DatabaseError) -> DatabaseError {
    match err {
        DatabaseError::InvalidInput { field, reason } => DatabaseError::InvalidInput {
            field,
            reason: format!("row {index}: {reason}"),
        },
        other => other,
    }
}

fn status_code(code: u16) -> Result<i32> {
    validation::int_range("status_code", code, 100..=599)
}

fn response_time(ms: Option<u32>) -> Result<Option<i32>> {
    ms.map(|ms| validation::int_range("response_time_ms", ms, 0..=MAX_I32))
        .transpose()
}

fn size(field: &'static str, bytes: Option<u64>) -> Result<Option<i64>> {
    bytes
        .map(|b| validation::int_range(field, b, 0..=MAX_I64))
        .transpose()
}

fn method(method: &str) -> Result<String> {
    Ok(validation::required("method", method, MAX_METHOD)?.to_ascii_uppercase())
}

/// A time as stored and compared: UTC, whole microseconds.
fn bound(at: DateTime<Utc>) -> sea_orm::prelude::DateTimeWithTimeZone {
    time::stored(time::truncate(at))
}

fn non_negative(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| DatabaseError::Decode("negative count".into()))
}

/// `SELECT COUNT(*)` of `select`, without selecting any column.
async fn count<E: EntityTrait, C: ConnectionTrait>(conn: &C, select: Select<E>) -> Result<u64> {
    let n: Option<i64> = select
        .select_only()
        .column_as(Expr::col(Asterisk).count(), "n")
        .into_tuple()
        .one(conn)
        .await?;
    non_negative(n.unwrap_or(0))
}

impl crate::Database {
    /// The usage and request-log repository.
    pub fn usage(&self) -> Usage<'_, DatabaseConnection> {
        Usage::new(Ctx::new(self.unscoped_connection(), self))
    }
}

impl<'c> crate::Tx<'c> {
    /// The usage and request-log repository, inside this transaction.
    pub fn usage(&self) -> Usage<'c, DatabaseTransaction> {
        Usage::new(self.ctx())
    }
}
