//! Admin tokens and their use: `db.admin_tokens()`.
//!
//! The application mints the admin JWT with its own signing key; this layer
//! stores the SHA-256 of the token it is given (and of the JWT secret),
//! never the token, and checks presented tokens in constant time.

use chrono::{DateTime, Utc};
use entity::{admin_token_usage as usage, admin_tokens as tokens};
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::hashing;
use crate::error::{DatabaseError, Result};
use crate::ids::AdminTokenId;
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Ctx;
use crate::query::{Prepared, expect_changed, latest, prepared};
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;
use crate::validation::request::{response_time, size};

mod types;
pub use types::*;

/// Characters of the token's signature kept as its display prefix.
const PREFIX_LEN: usize = 12;
/// Longest token looked at.
const MAX_TOKEN: usize = 8192;

/// Admin tokens: `db.admin_tokens()`.
///
/// ```
/// use pierre_db::{AdminTokenUse, Database, MasterKey, NewAdminToken};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMifQ.c2lnbmF0dXJlLWJ5dGVz";
/// let token = db
///     .admin_tokens()
///     .create(NewAdminToken::new(jwt, "jwt-signing-secret", "ops-portal"))
///     .await?;
/// let checked = db.admin_tokens().verify(jwt).await?;
/// assert_eq!(checked.id, token.id);
/// db.admin_tokens().record_use(token.id, AdminTokenUse::new("provision_key")).await?;
/// assert_eq!(db.admin_tokens().get(token.id).await?.usage_count, 1);
/// # Ok(())
/// # }
/// ```
pub struct AdminTokens<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl AdminTokens<'_> {
    /// What an admin token may be allowed to do.
    pub const ADMIN_PERMISSIONS: [&'static str; 7] = [
        "provision_keys",
        "list_keys",
        "revoke_keys",
        "update_key_limits",
        "manage_admin_tokens",
        "view_audit_logs",
        "manage_users",
    ];
    /// The actions a use of an admin token records.
    pub const ADMIN_ACTIONS: [&'static str; 8] = [
        "authenticate",
        "provision_key",
        "list_keys",
        "revoke_key",
        "update_key_limits",
        "manage_admin_tokens",
        "view_audit_logs",
        "manage_users",
    ];
    /// Longest service name or target resource.
    pub const MAX_NAME: usize = 200;
    /// Longest description, user agent or error message kept.
    pub const MAX_TEXT: usize = 2000;
}

impl<'a> AdminTokens<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Stores a token's hashes. `InvalidInput` for a blank token or
    /// secret, a blank or over-long name, an unknown permission, or an
    /// expiry in the past; `Conflict` for a token stored already. A time
    /// outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the field.
    #[metered]
    #[instrument(skip_all, fields(service = %new.service_name, admin_token_id = tracing::field::Empty), err(Display))]
    pub async fn create(&self, new: NewAdminToken) -> Result<AdminToken> {
        validation::secret("token", new.token.expose(), MAX_TOKEN)?;
        validation::secret("jwt_secret", new.jwt_secret.expose(), MAX_TOKEN)?;
        let service_name =
            validation::required("service_name", &new.service_name, AdminTokens::MAX_NAME)?;
        let description = validation::optional(
            "service_description",
            new.service_description.as_deref(),
            AdminTokens::MAX_TEXT,
        )?;
        let permissions = validation::known_values(
            "permissions",
            &new.permissions,
            &AdminTokens::ADMIN_PERMISSIONS,
        )?;
        let now = time::now();
        let expires_at = new
            .expires_at
            .map(|at| validation::expiry("expires_at", time::checked_utc("expires_at", at)?, now))
            .transpose()?;
        let row = tokens::Model {
            id: Uuid::now_v7(),
            service_name,
            service_description: description,
            token_hash: hashing::hash(new.token.expose()),
            token_prefix: display_prefix(new.token.expose()),
            jwt_secret_hash: hashing::hash(new.jwt_secret.expose()),
            permissions: serde_json::Value::from(permissions),
            is_super_admin: new.is_super_admin,
            is_active: true,
            created_at: time::stored(now),
            expires_at: expires_at.map(time::stored),
            last_used_at: None,
            last_used_ip: None,
            usage_count: 0,
        };
        tracing::Span::current().record("admin_token_id", tracing::field::display(row.id));
        tokens::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
            tokens::ActiveModel::from(row.clone()),
        ))
        .exec_without_returning_in(&self.ctx)
        .await?;
        row.try_into()
    }

    /// The token with this id; `NotFound` if none.
    #[metered]
    #[instrument(skip_all, fields(admin_token_id = %id))]
    pub async fn get(&self, id: AdminTokenId) -> Result<AdminToken> {
        tokens::Entity::find_by_id(id)
            .one_in(&self.ctx)
            .await?
            .ok_or_else(|| DatabaseError::not_found("admin token", id))?
            .try_into()
    }

    /// The token whose SHA-256 matches `token`, compared in constant time.
    /// `NotFound` for an unknown token; `Rejected` for a deactivated or
    /// expired one.
    #[metered]
    #[instrument(skip_all, fields(admin_token_id = tracing::field::Empty), err(Display))]
    pub async fn verify(&self, token: &str) -> Result<AdminToken> {
        if token.is_empty() || token.len() > MAX_TOKEN {
            return Err(DatabaseError::not_found("admin token", "presented token"));
        }
        let hash = hashing::hash(token);
        let row = tokens::Entity::find()
            .filter(tokens::Column::TokenHash.eq(&hash))
            .all_in(&self.ctx)
            .await?
            .pop()
            .filter(|row| hashing::verify(token, &row.token_hash))
            .ok_or_else(|| DatabaseError::not_found("admin token", "presented token"))?;
        tracing::Span::current().record("admin_token_id", tracing::field::display(row.id));
        let token = AdminToken::try_from(row)?;
        if !token.is_active {
            return Err(rejected("inactive"));
        }
        if token.expires_at.is_some_and(|at| at <= time::now()) {
            return Err(rejected("expired"));
        }
        Ok(token)
    }

    /// Every token, newest first; inactive ones only when asked.
    #[metered]
    #[instrument(skip_all)]
    pub async fn list(&self, include_inactive: bool) -> Result<Vec<AdminToken>> {
        let mut select = tokens::Entity::find()
            .order_by_desc(tokens::Column::CreatedAt)
            .order_by_desc(tokens::Column::Id);
        if !include_inactive {
            select = select.filter(tokens::Column::IsActive.eq(true));
        }
        select
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(AdminToken::try_from)
            .collect()
    }

    /// Deactivates the token; `NotFound` if none.
    #[metered]
    #[instrument(skip_all, fields(admin_token_id = %id), err(Display))]
    pub async fn deactivate(&self, id: AdminTokenId) -> Result<()> {
        let changed = tokens::Entity::update_many()
            .col_expr(tokens::Column::IsActive, Expr::value(false))
            .filter(tokens::Column::Id.eq(id))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        expect_changed(changed, "admin token", id)
    }

    /// Records one use in ONE transaction: the usage row, and the token's
    /// `usage_count + 1`, `last_used_at` and `last_used_ip` in SQL (never
    /// read-modify-write, so concurrent uses all count; `last_used_at` never
    /// moves back when uses commit out of order). `NotFound` for an
    /// unknown token; `InvalidInput` for an unknown action or over-long
    /// text.
    #[metered]
    #[instrument(skip_all, fields(admin_token_id = %id, action = %used.action), err(Display))]
    pub async fn record_use(&self, id: AdminTokenId, used: AdminTokenUse) -> Result<()> {
        let row = usage_row(id.as_uuid(), used)?;
        let (at, ip) = (row.timestamp.clone(), row.ip_address.clone());
        self.ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    static BUMP: Prepared = prepared!();
                    let (at, ip) = (at.unwrap(), ip.unwrap());
                    let values = vec![
                        1i32.into(),
                        at.into(),
                        at.into(),
                        ip.clone().into(),
                        id.into(),
                    ];
                    let bump = BUMP.statement(tx.backend(), values, || {
                        tokens::Entity::update_many()
                            .col_expr(
                                tokens::Column::UsageCount,
                                Expr::col(tokens::Column::UsageCount).add(1),
                            )
                            .col_expr(
                                tokens::Column::LastUsedAt,
                                latest(tokens::Column::LastUsedAt, at),
                            )
                            .col_expr(tokens::Column::LastUsedIp, Expr::value(ip.clone()))
                            .filter(tokens::Column::Id.eq(id))
                    });
                    let changed = bump.execute_in(&tx).await?;
                    expect_changed(changed, "admin token", id)?;
                    static INSERT: Prepared = prepared!();
                    let insert = INSERT.insert(tx.backend(), row, |insert| insert);
                    insert.execute_in(&tx).await?;
                    Ok(())
                })
            })
            .await
    }

    /// The token's uses in `[from, to)`, oldest first, one keyset page at a
    /// time (on the index `(admin_token_id, timestamp)`). A time outside the
    /// years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(admin_token_id = %id, limit = request.limit()), err(Display))]
    pub async fn usage_history(
        &self,
        id: AdminTokenId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        request: &PageRequest,
    ) -> Result<Page<AdminTokenUsage>> {
        validation::ordered("to", from, to)?;
        let (from, to) = (
            time::checked_utc("from", from)?,
            time::checked_utc("to", to)?,
        );
        let list = self.ctx.list("admin_token_usage").by(id).by(from).by(to);
        let page = keyset_page::<usage::Model>(
            &self.ctx,
            &list,
            request,
            usage::Entity::find()
                .filter(usage::Column::AdminTokenId.eq(id))
                .filter(usage::Column::Timestamp.gte(time::stored(from)))
                .filter(usage::Column::Timestamp.lt(time::stored(to))),
        )
        .await?;
        page.try_map(AdminTokenUsage::try_from)
    }
}

fn rejected(reason: &'static str) -> DatabaseError {
    DatabaseError::Rejected {
        credential: "admin token",
        reason,
    }
}

/// The usage row for `used`, checked.
fn usage_row(id: Uuid, used: AdminTokenUse) -> Result<usage::ActiveModel> {
    let action = validation::known_values(
        "action",
        std::slice::from_ref(&used.action),
        &AdminTokens::ADMIN_ACTIONS,
    )?
    .remove(0);
    let text =
        |field, value: Option<&str>| validation::optional(field, value, AdminTokens::MAX_TEXT);
    Ok(usage::ActiveModel {
        id: Set(Uuid::now_v7()),
        admin_token_id: Set(id),
        timestamp: Set(time::stored(time::now())),
        action: Set(action),
        target_resource: Set(validation::optional(
            "target_resource",
            used.target_resource.as_deref(),
            AdminTokens::MAX_NAME,
        )?),
        ip_address: Set(text("ip_address", used.ip_address.as_deref())?),
        user_agent: Set(text("user_agent", used.user_agent.as_deref())?),
        request_size_bytes: Set(size("request_size_bytes", used.request_size_bytes)?),
        success: Set(used.success),
        error_message: Set(text("error_message", used.error_message.as_deref())?),
        response_time_ms: Set(response_time(used.response_time_ms)?),
    })
}

/// The display prefix: the start of the signature (the random part) of a
/// JWT, or of the token itself when it is not a JWT. The header of a JWT is
/// the same for every token and would tell nothing.
fn display_prefix(token: &str) -> String {
    let random = token.rsplit('.').next().unwrap_or(token);
    random.chars().take(PREFIX_LEN).collect()
}

keyset_order!(
    usage::Model,
    usage::Column,
    (usage::Column::Timestamp, usage::Column::Id),
    Ascending,
    |row| Position {
        at: row.timestamp.to_utc(),
        id: row.id,
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_comes_from_the_signature() {
        assert_eq!(
            display_prefix("eyJhbGc.eyJzdWI.abcdefghijklmnop"),
            "abcdefghijkl"
        );
        assert_eq!(display_prefix("plainrandomtoken"), "plainrandomt");
    }
}
