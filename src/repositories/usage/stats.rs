//! Statistics over the usage tables: an API key's usage in a period, a
//! user's top tools, and platform-wide or per-tenant counts, each computed
//! by the database in one query.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{api_key_usage, api_keys, jwt_usage, request_logs, users};
use pierre_db_macros::metered;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, IntoColumnRef, Query};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use tracing::instrument;

use super::api_usage::{Usage, count_of};
use crate::error::{DatabaseError, Result};
use crate::ids::{ApiKeyId, TenantId, UserId};
use crate::query::{Checked, RunSelect};
use crate::scope::TenantScope;
use crate::time;
use crate::validation;

/// An API key's usage over a time range, from [`Usage::usage_stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageStats {
    /// Requests in the range.
    pub total_requests: u64,
    /// Requests answered 2xx ([`Usage::SUCCESS_STATUSES`](crate::Usage::SUCCESS_STATUSES)).
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

impl Usage<'_> {
    /// The key's usage in `[from, to)`, aggregated by the database in one
    /// query. An unknown key has no usage;
    /// `from` after `to` is `InvalidInput`. A time outside the years 0000–9999
    /// is [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(api_key_id = %key_id), err(Display))]
    pub async fn usage_stats(
        &self,
        key_id: ApiKeyId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<UsageStats> {
        validation::ordered("to", from, to)?;
        self.stats_of(
            api_key_usage::Column::ApiKeyId.eq(key_id.as_uuid()),
            from,
            to,
        )
        .await
    }

    /// Totals of the user's requests in `[from, to)` over all their API
    /// keys (the original's per-user usage statistics): requests, failures,
    /// response times and requests per tool, grouped by the database in one
    /// query on the usage index of each key. A time outside the years
    /// 0000–9999 is [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter; so is `to` before `from`.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn user_usage_stats(
        &self,
        user: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<UsageStats> {
        validation::ordered("to", from, to)?;
        self.stats_of(usage_of_user(user), from, to).await
    }

    /// The totals of the usage rows `rows` picks in `[from, to)`.
    async fn stats_of(
        &self,
        rows: impl sea_orm::sea_query::IntoCondition,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<UsageStats> {
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
            .filter(rows)
            .filter(api_key_usage::Column::Timestamp.gte(time::checked("from", from)?))
            .filter(api_key_usage::Column::Timestamp.lt(time::checked("to", to)?))
            .group_by(api_key_usage::Column::ToolName)
            .order_by_asc(api_key_usage::Column::ToolName)
            .tuples()
            .all_in(&self.ctx)
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
    /// grouped, ordered and cut by the database in one query. A time outside
    /// the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
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
        let requests = Expr::col(Asterisk).count();
        let rows: Vec<(String, i64)> = api_key_usage::Entity::find()
            .select_only()
            .column(api_key_usage::Column::ToolName)
            .column_as(requests.clone(), "requests")
            .filter(usage_of_user(user))
            .filter(api_key_usage::Column::Timestamp.gte(time::checked("from", from)?))
            .filter(api_key_usage::Column::Timestamp.lt(time::checked("to", to)?))
            .group_by(api_key_usage::Column::ToolName)
            .order_by_desc(requests)
            .order_by_asc(api_key_usage::Column::ToolName)
            .limit(limit)
            .tuples()
            .all_in(&self.ctx)
            .await?;
        rows.into_iter()
            .map(|(tool, n)| Ok((tool, count_of(n)?)))
            .collect()
    }

    /// Counts across the platform in one query: users, keys usable now,
    /// and API-key requests, JWT requests and logged requests at or after
    /// `since`. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all)]
    pub async fn system_stats(&self, since: DateTime<Utc>) -> Result<SystemStats> {
        self.stats(since, None).await
    }

    /// [`Self::system_stats`] for one tenant: its members, their keys and
    /// their requests (a user who belongs to several tenants counts in
    /// each). A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
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
        let row = Checked::declared(users::Entity, self.ctx.backend(), &statement)
            .row_in(&self.ctx)
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

/// The usage rows of every API key of `user` (API keys have no tenant).
fn usage_of_user(user: UserId) -> sea_orm::sea_query::SimpleExpr {
    let keys = Query::select()
        .column(api_keys::Column::Id)
        .from(api_keys::Entity)
        .and_where(Expr::col(api_keys::Column::UserId).eq(user.as_uuid()))
        .to_owned();
    Expr::col(api_key_usage::Column::ApiKeyId).in_subquery(keys)
}
