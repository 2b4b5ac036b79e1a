//! One JSON document per user: the profile (`db.user_profiles()`) and the
//! configuration (`db.user_configurations()`). Both tables key the
//! document by `user_id`, so a save is an upsert and another user's
//! document is never reached: every call names its user.

use chrono::{DateTime, Utc};
use entity::{user_configurations as configurations, user_profiles as profiles};
use pierre_db_macros::metered;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, IntoActiveModel};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::UserId;
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, Unowned};
use crate::time;
use crate::validation;

/// A user's stored document.
#[derive(Clone, Debug, PartialEq)]
pub struct UserDocument {
    /// Whose it is.
    pub user_id: UserId,
    /// The document (a JSON object).
    pub data: serde_json::Value,
    /// When it was first saved.
    pub created_at: DateTime<Utc>,
    /// When it was last saved.
    pub updated_at: DateTime<Utc>,
}

/// A table of one JSON document per user.
trait DocumentTable: Unowned {
    /// The key column.
    const USER: Self::Column;
    /// The document column.
    const DATA: Self::Column;
    /// The last-saved column.
    const UPDATED: Self::Column;
    /// The column's name, for errors.
    const FIELD: &'static str;
    /// A row of `user` holding `data`, saved at `now`.
    fn row(user: Uuid, data: serde_json::Value, now: DateTime<chrono::FixedOffset>) -> Self::Model;
    /// The row as the API gives it.
    fn document(m: Self::Model) -> UserDocument;
}

impl DocumentTable for profiles::Entity {
    const USER: profiles::Column = profiles::Column::UserId;
    const DATA: profiles::Column = profiles::Column::ProfileData;
    const UPDATED: profiles::Column = profiles::Column::UpdatedAt;
    const FIELD: &'static str = "profile_data";

    fn row(
        user: Uuid,
        data: serde_json::Value,
        now: DateTime<chrono::FixedOffset>,
    ) -> profiles::Model {
        profiles::Model {
            user_id: user,
            profile_data: data,
            created_at: now,
            updated_at: now,
        }
    }

    fn document(m: profiles::Model) -> UserDocument {
        UserDocument {
            user_id: UserId::from_uuid(m.user_id),
            data: m.profile_data,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        }
    }
}

impl DocumentTable for configurations::Entity {
    const USER: configurations::Column = configurations::Column::UserId;
    const DATA: configurations::Column = configurations::Column::ConfigData;
    const UPDATED: configurations::Column = configurations::Column::UpdatedAt;
    const FIELD: &'static str = "config_data";

    fn row(
        user: Uuid,
        data: serde_json::Value,
        now: DateTime<chrono::FixedOffset>,
    ) -> configurations::Model {
        configurations::Model {
            user_id: user,
            config_data: data,
            created_at: now,
            updated_at: now,
        }
    }

    fn document(m: configurations::Model) -> UserDocument {
        UserDocument {
            user_id: UserId::from_uuid(m.user_id),
            data: m.config_data,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        }
    }
}

/// The document of `user` in `E`, if saved.
async fn get<E>(ctx: &Ctx<'_>, user: UserId) -> Result<Option<UserDocument>>
where
    E: DocumentTable,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    Ok(E::find_by_id(user.as_uuid())
        .one_in(ctx)
        .await?
        .map(E::document))
}

/// Saves `data` as the document of `user` in `E` (an upsert).
async fn save<E>(ctx: &Ctx<'_>, user: UserId, data: serde_json::Value) -> Result<UserDocument>
where
    E: DocumentTable,
    E::Model: IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: ActiveModelTrait<Entity = E> + Send,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<Uuid>,
{
    validation::json_document(E::FIELD, &data, UserProfiles::MAX_DOCUMENT_BYTES, true)?;
    let now = time::stored(time::now());
    let row = E::row(user.as_uuid(), data, now)
        .into_active_model()
        .reset_all();
    let mut on_conflict = OnConflict::column(E::USER);
    on_conflict.update_columns([E::DATA, E::UPDATED]);
    E::insert(row)
        .on_conflict(on_conflict)
        .exec_without_returning_in(ctx)
        .await?;
    get::<E>(ctx, user)
        .await?
        .ok_or_else(|| DatabaseError::not_found(E::FIELD, user))
}

/// Users' profiles: `db.user_profiles()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewUser};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?.id;
/// let profiles = db.user_profiles();
/// profiles.upsert(ada, serde_json::json!({ "weight_kg": 61 })).await?;
/// assert_eq!(profiles.get(ada).await?.unwrap().data["weight_kg"], 61);
/// # Ok(())
/// # }
/// ```
pub struct UserProfiles<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl UserProfiles<'_> {
    /// Largest document, in bytes of JSON.
    pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
}

impl<'a> UserProfiles<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// The user's profile, if saved.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn get(&self, user: UserId) -> Result<Option<UserDocument>> {
        get::<profiles::Entity>(&self.ctx, user).await
    }

    /// Saves the user's profile (a JSON object of at most
    /// [`UserProfiles::MAX_DOCUMENT_BYTES`]), replacing the stored one. `ForeignKey` for
    /// an unknown user.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn upsert(&self, user: UserId, data: serde_json::Value) -> Result<UserDocument> {
        save::<profiles::Entity>(&self.ctx, user, data).await
    }
}

/// Users' configurations: `db.user_configurations()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewUser};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?.id;
/// let configs = db.user_configurations();
/// configs.save(ada, serde_json::json!({ "units": "metric" })).await?;
/// assert_eq!(configs.get(ada).await?.unwrap().data["units"], "metric");
/// # Ok(())
/// # }
/// ```
pub struct UserConfigurations<'a> {
    ctx: Ctx<'a>,
}

impl<'a> UserConfigurations<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// The user's configuration, if saved.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn get(&self, user: UserId) -> Result<Option<UserDocument>> {
        get::<configurations::Entity>(&self.ctx, user).await
    }

    /// Saves the user's configuration (a JSON object of at most
    /// [`UserProfiles::MAX_DOCUMENT_BYTES`]), replacing the stored one. `ForeignKey` for
    /// an unknown user.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn save(&self, user: UserId, data: serde_json::Value) -> Result<UserDocument> {
        save::<configurations::Entity>(&self.ctx, user, data).await
    }
}
