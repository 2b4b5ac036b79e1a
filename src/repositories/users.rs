//! Users: accounts, their status and approval.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::{SubscriptionTier, UserRole, UserStatus};
use entity::users;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tracing::instrument;

use crate::error::{DatabaseError, Result};
use crate::ids::{TenantId, UserId};
use crate::pagination::{Page, PageRequest, Position, keyset_page};
use crate::repositories::Ctx;
use crate::time;
use crate::validation;

/// Longest display name accepted.
pub const MAX_DISPLAY_NAME: usize = 200;

/// A user account (the password hash stays in the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The id.
    pub id: UserId,
    /// The email address, domain lower-cased.
    pub email: String,
    /// The name shown to people.
    pub display_name: Option<String>,
    /// The subscription tier.
    pub tier: SubscriptionTier,
    /// The legacy home tenant (membership lives in tenant_users).
    pub tenant_id: Option<TenantId>,
    /// Whether the account may sign in.
    pub is_active: bool,
    /// Approval state.
    pub status: UserStatus,
    /// Platform role.
    pub role: UserRole,
    /// Whether the user is an administrator.
    pub is_admin: bool,
    /// Who approved the account.
    pub approved_by: Option<UserId>,
    /// When it was approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// The Firebase uid, for Firebase sign-in.
    pub firebase_uid: Option<String>,
    /// How the user signs in (`email`, `firebase`, …).
    pub auth_provider: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When the user was last active.
    pub last_active: DateTime<Utc>,
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        Self {
            id: m.id.into(),
            email: m.email,
            display_name: m.display_name,
            tier: m.tier,
            tenant_id: m.tenant_id.map(Into::into),
            is_active: m.is_active,
            status: m.user_status,
            role: m.role,
            is_admin: m.is_admin,
            approved_by: m.approved_by.map(Into::into),
            approved_at: m.approved_at.map(|t| t.to_utc()),
            firebase_uid: m.firebase_uid,
            auth_provider: m.auth_provider,
            created_at: m.created_at.to_utc(),
            last_active: m.last_active.to_utc(),
        }
    }
}

/// What [`Users::create`] needs.
#[derive(Clone)]
pub struct NewUser {
    /// The email address (validated).
    pub email: String,
    /// The name shown to people (optional, at most 200 characters).
    pub display_name: Option<String>,
    /// The password hash, made by the application's password hasher.
    pub password_hash: String,
    /// The subscription tier.
    pub tier: SubscriptionTier,
    /// Initial approval state.
    pub status: UserStatus,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("password_hash", &"<redacted>")
            .field("tier", &self.tier)
            .field("status", &self.status)
            .finish()
    }
}

impl NewUser {
    /// A pending starter user.
    pub fn new(email: impl Into<String>, password_hash: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            display_name: None,
            password_hash: password_hash.into(),
            tier: SubscriptionTier::Starter,
            status: UserStatus::Pending,
        }
    }
}

/// The users repository: `db.users()`.
pub struct Users<'a, C> {
    ctx: Ctx<'a, C>,
}

impl<'a, C: ConnectionTrait> Users<'a, C> {
    pub(crate) fn new(ctx: Ctx<'a, C>) -> Self {
        Self { ctx }
    }

    /// Creates a user. A malformed email or name is `InvalidInput`; an email
    /// already registered is `Conflict`.
    #[instrument(skip_all, fields(user_id = tracing::field::Empty), err(Display))]
    pub async fn create(&self, new: NewUser) -> Result<User> {
        let email = validation::email(&new.email)?;
        let display_name = validation::optional(
            "display_name",
            new.display_name.as_deref(),
            MAX_DISPLAY_NAME,
        )?;
        if new.password_hash.is_empty() {
            return Err(DatabaseError::invalid("password_hash", "must not be empty"));
        }
        let id = UserId::new();
        tracing::Span::current().record("user_id", tracing::field::display(id));
        let now = time::stored(time::now());
        let model = users::Model {
            id: id.into(),
            email,
            display_name,
            password_hash: new.password_hash,
            tier: new.tier,
            tenant_id: None,
            is_active: true,
            user_status: new.status,
            is_admin: false,
            approved_by: None,
            approved_at: None,
            created_at: now,
            last_active: now,
            role: UserRole::User,
            firebase_uid: None,
            auth_provider: "email".to_owned(),
        };
        let active = users::ActiveModel {
            id: Set(model.id),
            email: Set(model.email.clone()),
            display_name: Set(model.display_name.clone()),
            password_hash: Set(model.password_hash.clone()),
            tier: Set(model.tier),
            tenant_id: Set(None),
            is_active: Set(true),
            user_status: Set(model.user_status),
            is_admin: Set(false),
            approved_by: Set(None),
            approved_at: Set(None),
            created_at: Set(now),
            last_active: Set(now),
            role: Set(model.role),
            firebase_uid: Set(None),
            auth_provider: Set(model.auth_provider.clone()),
        };
        // The id and times are made here, so the row need not come back.
        users::Entity::insert(active)
            .exec_without_returning(self.ctx.conn)
            .await?;
        Ok(model.into())
    }

    /// The user with this id, if any.
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn get_by_id(&self, id: UserId) -> Result<Option<User>> {
        Ok(users::Entity::find_by_id(id.as_uuid())
            .one(self.ctx.conn)
            .await?
            .map(User::from))
    }

    /// The user with this email (compared after the same normalization as
    /// [`Users::create`]), if any.
    #[instrument(skip_all)]
    pub async fn get_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = validation::email(email)?;
        Ok(users::Entity::find()
            .filter(users::Column::Email.eq(email))
            .one(self.ctx.conn)
            .await?
            .map(User::from))
    }

    /// As [`Users::get_by_email`], but a missing user is `NotFound`.
    #[instrument(skip_all)]
    pub async fn get_by_email_required(&self, email: &str) -> Result<User> {
        self.get_by_email(email)
            .await?
            .ok_or_else(|| DatabaseError::not_found("user", "email"))
    }

    /// Users with `status`, oldest first, one keyset page at a time.
    #[instrument(skip_all, fields(status = ?status, limit = request.limit()))]
    pub async fn list_by_status_paginated(
        &self,
        status: UserStatus,
        request: &PageRequest,
    ) -> Result<Page<User>> {
        let scope = format!("users.by_status:{status:?}");
        let page = keyset_page(
            self.ctx.conn,
            self.ctx.cursors(),
            &scope,
            request,
            users::Entity::find().filter(users::Column::UserStatus.eq(status)),
            (users::Column::CreatedAt, users::Column::Id),
            |m| Position {
                at: m.created_at.to_utc(),
                id: m.id,
            },
        )
        .await?;
        Ok(page.map(User::from))
    }
}
