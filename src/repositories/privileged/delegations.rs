//! Permission delegations between users: `db.permission_delegations()`.
//!
//! A grantor hands a grantee a set of permission bits, once per pair (the
//! schema's unique `(grantor_id, grantee_id)`): granting again replaces the
//! bits and expiry and reactivates a revoked grant. A grant counts while it
//! is neither revoked nor expired.

use chrono::{DateTime, Utc};
use entity::permission_delegations as delegations;
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{DelegationId, UserId};
use crate::query::Ctx;
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{expect_changed, unsigned};
use crate::time;

/// A stored grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegation {
    /// The row id.
    pub id: DelegationId,
    /// Who granted.
    pub grantor_id: UserId,
    /// Who received.
    pub grantee_id: UserId,
    /// The permission bits granted.
    pub permissions: u64,
    /// When it lapses, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it is.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the pair was first granted.
    pub created_at: DateTime<Utc>,
}

impl Delegation {
    /// Whether the grant counts at `now`: not revoked, not expired. Any time is
    /// accepted, outside the years 0000–9999 too: nothing is stored or queried.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

impl TryFrom<delegations::Model> for Delegation {
    type Error = DatabaseError;

    fn try_from(m: delegations::Model) -> Result<Self> {
        Ok(Self {
            id: DelegationId::from_uuid(m.id),
            grantor_id: UserId::from_uuid(m.grantor_id),
            grantee_id: UserId::from_uuid(m.grantee_id),
            permissions: unsigned("permission_delegations.permissions", m.permissions)?,
            expires_at: m.expires_at.map(|t| t.to_utc()),
            revoked_at: m.revoked_at.map(|t| t.to_utc()),
            created_at: m.created_at.to_utc(),
        })
    }
}

/// Permission delegations: `db.permission_delegations()`.
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
/// # let bob = db.users().create(NewUser::new("bob@example.org", "hash")).await?.id;
/// let grants = db.permission_delegations();
/// grants.grant(ada, bob, 0b101, None).await?;
/// assert_eq!(grants.effective_permissions(bob).await?, 0b101);
/// grants.revoke(ada, bob).await?;
/// assert_eq!(grants.effective_permissions(bob).await?, 0);
/// # Ok(())
/// # }
/// ```
pub struct PermissionDelegations<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl PermissionDelegations<'_> {
    /// Bits a grant may carry: 0 to 62. Bit 63 is refused so the mask stays a
    /// non-negative `BIGINT` on both backends.
    pub const PERMISSION_BITS: u64 = (1 << 63) - 1;
}

impl<'a> PermissionDelegations<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Grants `permissions` from `grantor` to `grantee` until `expires_at`
    /// (or for good): one row per pair, so granting again replaces the bits
    /// and the expiry and reactivates a revoked grant. `InvalidInput` for a
    /// self-grant, no bits, bit 63, or an expiry in the past; `ForeignKey`
    /// for an unknown user. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(grantor_id = %grantor, grantee_id = %grantee), err(Display))]
    pub async fn grant(
        &self,
        grantor: UserId,
        grantee: UserId,
        permissions: u64,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Delegation> {
        if grantor == grantee {
            return Err(DatabaseError::invalid(
                "grantee",
                "a user cannot delegate to themselves",
            ));
        }
        if permissions == 0 {
            return Err(DatabaseError::invalid(
                "permissions",
                "grants no permission",
            ));
        }
        if permissions & !PermissionDelegations::PERMISSION_BITS != 0 {
            return Err(DatabaseError::invalid("permissions", "bit 63 is reserved"));
        }
        let now = time::now();
        let expires_at = expires_at
            .map(|at| {
                crate::validation::expiry("expires_at", time::checked_utc("expires_at", at)?, now)
            })
            .transpose()?;
        delegations::Entity::insert(delegations::ActiveModel {
            id: Set(Uuid::now_v7()),
            grantor_id: Set(grantor.as_uuid()),
            grantee_id: Set(grantee.as_uuid()),
            permissions: Set(permissions as i64),
            expires_at: Set(expires_at.map(time::stored)),
            revoked_at: Set(None),
            created_at: Set(time::stored(now)),
        })
        .on_conflict(
            OnConflict::columns([
                delegations::Column::GrantorId,
                delegations::Column::GranteeId,
            ])
            .update_columns([
                delegations::Column::Permissions,
                delegations::Column::ExpiresAt,
                delegations::Column::RevokedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning_in(&self.ctx)
        .await?;
        self.between(grantor, grantee)
            .await?
            .ok_or_else(|| DatabaseError::not_found("delegation", format!("{grantor}->{grantee}")))
    }

    /// Revokes the grant from `grantor` to `grantee`, stamped now; a grant
    /// revoked already keeps its first `revoked_at`. `NotFound` if the pair
    /// has no grant or it is revoked already.
    #[metered]
    #[instrument(skip_all, fields(grantor_id = %grantor, grantee_id = %grantee), err(Display))]
    pub async fn revoke(&self, grantor: UserId, grantee: UserId) -> Result<()> {
        let changed = delegations::Entity::update_many()
            .col_expr(
                delegations::Column::RevokedAt,
                Expr::value(time::stored(time::now())),
            )
            .filter(delegations::Column::GrantorId.eq(grantor.as_uuid()))
            .filter(delegations::Column::GranteeId.eq(grantee.as_uuid()))
            .filter(delegations::Column::RevokedAt.is_null())
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        expect_changed(
            changed,
            "active delegation",
            format!("{grantor}->{grantee}"),
        )
    }

    /// The grant between the pair, active or not.
    #[metered]
    #[instrument(skip_all, fields(grantor_id = %grantor, grantee_id = %grantee), err(Display))]
    pub async fn between(&self, grantor: UserId, grantee: UserId) -> Result<Option<Delegation>> {
        delegations::Entity::find()
            .filter(delegations::Column::GrantorId.eq(grantor.as_uuid()))
            .filter(delegations::Column::GranteeId.eq(grantee.as_uuid()))
            .one_in(&self.ctx)
            .await?
            .map(Delegation::try_from)
            .transpose()
    }

    /// The grants `grantee` holds that count now (not revoked, not
    /// expired), oldest first.
    #[metered]
    #[instrument(skip_all, fields(grantee_id = %grantee), err(Display))]
    pub async fn active_for_grantee(&self, grantee: UserId) -> Result<Vec<Delegation>> {
        let select = delegations::Entity::find()
            .filter(delegations::Column::GranteeId.eq(grantee.as_uuid()))
            .filter(active_now());
        self.listed(select).await
    }

    /// Every grant `grantor` made, active or not, oldest first.
    #[metered]
    #[instrument(skip_all, fields(grantor_id = %grantor), err(Display))]
    pub async fn by_grantor(&self, grantor: UserId) -> Result<Vec<Delegation>> {
        let select = delegations::Entity::find()
            .filter(delegations::Column::GrantorId.eq(grantor.as_uuid()));
        self.listed(select).await
    }

    /// The permissions `grantee` holds by delegation now: the OR of the
    /// bits of its active grants, read in one query.
    #[metered]
    #[instrument(skip_all, fields(grantee_id = %grantee), err(Display))]
    pub async fn effective_permissions(&self, grantee: UserId) -> Result<u64> {
        // SQLite has no bitwise OR aggregate: the bits are combined here.
        let masks: Vec<i64> = delegations::Entity::find()
            .select_only()
            .column(delegations::Column::Permissions)
            .filter(delegations::Column::GranteeId.eq(grantee.as_uuid()))
            .filter(active_now())
            .tuples()
            .all_in(&self.ctx)
            .await?;
        masks.into_iter().try_fold(0u64, |all, mask| {
            Ok(all | unsigned::<u64>("permission_delegations.permissions", mask)?)
        })
    }
}

impl PermissionDelegations<'_> {
    /// The grants `select` finds, oldest first.
    async fn listed(
        &self,
        select: sea_orm::Select<delegations::Entity>,
    ) -> Result<Vec<Delegation>> {
        select
            .order_by_asc(delegations::Column::CreatedAt)
            .order_by_asc(delegations::Column::Id)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(Delegation::try_from)
            .collect()
    }
}

/// Not revoked and not expired, now.
fn active_now() -> Condition {
    Condition::all()
        .add(delegations::Column::RevokedAt.is_null())
        .add(
            Condition::any()
                .add(delegations::Column::ExpiresAt.is_null())
                .add(delegations::Column::ExpiresAt.gt(time::stored(time::now()))),
        )
}
