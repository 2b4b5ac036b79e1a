//! Insights computed for users (about an activity, or in general):
//! `db.insights()`.

use chrono::{DateTime, Utc};
use entity::insights;
use pierre_db_macros::metered;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{InsightId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

/// A stored insight.
#[derive(Clone, Debug, PartialEq)]
pub struct Insight {
    /// The row id.
    pub id: InsightId,
    /// Whose it is.
    pub user_id: UserId,
    /// The activity it is about, if one.
    pub activity_id: Option<String>,
    /// Its type (`training_load`, `recovery`, …).
    pub insight_type: String,
    /// The insight.
    pub data: Value,
    /// When it was computed.
    pub created_at: DateTime<Utc>,
}

impl From<insights::Model> for Insight {
    fn from(m: insights::Model) -> Self {
        Self {
            id: InsightId::from_uuid(m.id),
            user_id: UserId::from_uuid(m.user_id),
            activity_id: m.activity_id,
            insight_type: m.insight_type,
            data: m.insight_data,
            created_at: m.created_at.to_utc(),
        }
    }
}

/// An insight to store with [`Insights::store`].
#[derive(Clone, Debug)]
pub struct NewInsight {
    /// The activity it is about.
    pub activity_id: Option<String>,
    /// Its type; `None` takes the data's own `insight_type` (or `type`)
    /// field.
    pub insight_type: Option<String>,
    /// The insight (any JSON of at most [`Insights::MAX_INSIGHT_BYTES`]).
    pub data: Value,
}

impl NewInsight {
    /// An insight whose type is read from `data`.
    pub fn new(data: Value) -> Self {
        Self {
            activity_id: None,
            insight_type: None,
            data,
        }
    }
}

/// Users' insights: `db.insights()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewInsight, NewUser, PageRequest};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?.id;
/// let insights = db.insights();
/// insights.store(ada, NewInsight::new(serde_json::json!({ "type": "recovery", "score": 82 }))).await?;
/// let page = insights.list(ada, Some("recovery"), &PageRequest::first(10)).await?;
/// assert_eq!(page.items[0].data["score"], 82);
/// # Ok(())
/// # }
/// ```
pub struct Insights<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl Insights<'_> {
    /// Largest insight, in bytes of JSON.
    pub const MAX_INSIGHT_BYTES: usize = 64 * 1024;
    /// Longest insight type or activity id.
    pub const MAX_NAME: usize = 100;
}

impl<'a> Insights<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Stores an insight of `user`. `InvalidInput` if no type is given or
    /// found in the data, or for over-long fields or data; `ForeignKey`
    /// for an unknown user.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn store(&self, user: UserId, new: NewInsight) -> Result<Insight> {
        validation::json_document(
            "insight_data",
            &new.data,
            Insights::MAX_INSIGHT_BYTES,
            false,
        )?;
        let from_data = ["insight_type", "type"]
            .iter()
            .find_map(|field| new.data.get(field).and_then(Value::as_str))
            .map(str::to_owned);
        let insight_type = new.insight_type.or(from_data).ok_or_else(|| {
            DatabaseError::invalid(
                "insight_type",
                "not given, and the data has no insight_type or type field",
            )
        })?;
        let row = insights::Model {
            id: Uuid::now_v7(),
            user_id: user.as_uuid(),
            activity_id: validation::optional(
                "activity_id",
                new.activity_id.as_deref(),
                Insights::MAX_NAME,
            )?,
            insight_type: validation::required("insight_type", &insight_type, Insights::MAX_NAME)?,
            insight_data: new.data,
            created_at: time::stored(time::now()),
        };
        insights::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
            insights::ActiveModel::from(row.clone()),
        ))
        .exec_without_returning_in(&self.ctx)
        .await?;
        Ok(row.into())
    }

    /// The insight `id` of `user`; `None` when there is none (or it is
    /// another user's).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, insight_id = %id), err(Display))]
    pub async fn get(&self, user: UserId, id: InsightId) -> Result<Option<Insight>> {
        Ok(insights::Entity::find_by_id(id.as_uuid())
            .filter(insights::Column::UserId.eq(user.as_uuid()))
            .one_in(&self.ctx)
            .await?
            .map(Insight::from))
    }

    /// Deletes the insight `id` of `user`; whether there was one (another
    /// user's insight is not touched).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, insight_id = %id), err(Display))]
    pub async fn delete(&self, user: UserId, id: InsightId) -> Result<bool> {
        let deleted = insights::Entity::delete_many()
            .filter(insights::Column::Id.eq(id.as_uuid()))
            .filter(insights::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// The user's insights, of `insight_type` or all, newest first, one
    /// keyset page at a time (on `(user_id, insight_type, created_at, id)`
    /// or `(user_id, created_at, id)`).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, limit = request.limit()), err(Display))]
    pub async fn list(
        &self,
        user: UserId,
        insight_type: Option<&str>,
        request: &PageRequest,
    ) -> Result<Page<Insight>> {
        let mut select =
            insights::Entity::find().filter(insights::Column::UserId.eq(user.as_uuid()));
        let insight_type = validation::optional("insight_type", insight_type, Insights::MAX_NAME)?;
        if let Some(kind) = &insight_type {
            select = select.filter(insights::Column::InsightType.eq(kind));
        }
        let page = keyset_page::<insights::Model>(
            &self.ctx,
            &self.ctx.list("insights").by(user).by(&insight_type),
            request,
            select,
        )
        .await?;
        Ok(page.map(Insight::from))
    }
}

keyset_order!(
    insights::Model,
    insights::Column,
    (insights::Column::CreatedAt, insights::Column::Id),
    Descending,
    |row| Position {
        at: row.created_at.to_utc(),
        id: row.id,
    }
);
