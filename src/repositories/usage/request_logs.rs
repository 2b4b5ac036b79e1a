//! Request logs: one row per HTTP request, written by [`Usage`] and paged
//! with keyset cursors. Same repository as usage (`db.usage()`), kept in a
//! file of its own.

use chrono::{DateTime, Utc};
use entity::request_logs;
use pierre_db_macros::metered;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tracing::instrument;
use uuid::Uuid;

use super::api_usage::Usage;
use crate::error::{DatabaseError, Result};
use crate::ids::{ApiKeyId, UsageId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::RunInsert;
use crate::query::cells::{Cell, Decode, Row, at, read_time};
use crate::query::{in_period, unsigned, unsigned_opt};
use crate::query::{keyset_order, keyset_page};
use crate::validation;
use crate::validation::request::{Kept, ServedRequest, endpoint, method};

/// One request to log, for [`Usage::record_request_log`]. Its
/// [`ServedRequest`]'s sizes and client details are not kept (the table has
/// no columns for them): setting one is `InvalidInput`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRequestLog {
    /// The user, when known (must exist).
    pub user_id: Option<UserId>,
    /// The API key, when one was used (must exist).
    pub api_key_id: Option<ApiKeyId>,
    /// The HTTP method (stored upper-case).
    pub method: String,
    /// The path called.
    pub endpoint: String,
    /// When, and how it was answered.
    pub request: ServedRequest,
}

impl NewRequestLog {
    /// An anonymous request happening now.
    pub fn new(method: impl Into<String>, endpoint: impl Into<String>, status_code: u16) -> Self {
        Self {
            user_id: None,
            api_key_id: None,
            method: method.into(),
            endpoint: endpoint.into(),
            request: ServedRequest::now(status_code),
        }
    }
}

/// A logged request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    /// The row id.
    pub id: UsageId,
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
        Ok(Self {
            id: UsageId::from_uuid(m.id),
            user_id: m.user_id.map(UserId::from_uuid),
            api_key_id: m.api_key_id.map(ApiKeyId::from_uuid),
            timestamp: m.timestamp.to_utc(),
            method: m.method,
            endpoint: m.endpoint,
            status_code: unsigned("request_logs.status_code", m.status_code)?,
            response_time_ms: unsigned_opt("request_logs.response_time_ms", m.response_time_ms)?,
            error_message: m.error_message,
        })
    }
}

/// Which logs [`Usage::list_request_logs`] returns; `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestLogFilter {
    /// Only this user's requests.
    pub user_id: Option<UserId>,
    /// Only requests made with this API key.
    pub api_key_id: Option<ApiKeyId>,
    /// Only requests to this endpoint (the tool called), exactly.
    pub endpoint: Option<String>,
    /// Only statuses at least this.
    pub min_status: Option<u16>,
    /// Only statuses at most this.
    pub max_status: Option<u16>,
    /// Only requests at or after this time. A time outside the years 0000–9999
    /// is [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub from: Option<DateTime<Utc>>,
    /// Only requests before this time. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub to: Option<DateTime<Utc>>,
}

impl<'a> Usage<'a> {
    /// Logs one request and returns the row id. Bad input is
    /// `InvalidInput`; an unknown user or key is `ForeignKey`. A time outside
    /// the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(user_id = ?log.user_id, api_key_id = ?log.api_key_id, status_code = log.request.status_code), err(Display))]
    pub async fn record_request_log(&self, log: NewRequestLog) -> Result<UsageId> {
        let id = Uuid::now_v7();
        let served = log.request.checked(Kept {
            table: "request_logs",
            error: true,
            client: false,
        })?;
        let row = request_logs::ActiveModel {
            id: Set(id),
            user_id: Set(log.user_id.map(|u| u.as_uuid())),
            api_key_id: Set(log.api_key_id.map(|k| k.as_uuid())),
            timestamp: Set(served.timestamp),
            method: Set(method(&log.method)?),
            endpoint: Set(endpoint(&log.endpoint)?),
            status_code: Set(served.status_code),
            response_time_ms: Set(served.response_time_ms),
            error_message: Set(served.error_message),
        };
        request_logs::Entity::insert(row)
            .exec_without_returning_in(&self.ctx)
            .await?;
        Ok(UsageId::from_uuid(id))
    }

    /// Logged requests matching `filter`, oldest first, one keyset page at
    /// a time (ordered by `(timestamp, id)`). A status or time range whose
    /// ends are out of order is `InvalidInput`; a cursor is accepted only
    /// with the filter it was issued for. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
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
        if let Some(key) = filter.api_key_id {
            select = select.filter(request_logs::Column::ApiKeyId.eq(key.as_uuid()));
        }
        let endpoint = filter.endpoint.as_deref().map(endpoint).transpose()?;
        if let Some(endpoint) = &endpoint {
            select = select.filter(request_logs::Column::Endpoint.eq(endpoint));
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
        let select = in_period(
            select,
            request_logs::Column::Timestamp,
            filter.from,
            filter.to,
        )?;
        let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros());
        let list = self
            .ctx
            .list("request_logs")
            .by(filter.user_id)
            .by(filter.api_key_id)
            .by(&endpoint)
            .by(filter.min_status)
            .by(filter.max_status)
            .by(micros(filter.from))
            .by(micros(filter.to));
        let page = keyset_page::<request_logs::Model>(&self.ctx, &list, request, select).await?;
        page.try_map(RequestLog::try_from)
    }
}

keyset_order!(
    request_logs::Model,
    request_logs::Column,
    (request_logs::Column::Timestamp, request_logs::Column::Id),
    Ascending,
    |m| Position {
        at: m.timestamp.to_utc(),
        id: m.id,
    },
    decoded
);

/// A log row by position, as `Entity::find()` selects it (every column in
/// declaration order): for the pages read on the calling thread.
impl Decode for request_logs::Model {
    fn decode(row: Row<'_>) -> std::result::Result<Self, sea_orm::DbErr> {
        use request_logs::Column as C;
        Ok(Self {
            id: Cell::read(row, at!(C::Id))?,
            user_id: Cell::read(row, at!(C::UserId))?,
            api_key_id: Cell::read(row, at!(C::ApiKeyId))?,
            timestamp: read_time(row, at!(C::Timestamp))?,
            method: Cell::read(row, at!(C::Method))?,
            endpoint: Cell::read(row, at!(C::Endpoint))?,
            status_code: Cell::read(row, at!(C::StatusCode))?,
            response_time_ms: Cell::read(row, at!(C::ResponseTimeMs))?,
            error_message: Cell::read(row, at!(C::ErrorMessage))?,
        })
    }
}
