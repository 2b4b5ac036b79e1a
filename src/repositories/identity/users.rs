//! Users: accounts, their status and approval.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::{SubscriptionTier, UserRole, UserStatus};
use entity::users;
use pierre_db_macros::metered;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{TenantId, UserId};
use crate::pagination::{MAX_PAGE_SIZE, Page, PageRequest, Position, checked_limit};
use crate::query::Ctx;
use crate::query::GlobalRows;
use crate::query::cells::{Cell, Decode, Row, at, decoded_rows, read_enum};
use crate::query::{KeysetSql, PreparedPage, keyset_order, keyset_page, keyset_sql};
use crate::query::{Prepared, expect_changed, latest, prepared};
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::repositories::audit::{AuditEvents, AuditSeverity, NewAuditEvent};
use crate::time;
use crate::validation;

/// A user account (the password hash stays in the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The id.
    pub id: UserId,
    /// The email address, lower-cased (see [`syntax::email`](crate::syntax::email)).
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

/// The columns a [`User`] is read from, in the order [`UserRow`] reads them
/// (the password hash is never selected).
const USER_COLUMNS: [users::Column; 15] = [
    users::Column::Id,
    users::Column::Email,
    users::Column::DisplayName,
    users::Column::Tier,
    users::Column::TenantId,
    users::Column::IsActive,
    users::Column::UserStatus,
    users::Column::Role,
    users::Column::IsAdmin,
    users::Column::ApprovedBy,
    users::Column::ApprovedAt,
    users::Column::FirebaseUid,
    users::Column::AuthProvider,
    users::Column::CreatedAt,
    users::Column::LastActive,
];

/// A `SELECT` of [`USER_COLUMNS`].
fn select_users() -> Select<users::Entity> {
    users::Entity::find().select_only().columns(USER_COLUMNS)
}

/// A [`User`] read by column position from [`select_users`], through the
/// driver (see the `cells` module).
struct UserRow(User);

decoded_rows!(UserRow);

impl Decode for UserRow {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        Ok(Self(User {
            id: UserId::from_uuid(Uuid::read(row, at!(USER_COLUMNS, users::Column::Id))?),
            email: String::read(row, at!(USER_COLUMNS, users::Column::Email))?,
            display_name: Cell::read(row, at!(USER_COLUMNS, users::Column::DisplayName))?,
            tier: read_enum(row, at!(USER_COLUMNS, users::Column::Tier))?,
            tenant_id: Option::<Uuid>::read(row, at!(USER_COLUMNS, users::Column::TenantId))?
                .map(TenantId::from_uuid),
            is_active: bool::read(row, at!(USER_COLUMNS, users::Column::IsActive))?,
            status: read_enum(row, at!(USER_COLUMNS, users::Column::UserStatus))?,
            role: read_enum(row, at!(USER_COLUMNS, users::Column::Role))?,
            is_admin: bool::read(row, at!(USER_COLUMNS, users::Column::IsAdmin))?,
            approved_by: Option::<Uuid>::read(row, at!(USER_COLUMNS, users::Column::ApprovedBy))?
                .map(UserId::from_uuid),
            approved_at: Cell::read(row, at!(USER_COLUMNS, users::Column::ApprovedAt))?,
            firebase_uid: Cell::read(row, at!(USER_COLUMNS, users::Column::FirebaseUid))?,
            auth_provider: String::read(row, at!(USER_COLUMNS, users::Column::AuthProvider))?,
            created_at: Cell::read(row, at!(USER_COLUMNS, users::Column::CreatedAt))?,
            last_active: Cell::read(row, at!(USER_COLUMNS, users::Column::LastActive))?,
        }))
    }
}

impl From<users::Model> for User {
    fn from(m: users::Model) -> Self {
        Self {
            id: UserId::from_uuid(m.id),
            email: m.email,
            display_name: m.display_name,
            tier: m.tier,
            tenant_id: m.tenant_id.map(TenantId::from_uuid),
            is_active: m.is_active,
            status: m.user_status,
            role: m.role,
            is_admin: m.is_admin,
            approved_by: m.approved_by.map(UserId::from_uuid),
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
    /// The Firebase uid, for users who sign in through Firebase.
    pub firebase_uid: Option<String>,
    /// How the user signs in (`email` unless set).
    pub auth_provider: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("display_name", &self.display_name)
            .field("password_hash", &"<redacted>")
            .field("tier", &self.tier)
            .field("status", &self.status)
            .field("firebase_uid", &self.firebase_uid)
            .field("auth_provider", &self.auth_provider)
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
            firebase_uid: None,
            auth_provider: "email".to_owned(),
        }
    }
}

/// The users repository: `db.users()`.
pub struct Users<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl Users<'_> {
    /// Longest display name accepted.
    pub const MAX_DISPLAY_NAME: usize = 200;
    /// Longest password hash accepted, in bytes.
    pub const MAX_PASSWORD_HASH: usize = 1024;
    /// Longest Firebase uid accepted.
    pub const MAX_FIREBASE_UID: usize = 128;
}

impl<'a> Users<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Creates a user. A malformed email or name is `InvalidInput`; an email
    /// already registered is `Conflict`.
    #[metered]
    #[instrument(skip_all, fields(user_id = tracing::field::Empty), err(Display))]
    pub async fn create(&self, new: NewUser) -> Result<User> {
        let email = validation::email(&new.email)?;
        let display_name = validation::optional(
            "display_name",
            new.display_name.as_deref(),
            Users::MAX_DISPLAY_NAME,
        )?;
        validation::secret(
            "password_hash",
            &new.password_hash,
            Users::MAX_PASSWORD_HASH,
        )?;
        let firebase_uid = validation::optional(
            "firebase_uid",
            new.firebase_uid.as_deref(),
            Users::MAX_FIREBASE_UID,
        )?;
        let auth_provider = validation::identifier("auth_provider", &new.auth_provider, 32)?;
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
            firebase_uid,
            auth_provider,
        };
        // Every column is written; the id and times are made here, so the
        // row need not come back (no RETURNING).
        let active = users::ActiveModel::from(model.clone()).reset_all();
        users::Entity::insert(active)
            .exec_without_returning_in(&self.ctx)
            .await?;
        Ok(model.into())
    }

    /// The user with this id, if any.
    #[metered]
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn get_by_id(&self, id: UserId) -> Result<Option<User>> {
        static BY_ID: Prepared = prepared!();
        self.one(&BY_ID, vec![id.as_uuid().into()], || {
            select_users().filter(users::Column::Id.eq(id.as_uuid()))
        })
        .await
    }

    /// The active user with this email (compared after the same
    /// normalization as [`Users::create`]), if any: the login lookup, so a
    /// deactivated user is not returned (see
    /// [`Users::get_by_email_including_inactive`]).
    #[metered]
    #[instrument(skip_all)]
    pub async fn get_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = validation::email(email)?;
        static BY_EMAIL: Prepared = prepared!();
        self.one(&BY_EMAIL, vec![email.as_str().into(), true.into()], || {
            select_users()
                .filter(users::Column::Email.eq(&email))
                .filter(users::Column::IsActive.eq(true))
        })
        .await
    }

    /// The user with this email, active or deactivated: for
    /// administrators, who must find an account to reactivate it.
    #[metered]
    #[instrument(skip_all)]
    pub async fn get_by_email_including_inactive(&self, email: &str) -> Result<Option<User>> {
        let email = validation::email(email)?;
        static BY_EMAIL_ANY: Prepared = prepared!();
        self.one(&BY_EMAIL_ANY, vec![email.as_str().into()], || {
            select_users().filter(users::Column::Email.eq(&email))
        })
        .await
    }

    /// As [`Users::get_by_email`] (active users only), but a missing user
    /// is `NotFound`.
    #[metered]
    #[instrument(skip_all)]
    pub async fn get_by_email_required(&self, email: &str) -> Result<User> {
        self.get_by_email(email)
            .await?
            .ok_or_else(|| DatabaseError::not_found("user", "email"))
    }

    /// The active user who signs in with this Firebase uid, if any (a
    /// login lookup: a deactivated user is not returned).
    #[metered]
    #[instrument(skip_all)]
    pub async fn get_by_firebase_uid(&self, firebase_uid: &str) -> Result<Option<User>> {
        let uid = validation::required("firebase_uid", firebase_uid, Users::MAX_FIREBASE_UID)?;
        static BY_FIREBASE_UID: Prepared = prepared!();
        self.one(
            &BY_FIREBASE_UID,
            vec![uid.as_str().into(), true.into()],
            || {
                select_users()
                    .filter(users::Column::FirebaseUid.eq(&uid))
                    .filter(users::Column::IsActive.eq(true))
            },
        )
        .await
    }

    /// Records activity now; a later time already stored is kept
    /// (`last_active` never moves back). `NotFound` for an unknown user.
    #[metered]
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn update_last_active(&self, id: UserId) -> Result<()> {
        let now = time::stored(time::now());
        self.update_one(
            id,
            users::Column::LastActive,
            latest(users::Column::LastActive, now),
        )
        .await
    }

    /// How many users exist.
    #[metered]
    #[instrument(skip_all)]
    pub async fn count(&self) -> Result<u64> {
        users::Entity::find().count_in(&self.ctx).await
    }

    /// Users with `status`, oldest first, at most `limit`. A `limit` of 0
    /// or above [`MAX_PAGE_SIZE`](crate::MAX_PAGE_SIZE) is `InvalidInput`,
    /// never cut short: [`Users::list_by_status_paginated`] walks them all.
    #[metered]
    #[instrument(skip_all, fields(status = ?status, limit))]
    pub async fn list_by_status(&self, status: UserStatus, limit: u32) -> Result<Vec<User>> {
        checked_limit(limit, MAX_PAGE_SIZE, "list_by_status_paginated")?;
        let page = self
            .list_by_status_paginated(status, &PageRequest::first(limit))
            .await?;
        Ok(page.items)
    }

    /// Sets the approval status. Approving (`Active`) records `approver` and
    /// the time; other statuses clear them. `approver` must be an existing
    /// user (`ForeignKey` otherwise); an unknown user is `NotFound`.
    #[metered]
    #[instrument(skip_all, fields(user_id = %id, status = ?status))]
    pub async fn update_status(
        &self,
        id: UserId,
        status: UserStatus,
        approver: Option<UserId>,
    ) -> Result<User> {
        let approved = status == UserStatus::Active;
        let (by, at) = if approved {
            (
                approver.map(|a| a.as_uuid()),
                Some(time::stored(time::now())),
            )
        } else {
            (None, None)
        };
        let changed = users::Entity::update_many()
            .col_expr(users::Column::UserStatus, Expr::value(status))
            .col_expr(users::Column::ApprovedBy, Expr::value(by))
            .col_expr(users::Column::ApprovedAt, Expr::value(at))
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        expect_changed(changed, "user", id)?;
        self.get_by_id(id)
            .await?
            .ok_or_else(|| DatabaseError::not_found("user", id))
    }

    /// Gives the user `role`. `is_admin`, the original server's flag,
    /// follows it: set for `Admin` and `SuperAdmin`, cleared for `User`.
    ///
    /// Demoting the last active administrator is
    /// [`DatabaseError::LastAdmin`]: the check and the change are one
    /// transaction that holds the administrators' rows, so of two callers
    /// demoting the last two, one is refused. `NotFound` for an unknown
    /// user. The change is recorded in the platform's audit events
    /// (`user.role_changed`, by `actor` when given) in the same
    /// transaction; setting the role a user has changes and records
    /// nothing.
    #[metered]
    #[instrument(skip_all, fields(user_id = %id, role = ?role), err(Display))]
    pub async fn set_role(
        &self,
        id: UserId,
        role: UserRole,
        actor: Option<UserId>,
    ) -> Result<User> {
        let admin = role != UserRole::User;
        self.administer(id, actor, move |user| {
            (user.role != role || user.is_admin != admin).then(|| Change {
                column_values: vec![
                    (users::Column::Role, Expr::value(role)),
                    (users::Column::IsAdmin, Expr::value(admin)),
                ],
                stays_admin: admin,
                event: "user.role_changed",
                what: "demoting",
                metadata: serde_json::json!({
                    "from": role_name(user.role),
                    "to": role_name(role),
                }),
            })
        })
        .await
    }

    /// Activates or deactivates the account. A deactivated user keeps every
    /// row, and is not found by the login lookups
    /// ([`Users::get_by_email`], [`Users::get_by_firebase_uid`]); the
    /// administrator's lookup [`Users::get_by_email_including_inactive`]
    /// and [`Users::get_by_id`] still find them.
    ///
    /// Deactivating the last active administrator is
    /// [`DatabaseError::LastAdmin`], as for [`Users::set_role`]. `NotFound`
    /// for an unknown user. Recorded as `user.activated` or
    /// `user.deactivated`.
    #[metered]
    #[instrument(skip_all, fields(user_id = %id, active), err(Display))]
    pub async fn set_active(
        &self,
        id: UserId,
        active: bool,
        actor: Option<UserId>,
    ) -> Result<User> {
        self.administer(id, actor, move |user| {
            (user.is_active != active).then(|| Change {
                column_values: vec![(users::Column::IsActive, Expr::value(active))],
                stays_admin: active && is_admin(user),
                event: if active {
                    "user.activated"
                } else {
                    "user.deactivated"
                },
                what: "deactivating",
                metadata: serde_json::json!({}),
            })
        })
        .await
    }

    /// One administrative change of `id`, in one write transaction: the
    /// active administrators' rows held, the change refused if it would
    /// leave none, written, and recorded in the platform's audit events.
    async fn administer(
        &self,
        id: UserId,
        actor: Option<UserId>,
        change: impl FnOnce(&User) -> Option<Change> + Send + 'static,
    ) -> Result<User> {
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let admins = held_admins(tx).await?;
                    let users = Users::new(tx);
                    let user = users
                        .get_by_id(id)
                        .await?
                        .ok_or_else(|| DatabaseError::not_found("user", id))?;
                    let Some(change) = change(&user) else {
                        return Ok(user);
                    };
                    let was_admin = admins.contains(&id.as_uuid());
                    if was_admin && !change.stays_admin && admins.len() == 1 {
                        return Err(DatabaseError::LastAdmin {
                            user: id.to_string(),
                            change: change.what,
                        });
                    }
                    let mut update = users::Entity::update_many();
                    for (column, value) in change.column_values {
                        update = update.col_expr(column, value);
                    }
                    let changed = update
                        .filter(users::Column::Id.eq(id.as_uuid()))
                        .exec_in(&tx)
                        .await?
                        .rows_affected;
                    expect_changed(changed, "user", id)?;
                    let mut metadata = change.metadata;
                    if let Some(object) = metadata.as_object_mut() {
                        object.insert("target_user_id".into(), id.to_string().into());
                    }
                    let mut event = NewAuditEvent::new(
                        change.event,
                        AuditSeverity::Warning,
                        format!("{}: {}", change.event, user.email),
                        "pierre-db",
                        "success",
                    );
                    event.user_id = actor;
                    event.metadata = Some(metadata);
                    AuditEvents::new(GlobalRows::new(tx)).record(event).await?;
                    users
                        .get_by_id(id)
                        .await?
                        .ok_or_else(|| DatabaseError::not_found("user", id))
                })
            })
            .await
    }

    /// Replaces the password hash (made by the application's hasher).
    #[metered]
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn update_password(&self, id: UserId, password_hash: &str) -> Result<()> {
        validation::secret("password_hash", password_hash, Users::MAX_PASSWORD_HASH)?;
        self.update_one(id, users::Column::PasswordHash, password_hash)
            .await
    }

    /// Sets or clears the user's legacy home tenant (membership itself
    /// lives in `tenant_users`). `ForeignKey` naming `users(tenant_id)` for
    /// an unknown tenant; `NotFound` for an unknown user.
    #[metered]
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn update_tenant_id(&self, id: UserId, tenant: Option<TenantId>) -> Result<()> {
        self.update_one(id, users::Column::TenantId, tenant.map(|t| t.as_uuid()))
            .await
            .map_err(crate::error::foreign_key_of("users", &["tenant_id"]))
    }

    /// Sets or clears the display name.
    #[metered]
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn update_display_name(&self, id: UserId, display_name: Option<&str>) -> Result<()> {
        let name = validation::optional("display_name", display_name, Users::MAX_DISPLAY_NAME)?;
        self.update_one(id, users::Column::DisplayName, name).await
    }

    /// Deletes the user and, by cascade, everything they own (tokens, keys,
    /// memberships, …). A user who still owns a tenant is refused with
    /// `ForeignKey`: transfer or delete the tenant first; the last active
    /// administrator with [`DatabaseError::LastAdmin`], as for
    /// [`Users::set_role`]. Whether the user existed.
    #[metered]
    #[instrument(skip_all, fields(user_id = %id))]
    pub async fn delete(&self, id: UserId) -> Result<bool> {
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    if held_admins(tx).await? == [id.as_uuid()] {
                        return Err(DatabaseError::LastAdmin {
                            user: id.to_string(),
                            change: "deleting",
                        });
                    }
                    let deleted = users::Entity::delete_by_id(id.as_uuid())
                        .exec_in(&tx)
                        .await?
                        .rows_affected;
                    Ok(deleted > 0)
                })
            })
            .await
    }

    /// The earliest-created active administrator (role admin or super
    /// admin, or the legacy `is_admin` flag), if any.
    #[metered]
    #[instrument(skip_all)]
    pub async fn first_admin(&self) -> Result<Option<User>> {
        Ok(select_users()
            .filter(admin_condition())
            .filter(users::Column::IsActive.eq(true))
            .order_by_asc(users::Column::CreatedAt)
            .order_by_asc(users::Column::Id)
            .limit(1)
            .models::<UserRow>()
            .one_in(&self.ctx)
            .await?
            .map(|row| row.0))
    }

    /// The user `build` finds by the unique key `key`, through the SQL
    /// `slot` keeps (built once per backend). No `LIMIT`: the unique index
    /// already bounds the result to one row.
    async fn one(
        &self,
        slot: &Prepared,
        values: Vec<sea_orm::Value>,
        build: impl Fn() -> Select<users::Entity>,
    ) -> Result<Option<User>> {
        let statement = slot.statement(self.ctx.backend(), values, build);
        Ok(statement
            .decoded_one::<UserRow>(&self.ctx)
            .await?
            .map(|row| row.0))
    }

    async fn update_one(
        &self,
        id: UserId,
        column: users::Column,
        value: impl Into<sea_orm::sea_query::SimpleExpr>,
    ) -> Result<()> {
        let changed = users::Entity::update_many()
            .col_expr(column, value.into())
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        expect_changed(changed, "user", id)
    }

    /// Users with `status`, oldest first, one keyset page at a time.
    #[metered]
    #[instrument(skip_all, fields(status = ?status, limit = request.limit()))]
    pub async fn list_by_status_paginated(
        &self,
        status: UserStatus,
        request: &PageRequest,
    ) -> Result<Page<User>> {
        static BY_STATUS: KeysetSql = keyset_sql!();
        let list = self.ctx.list("users.by_status").by(status);
        let page = keyset_page::<UserRow>(
            &self.ctx,
            &list,
            request,
            PreparedPage {
                sql: &BY_STATUS,
                values: vec![status.into()],
                select: || select_users().filter(users::Column::UserStatus.eq(status)),
            },
        )
        .await?;
        Ok(page.map(|row| row.0))
    }
}

keyset_order!(
    UserRow,
    users::Column,
    (users::Column::CreatedAt, users::Column::Id),
    Ascending,
    |row| Position {
        at: row.0.created_at,
        id: row.0.id.as_uuid(),
    },
    decoded
);

/// One administrative change: the columns it sets, whether the user is an
/// active administrator after it, and how it is recorded.
struct Change {
    column_values: Vec<(users::Column, sea_orm::sea_query::SimpleExpr)>,
    stays_admin: bool,
    event: &'static str,
    what: &'static str,
    metadata: serde_json::Value,
}

/// Whether `user` is an administrator (by role, or by the original
/// server's `is_admin` flag).
fn is_admin(user: &User) -> bool {
    user.role != UserRole::User || user.is_admin
}

/// The ids of the active administrators, their rows held until the
/// transaction ends (PostgreSQL: `FOR UPDATE`; SQLite writes one
/// transaction at a time), so that a concurrent change of another
/// administrator waits and then sees this one.
async fn held_admins(tx: Ctx<'_>) -> Result<Vec<Uuid>> {
    users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::IsActive.eq(true))
        .filter(admin_condition())
        .lock_exclusive()
        .tuples()
        .all_in(&tx)
        .await
}

/// The rows of administrators, as [`is_admin`] reads them.
fn admin_condition() -> Condition {
    Condition::any()
        .add(users::Column::Role.is_in([UserRole::Admin, UserRole::SuperAdmin]))
        .add(users::Column::IsAdmin.eq(true))
}

fn role_name(role: UserRole) -> &'static str {
    match role {
        UserRole::SuperAdmin => "super_admin",
        UserRole::Admin => "admin",
        UserRole::User => "user",
    }
}
