//! Tenants: creation (together with the owner's membership), lookup and
//! listing.
//!
//! The `tenants` table itself is not tenant-owned, so this repository is
//! unscoped: `db.tenants()`. A tenant's own data (members, OAuth client
//! credentials, tokens, …) is reached through `db.tenant(id)`.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::{SubscriptionTier, TenantRole};
use entity::{tenant_users as members, tenants};
use pierre_db_macros::metered;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};
use tracing::instrument;

use crate::error::{DatabaseError, Result, foreign_key_of};
use crate::ids::{TenantId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::cells::{Cell, Decode, Row, at, read_enum, read_time};
use crate::query::{Prepared, expect_changed, prepared};
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::scope::TenantScope;
use crate::time;
use crate::validation;

/// A tenant: an organization whose users, tokens and settings are kept apart
/// from every other tenant's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The id.
    pub id: TenantId,
    /// The name shown to people.
    pub name: String,
    /// The unique URL name (lowercase letters, digits, `-`).
    pub slug: String,
    /// The tenant's own domain, unique, lower-cased.
    pub domain: Option<String>,
    /// The subscription plan.
    pub plan: SubscriptionTier,
    /// The user who owns the tenant.
    pub owner_user_id: UserId,
    /// Whether the tenant is active.
    pub is_active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Changes to a tenant ([`Tenants::update`]); `None` keeps a field.
#[derive(Clone, Debug, Default)]
pub struct TenantUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new domain; `Some("")` clears it.
    pub domain: Option<String>,
    /// A new plan.
    pub plan: Option<SubscriptionTier>,
}

impl From<tenants::Model> for Tenant {
    fn from(m: tenants::Model) -> Self {
        Self {
            id: TenantId::from_uuid(m.id),
            name: m.name,
            slug: m.slug,
            domain: m.domain,
            plan: m.plan,
            owner_user_id: UserId::from_uuid(m.owner_user_id),
            is_active: m.is_active,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        }
    }
}

/// What [`Tenants::create`] needs.
#[derive(Clone, Debug)]
pub struct NewTenant {
    /// The name shown to people (required, at most 200 characters).
    pub name: String,
    /// The unique URL name: 3 to 63 lowercase letters, digits and inner `-`.
    pub slug: String,
    /// The tenant's own domain (optional, unique; a blank value is `None`).
    pub domain: Option<String>,
    /// The subscription plan.
    pub plan: SubscriptionTier,
    /// The owning user, who becomes the tenant's first member (role owner).
    pub owner: UserId,
}

impl NewTenant {
    /// A starter tenant without a domain.
    pub fn new(name: impl Into<String>, slug: impl Into<String>, owner: UserId) -> Self {
        Self {
            name: name.into(),
            slug: slug.into(),
            domain: None,
            plan: SubscriptionTier::Starter,
            owner,
        }
    }
}

/// The tenants repository: `db.tenants()` (or `tx.tenants()`).
pub struct Tenants<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl Tenants<'_> {
    /// Longest tenant name accepted.
    pub const MAX_NAME: usize = 200;
    /// Shortest slug accepted.
    pub const MIN_SLUG: usize = 3;
    /// Longest slug accepted (a DNS label's limit, so a slug can be a subdomain).
    pub const MAX_SLUG: usize = 63;
}

impl<'a> Tenants<'a> {
    /// Creates a tenant and its owner's membership (role
    /// [`TenantRole::Owner`], active, joined now) in one transaction: both
    /// rows are written or neither is. Inside a transaction (`tx.tenants()`)
    /// this is a savepoint, so a failure leaves the outer transaction usable.
    ///
    /// Errors: `InvalidInput` for a blank or over-long name, a malformed
    /// slug or domain; `Conflict` when the slug or the domain is taken;
    /// `ForeignKey` when the owner is not an existing user.
    ///
    /// ```
    /// use pierre_db::NewTenant;
    /// use pierre_db::{Database, MasterKey, NewUser};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pierre_db::DatabaseError> {
    /// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
    /// # config.migrate_on_connect = true;
    /// # let db = Database::connect_with(config).await?;
    /// let owner = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
    /// let tenant = db.tenants().create(NewTenant::new("Acme Runners", "acme", owner.id)).await?;
    /// assert_eq!(db.tenants().get_by_slug("acme").await?, Some(tenant.clone()));
    /// assert!(db.tenant(tenant.id).members().get_user_role(owner.id).await?.is_some());
    /// # Ok(())
    /// # }
    /// ```
    #[metered]
    #[instrument(skip_all, fields(tenant_id = tracing::field::Empty, owner_id = %new.owner), err(Display))]
    pub async fn create(&self, new: NewTenant) -> Result<Tenant> {
        let name = validation::required("name", &new.name, Tenants::MAX_NAME)?;
        let slug = validation::slug("slug", &new.slug, Tenants::MIN_SLUG, Tenants::MAX_SLUG)?;
        let domain = match new.domain.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(domain) => Some(validation::domain_name("domain", domain)?),
        };
        let id = TenantId::new();
        tracing::Span::current().record("tenant_id", tracing::field::display(id));
        let now = time::stored(time::now());
        let tenant = tenants::Model {
            id: id.as_uuid(),
            name,
            slug,
            domain,
            plan: new.plan,
            owner_user_id: new.owner.as_uuid(),
            is_active: true,
            created_at: now,
            updated_at: now,
        };
        let row = tenants::ActiveModel::from(tenant.clone()).reset_all();
        let owner = new.owner;
        // One transaction (a savepoint when already in one): both rows or neither.
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    tenants::Entity::insert(row)
                        .exec_without_returning_in(&tx)
                        .await
                        .map_err(|err| foreign_key_of("tenants", &["owner_user_id"])(err))?;
                    TenantScope::new(tx, id)
                        .members()
                        .add(owner, TenantRole::Owner, None)
                        .await?;
                    Ok(())
                })
            })
            .await?;
        Ok(tenant.into())
    }
}

impl<'a> Tenants<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Changes the tenant's name, domain (`Some("")` clears it) and plan;
    /// `None` keeps a field. `InvalidInput` for a bad name or domain,
    /// `Conflict` for a domain another tenant has, `NotFound` for an
    /// unknown tenant.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %id), err(Display))]
    pub async fn update(&self, id: TenantId, change: TenantUpdate) -> Result<Tenant> {
        let mut update = tenants::Entity::update_many()
            .col_expr(
                tenants::Column::UpdatedAt,
                Expr::value(time::stored(time::now())),
            )
            .filter(tenants::Column::Id.eq(id.as_uuid()));
        if let Some(name) = &change.name {
            let name = validation::required("name", name, Tenants::MAX_NAME)?;
            update = update.col_expr(tenants::Column::Name, Expr::value(name));
        }
        if let Some(domain) = &change.domain {
            let domain = match domain.trim() {
                "" => None,
                domain => Some(validation::domain_name("domain", domain)?),
            };
            update = update.col_expr(tenants::Column::Domain, Expr::value(domain));
        }
        if let Some(plan) = change.plan {
            update = update.col_expr(tenants::Column::Plan, Expr::value(plan));
        }
        let changed = update.exec_in(&self.ctx).await?.rows_affected;
        expect_changed(changed, "tenant", id)?;
        self.get_by_id(id)
            .await?
            .ok_or_else(|| DatabaseError::not_found("tenant", id))
    }

    /// Deactivates the tenant (its rows stay); whether it was active.
    /// `NotFound` for an unknown tenant.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %id), err(Display))]
    pub async fn deactivate(&self, id: TenantId) -> Result<bool> {
        self.set_active(id, false).await
    }

    /// Reactivates a deactivated tenant; whether it was inactive.
    /// `NotFound` for an unknown tenant.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %id), err(Display))]
    pub async fn reactivate(&self, id: TenantId) -> Result<bool> {
        self.set_active(id, true).await
    }

    /// Sets `is_active` if it differs, in one statement (so of two callers
    /// at once exactly one sees the change); whether it changed.
    async fn set_active(&self, id: TenantId, active: bool) -> Result<bool> {
        let changed = tenants::Entity::update_many()
            .col_expr(tenants::Column::IsActive, Expr::value(active))
            .col_expr(
                tenants::Column::UpdatedAt,
                Expr::value(time::stored(time::now())),
            )
            .filter(tenants::Column::Id.eq(id.as_uuid()))
            .filter(tenants::Column::IsActive.eq(!active))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        if changed == 0 {
            self.get_by_id(id)
                .await?
                .ok_or_else(|| DatabaseError::not_found("tenant", id))?;
        }
        Ok(changed > 0)
    }

    /// Makes `new_owner` (an active member) the tenant's owner, in ONE
    /// transaction: the tenant names them, their membership becomes
    /// `Owner`, and the previous owner's becomes `Admin` (it can then be
    /// removed). `NotFound` for an unknown tenant or a user who is not a
    /// member.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %id, new_owner = %new_owner), err(Display))]
    pub async fn transfer_ownership(&self, id: TenantId, new_owner: UserId) -> Result<Tenant> {
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let members = TenantScope::new(tx, id).members();
                    if members.get(new_owner).await?.is_none_or(|m| !m.is_active) {
                        return Err(DatabaseError::not_found("tenant member", new_owner));
                    }
                    let old: Option<uuid::Uuid> = tenants::Entity::find_by_id(id.as_uuid())
                        .select_only()
                        .column(tenants::Column::OwnerUserId)
                        .lock_exclusive()
                        .tuples()
                        .one_in(&tx)
                        .await?;
                    let old = old.ok_or_else(|| DatabaseError::not_found("tenant", id))?;
                    tenants::Entity::update_many()
                        .col_expr(
                            tenants::Column::OwnerUserId,
                            Expr::value(new_owner.as_uuid()),
                        )
                        .col_expr(
                            tenants::Column::UpdatedAt,
                            Expr::value(time::stored(time::now())),
                        )
                        .filter(tenants::Column::Id.eq(id.as_uuid()))
                        .exec_in(&tx)
                        .await?;
                    members.change_role(new_owner, TenantRole::Owner).await?;
                    if old != new_owner.as_uuid() {
                        members
                            .change_role(UserId::from_uuid(old), TenantRole::Admin)
                            .await?;
                    }
                    Ok(())
                })
            })
            .await?;
        self.get_by_id(id)
            .await?
            .ok_or_else(|| DatabaseError::not_found("tenant", id))
    }

    /// The tenant with this id, if any.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %id))]
    pub async fn get_by_id(&self, id: TenantId) -> Result<Option<Tenant>> {
        static BY_ID: Prepared = prepared!();
        let statement = BY_ID.statement(self.ctx.backend(), vec![id.as_uuid().into()], || {
            tenants::Entity::find().filter(tenants::Column::Id.eq(id.as_uuid()))
        });
        Ok(statement
            .decoded_one::<tenants::Model>(&self.ctx)
            .await?
            .map(Tenant::from))
    }

    /// The tenant with this slug, if any. A malformed slug is
    /// `InvalidInput` (no tenant can have it).
    #[metered]
    #[instrument(skip_all)]
    pub async fn get_by_slug(&self, slug: &str) -> Result<Option<Tenant>> {
        let slug = validation::slug("slug", slug, Tenants::MIN_SLUG, Tenants::MAX_SLUG)?;
        static BY_SLUG: Prepared = prepared!();
        let statement = BY_SLUG.statement(self.ctx.backend(), vec![slug.as_str().into()], || {
            tenants::Entity::find().filter(tenants::Column::Slug.eq(slug.as_str()))
        });
        Ok(statement
            .decoded_one::<tenants::Model>(&self.ctx)
            .await?
            .map(Tenant::from))
    }

    /// Every tenant, oldest first, one keyset page at a time (a cursor from
    /// another list is `InvalidInput`).
    #[metered]
    #[instrument(skip_all, fields(limit = request.limit()))]
    pub async fn list(&self, request: &PageRequest) -> Result<Page<Tenant>> {
        let page = keyset_page::<tenants::Model>(
            &self.ctx,
            &self.ctx.list("tenants.all"),
            request,
            tenants::Entity::find(),
        )
        .await?;
        Ok(page.map(Tenant::from))
    }

    /// The tenants in which the user has an active membership, oldest first
    /// (whether or not the tenant itself is active: see
    /// [`Tenant::is_active`]). This reads memberships across tenants, by
    /// design: it is how a user finds the tenants they may enter.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn list_for_user(&self, user: UserId) -> Result<Vec<Tenant>> {
        Ok(tenants::Entity::find()
            .join(JoinType::InnerJoin, tenants::Relation::TenantUsers.def())
            .filter(members::Column::UserId.eq(user.as_uuid()))
            .filter(members::Column::IsActive.eq(true))
            .order_by_asc(tenants::Column::CreatedAt)
            .order_by_asc(tenants::Column::Id)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(Tenant::from)
            .collect())
    }
}

keyset_order!(
    tenants::Model,
    tenants::Column,
    (tenants::Column::CreatedAt, tenants::Column::Id),
    Ascending,
    |m| Position {
        at: m.created_at.to_utc(),
        id: m.id,
    },
    decoded
);

/// A tenant row by position, as `Entity::find()` selects it (every column
/// in declaration order): for the reads on the calling thread.
impl Decode for tenants::Model {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        use tenants::Column as C;
        Ok(Self {
            id: Cell::read(row, at!(C::Id))?,
            name: Cell::read(row, at!(C::Name))?,
            slug: Cell::read(row, at!(C::Slug))?,
            domain: Cell::read(row, at!(C::Domain))?,
            plan: read_enum(row, at!(C::Plan))?,
            owner_user_id: Cell::read(row, at!(C::OwnerUserId))?,
            is_active: Cell::read(row, at!(C::IsActive))?,
            created_at: read_time(row, at!(C::CreatedAt))?,
            updated_at: read_time(row, at!(C::UpdatedAt))?,
        })
    }
}
