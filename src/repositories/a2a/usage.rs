//! A2A usage: `db.a2a_usage()`. One row per request of a client, recorded
//! one at a time or in batches; read back as the count in the client's
//! rate-limit window, stats for a period and a per-day history.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::a2a_clients as clients;
use entity::a2a_usage as usage;
use pierre_db_macros::metered;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, Iterable, QueryFilter,
    QuerySelect, Value,
};
use tracing::instrument;
use uuid::Uuid;

use super::clients::owned_client;
use crate::error::{DatabaseError, Result};
use crate::ids::{A2aClientId, UsageId, UserId};
use crate::query::Ctx;
use crate::query::RunSelect;
use crate::query::{Prepared, prepared, unsigned};
use crate::repositories::usage::{insert_in_batches, successes};
use crate::time;
use crate::validation;
use crate::validation::request::{Kept, ServedRequest, at_row, tool_name};

/// Rows per INSERT of a batch: 500 × 14 columns stays under SQLite's
/// 32,766 bound parameters.
const BATCH_ROWS: usize = 500;
const _: () = assert!(BATCH_ROWS * 14 <= 32_766);

/// One request of an A2A client, for [`A2aUsage::record`]. Every field of
/// its [`ServedRequest`] is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewA2aUsage {
    /// The client.
    pub client_id: A2aClientId,
    /// The session it came through, if any (the stored hash is looked up
    /// from the presented token by the caller; `None` when unknown).
    pub session_token_hash: Option<String>,
    /// The tool called.
    pub tool_name: String,
    /// When, how it was answered, and who asked.
    pub request: ServedRequest,
}

impl NewA2aUsage {
    /// A request of `client` to `tool_name`, answered with `status_code`, now.
    pub fn new(client_id: A2aClientId, tool_name: impl Into<String>, status_code: u16) -> Self {
        Self {
            client_id,
            session_token_hash: None,
            tool_name: tool_name.into(),
            request: ServedRequest::now(status_code),
        }
    }
}

/// A client's usage over a period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct A2aUsageStats {
    /// Requests.
    pub total_requests: u64,
    /// Of those, answered 2xx ([`Usage::SUCCESS_STATUSES`](crate::Usage::SUCCESS_STATUSES)).
    pub successful_requests: u64,
    /// The others.
    pub failed_requests: u64,
    /// Mean response time of the requests that recorded one.
    pub average_response_time_ms: Option<f64>,
}

/// One UTC day of a client's usage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct A2aDailyUsage {
    /// The day (UTC).
    pub day: NaiveDate,
    /// Requests that day.
    pub requests: u64,
    /// Of those, answered 2xx.
    pub successes: u64,
    /// The others.
    pub failures: u64,
}

/// A2A usage: `db.a2a_usage()`.
pub struct A2aUsage<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl A2aUsage<'_> {
    /// Longest tool name (the same for every kind of usage).
    pub const MAX_TOOL_NAME: usize = crate::validation::request::MAX_TOOL_NAME;
    /// Most days of history.
    pub const MAX_HISTORY_DAYS: u32 = 366;
}

impl<'a> A2aUsage<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Records one request of an ACTIVE client; returns the row id.
    /// `InvalidInput` for bad fields; `NotFound` for an unknown client;
    /// `Rejected` for a deactivated one: once
    /// [`A2aClients::deactivate`](crate::A2aClients::deactivate) has
    /// returned, no request of the client is served, so none is counted
    /// either (usage is what a client did, and a rate-limit window must not
    /// fill with requests that were refused). A time outside the years
    /// 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    ///
    /// The check and the write are one statement: a deactivation cannot
    /// fall between them.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %used.client_id, status_code = used.request.status_code), err(Display))]
    pub async fn record(&self, used: NewA2aUsage) -> Result<UsageId> {
        // `INSERT … SELECT … WHERE EXISTS` an active client, locked FOR
        // SHARE on PostgreSQL.
        let id = Uuid::now_v7();
        let client = used.client_id;
        let row = usage_row(id, used)?;
        static INSERT: Prepared = prepared!();
        let columns: Vec<usage::Column> = usage::Column::iter().collect();
        let mut values: Vec<Value> = columns
            .iter()
            .filter_map(|column| row.get(*column).into_value())
            .collect();
        values.extend([client.into(), true.into()]);
        let backend = self.ctx.backend();
        let statement = INSERT.built(usage::Entity, backend, values, || {
            let row_values = columns
                .iter()
                .filter_map(|column| row.get(*column).into_value())
                .map(Expr::val);
            let active = Query::select()
                .column(clients::Column::Id)
                .from(clients::Entity)
                .and_where(Expr::col(clients::Column::Id).eq(client))
                .and_where(Expr::col(clients::Column::IsActive).eq(true))
                .lock_shared()
                .to_owned();
            let select = Query::select()
                .exprs(row_values)
                .and_where(Expr::exists(active))
                .to_owned();
            let insert = Query::insert()
                .into_table(usage::Entity)
                .columns(columns.clone())
                .select_from(select)
                .expect("as many values as columns")
                .to_owned();
            backend.build(&insert)
        });
        let written = statement.execute_in(&self.ctx).await?;
        if written == 0 {
            return Err(inactive_or_unknown(&self.ctx, client.as_uuid()).await);
        }
        Ok(UsageId::from_uuid(id))
    }

    /// Records many requests, 500 per INSERT statement, in one
    /// transaction: all rows or none. A bad row is `InvalidInput` naming
    /// its index, before anything is written; a row of an unknown or
    /// deactivated client is `NotFound` or `Rejected`, as in
    /// [`Self::record`], and nothing is written. Returns how many were
    /// written. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(rows = used.len()), err(Display))]
    pub async fn record_batch(&self, used: Vec<NewA2aUsage>) -> Result<u64> {
        let mut clients: Vec<Uuid> = used.iter().map(|u| u.client_id.as_uuid()).collect();
        clients.sort_unstable();
        clients.dedup();
        let rows = used
            .into_iter()
            .enumerate()
            .map(|(i, u)| usage_row(Uuid::now_v7(), u).map_err(|err| at_row(i, err)))
            .collect::<Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(0);
        }
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    // FOR SHARE: a deactivation waits for this batch, or is seen.
                    let active: Vec<Uuid> = clients::Entity::find()
                        .select_only()
                        .column(clients::Column::Id)
                        .filter(clients::Column::Id.is_in(clients.iter().copied()))
                        .filter(clients::Column::IsActive.eq(true))
                        .lock_shared()
                        .tuples()
                        .all_in(&tx)
                        .await?;
                    if let Some(missing) = clients.iter().find(|id| !active.contains(id)) {
                        return Err(inactive_or_unknown(&tx, *missing).await);
                    }
                    insert_in_batches(&tx, rows, BATCH_ROWS).await
                })
            })
            .await
    }

    /// Requests of the client within its rate-limit window ending now (for
    /// rate limiting): the window is the client's own
    /// `rate_limit_window_seconds`. `NotFound` for an unknown client.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %client))]
    pub async fn current_usage(&self, client: A2aClientId) -> Result<u64> {
        let window: Option<i32> = clients::Entity::find_by_id(client)
            .select_only()
            .column(clients::Column::RateLimitWindowSeconds)
            .tuples()
            .one_in(&self.ctx)
            .await?;
        let window = window.ok_or_else(|| DatabaseError::not_found("a2a client", client))?;
        let since = time::now() - Duration::seconds(i64::from(window));
        usage::Entity::find()
            .filter(usage::Column::ClientId.eq(client))
            .filter(usage::Column::Timestamp.gte(time::stored(since)))
            .count_in(&self.ctx)
            .await
    }

    /// `owner`'s client's usage in `[from, to)`, in ONE aggregate query.
    /// `NotFound` for a client `owner` does not own; `from` after `to` is
    /// `InvalidInput`. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %client, user_id = %owner), err(Display))]
    pub async fn stats(
        &self,
        owner: UserId,
        client: A2aClientId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<A2aUsageStats> {
        validation::ordered("to", from, to)?;
        let (from, to) = (time::checked("from", from)?, time::checked("to", to)?);
        owned_client(&self.ctx, owner, client.as_uuid()).await?;
        let response_ms = || Expr::col(usage::Column::ResponseTimeMs);
        let row: Option<(i64, i64, Option<i64>, i64)> = usage::Entity::find()
            .select_only()
            .column_as(Expr::col(Asterisk).count(), "requests")
            .column_as(
                Expr::expr(successes(usage::Column::StatusCode)).count(),
                "successes",
            )
            .column_as(response_ms().sum().cast_as("BIGINT"), "total_ms")
            .column_as(response_ms().count(), "timed")
            .filter(usage::Column::ClientId.eq(client))
            .filter(usage::Column::Timestamp.gte(from))
            .filter(usage::Column::Timestamp.lt(to))
            .tuples()
            .one_in(&self.ctx)
            .await?;
        let (requests, ok, total_ms, timed) = row.unwrap_or((0, 0, None, 0));
        let (requests, ok): (u64, u64) = (unsigned("count", requests)?, unsigned("count", ok)?);
        let timed: u64 = unsigned("count", timed)?;
        Ok(A2aUsageStats {
            total_requests: requests,
            successful_requests: ok,
            failed_requests: requests - ok,
            average_response_time_ms: (timed > 0)
                .then(|| total_ms.unwrap_or(0) as f64 / timed as f64),
        })
    }

    /// `owner`'s client's requests per UTC day for the `days` days ending
    /// with `today` (oldest first, days without requests included), in ONE
    /// grouped query. `InvalidInput` for 0 or more than
    /// [`A2aUsage::MAX_HISTORY_DAYS`] days. Days reaching outside the years
    /// 0000–9999 (the period ends at the midnight after `today`, so the
    /// last `today` that can be asked for is 9999-12-30) are
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter (`today`).
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %client, user_id = %owner, days), err(Display))]
    pub async fn daily_history(
        &self,
        owner: UserId,
        client: A2aClientId,
        today: NaiveDate,
        days: u32,
    ) -> Result<Vec<A2aDailyUsage>> {
        let days = validation::int_range::<u32, u32>("days", days, 1..=A2aUsage::MAX_HISTORY_DAYS)?;
        let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        // `today` first: the days around it then exist (date arithmetic
        // at chrono's limits panics).
        time::checked("today", midnight(today))?;
        let first = today - Duration::days(i64::from(days) - 1);
        let from = time::checked("today", midnight(first))?;
        let to = time::checked("today", midnight(today + Duration::days(1)))?;
        owned_client(&self.ctx, owner, client.as_uuid()).await?;
        let rows: Vec<(String, i64, i64)> = usage::Entity::find()
            .select_only()
            .column_as(utc_day(self.ctx.backend()), "day")
            .column_as(Expr::col(Asterisk).count(), "requests")
            .column_as(
                Expr::expr(successes(usage::Column::StatusCode)).count(),
                "successes",
            )
            .filter(usage::Column::ClientId.eq(client))
            .filter(usage::Column::Timestamp.gte(from))
            .filter(usage::Column::Timestamp.lt(to))
            .group_by(Expr::cust("1"))
            .tuples()
            .all_in(&self.ctx)
            .await?;
        let mut by_day = BTreeMap::new();
        for (day, requests, ok) in rows {
            let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                .map_err(|_| DatabaseError::Decode(format!("a2a_usage day {day:?}")))?;
            by_day.insert(
                day,
                (
                    unsigned::<u64>("count", requests)?,
                    unsigned::<u64>("count", ok)?,
                ),
            );
        }
        Ok(first
            .iter_days()
            .take(days as usize)
            .map(|day| {
                let (requests, successes) = by_day.get(&day).copied().unwrap_or((0, 0));
                A2aDailyUsage {
                    day,
                    requests,
                    successes,
                    failures: requests - successes,
                }
            })
            .collect())
    }
}

/// The UTC calendar day of `timestamp` as `YYYY-MM-DD`. Raw SQL because
/// the two backends store and format times differently and sea-query has
/// no date function: SQLite keeps the UTC text this crate writes (its
/// first ten characters are the day), PostgreSQL a `timestamptz`.
fn utc_day(backend: DbBackend) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => {
            Expr::cust("to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        }
        _ => Expr::cust("substr(\"timestamp\", 1, 10)"),
    }
}

/// Why client `id` may not record usage: `Rejected` if it exists (and so
/// is inactive), `NotFound` otherwise.
async fn inactive_or_unknown(ctx: &Ctx<'_>, id: Uuid) -> DatabaseError {
    let exists = clients::Entity::find_by_id(id)
        .select_only()
        .column(clients::Column::Id)
        .tuples::<Uuid>()
        .one_in(ctx)
        .await;
    match exists {
        Ok(Some(_)) => DatabaseError::Rejected {
            credential: "a2a client",
            reason: "inactive",
        },
        Ok(None) => DatabaseError::not_found("a2a client", id),
        Err(err) => err,
    }
}

/// Checks a usage row and makes it ready to insert.
fn usage_row(id: Uuid, used: NewA2aUsage) -> Result<usage::ActiveModel> {
    let served = used.request.checked(Kept {
        table: "a2a_usage",
        error: true,
        client: true,
    })?;
    Ok(usage::ActiveModel {
        id: Set(id),
        client_id: Set(used.client_id.as_uuid()),
        session_token: Set(used.session_token_hash),
        timestamp: Set(served.timestamp),
        tool_name: Set(tool_name(&used.tool_name)?),
        response_time_ms: Set(served.response_time_ms),
        status_code: Set(served.status_code),
        error_message: Set(served.error_message),
        request_size_bytes: Set(served.request_size_bytes),
        response_size_bytes: Set(served.response_size_bytes),
        ip_address: Set(served.ip_address),
        user_agent: Set(served.user_agent),
        protocol_version: Set("1.0".to_owned()),
        client_capabilities: Set(serde_json::json!([])),
        granted_scopes: Set(serde_json::json!([])),
    })
}
