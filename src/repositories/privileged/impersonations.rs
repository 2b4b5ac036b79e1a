//! Impersonation sessions (a super admin acting as a user):
//! `db.impersonations()`.
//!
//! The invariant kept here, whatever the callers race: an impersonator has
//! at most one active session. Starting one ends the impersonator's active
//! session in the same transaction, serialized per impersonator (a row
//! lock on PostgreSQL, the single writer on SQLite), and M22's partial
//! unique index refuses a second active row should anything get past that.
//! Who may impersonate is the application's decision (roles); this layer
//! only refuses self-impersonation.

use chrono::{DateTime, FixedOffset, Utc};
use entity::impersonation_sessions as sessions;
use entity::users;
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, UpdateMany,
};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{ImpersonationId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

/// An impersonation session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpersonationSession {
    /// The row id.
    pub id: ImpersonationId,
    /// Who acts.
    pub impersonator_id: UserId,
    /// As whom.
    pub target_user_id: UserId,
    /// Why.
    pub reason: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended, if it has.
    pub ended_at: Option<DateTime<Utc>>,
    /// Whether it is still running.
    pub is_active: bool,
}

impl From<sessions::Model> for ImpersonationSession {
    fn from(m: sessions::Model) -> Self {
        Self {
            id: ImpersonationId::from_uuid(m.id),
            impersonator_id: UserId::from_uuid(m.impersonator_id),
            target_user_id: UserId::from_uuid(m.target_user_id),
            reason: m.reason,
            started_at: m.started_at.to_utc(),
            ended_at: m.ended_at.map(|t| t.to_utc()),
            is_active: m.is_active,
        }
    }
}

/// Which sessions [`Impersonations::list`] gives.
#[derive(Clone, Debug, Default)]
pub struct ImpersonationFilter {
    /// Only this impersonator's.
    pub impersonator: Option<UserId>,
    /// Only those acting as this user.
    pub target: Option<UserId>,
    /// Only running ones.
    pub active_only: bool,
}

/// Impersonation sessions: `db.impersonations()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewUser};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let root = db.users().create(NewUser::new("root@example.org", "hash")).await?.id;
/// # let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?.id;
/// let sessions = db.impersonations();
/// let session = sessions.start(root, ada, Some("support ticket 42")).await?;
/// assert_eq!(sessions.active_for(ada).await?.unwrap().id, session.id);
/// assert!(sessions.end(session.id).await?);
/// assert!(sessions.active_for(ada).await?.is_none());
/// # Ok(())
/// # }
/// ```
pub struct Impersonations<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl Impersonations<'_> {
    /// Longest reason.
    pub const MAX_REASON: usize = 1000;
}

impl<'a> Impersonations<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Starts `impersonator` acting as `target`, ending the impersonator's
    /// running session in the same transaction. `InvalidInput` for
    /// self-impersonation or an over-long reason; `NotFound` for an
    /// unknown impersonator; `ForeignKey` for an unknown target.
    #[metered]
    #[instrument(skip_all, fields(impersonator_id = %impersonator, target_user_id = %target), err(Display))]
    pub async fn start(
        &self,
        impersonator: UserId,
        target: UserId,
        reason: Option<&str>,
    ) -> Result<ImpersonationSession> {
        if impersonator == target {
            return Err(DatabaseError::invalid(
                "target_user_id",
                "a user cannot impersonate themselves",
            ));
        }
        let reason = validation::optional_multiline("reason", reason, Impersonations::MAX_REASON)?;
        let now = time::stored(time::now());
        let row = sessions::Model {
            id: Uuid::now_v7(),
            impersonator_id: impersonator.as_uuid(),
            target_user_id: target.as_uuid(),
            reason,
            started_at: now,
            ended_at: None,
            is_active: true,
            created_at: now,
        };
        let insert = row.clone();
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    // Serializes the starts of one impersonator on PostgreSQL
                    // (NO KEY UPDATE: rows that merely reference the user are
                    // not blocked); SQLite has one writer already.
                    let found = users::Entity::find_by_id(impersonator.as_uuid())
                        .select_only()
                        .column(users::Column::Id)
                        .lock(LockType::NoKeyUpdate)
                        .tuples::<Uuid>()
                        .one_in(&tx)
                        .await?;
                    if found.is_none() {
                        return Err(DatabaseError::not_found("user", impersonator));
                    }
                    end_active(&tx, impersonator, now).await?;
                    sessions::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
                        sessions::ActiveModel::from(insert),
                    ))
                    .exec_without_returning_in(&tx)
                    .await?;
                    Ok(())
                })
            })
            .await?;
        Ok(row.into())
    }

    /// The session with this id.
    #[metered]
    #[instrument(skip_all, fields(session_id = %id), err(Display))]
    pub async fn get(&self, id: ImpersonationId) -> Result<ImpersonationSession> {
        sessions::Entity::find_by_id(id)
            .one_in(&self.ctx)
            .await?
            .map(ImpersonationSession::from)
            .ok_or_else(|| DatabaseError::not_found("impersonation session", id))
    }

    /// The running session in which `user` is the impersonator or the
    /// target (the latest, if several target them).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn active_for(&self, user: UserId) -> Result<Option<ImpersonationSession>> {
        Ok(sessions::Entity::find()
            .filter(sessions::Column::IsActive.eq(true))
            .filter(
                Condition::any()
                    .add(sessions::Column::ImpersonatorId.eq(user.as_uuid()))
                    .add(sessions::Column::TargetUserId.eq(user.as_uuid())),
            )
            .order_by_desc(sessions::Column::StartedAt)
            .order_by_desc(sessions::Column::Id)
            .one_in(&self.ctx)
            .await?
            .map(ImpersonationSession::from))
    }

    /// Ends the session if it is running: `true` if this call ended it,
    /// `false` if it had ended already (its first `ended_at` is kept).
    /// `NotFound` for an unknown id.
    #[metered]
    #[instrument(skip_all, fields(session_id = %id), err(Display))]
    pub async fn end(&self, id: ImpersonationId) -> Result<bool> {
        let changed = ending(time::stored(time::now()))
            .filter(sessions::Column::Id.eq(id))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        if changed > 0 {
            return Ok(true);
        }
        self.get(id).await.map(|_| false)
    }

    /// Ends every running session of `impersonator`; how many.
    #[metered]
    #[instrument(skip_all, fields(impersonator_id = %impersonator), err(Display))]
    pub async fn end_all_for(&self, impersonator: UserId) -> Result<u64> {
        end_active(&self.ctx, impersonator, time::stored(time::now())).await
    }

    /// Sessions that pass `filter`, newest first, one keyset page at a
    /// time (on `(impersonator_id | target_user_id, started_at, id)`, or
    /// `(started_at, id)` unfiltered).
    #[metered]
    #[instrument(skip_all, fields(limit = request.limit()), err(Display))]
    pub async fn list(
        &self,
        filter: &ImpersonationFilter,
        request: &PageRequest,
    ) -> Result<Page<ImpersonationSession>> {
        let mut select = sessions::Entity::find();
        if let Some(user) = filter.impersonator {
            select = select.filter(sessions::Column::ImpersonatorId.eq(user.as_uuid()));
        }
        if let Some(user) = filter.target {
            select = select.filter(sessions::Column::TargetUserId.eq(user.as_uuid()));
        }
        if filter.active_only {
            select = select.filter(sessions::Column::IsActive.eq(true));
        }
        let list = self
            .ctx
            .list("impersonation_sessions")
            .by(filter.impersonator)
            .by(filter.target)
            .by(filter.active_only);
        let page = keyset_page::<sessions::Model>(&self.ctx, &list, request, select).await?;
        Ok(page.map(ImpersonationSession::from))
    }
}

/// `UPDATE` that ends running sessions at `at` (add the row filter).
fn ending(at: DateTime<FixedOffset>) -> UpdateMany<sessions::Entity> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::IsActive, Expr::value(false))
        .col_expr(sessions::Column::EndedAt, Expr::value(at))
        .filter(sessions::Column::IsActive.eq(true))
}

/// Ends `impersonator`'s running sessions at `at`; how many.
async fn end_active(ctx: &Ctx<'_>, impersonator: UserId, at: DateTime<FixedOffset>) -> Result<u64> {
    Ok(ending(at)
        .filter(sessions::Column::ImpersonatorId.eq(impersonator.as_uuid()))
        .exec_in(ctx)
        .await?
        .rows_affected)
}

keyset_order!(
    sessions::Model,
    sessions::Column,
    (sessions::Column::StartedAt, sessions::Column::Id),
    Descending,
    |row| Position {
        at: row.started_at.to_utc(),
        id: row.id,
    }
);
