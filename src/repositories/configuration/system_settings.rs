//! Platform settings by name: `db.system_settings()`.
//!
//! Plain configuration values (the seeded `auto_approval_enabled`, say),
//! stored as text. Secrets do not belong here: they go to the encrypted
//! [`SystemSecrets`](crate::SystemSecrets).

use chrono::{DateTime, Utc};
use entity::system_settings as settings;
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;

use crate::error::{DatabaseError, Result};
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::time;
use crate::validation;

/// A stored setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemSetting {
    /// Its name.
    pub key: String,
    /// Its value.
    pub value: String,
    /// What it is for.
    pub description: Option<String>,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

impl From<settings::Model> for SystemSetting {
    fn from(m: settings::Model) -> Self {
        Self {
            key: m.key,
            value: m.value,
            description: m.description,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        }
    }
}

/// Platform settings: `db.system_settings()`.
///
/// ```
/// use pierre_db::{Database, MasterKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let settings = db.system_settings();
/// assert_eq!(settings.auto_approval_enabled().await?, Some(false)); // seeded
/// settings.set_auto_approval(true).await?;
/// assert_eq!(settings.auto_approval_enabled().await?, Some(true));
/// settings.set("support_email", "help@example.org", None).await?;
/// assert_eq!(settings.get("support_email").await?.unwrap().value, "help@example.org");
/// # Ok(())
/// # }
/// ```
pub struct SystemSettings<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl SystemSettings<'_> {
    /// Longest setting name.
    pub const MAX_KEY: usize = 100;
    /// Longest value, in characters.
    pub const MAX_VALUE: usize = 64 * 1024;
    /// Longest description.
    pub const MAX_DESCRIPTION: usize = 1000;
    /// The setting that says whether new users are approved without an admin.
    pub const AUTO_APPROVAL: &'static str = "auto_approval_enabled";
}

impl<'a> SystemSettings<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// The setting called `key`, if set.
    #[metered]
    #[instrument(skip_all, fields(key = %key), err(Display))]
    pub async fn get(&self, key: &str) -> Result<Option<SystemSetting>> {
        let key = validation::identifier("key", key, SystemSettings::MAX_KEY)?;
        Ok(settings::Entity::find_by_id(key)
            .one_in(&self.ctx)
            .await?
            .map(SystemSetting::from))
    }

    /// Sets `key` to `value` (an upsert: one row per key). A `None`
    /// description keeps the stored one.
    #[metered]
    #[instrument(skip_all, fields(key = %key), err(Display))]
    pub async fn set(
        &self,
        key: &str,
        value: &str,
        description: Option<&str>,
    ) -> Result<SystemSetting> {
        let key = validation::identifier("key", key, SystemSettings::MAX_KEY)?;
        let value =
            validation::optional_multiline("value", Some(value), SystemSettings::MAX_VALUE)?
                .ok_or_else(|| DatabaseError::invalid("value", "must not be empty"))?;
        let description =
            validation::optional("description", description, SystemSettings::MAX_DESCRIPTION)?;
        let now = time::stored(time::now());
        let mut update = vec![settings::Column::Value, settings::Column::UpdatedAt];
        if description.is_some() {
            update.push(settings::Column::Description);
        }
        settings::Entity::insert(settings::ActiveModel {
            key: Set(key.clone()),
            value: Set(value),
            description: Set(description),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(settings::Column::Key)
                .update_columns(update)
                .to_owned(),
        )
        .exec_without_returning_in(&self.ctx)
        .await?;
        self.get(&key)
            .await?
            .ok_or_else(|| DatabaseError::not_found("system setting", key))
    }

    /// Every setting, by name.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn list(&self) -> Result<Vec<SystemSetting>> {
        Ok(settings::Entity::find()
            .order_by_asc(settings::Column::Key)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(SystemSetting::from)
            .collect())
    }

    /// Deletes the setting; whether it existed.
    #[metered]
    #[instrument(skip_all, fields(key = %key), err(Display))]
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let key = validation::identifier("key", key, SystemSettings::MAX_KEY)?;
        let deleted = settings::Entity::delete_many()
            .filter(settings::Column::Key.eq(key))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// Whether new users are approved without an admin: `None` when the
    /// setting is absent; `Decode` when it holds anything but `true` or
    /// `false`.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn auto_approval_enabled(&self) -> Result<Option<bool>> {
        let Some(setting) = self.get(SystemSettings::AUTO_APPROVAL).await? else {
            return Ok(None);
        };
        match setting.value.as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            other => Err(DatabaseError::Decode(format!(
                "system_settings.{} is {other:?}, not true or false",
                SystemSettings::AUTO_APPROVAL
            ))),
        }
    }

    /// Turns auto-approval of new users on or off.
    #[metered]
    #[instrument(skip_all, fields(enabled), err(Display))]
    pub async fn set_auto_approval(&self, enabled: bool) -> Result<()> {
        self.set(
            SystemSettings::AUTO_APPROVAL,
            if enabled { "true" } else { "false" },
            None,
        )
        .await
        .map(|_| ())
    }
}
