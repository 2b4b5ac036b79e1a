//! Results of OAuth connections, for the user to read:
//! `db.oauth_notifications()`.
//!
//! Every call names the user; another user's notification is never read
//! or changed (`false`, not an error, when asked to mark it).

use chrono::{DateTime, Utc};
use entity::oauth_notifications as notifications;
use pierre_db_macros::metered;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;
use uuid::Uuid;

use crate::error::Result;
use crate::ids::{NotificationId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

/// A stored notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthNotification {
    /// The row id.
    pub id: NotificationId,
    /// Whose it is.
    pub user_id: UserId,
    /// The provider connected (`strava`, …).
    pub provider: String,
    /// Whether the connection worked.
    pub success: bool,
    /// What to tell the user.
    pub message: String,
    /// When it stops being worth showing, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When the user read it, if they have.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<notifications::Model> for OAuthNotification {
    fn from(m: notifications::Model) -> Self {
        Self {
            id: NotificationId::from_uuid(m.id),
            user_id: UserId::from_uuid(m.user_id),
            provider: m.provider,
            success: m.success,
            message: m.message,
            expires_at: m.expires_at.map(|t| t.to_utc()),
            created_at: m.created_at.to_utc(),
            read_at: m.read_at.map(|t| t.to_utc()),
        }
    }
}

/// A notification to store with [`OAuthNotifications::store`].
#[derive(Clone, Debug)]
pub struct NewOAuthNotification {
    /// Whose it is.
    pub user_id: UserId,
    /// The provider.
    pub provider: String,
    /// Whether the connection worked.
    pub success: bool,
    /// What to tell the user.
    pub message: String,
    /// When it stops being worth showing. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Users' OAuth notifications: `db.oauth_notifications()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewOAuthNotification, NewUser};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?.id;
/// let inbox = db.oauth_notifications();
/// let note = inbox.store(NewOAuthNotification {
///     user_id: ada,
///     provider: "strava".into(),
///     success: true,
///     message: "Strava connected".into(),
///     expires_at: None,
/// }).await?;
/// assert_eq!(inbox.unread(ada).await?.len(), 1);
/// assert!(inbox.mark_read(ada, note.id).await?);
/// assert!(!inbox.mark_read(ada, note.id).await?);
/// # Ok(())
/// # }
/// ```
pub struct OAuthNotifications<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl OAuthNotifications<'_> {
    /// Longest provider name.
    pub const MAX_PROVIDER: usize = 50;
    /// Longest message.
    pub const MAX_MESSAGE: usize = 2000;
}

impl<'a> OAuthNotifications<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Stores a notification. `InvalidInput` for a blank or over-long
    /// provider or message, or an expiry in the past; `ForeignKey` for an
    /// unknown user. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(user_id = %new.user_id), err(Display))]
    pub async fn store(&self, new: NewOAuthNotification) -> Result<OAuthNotification> {
        let now = time::now();
        let expires_at = new
            .expires_at
            .map(|at| validation::expiry("expires_at", time::checked_utc("expires_at", at)?, now))
            .transpose()?;
        let row = notifications::Model {
            id: Uuid::now_v7(),
            user_id: new.user_id.as_uuid(),
            provider: validation::identifier(
                "provider",
                &new.provider,
                OAuthNotifications::MAX_PROVIDER,
            )?,
            success: new.success,
            message: validation::required(
                "message",
                &new.message,
                OAuthNotifications::MAX_MESSAGE,
            )?,
            expires_at: expires_at.map(time::stored),
            created_at: time::stored(now),
            read_at: None,
        };
        notifications::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
            notifications::ActiveModel::from(row.clone()),
        ))
        .exec_without_returning_in(&self.ctx)
        .await?;
        Ok(row.into())
    }

    /// The user's unread notifications that have not expired, oldest first.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn unread(&self, user: UserId) -> Result<Vec<OAuthNotification>> {
        Ok(notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(user.as_uuid()))
            .filter(notifications::Column::ReadAt.is_null())
            .filter(not_expired())
            .order_by_asc(notifications::Column::CreatedAt)
            .order_by_asc(notifications::Column::Id)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(OAuthNotification::from)
            .collect())
    }

    /// Marks the user's notification read, if it is theirs and unread:
    /// whether this call changed it.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, notification_id = %id), err(Display))]
    pub async fn mark_read(&self, user: UserId, id: NotificationId) -> Result<bool> {
        let changed = reading()
            .filter(notifications::Column::Id.eq(id))
            .filter(notifications::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        Ok(changed > 0)
    }

    /// Marks all the user's unread notifications read; how many.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user), err(Display))]
    pub async fn mark_all_read(&self, user: UserId) -> Result<u64> {
        Ok(reading()
            .filter(notifications::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected)
    }

    /// All the user's notifications, read or not, newest first, one keyset
    /// page at a time (on `(user_id, created_at, id)`).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, limit = request.limit()), err(Display))]
    pub async fn list(
        &self,
        user: UserId,
        request: &PageRequest,
    ) -> Result<Page<OAuthNotification>> {
        let page = keyset_page::<notifications::Model>(
            &self.ctx,
            &self.ctx.list("oauth_notifications").by(user),
            request,
            notifications::Entity::find().filter(notifications::Column::UserId.eq(user.as_uuid())),
        )
        .await?;
        Ok(page.map(OAuthNotification::from))
    }

    /// Deletes every expired notification, of every user; how many.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn purge_expired(&self) -> Result<u64> {
        Ok(notifications::Entity::delete_many()
            .filter(notifications::Column::ExpiresAt.lte(time::stored(time::now())))
            .exec_in(&self.ctx)
            .await?
            .rows_affected)
    }
}

/// `UPDATE` that marks unread notifications read now (add the row filter).
fn reading() -> sea_orm::UpdateMany<notifications::Entity> {
    notifications::Entity::update_many()
        .col_expr(
            notifications::Column::ReadAt,
            Expr::value(time::stored(time::now())),
        )
        .filter(notifications::Column::ReadAt.is_null())
}

/// Not expired now.
fn not_expired() -> Condition {
    Condition::any()
        .add(notifications::Column::ExpiresAt.is_null())
        .add(notifications::Column::ExpiresAt.gt(time::stored(time::now())))
}

keyset_order!(
    notifications::Model,
    notifications::Column,
    (notifications::Column::CreatedAt, notifications::Column::Id),
    Descending,
    |row| Position {
        at: row.created_at.to_utc(),
        id: row.id,
    }
);
