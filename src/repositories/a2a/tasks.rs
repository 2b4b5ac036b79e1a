//! A2A tasks: `db.a2a_tasks()`.
//!
//! A task starts `pending` and moves only along its life cycle: pending →
//! running | cancelled; running → completed | failed | cancelled. The
//! terminal states are final. Each move is one conditional UPDATE, so two
//! callers racing on one task cannot both move it.

use chrono::{DateTime, Utc};
use entity::a2a_clients as clients;
use entity::a2a_tasks as tasks;
use entity::sea_orm_active_enums::TaskStatus;
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveEnum, ColumnTrait, EntityTrait, QueryFilter};
use tracing::instrument;
use uuid::Uuid;

use super::clients::{active_client, owned_client};
use crate::error::{DatabaseError, Result};
use crate::ids::{A2aClientId, A2aTaskId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

/// An A2A task.
#[derive(Clone, Debug, PartialEq)]
pub struct A2aTask {
    /// The row id.
    pub id: A2aTaskId,
    /// The client that submitted it.
    pub client_id: A2aClientId,
    /// What kind of task.
    pub task_type: String,
    /// Its input.
    pub input: serde_json::Value,
    /// Its result, once completed.
    pub output: Option<serde_json::Value>,
    /// Where it is in its life cycle.
    pub status: TaskStatus,
    /// Why it failed or was cancelled, if said.
    pub error_message: Option<String>,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it reached a terminal state.
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<tasks::Model> for A2aTask {
    fn from(m: tasks::Model) -> Self {
        Self {
            id: A2aTaskId::from_uuid(m.id),
            client_id: A2aClientId::from_uuid(m.client_id),
            task_type: m.task_type,
            input: m.input_data,
            output: m.output_data,
            status: m.status,
            error_message: m.error_message,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
            completed_at: m.completed_at.map(|at| at.to_utc()),
        }
    }
}

/// A2A tasks: `db.a2a_tasks()`.
pub struct A2aTasks<'a> {
    ctx: Ctx<'a>,
}

/// The task life cycle.
impl A2aTasks<'_> {
    /// The states a task may move to `to` from.
    pub fn legal_sources(to: TaskStatus) -> &'static [TaskStatus] {
        match to {
            TaskStatus::Pending => &[],
            TaskStatus::Running => &[TaskStatus::Pending],
            TaskStatus::Completed | TaskStatus::Failed => &[TaskStatus::Running],
            TaskStatus::Cancelled => &[TaskStatus::Pending, TaskStatus::Running],
        }
    }

    /// Whether `status` is final.
    pub fn is_terminal(status: TaskStatus) -> bool {
        matches!(
            status,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }
}

/// Limits and fixed values of this repository's data.
impl A2aTasks<'_> {
    /// Longest task type.
    pub const MAX_TASK_TYPE: usize = 100;
    /// Largest input or output document, in bytes of JSON.
    pub const MAX_DATA_BYTES: usize = 1024 * 1024;
    /// Longest error message.
    pub const MAX_ERROR_MESSAGE: usize = 4000;
}

impl<'a> A2aTasks<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Submits a `pending` task for `owner`'s client. `NotFound` for a
    /// client `owner` does not own; `Rejected` for an inactive client;
    /// `InvalidInput` for a blank type or an input over [`A2aTasks::MAX_DATA_BYTES`].
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %client, user_id = %owner, a2a_task_id = tracing::field::Empty), err(Display))]
    pub async fn create(
        &self,
        owner: UserId,
        client: A2aClientId,
        task_type: &str,
        input: serde_json::Value,
    ) -> Result<A2aTask> {
        let task_type = validation::identifier("task_type", task_type, A2aTasks::MAX_TASK_TYPE)?;
        validation::json_document("input", &input, A2aTasks::MAX_DATA_BYTES, false)?;
        let now = time::stored(time::now());
        let row = tasks::Model {
            id: Uuid::now_v7(),
            client_id: client.as_uuid(),
            task_type,
            input_data: input,
            output_data: None,
            status: TaskStatus::Pending,
            error_message: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        tracing::Span::current().record("a2a_task_id", tracing::field::display(row.id));
        let insert = row.clone();
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    active_client(&tx, owner, client.as_uuid()).await?;
                    tasks::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
                        tasks::ActiveModel::from(insert),
                    ))
                    .exec_without_returning_in(&tx)
                    .await?;
                    Ok(())
                })
            })
            .await?;
        Ok(row.into())
    }

    /// The task if one of `owner`'s clients submitted it; `NotFound`
    /// otherwise.
    #[metered]
    #[instrument(skip_all, fields(a2a_task_id = %id, user_id = %owner))]
    pub async fn get(&self, owner: UserId, id: A2aTaskId) -> Result<A2aTask> {
        tasks::Entity::find_by_id(id)
            .filter(tasks::Column::ClientId.in_subquery(owned_by(owner)))
            .one_in(&self.ctx)
            .await?
            .map(A2aTask::from)
            .ok_or_else(|| DatabaseError::not_found("a2a task", id))
    }

    /// The client's tasks, oldest first, one keyset page at a time (on the
    /// `(client_id, created_at, id)` index), with `status` only if given.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %client, user_id = %owner, limit = request.limit()))]
    pub async fn list(
        &self,
        owner: UserId,
        client: A2aClientId,
        status: Option<TaskStatus>,
        request: &PageRequest,
    ) -> Result<Page<A2aTask>> {
        owned_client(&self.ctx, owner, client.as_uuid()).await?;
        let mut select = tasks::Entity::find().filter(tasks::Column::ClientId.eq(client));
        if let Some(status) = status {
            select = select.filter(tasks::Column::Status.eq(status));
        }
        let list = self.ctx.list("a2a_tasks").by(client).by(status);
        let page = keyset_page::<tasks::Model>(&self.ctx, &list, request, select).await?;
        Ok(page.map(A2aTask::from))
    }

    /// Moves the task to `to`, storing `output` and `error` with it;
    /// `completed_at` is set exactly when `to` is terminal. One conditional
    /// UPDATE: `Transition` (and nothing changed) when the task's state
    /// does not lead to `to`, `NotFound` when `owner` has no such task.
    #[metered]
    #[instrument(skip_all, fields(a2a_task_id = %id, user_id = %owner, to = ?to), err(Display))]
    pub async fn update_status(
        &self,
        owner: UserId,
        id: A2aTaskId,
        to: TaskStatus,
        output: Option<serde_json::Value>,
        error: Option<&str>,
    ) -> Result<A2aTask> {
        if let Some(output) = &output {
            validation::json_document("output", output, A2aTasks::MAX_DATA_BYTES, false)?;
        }
        let error =
            validation::optional_multiline("error_message", error, A2aTasks::MAX_ERROR_MESSAGE)?;
        let now = time::stored(time::now());
        let mut update = tasks::Entity::update_many()
            .col_expr(
                tasks::Column::Status,
                tasks::Column::Status.save_as(Expr::value(to)),
            )
            .col_expr(tasks::Column::UpdatedAt, Expr::value(now))
            .filter(tasks::Column::Id.eq(id))
            .filter(tasks::Column::ClientId.in_subquery(owned_by(owner)))
            .filter(tasks::Column::Status.is_in(A2aTasks::legal_sources(to).iter().copied()));
        if A2aTasks::is_terminal(to) {
            update = update.col_expr(tasks::Column::CompletedAt, Expr::value(Some(now)));
        }
        if let Some(output) = output {
            update = update.col_expr(tasks::Column::OutputData, Expr::value(Some(output)));
        }
        if let Some(error) = error {
            update = update.col_expr(tasks::Column::ErrorMessage, Expr::value(Some(error)));
        }
        let changed = if A2aTasks::legal_sources(to).is_empty() {
            0
        } else {
            update.exec_in(&self.ctx).await?.rows_affected
        };
        let task = self.get(owner, id).await?;
        if changed == 0 {
            return Err(DatabaseError::Transition {
                entity: "a2a task",
                from: task.status.to_value().value.into_owned(),
                to: to.to_value().value.into_owned(),
            });
        }
        Ok(task)
    }
}

/// The ids of `owner`'s clients.
fn owned_by(owner: UserId) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(clients::Column::Id)
        .from(clients::Entity)
        .and_where(Expr::col(clients::Column::UserId).eq(owner.as_uuid()))
        .to_owned()
}

keyset_order!(
    tasks::Model,
    tasks::Column,
    (tasks::Column::CreatedAt, tasks::Column::Id),
    Ascending,
    |row| Position {
        at: row.created_at.to_utc(),
        id: row.id,
    }
);
