//! Fitness configurations of a tenant: `db.tenant(t).fitness_configs()`.
//!
//! A configuration is a named JSON object: a tenant default (no user) or a
//! user's override. Two partial unique indexes (M10) keep one row per
//! (tenant, name) default and per (tenant, user, name) override; saves are
//! upserts aimed at those indexes by their own conflict target and `WHERE`,
//! so saving twice leaves one row (the original inserted duplicate tenant
//! defaults: with a NULL user, a plain `ON CONFLICT (tenant_id, user_id,
//! configuration_name)` never fires).

use chrono::{DateTime, Utc};
use entity::fitness_configurations as configs;
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{FitnessConfigId, TenantId, UserId};
use crate::query::Scoped;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::time;
use crate::validation;

/// A stored fitness configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct FitnessConfiguration {
    /// The row id.
    pub id: FitnessConfigId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The user it is an override of; `None` for the tenant default.
    pub user_id: Option<UserId>,
    /// Its name.
    pub name: String,
    /// The configuration (a JSON object).
    pub data: serde_json::Value,
    /// When it was first saved.
    pub created_at: DateTime<Utc>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

impl From<configs::Model> for FitnessConfiguration {
    fn from(m: configs::Model) -> Self {
        Self {
            id: FitnessConfigId::from_uuid(m.id),
            tenant_id: TenantId::from_uuid(m.tenant_id),
            user_id: m.user_id.map(UserId::from_uuid),
            name: m.configuration_name,
            data: m.config_data,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        }
    }
}

/// A tenant's fitness configurations: `db.tenant(t).fitness_configs()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewTenant, NewUser};
/// use pierre_db::serde_json::json;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
/// # let tenant = db.tenants().create(NewTenant::new("Acme", "acme", ada.id)).await?;
/// let configs = db.tenant(tenant.id).fitness_configs();
/// configs.save_tenant_default("zones", json!({"max_hr": 190})).await?;
/// let effective = configs.get_for_user(ada.id, "zones").await?.expect("falls back");
/// assert_eq!(effective.user_id, None);
/// configs.save_for_user(ada.id, "zones", json!({"max_hr": 182})).await?;
/// let effective = configs.get_for_user(ada.id, "zones").await?.expect("own");
/// assert_eq!(effective.data["max_hr"], 182);
/// # Ok(())
/// # }
/// ```
pub struct FitnessConfigs<'a> {
    scope: Scoped<'a>,
}

/// Limits and fixed values of this repository's data.
impl FitnessConfigs<'_> {
    /// The name a configuration has when none is given.
    pub const DEFAULT_NAME: &'static str = "default";
    /// Longest configuration name.
    pub const MAX_NAME: usize = 100;
    /// Largest configuration, in bytes of JSON.
    pub const MAX_DATA_BYTES: usize = 64 * 1024;
}

impl<'a> FitnessConfigs<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Saves the tenant's default `name` (one row per name: a second save
    /// replaces the data). `InvalidInput` for a bad name or data that is
    /// not a JSON object of at most [`FitnessConfigs::MAX_DATA_BYTES`].
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), name), err(Display))]
    pub async fn save_tenant_default(
        &self,
        name: &str,
        data: serde_json::Value,
    ) -> Result<FitnessConfiguration> {
        self.save(None, name, data).await
    }

    /// Saves `user`'s override of `name` (one row per user and name).
    /// Errors as [`Self::save_tenant_default`]; `ForeignKey` for an
    /// unknown user.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, name), err(Display))]
    pub async fn save_for_user(
        &self,
        user: UserId,
        name: &str,
        data: serde_json::Value,
    ) -> Result<FitnessConfiguration> {
        self.save(Some(user), name, data).await
    }

    async fn save(
        &self,
        user: Option<UserId>,
        name: &str,
        data: serde_json::Value,
    ) -> Result<FitnessConfiguration> {
        let name = validation::identifier("name", name, FitnessConfigs::MAX_NAME)?;
        validation::json_document("config_data", &data, FitnessConfigs::MAX_DATA_BYTES, true)?;
        let now = time::stored(time::now());
        let row = configs::ActiveModel {
            id: sea_orm::ActiveValue::Set(Uuid::now_v7()),
            user_id: sea_orm::ActiveValue::Set(user.map(|u| u.as_uuid())),
            configuration_name: sea_orm::ActiveValue::Set(name.clone()),
            config_data: sea_orm::ActiveValue::Set(data),
            created_at: sea_orm::ActiveValue::Set(now),
            updated_at: sea_orm::ActiveValue::Set(now),
            ..Default::default()
        };
        // The conflict target is the partial unique index itself: its
        // columns and its WHERE.
        let mut on_conflict = match user {
            Some(_) => {
                let mut c = OnConflict::columns([
                    configs::Column::TenantId,
                    configs::Column::UserId,
                    configs::Column::ConfigurationName,
                ]);
                c.target_and_where(Expr::col(configs::Column::UserId).is_not_null());
                c
            }
            None => {
                let mut c = OnConflict::columns([
                    configs::Column::TenantId,
                    configs::Column::ConfigurationName,
                ]);
                c.target_and_where(Expr::col(configs::Column::UserId).is_null());
                c
            }
        };
        on_conflict.update_columns([configs::Column::ConfigData, configs::Column::UpdatedAt]);
        self.scope
            .insert(row)?
            .on_conflict(on_conflict)
            .exec_without_returning_in(&self.scope)
            .await?;
        self.find(user, &name)
            .await?
            .ok_or_else(|| DatabaseError::not_found("fitness configuration", name))
    }

    /// The tenant's default `name`, if saved.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), name))]
    pub async fn get_tenant_default(&self, name: &str) -> Result<Option<FitnessConfiguration>> {
        let name = validation::identifier("name", name, FitnessConfigs::MAX_NAME)?;
        self.find(None, &name).await
    }

    /// `user`'s `name`: their override, else the tenant default, in ONE
    /// query.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, name))]
    pub async fn get_for_user(
        &self,
        user: UserId,
        name: &str,
    ) -> Result<Option<FitnessConfiguration>> {
        let name = validation::identifier("name", name, FitnessConfigs::MAX_NAME)?;
        Ok(self
            .scope
            .find::<configs::Entity>()
            .filter(configs::Column::ConfigurationName.eq(name))
            .filter(
                configs::Column::UserId
                    .eq(user.as_uuid())
                    .or(configs::Column::UserId.is_null()),
            )
            // The override (non-NULL user) first.
            .order_by_asc(Expr::col(configs::Column::UserId).is_null())
            .one_in(&self.scope)
            .await?
            .map(Into::into))
    }

    /// The tenant's defaults, by name.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant()))]
    pub async fn list_tenant_defaults(&self) -> Result<Vec<FitnessConfiguration>> {
        self.list(None).await
    }

    /// `user`'s overrides, by name.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user))]
    pub async fn list_for_user(&self, user: UserId) -> Result<Vec<FitnessConfiguration>> {
        self.list(Some(user)).await
    }

    /// Deletes the tenant's default `name`; whether it existed.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), name), err(Display))]
    pub async fn delete_tenant_default(&self, name: &str) -> Result<bool> {
        self.delete(None, name).await
    }

    /// Deletes `user`'s override of `name`; whether it existed.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, name), err(Display))]
    pub async fn delete_for_user(&self, user: UserId, name: &str) -> Result<bool> {
        self.delete(Some(user), name).await
    }

    async fn find(&self, user: Option<UserId>, name: &str) -> Result<Option<FitnessConfiguration>> {
        Ok(self
            .scope
            .find::<configs::Entity>()
            .filter(configs::Column::ConfigurationName.eq(name))
            .filter(of_user(user))
            .one_in(&self.scope)
            .await?
            .map(Into::into))
    }

    async fn list(&self, user: Option<UserId>) -> Result<Vec<FitnessConfiguration>> {
        Ok(self
            .scope
            .find::<configs::Entity>()
            .filter(of_user(user))
            .order_by_asc(configs::Column::ConfigurationName)
            .all_in(&self.scope)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn delete(&self, user: Option<UserId>, name: &str) -> Result<bool> {
        let name = validation::identifier("name", name, FitnessConfigs::MAX_NAME)?;
        let deleted = self
            .scope
            .delete::<configs::Entity>()
            .filter(configs::Column::ConfigurationName.eq(name))
            .filter(of_user(user))
            .exec_in(&self.scope)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }
}

/// The rows of `user`, or the tenant defaults for `None`.
fn of_user(user: Option<UserId>) -> sea_orm::sea_query::SimpleExpr {
    match user {
        Some(user) => configs::Column::UserId.eq(user.as_uuid()),
        None => configs::Column::UserId.is_null(),
    }
}
