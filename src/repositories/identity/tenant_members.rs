//! Tenant membership and roles (tenant-scoped): `db.tenant(id).members()`.
//!
//! Every query filters by the scope's tenant and every insert sets it; no
//! method takes a tenant argument.
//!
//! The tenant's owner (`tenants.owner_user_id`) keeps an owner membership:
//! removing it, or giving it another role, is refused until ownership
//! moves ([`crate::Tenants::transfer_ownership`]). The guard is part of the
//! statement itself, so a concurrent transfer cannot slip between a check
//! and the write.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::TenantRole;
use entity::{tenant_users as members, tenants};
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{MembershipId, TenantId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Scoped;
use crate::query::expect_changed;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;

/// A user's membership in a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantMember {
    /// The row id.
    pub id: MembershipId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The member.
    pub user_id: UserId,
    /// The member's role in the tenant.
    pub role: TenantRole,
    /// Fine-grained permissions, as the application stored them.
    pub permissions: Option<serde_json::Value>,
    /// Who added the member, if recorded (cleared when that user is deleted).
    pub invited_by: Option<UserId>,
    /// When the member was added.
    pub invited_at: DateTime<Utc>,
    /// When the member joined.
    pub joined_at: Option<DateTime<Utc>>,
    /// Whether the membership is in force.
    pub is_active: bool,
}

impl From<members::Model> for TenantMember {
    fn from(m: members::Model) -> Self {
        Self {
            id: MembershipId::from_uuid(m.id),
            tenant_id: TenantId::from_uuid(m.tenant_id),
            user_id: UserId::from_uuid(m.user_id),
            role: m.role,
            permissions: m.permissions,
            invited_by: m.invited_by.map(UserId::from_uuid),
            invited_at: m.invited_at.to_utc(),
            joined_at: m.joined_at.map(|t| t.to_utc()),
            is_active: m.is_active,
        }
    }
}

/// A tenant's members: `db.tenant(id).members()`.
pub struct TenantMembers<'a> {
    scope: Scoped<'a>,
}

impl<'a> TenantMembers<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Adds `user` to the tenant with `role`, active and joined now;
    /// `invited_by` records who added them.
    ///
    /// Errors: `Conflict` when the user is already a member (active or
    /// not); `ForeignKey` when the tenant, the user or `invited_by` does not
    /// exist.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, role = ?role), err(Display))]
    pub async fn add(
        &self,
        user: UserId,
        role: TenantRole,
        invited_by: Option<UserId>,
    ) -> Result<TenantMember> {
        let now = time::stored(time::now());
        let id = Uuid::now_v7();
        let row = members::ActiveModel {
            id: Set(id),
            user_id: Set(user.as_uuid()),
            role: Set(role),
            permissions: Set(None),
            invited_by: Set(invited_by.map(|u| u.as_uuid())),
            invited_at: Set(now),
            joined_at: Set(Some(now)),
            is_active: Set(true),
            ..Default::default()
        };
        self.scope
            .insert(row)?
            .exec_without_returning_in(&self.scope)
            .await?;
        Ok(TenantMember {
            id: MembershipId::from_uuid(id),
            tenant_id: self.scope.tenant(),
            user_id: user,
            role,
            permissions: None,
            invited_by,
            invited_at: now.to_utc(),
            joined_at: Some(now.to_utc()),
            is_active: true,
        })
    }

    /// Removes the user's membership; whether there was one.
    /// `InvalidInput` for the tenant's owner: transfer ownership first.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user), err(Display))]
    pub async fn remove(&self, user: UserId) -> Result<bool> {
        let deleted = self
            .scope
            .delete::<members::Entity>()
            .filter(members::Column::UserId.eq(user.as_uuid()))
            .filter(self.not_owner())
            .exec_in(&self.scope)
            .await?
            .rows_affected;
        if deleted == 0 && self.is_owner_member(user).await? {
            return Err(owner_guard());
        }
        Ok(deleted > 0)
    }

    /// Rows whose user is not the tenant's owner (a subquery on `tenants`,
    /// evaluated by the statement it guards).
    fn not_owner(&self) -> sea_orm::sea_query::SimpleExpr {
        let owner = Query::select()
            .column(tenants::Column::OwnerUserId)
            .from(tenants::Entity)
            .and_where(
                Expr::col((tenants::Entity, tenants::Column::Id)).eq(self.scope.tenant().as_uuid()),
            )
            .to_owned();
        Expr::col((members::Entity, members::Column::UserId)).not_in_subquery(owner)
    }

    /// Whether `user` owns this tenant and has a membership in it (what
    /// a guarded statement that changed nothing was refused for).
    async fn is_owner_member(&self, user: UserId) -> Result<bool> {
        Ok(self.is_owner(user).await? && self.get(user).await?.is_some())
    }

    /// Whether `user` owns this tenant.
    async fn is_owner(&self, user: UserId) -> Result<bool> {
        let owner: Option<Uuid> = tenants::Entity::find_by_id(self.scope.tenant().as_uuid())
            .select_only()
            .column(tenants::Column::OwnerUserId)
            .tuples()
            .one_in(&self.scope)
            .await?;
        Ok(owner == Some(user.as_uuid()))
    }

    /// Gives the member a new role. `NotFound` when the user is not a
    /// member of this tenant.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, role = ?role), err(Display))]
    pub async fn change_role(&self, user: UserId, role: TenantRole) -> Result<()> {
        let mut update = self
            .scope
            .update::<members::Entity>()
            .col_expr(members::Column::Role, Expr::value(role))
            .filter(members::Column::UserId.eq(user.as_uuid()));
        if role != TenantRole::Owner {
            update = update.filter(self.not_owner());
        }
        let changed = update.exec_in(&self.scope).await?.rows_affected;
        if changed == 0 && role != TenantRole::Owner && self.is_owner_member(user).await? {
            return Err(owner_guard());
        }
        expect_changed(changed, "tenant member", user)
    }

    /// The user's role here, if they are an active member (`None` for a
    /// non-member or an inactive membership, so the answer can gate access).
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user))]
    pub async fn get_user_role(&self, user: UserId) -> Result<Option<TenantRole>> {
        self.scope
            .find::<members::Entity>()
            .select_only()
            .column(members::Column::Role)
            .filter(members::Column::UserId.eq(user.as_uuid()))
            .filter(members::Column::IsActive.eq(true))
            .tuples::<TenantRole>()
            .one_in(&self.scope)
            .await
    }

    /// The user's membership here (active or not), if any.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user))]
    pub async fn get(&self, user: UserId) -> Result<Option<TenantMember>> {
        Ok(self
            .scope
            .find::<members::Entity>()
            .filter(members::Column::UserId.eq(user.as_uuid()))
            .one_in(&self.scope)
            .await?
            .map(TenantMember::from))
    }

    /// Every membership of the tenant (active or not), in the order members
    /// were added, one keyset page at a time. A cursor issued for another
    /// tenant's list is `InvalidInput`.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), limit = request.limit()))]
    pub async fn list(&self, request: &PageRequest) -> Result<Page<TenantMember>> {
        let list = self.scope.list("tenant_members");
        let page = keyset_page::<members::Model>(
            &self.scope,
            &list,
            request,
            self.scope.find::<members::Entity>(),
        )
        .await?;
        Ok(page.map(TenantMember::from))
    }
}

/// The error for a change that would leave the owner without its
/// membership.
fn owner_guard() -> DatabaseError {
    DatabaseError::invalid(
        "user",
        "is the tenant's owner: transfer ownership before removing or demoting them",
    )
}

keyset_order!(
    members::Model,
    members::Column,
    (members::Column::InvitedAt, members::Column::Id),
    Ascending,
    |m| Position {
        at: m.invited_at.to_utc(),
        id: m.id,
    }
);
