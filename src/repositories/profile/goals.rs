//! Users' fitness goals: `db.goals()`.
//!
//! A goal is a JSON object (`title`, `goal_type`, `target_value`,
//! `current_value`, `progress_percentage`, `status`, …). Progress and
//! completion change a few of its fields in a read-modify-write that runs
//! in one write transaction with the row locked, so concurrent updates
//! never lose each other's fields.

use chrono::{DateTime, Utc};
use entity::goals;

use pierre_db_macros::metered;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Map, Value};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{GoalId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::expect_changed;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

/// A stored goal.
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    /// The row id.
    pub id: GoalId,
    /// Whose it is.
    pub user_id: UserId,
    /// The goal (a JSON object).
    pub data: Value,
    /// When it was set.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<goals::Model> for Goal {
    fn from(m: goals::Model) -> Self {
        Self {
            id: GoalId::from_uuid(m.id),
            user_id: UserId::from_uuid(m.user_id),
            data: m.goal_data,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        }
    }
}

/// Users' goals: `db.goals()`.
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
/// let goals = db.goals();
/// let goal = goals.create(ada, serde_json::json!({ "title": "Run 100 km", "target_value": 100.0 })).await?;
/// let goal = goals.update_progress(ada, goal.id, 25.0).await?;
/// assert_eq!(goal.data["progress_percentage"], 25.0);
/// # Ok(())
/// # }
/// ```
pub struct Goals<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl Goals<'_> {
    /// Largest goal, in bytes of JSON.
    pub const MAX_GOAL_BYTES: usize = 16 * 1024;
}

impl<'a> Goals<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Sets a goal of `user`. `InvalidInput` unless `data` is a JSON
    /// object of at most [`Goals::MAX_GOAL_BYTES`] whose `target_value`, if any,
    /// is a finite number; `ForeignKey` for an unknown user.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn create(&self, user: UserId, data: Value) -> Result<Goal> {
        validation::json_document("goal_data", &data, Goals::MAX_GOAL_BYTES, true)?;
        if let Some(target) = data.get("target_value") {
            target
                .as_f64()
                .filter(|t| t.is_finite())
                .ok_or_else(|| DatabaseError::invalid("target_value", "must be a finite number"))?;
        }
        let now = time::stored(time::now());
        let row = goals::Model {
            id: Uuid::now_v7(),
            user_id: user.as_uuid(),
            goal_data: data,
            created_at: now,
            updated_at: now,
        };
        goals::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
            goals::ActiveModel::from(row.clone()),
        ))
        .exec_without_returning_in(&self.ctx)
        .await?;
        Ok(row.into())
    }

    /// The user's goal. `NotFound` if it is not theirs.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, goal_id = %id), err(Display))]
    pub async fn get(&self, user: UserId, id: GoalId) -> Result<Goal> {
        owned(user, id.as_uuid())
            .one_in(&self.ctx)
            .await?
            .map(Goal::from)
            .ok_or_else(|| DatabaseError::not_found("goal", id))
    }

    /// The user's goals, newest first, one keyset page at a time (on
    /// `(user_id, created_at, id)`).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, limit = request.limit()), err(Display))]
    pub async fn list(&self, user: UserId, request: &PageRequest) -> Result<Page<Goal>> {
        let page = keyset_page::<goals::Model>(
            &self.ctx,
            &self.ctx.list("goals").by(user),
            request,
            goals::Entity::find().filter(goals::Column::UserId.eq(user.as_uuid())),
        )
        .await?;
        Ok(page.map(Goal::from))
    }

    /// Records progress: `current_value` becomes `current`, and with a
    /// `target_value` above 0, `progress_percentage` becomes
    /// `current / target × 100` clamped to 0–100. Every other field is
    /// kept. `InvalidInput` for NaN or an infinity; `NotFound` if the goal
    /// is not the user's.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, goal_id = %id), err(Display))]
    pub async fn update_progress(&self, user: UserId, id: GoalId, current: f64) -> Result<Goal> {
        if !current.is_finite() {
            return Err(DatabaseError::invalid(
                "current_value",
                "must be a finite number",
            ));
        }
        self.change(user, id.as_uuid(), move |goal, _| {
            goal.insert("current_value".into(), current.into());
            let target = goal.get("target_value").and_then(Value::as_f64);
            if let Some(target) = target.filter(|t| *t > 0.0 && t.is_finite()) {
                let percent = (current / target * 100.0).clamp(0.0, 100.0);
                goal.insert("progress_percentage".into(), percent.into());
            }
        })
        .await
    }

    /// Marks the goal completed: `status` "completed", `completed_at`
    /// now, `progress_percentage` 100. Every other field is kept.
    /// `NotFound` if the goal is not the user's.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, goal_id = %id), err(Display))]
    pub async fn complete(&self, user: UserId, id: GoalId) -> Result<Goal> {
        self.change(user, id.as_uuid(), |goal, now| {
            goal.insert("status".into(), "completed".into());
            goal.insert("completed_at".into(), now.to_rfc3339().into());
            goal.insert("progress_percentage".into(), 100.0.into());
        })
        .await
    }

    /// Deletes the user's goal; whether it existed (another user's goal
    /// is left alone: `false`).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, goal_id = %id), err(Display))]
    pub async fn delete(&self, user: UserId, id: GoalId) -> Result<bool> {
        let deleted = goals::Entity::delete_many()
            .filter(goals::Column::Id.eq(id))
            .filter(goals::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// Applies `edit` to the goal's JSON in one write transaction, the row
    /// locked from read to write.
    async fn change(
        &self,
        user: UserId,
        id: Uuid,
        edit: impl FnOnce(&mut Map<String, Value>, DateTime<Utc>) + Send + 'static,
    ) -> Result<Goal> {
        let goal = self
            .ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let row = owned(user, id)
                        .lock_exclusive()
                        .one_in(&tx)
                        .await?
                        .ok_or_else(|| DatabaseError::not_found("goal", id))?;
                    let mut data = match row.goal_data {
                        Value::Object(map) => map,
                        _ => {
                            return Err(DatabaseError::Decode(format!(
                                "goals.goal_data of {id} is not a JSON object"
                            )));
                        }
                    };
                    let now = time::now();
                    edit(&mut data, now);
                    let data = Value::Object(data);
                    validation::json_document("goal_data", &data, Goals::MAX_GOAL_BYTES, true)?;
                    let changed = goals::Entity::update_many()
                        .col_expr(goals::Column::GoalData, Expr::value(data.clone()))
                        .col_expr(goals::Column::UpdatedAt, Expr::value(time::stored(now)))
                        .filter(goals::Column::Id.eq(id))
                        .filter(goals::Column::UserId.eq(user.as_uuid()))
                        .exec_in(&tx)
                        .await?
                        .rows_affected;
                    expect_changed(changed, "goal", id)?;
                    Ok(goals::Model {
                        goal_data: data,
                        updated_at: time::stored(now),
                        ..row
                    })
                })
            })
            .await?;
        Ok(goal.into())
    }
}

/// The goal `id` of `user`.
fn owned(user: UserId, id: Uuid) -> sea_orm::Select<goals::Entity> {
    goals::Entity::find()
        .filter(goals::Column::Id.eq(id))
        .filter(goals::Column::UserId.eq(user.as_uuid()))
}

keyset_order!(
    goals::Model,
    goals::Column,
    (goals::Column::CreatedAt, goals::Column::Id),
    Descending,
    |row| Position {
        at: row.created_at.to_utc(),
        id: row.id,
    }
);
