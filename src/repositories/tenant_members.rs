//! Tenant membership and roles (tenant-scoped): `db.tenant(id).members()`.
//!
//! Every query filters by the scope's tenant and every insert sets it; no
//! method takes a tenant argument.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::TenantRole;
use entity::tenant_users as members;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{TenantId, UserId};
use crate::pagination::{Page, PageRequest, Position, keyset_page};
use crate::repositories::Ctx;
use crate::time;

/// A user's membership in a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantMember {
    /// The row id.
    pub id: Uuid,
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
            id: m.id,
            tenant_id: m.tenant_id.into(),
            user_id: m.user_id.into(),
            role: m.role,
            permissions: m.permissions,
            invited_by: m.invited_by.map(Into::into),
            invited_at: m.invited_at.to_utc(),
            joined_at: m.joined_at.map(|t| t.to_utc()),
            is_active: m.is_active,
        }
    }
}

/// A tenant's members: `db.tenant(id).members()`.
pub struct TenantMembers<'a, C> {
    ctx: Ctx<'a, C>,
    tenant: TenantId,
}

impl<'a, C: ConnectionTrait> TenantMembers<'a, C> {
    pub(crate) fn new(ctx: Ctx<'a, C>, tenant: TenantId) -> Self {
        Self { ctx, tenant }
    }

    /// Every query starts here: the tenant filter is added once.
    fn in_tenant(&self) -> sea_orm::Select<members::Entity> {
        members::Entity::find().filter(members::Column::TenantId.eq(self.tenant.as_uuid()))
    }

    /// Adds `user` to the tenant with `role`, active and joined now;
    /// `invited_by` records who added them.
    ///
    /// Errors: `Conflict` when the user is already a member (active or
    /// not); `ForeignKey` when the tenant, the user or `invited_by` does not
    /// exist.
    #[instrument(skip_all, fields(tenant_id = %self.tenant, user_id = %user, role = ?role), err(Display))]
    pub async fn add(
        &self,
        user: UserId,
        role: TenantRole,
        invited_by: Option<UserId>,
    ) -> Result<TenantMember> {
        let now = time::stored(time::now());
        let row = members::Model {
            id: Uuid::now_v7(),
            tenant_id: self.tenant.as_uuid(),
            user_id: user.as_uuid(),
            role,
            permissions: None,
            invited_by: invited_by.map(|u| u.as_uuid()),
            invited_at: now,
            joined_at: Some(now),
            is_active: true,
        };
        members::Entity::insert(members::ActiveModel::from(row.clone()).reset_all())
            .exec_without_returning(self.ctx.conn)
            .await?;
        Ok(row.into())
    }

    /// Removes the user's membership; whether there was one.
    #[instrument(skip_all, fields(tenant_id = %self.tenant, user_id = %user), err(Display))]
    pub async fn remove(&self, user: UserId) -> Result<bool> {
        let deleted = members::Entity::delete_many()
            .filter(members::Column::TenantId.eq(self.tenant.as_uuid()))
            .filter(members::Column::UserId.eq(user.as_uuid()))
            .exec(self.ctx.conn)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// Gives the member a new role. `NotFound` when the user is not a
    /// member of this tenant.
    #[instrument(skip_all, fields(tenant_id = %self.tenant, user_id = %user, role = ?role), err(Display))]
    pub async fn change_role(&self, user: UserId, role: TenantRole) -> Result<()> {
        let changed = members::Entity::update_many()
            .col_expr(members::Column::Role, Expr::value(role))
            .filter(members::Column::TenantId.eq(self.tenant.as_uuid()))
            .filter(members::Column::UserId.eq(user.as_uuid()))
            .exec(self.ctx.conn)
            .await?
            .rows_affected;
        if changed == 0 {
            return Err(DatabaseError::not_found("tenant member", user));
        }
        Ok(())
    }

    /// The user's role here, if they are an active member (`None` for a
    /// non-member or an inactive membership, so the answer can gate access).
    #[instrument(skip_all, fields(tenant_id = %self.tenant, user_id = %user))]
    pub async fn get_user_role(&self, user: UserId) -> Result<Option<TenantRole>> {
        Ok(self
            .in_tenant()
            .select_only()
            .column(members::Column::Role)
            .filter(members::Column::UserId.eq(user.as_uuid()))
            .filter(members::Column::IsActive.eq(true))
            .into_tuple::<TenantRole>()
            .one(self.ctx.conn)
            .await?)
    }

    /// The user's membership here (active or not), if any.
    #[instrument(skip_all, fields(tenant_id = %self.tenant, user_id = %user))]
    pub async fn get(&self, user: UserId) -> Result<Option<TenantMember>> {
        Ok(self
            .in_tenant()
            .filter(members::Column::UserId.eq(user.as_uuid()))
            .one(self.ctx.conn)
            .await?
            .map(TenantMember::from))
    }

    /// Every membership of the tenant (active or not), in the order members
    /// were added, one keyset page at a time. A cursor issued for another
    /// tenant's list is `InvalidInput`.
    #[instrument(skip_all, fields(tenant_id = %self.tenant, limit = request.limit()))]
    pub async fn list(&self, request: &PageRequest) -> Result<Page<TenantMember>> {
        let scope = format!("tenant_members:{}", self.tenant);
        let page = keyset_page(
            self.ctx.conn,
            self.ctx.cursors(),
            &scope,
            request,
            self.in_tenant(),
            (members::Column::InvitedAt, members::Column::Id),
            |m| Position {
                at: m.invited_at.to_utc(),
                id: m.id,
            },
        )
        .await?;
        Ok(page.map(TenantMember::from))
    }
}

impl<'a, C: ConnectionTrait> crate::TenantScope<'a, C> {
    /// This tenant's members and their roles.
    pub fn members(&self) -> TenantMembers<'a, C> {
        TenantMembers::new(self.ctx, self.tenant)
    }
}
