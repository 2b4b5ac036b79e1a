//! Admin configuration overrides with their audit log: a tenant's through
//! `db.tenant(t).admin_config()`, the global ones through `db.global_admin_config()`.
//!
//! An override sets one key of a category (the 19 seeded categories, see
//! [`AdminConfig::categories`]) to a value of its declared type, for one
//! tenant or for all. The effective value for a tenant is its own override,
//! else the global one. Every `set` and `delete` writes the override AND
//! its audit row (the old value read inside the transaction, the new
//! value, who, why, from where) in ONE transaction: the log never misses a
//! change nor records one that did not happen.
//!
//! Override values are configuration, not secrets: they are stored and
//! logged in clear. Secrets belong in [`SystemSecrets`](crate::SystemSecrets),
//! which are encrypted.

use entity::admin_config_audit as audit;
use entity::admin_config_categories as categories;
use entity::admin_config_overrides as overrides;
use entity::sea_orm_active_enums::ConfigDataType;
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Order};
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Rows;
use crate::query::in_period;
use crate::query::{Checked, Ctx, RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

mod types;
pub use types::*;

/// Configuration overrides and their audit log, of one tenant
/// (`db.tenant(t).admin_config()`) or global (`db.global_admin_config()`).
///
/// ```
/// use pierre_db::{ConfigActor, ConfigChange, ConfigDataType, Database, MasterKey, NewTenant, NewUser};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let admin = db.users().create(NewUser::new("admin@example.org", "hash")).await?;
/// # let tenant = db.tenants().create(NewTenant::new("Acme", "acme", admin.id)).await?;
/// let actor = ConfigActor::new(admin.id, "admin@example.org");
/// let limit = ConfigChange::new("rate_limiting", "burst", "20", ConfigDataType::Integer);
/// db.global_admin_config().set(limit, &actor).await?;
/// let acme = db.tenant(tenant.id).admin_config();
/// assert_eq!(acme.effective("rate_limiting", "burst").await?.unwrap().config_value, "20");
/// let own = ConfigChange::new("rate_limiting", "burst", "50", ConfigDataType::Integer);
/// acme.set(own, &actor).await?;
/// assert_eq!(acme.effective("rate_limiting", "burst").await?.unwrap().config_value, "50");
/// # Ok(())
/// # }
/// ```
pub struct AdminConfig<'a> {
    rows: Rows<'a>,
}

/// Limits and fixed values of this repository's data.
impl AdminConfig<'_> {
    /// Longest category or key name.
    pub const MAX_NAME: usize = 100;
    /// Longest value, in characters.
    pub const MAX_VALUE: usize = 10_000;
    /// Longest reason.
    pub const MAX_REASON: usize = 1000;
    /// Longest admin email, IP address, user agent.
    pub const MAX_ACTOR_FIELD: usize = 512;
}

impl<'a> AdminConfig<'a> {
    pub(crate) fn new(rows: impl Into<Rows<'a>>) -> Self {
        Self { rows: rows.into() }
    }

    /// The configuration categories, in display order.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn categories(&self) -> Result<Vec<ConfigCategory>> {
        Ok(categories::Entity::find()
            .order_by_asc(categories::Column::DisplayOrder)
            .order_by_asc(categories::Column::Name)
            .all_in(&self.rows)
            .await?
            .into_iter()
            .map(ConfigCategory::from)
            .collect())
    }

    /// This handle's own override of `category.key` (the tenant's, or the
    /// global one), if set.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant(), category = %category, key = %key), err(Display))]
    pub async fn get(&self, category: &str, key: &str) -> Result<Option<ConfigOverride>> {
        let (category, key) = names(category, key)?;
        Ok(own(&self.rows, &category, &key)
            .one_in(&self.rows)
            .await?
            .map(ConfigOverride::from))
    }

    /// The value in force for `category.key`: the tenant's override, else
    /// the global one, in one query (for the global handle, the global
    /// override).
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant(), category = %category, key = %key), err(Display))]
    pub async fn effective(&self, category: &str, key: &str) -> Result<Option<ConfigOverride>> {
        let (category, key) = names(category, key)?;
        let select = self
            .rows
            .find_or_global::<overrides::Entity>()
            .filter(overrides::Column::Category.eq(category))
            .filter(overrides::Column::ConfigKey.eq(key));
        // A tenant's row sorts before the global one: `tenant_id IS NULL`
        // is false (0) for it on both backends.
        Ok(select
            .order_by(Expr::col(overrides::Column::TenantId).is_null(), Order::Asc)
            .one_in(&self.rows)
            .await?
            .map(ConfigOverride::from))
    }

    /// This handle's own overrides, of one category or all, by category
    /// and key.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant()), err(Display))]
    pub async fn list(&self, category: Option<&str>) -> Result<Vec<ConfigOverride>> {
        let mut select = self.rows.find::<overrides::Entity>();
        if let Some(category) = category {
            let category = validation::identifier("category", category, AdminConfig::MAX_NAME)?;
            select = select.filter(overrides::Column::Category.eq(category));
        }
        Ok(select
            .order_by_asc(overrides::Column::Category)
            .order_by_asc(overrides::Column::ConfigKey)
            .all_in(&self.rows)
            .await?
            .into_iter()
            .map(ConfigOverride::from)
            .collect())
    }

    /// Sets `change` (an upsert: one row per category, key and tenant)
    /// and logs it, in ONE transaction. `InvalidInput` for an unknown
    /// category or a value that does not parse as its type; `ForeignKey`
    /// for an unknown admin.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant(), category = %change.category, key = %change.key), err(Display))]
    pub async fn set(&self, change: ConfigChange, actor: &ConfigActor) -> Result<ConfigOverride> {
        let (category, key) = names(&change.category, &change.key)?;
        let value = typed_value(change.data_type, &change.value)?;
        let reason = validation::optional_multiline(
            "reason",
            change.reason.as_deref(),
            AdminConfig::MAX_REASON,
        )?;
        let actor = checked_actor(actor)?;
        let data_type = change.data_type;
        self.rows
            .in_write_tx(|rows| {
                Box::pin(async move {
                    // Locks the category first, so that changes to it are
                    // logged in the order they are applied.
                    known_category(&rows, &category).await?;
                    let now = time::stored(time::now());
                    let old = own(&rows, &category, &key).one_in(&rows).await?;
                    let on_conflict = rows
                        .on_conflict::<overrides::Entity>(vec![
                            overrides::Column::Category,
                            overrides::Column::ConfigKey,
                        ])
                        .update_columns([
                            overrides::Column::ConfigValue,
                            overrides::Column::DataType,
                            overrides::Column::UpdatedAt,
                            overrides::Column::Reason,
                        ])
                        .to_owned();
                    rows.insert(overrides::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        category: Set(category.clone()),
                        config_key: Set(key.clone()),
                        config_value: Set(value.clone()),
                        data_type: Set(data_type),
                        created_by: Set(actor.user_id.as_uuid()),
                        created_at: Set(now),
                        updated_at: Set(now),
                        reason: Set(reason.clone()),
                        ..Default::default()
                    })?
                    .on_conflict(on_conflict)
                    .exec_without_returning_in(&rows)
                    .await?;
                    let entry = Entry {
                        category: &category,
                        key: &key,
                        old_value: old.map(|o| o.config_value),
                        new_value: value,
                        data_type,
                        reason,
                    };
                    log(&rows, &actor, entry, now).await
                })
            })
            .await?;
        self.get(&change.category, &change.key)
            .await?
            .ok_or_else(|| DatabaseError::not_found("config override", change.key))
    }

    /// Deletes this handle's override of `category.key` and logs it, in ONE
    /// transaction; whether it existed (nothing is logged if not).
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant(), category = %category, key = %key), err(Display))]
    pub async fn delete(
        &self,
        category: &str,
        key: &str,
        actor: &ConfigActor,
        reason: Option<&str>,
    ) -> Result<bool> {
        let (category, key) = names(category, key)?;
        Ok(self
            .delete_where(&category, Some(&key), actor, reason)
            .await?
            > 0)
    }

    /// Deletes all of this handle's overrides of `category`, logging each,
    /// in ONE transaction; how many.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant(), category = %category), err(Display))]
    pub async fn delete_category(
        &self,
        category: &str,
        actor: &ConfigActor,
        reason: Option<&str>,
    ) -> Result<u64> {
        let category = validation::identifier("category", category, AdminConfig::MAX_NAME)?;
        self.delete_where(&category, None, actor, reason).await
    }

    /// This handle's audit log, newest first, one keyset page at a time
    /// (on `(tenant_id, timestamp, id)`). A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = ?self.rows.tenant(), limit = request.limit()), err(Display))]
    pub async fn audit_log(
        &self,
        filter: &ConfigAuditFilter,
        request: &PageRequest,
    ) -> Result<Page<ConfigAuditEntry>> {
        let mut select = self.rows.find::<audit::Entity>();
        if let Some(category) = &filter.category {
            let category = validation::identifier("category", category, AdminConfig::MAX_NAME)?;
            select = select.filter(audit::Column::Category.eq(category));
        }
        if let Some(key) = &filter.key {
            let key = validation::identifier("key", key, AdminConfig::MAX_NAME)?;
            select = select.filter(audit::Column::ConfigKey.eq(key));
        }
        if let Some(admin) = filter.admin {
            select = select.filter(audit::Column::AdminUserId.eq(admin.as_uuid()));
        }
        let select = in_period(select, audit::Column::Timestamp, filter.from, filter.to)?;
        let list = self
            .rows
            .list("admin_config_audit")
            .by(&filter.category)
            .by(&filter.key)
            .by(filter.admin)
            .by(filter.from)
            .by(filter.to);
        let page = keyset_page::<audit::Model>(&self.rows, &list, request, select).await?;
        Ok(page.map(ConfigAuditEntry::from))
    }

    /// Deletes the overrides of `category` (one `key`, or all) among this
    /// handle's rows, logging each, in one transaction.
    async fn delete_where(
        &self,
        category: &str,
        key: Option<&str>,
        actor: &ConfigActor,
        reason: Option<&str>,
    ) -> Result<u64> {
        let reason = validation::optional_multiline("reason", reason, AdminConfig::MAX_REASON)?;
        let actor = checked_actor(actor)?;
        let (category, key) = (category.to_owned(), key.map(str::to_owned));
        self.rows
            .in_write_tx(|rows| {
                Box::pin(async move {
                    known_category(&rows, &category).await?;
                    let mut select = rows
                        .find::<overrides::Entity>()
                        .filter(overrides::Column::Category.eq(&category));
                    if let Some(key) = &key {
                        select = select.filter(overrides::Column::ConfigKey.eq(key));
                    }
                    let doomed = select.all_in(&rows).await?;
                    let ids: Vec<Uuid> = doomed.iter().map(|o| o.id).collect();
                    if ids.is_empty() {
                        return Ok(0);
                    }
                    let deleted = rows
                        .delete::<overrides::Entity>()
                        .filter(overrides::Column::Id.is_in(ids))
                        .exec_in(&rows)
                        .await?
                        .rows_affected;
                    let now = time::stored(time::now());
                    for old in doomed {
                        let entry = Entry {
                            category: &old.category,
                            key: &old.config_key,
                            old_value: Some(old.config_value.clone()),
                            new_value: String::new(),
                            data_type: old.data_type,
                            reason: reason.clone(),
                        };
                        log(&rows, &actor, entry, now).await?;
                    }
                    Ok(deleted)
                })
            })
            .await
    }
}

/// A change as the audit log records it.
struct Entry<'e> {
    category: &'e str,
    key: &'e str,
    old_value: Option<String>,
    new_value: String,
    data_type: ConfigDataType,
    reason: Option<String>,
}

/// Writes the audit row of `entry` among `rows` (on their connection).
async fn log(
    rows: &Rows<'_>,
    actor: &ConfigActor,
    entry: Entry<'_>,
    at: chrono::DateTime<chrono::FixedOffset>,
) -> Result<()> {
    rows.insert(audit::ActiveModel {
        id: Set(Uuid::now_v7()),
        timestamp: Set(at),
        admin_user_id: Set(actor.user_id.as_uuid()),
        admin_email: Set(actor.email.clone()),
        category: Set(entry.category.to_owned()),
        config_key: Set(entry.key.to_owned()),
        old_value: Set(entry.old_value),
        new_value: Set(entry.new_value),
        data_type: Set(entry.data_type.to_value().value.into_owned()),
        reason: Set(entry.reason),
        ip_address: Set(actor.ip_address.clone()),
        user_agent: Set(actor.user_agent.clone()),
        ..Default::default()
    })?
    .exec_without_returning_in(rows)
    .await?;
    Ok(())
}

/// The override of `category.key` among `rows`.
fn own(rows: &Rows<'_>, category: &str, key: &str) -> Checked<sea_orm::Select<overrides::Entity>> {
    rows.find::<overrides::Entity>()
        .filter(overrides::Column::Category.eq(category))
        .filter(overrides::Column::ConfigKey.eq(key))
}

/// `InvalidInput` unless `category` names a seeded category. Locks the
/// category's row until the transaction ends (PostgreSQL; SQLite has one
/// writer), which serializes the changes within a category: each reads
/// the old value the previous one wrote, and logs after it.
async fn known_category(ctx: &Ctx<'_>, category: &str) -> Result<()> {
    let found: Option<String> = categories::Entity::find()
        .select_only()
        .column(categories::Column::Id)
        .filter(categories::Column::Name.eq(category))
        .lock_exclusive()
        .tuples()
        .one_in(ctx)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(DatabaseError::invalid(
            "category",
            format!("{category:?} is not a configuration category"),
        )),
    }
}

/// The category and key names, checked.
fn names(category: &str, key: &str) -> Result<(String, String)> {
    Ok((
        validation::identifier("category", category, AdminConfig::MAX_NAME)?,
        validation::identifier("key", key, AdminConfig::MAX_NAME)?,
    ))
}

/// The actor's fields, checked.
fn checked_actor(actor: &ConfigActor) -> Result<ConfigActor> {
    Ok(ConfigActor {
        user_id: actor.user_id,
        email: validation::required("admin_email", &actor.email, AdminConfig::MAX_ACTOR_FIELD)?,
        ip_address: validation::optional(
            "ip_address",
            actor.ip_address.as_deref(),
            AdminConfig::MAX_ACTOR_FIELD,
        )?,
        user_agent: validation::optional(
            "user_agent",
            actor.user_agent.as_deref(),
            AdminConfig::MAX_ACTOR_FIELD,
        )?,
    })
}

/// `value` checked against `data_type` and stored in its canonical text
/// (trimmed; numbers as Rust prints them, so `"1e3"` becomes `"1000"`).
fn typed_value(data_type: ConfigDataType, value: &str) -> Result<String> {
    let text = value.trim();
    let refuse = |what: &str| DatabaseError::invalid("value", format!("{text:?} is not {what}"));
    match data_type {
        ConfigDataType::Float => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v.to_string()),
            _ => Err(refuse("a finite number")),
        },
        ConfigDataType::Integer => text
            .parse::<i64>()
            .map(|v| v.to_string())
            .map_err(|_| refuse("an integer")),
        ConfigDataType::Boolean => match text {
            "true" | "false" => Ok(text.to_owned()),
            _ => Err(refuse("true or false")),
        },
        ConfigDataType::Enum => validation::required("value", text, AdminConfig::MAX_NAME),
        ConfigDataType::String => {
            validation::optional_multiline("value", Some(value), AdminConfig::MAX_VALUE)?
                .ok_or_else(|| DatabaseError::invalid("value", "must not be empty"))
        }
    }
}

keyset_order!(
    audit::Model,
    audit::Column,
    (audit::Column::Timestamp, audit::Column::Id),
    Descending,
    |row| Position {
        at: row.timestamp.to_utc(),
        id: row.id,
    }
);
