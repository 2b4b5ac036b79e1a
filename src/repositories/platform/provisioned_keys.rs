//! API keys an admin token provisioned: `db.provisioned_keys()`.

use chrono::{DateTime, Utc};
use entity::{admin_provisioned_keys as provisioned, api_keys};
use pierre_db_macros::metered;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{AdminTokenId, ApiKeyId, ProvisionedKeyId};
use crate::query::Ctx;
use crate::query::unsigned;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::repositories::credentials::{ApiKeys, CreatedApiKey, NewApiKey};
use crate::time;
use crate::validation;

/// A provisioning record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionedKey {
    /// The row id.
    pub id: ProvisionedKeyId,
    /// The admin token that provisioned the key.
    pub admin_token_id: AdminTokenId,
    /// The key provisioned.
    pub api_key_id: ApiKeyId,
    /// For whom.
    pub user_email: String,
    /// The tier asked for.
    pub requested_tier: String,
    /// When.
    pub provisioned_at: DateTime<Utc>,
    /// The admin token's service.
    pub provisioned_by_service: String,
    /// Requests allowed per period (0: unlimited).
    pub rate_limit_requests: u32,
    /// From [`ProvisionedKeys::RATE_LIMIT_PERIODS`].
    pub rate_limit_period: String,
    /// `active` or `revoked`.
    pub key_status: String,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why.
    pub revoked_reason: Option<String>,
}

impl TryFrom<provisioned::Model> for ProvisionedKey {
    type Error = DatabaseError;

    fn try_from(m: provisioned::Model) -> Result<Self> {
        Ok(Self {
            id: ProvisionedKeyId::from_uuid(m.id),
            admin_token_id: AdminTokenId::from_uuid(m.admin_token_id),
            api_key_id: ApiKeyId::from_uuid(m.api_key_id),
            user_email: m.user_email,
            requested_tier: m.requested_tier,
            provisioned_at: m.provisioned_at.to_utc(),
            provisioned_by_service: m.provisioned_by_service,
            rate_limit_requests: unsigned(
                "admin_provisioned_keys.rate_limit_requests",
                m.rate_limit_requests,
            )?,
            rate_limit_period: m.rate_limit_period,
            key_status: m.key_status,
            revoked_at: m.revoked_at.map(|at| at.to_utc()),
            revoked_reason: m.revoked_reason,
        })
    }
}

/// A key provisioned: the record and the key, in clear this one time.
#[derive(Debug)]
pub struct ProvisionedApiKey {
    /// The provisioning record.
    pub record: ProvisionedKey,
    /// The key created.
    pub key: CreatedApiKey,
}

/// Provisioned keys: `db.provisioned_keys()`.
pub struct ProvisionedKeys<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl ProvisionedKeys<'_> {
    /// The periods a provisioned rate limit may count over.
    pub const RATE_LIMIT_PERIODS: [&'static str; 4] = ["hour", "day", "week", "month"];
    /// Longest revocation reason.
    pub const MAX_REASON: usize = 2000;
}

impl<'a> ProvisionedKeys<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Creates the API key and records that `admin_token_id` provisioned it
    /// for `user_email`, in ONE transaction: no key without its record, no
    /// record without its key. `NotFound` for an unknown admin token;
    /// `Rejected` for an inactive one; the key's own errors otherwise. A time
    /// outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(admin_token_id = %admin_token_id), err(Display))]
    pub async fn provision(
        &self,
        admin_token_id: AdminTokenId,
        user_email: &str,
        key: NewApiKey,
        rate_limit_period: &str,
    ) -> Result<ProvisionedApiKey> {
        let user_email = crate::validation::email(user_email)?;
        let period = period(rate_limit_period)?;
        // Checked again by `ApiKeys::create`, but only after the admin
        // token is read: an expiry out of range is refused before that.
        if let Some(at) = key.expires_at {
            time::checked_utc("expires_at", at)?;
        }
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let token = entity::admin_tokens::Entity::find_by_id(admin_token_id)
                        .one_in(&tx)
                        .await?
                        .ok_or_else(|| DatabaseError::not_found("admin token", admin_token_id))?;
                    if !token.is_active {
                        return Err(DatabaseError::Rejected {
                            credential: "admin token",
                            reason: "inactive",
                        });
                    }
                    let created = ApiKeys::new(tx).create(key).await?;
                    let row = provisioned::Model {
                        id: Uuid::now_v7(),
                        admin_token_id: admin_token_id.as_uuid(),
                        api_key_id: created.key.id.as_uuid(),
                        user_email,
                        requested_tier: created.key.tier.to_value().value.into_owned(),
                        provisioned_at: time::stored(time::now()),
                        provisioned_by_service: token.service_name,
                        rate_limit_requests: i32::try_from(
                            created.key.rate_limit_requests.unwrap_or(0),
                        )
                        .map_err(|_| {
                            DatabaseError::invalid("rate_limit_requests", "too large to store")
                        })?,
                        rate_limit_period: period,
                        key_status: "active".into(),
                        revoked_at: None,
                        revoked_reason: None,
                    };
                    provisioned::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
                        provisioned::ActiveModel::from(row.clone()),
                    ))
                    .exec_without_returning_in(&tx)
                    .await?;
                    Ok(ProvisionedApiKey {
                        record: row.try_into()?,
                        key: created,
                    })
                })
            })
            .await
    }

    /// What `admin_token_id` provisioned in `[from, to)`, oldest first.
    /// `from` after `to` is `InvalidInput`. A time outside the years
    /// 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(admin_token_id = %admin_token_id), err(Display))]
    pub async fn list_for_token(
        &self,
        admin_token_id: AdminTokenId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ProvisionedKey>> {
        validation::ordered("to", from, to)?;
        provisioned::Entity::find()
            .filter(provisioned::Column::AdminTokenId.eq(admin_token_id))
            .filter(provisioned::Column::ProvisionedAt.gte(time::checked("from", from)?))
            .filter(provisioned::Column::ProvisionedAt.lt(time::checked("to", to)?))
            .order_by_asc(provisioned::Column::ProvisionedAt)
            .order_by_asc(provisioned::Column::Id)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(ProvisionedKey::try_from)
            .collect()
    }

    /// Revokes a provisioned key in ONE transaction: the record becomes
    /// `revoked` with the time and reason, and the API key is deactivated.
    /// Whether it was active; `NotFound` for an unknown record.
    #[metered]
    #[instrument(skip_all, fields(provisioned_key_id = %id), err(Display))]
    pub async fn revoke(&self, id: ProvisionedKeyId, reason: &str) -> Result<bool> {
        let reason = validation::required("reason", reason, ProvisionedKeys::MAX_REASON)?;
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let record = provisioned::Entity::find_by_id(id)
                        .one_in(&tx)
                        .await?
                        .ok_or_else(|| DatabaseError::not_found("provisioned key", id))?;
                    let changed = provisioned::Entity::update_many()
                        .col_expr(provisioned::Column::KeyStatus, Expr::value("revoked"))
                        .col_expr(
                            provisioned::Column::RevokedAt,
                            Expr::value(time::stored(time::now())),
                        )
                        .col_expr(provisioned::Column::RevokedReason, Expr::value(reason))
                        .filter(provisioned::Column::Id.eq(id))
                        .filter(provisioned::Column::KeyStatus.eq("active"))
                        .exec_in(&tx)
                        .await?
                        .rows_affected;
                    api_keys::Entity::update_many()
                        .col_expr(api_keys::Column::IsActive, Expr::value(false))
                        .filter(api_keys::Column::Id.eq(record.api_key_id))
                        .exec_in(&tx)
                        .await?;
                    Ok(changed == 1)
                })
            })
            .await
    }
}

fn period(input: &str) -> Result<String> {
    if ProvisionedKeys::RATE_LIMIT_PERIODS.contains(&input) {
        Ok(input.to_owned())
    } else {
        Err(DatabaseError::invalid(
            "rate_limit_period",
            format!(
                "not one of: {}",
                ProvisionedKeys::RATE_LIMIT_PERIODS.join(", ")
            ),
        ))
    }
}
