//! Users' MCP tokens: `db.mcp_tokens()`.
//!
//! A token (`pmcp_…`, 256 random bits) is generated here, returned once and
//! stored as its SHA-256 with a display prefix. [`McpTokens::validate`] is
//! one conditional statement: the hash matches, the token is not revoked
//! and not expired, and then its use is counted; a revoked or expired token
//! counts nothing.

use chrono::{DateTime, Utc};
use entity::user_mcp_tokens as tokens;
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QueryTrait};
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::hashing;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::ids::{McpTokenId, UserId};
use crate::query::Ctx;
use crate::query::cells::{Cell, Decode, Row, at, decoded_rows, read_time, read_time_opt};
use crate::query::{Prepared, expect_changed, latest, prepared, unsigned};
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::time;
use crate::validation;

/// Longest presented token looked at.
const MAX_PRESENTED: usize = 256;

/// A user's MCP token (without the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpToken {
    /// The row id.
    pub id: McpTokenId,
    /// Whose it is.
    pub user_id: UserId,
    /// What the user called it.
    pub name: String,
    /// The token's first characters, to recognise it by.
    pub token_prefix: String,
    /// When it stops being accepted, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// How many times it was accepted.
    pub usage_count: u64,
    /// Whether it was revoked.
    pub is_revoked: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<tokens::Model> for McpToken {
    type Error = DatabaseError;

    fn try_from(m: tokens::Model) -> Result<Self> {
        Ok(Self {
            id: McpTokenId::from_uuid(m.id),
            user_id: UserId::from_uuid(m.user_id),
            name: m.name,
            token_prefix: m.token_prefix,
            expires_at: m.expires_at.map(|at| at.to_utc()),
            last_used_at: m.last_used_at.map(|at| at.to_utc()),
            usage_count: unsigned("user_mcp_tokens.usage_count", m.usage_count)?,
            is_revoked: m.is_revoked,
            created_at: m.created_at.to_utc(),
        })
    }
}

/// A token just created, in clear this one time.
#[derive(Debug)]
pub struct CreatedMcpToken {
    /// The stored token.
    pub token: McpToken,
    /// The token to hand to the user now.
    pub plaintext: Secret,
}

/// Who a validated token acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct McpTokenUse {
    /// The token.
    pub token_id: McpTokenId,
    /// Its user.
    pub user_id: UserId,
}

/// A token row by position, as `Entity::find()` selects it (every column
/// in declaration order): for the reads on the calling thread.
impl Decode for tokens::Model {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        use tokens::Column as C;
        Ok(Self {
            id: Cell::read(row, at!(C::Id))?,
            user_id: Cell::read(row, at!(C::UserId))?,
            name: Cell::read(row, at!(C::Name))?,
            token_hash: Cell::read(row, at!(C::TokenHash))?,
            token_prefix: Cell::read(row, at!(C::TokenPrefix))?,
            expires_at: read_time_opt(row, at!(C::ExpiresAt))?,
            last_used_at: read_time_opt(row, at!(C::LastUsedAt))?,
            usage_count: Cell::read(row, at!(C::UsageCount))?,
            is_revoked: Cell::read(row, at!(C::IsRevoked))?,
            created_at: read_time(row, at!(C::CreatedAt))?,
        })
    }
}

decoded_rows!(McpTokenUse);

impl Decode for McpTokenUse {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        Ok(Self {
            token_id: McpTokenId::from_uuid(Uuid::read(row, 0)?),
            user_id: UserId::from_uuid(Uuid::read(row, 1)?),
        })
    }
}

/// Users' MCP tokens: `db.mcp_tokens()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewUser};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let user = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
/// let created = db.mcp_tokens().create(user.id, "laptop", None).await?;
/// let used = db.mcp_tokens().validate(created.plaintext.expose()).await?;
/// assert_eq!(used.map(|u| u.user_id), Some(user.id));
/// assert!(db.mcp_tokens().validate("pmcp_guess").await?.is_none());
/// # Ok(())
/// # }
/// ```
pub struct McpTokens<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl McpTokens<'_> {
    /// How every token starts.
    pub const TOKEN_PREFIX: &'static str = "pmcp_";
    /// Characters of the token kept as its display prefix.
    pub const DISPLAY_PREFIX_LEN: usize = 12;
    /// Longest token name.
    pub const MAX_NAME: usize = 200;
}

impl<'a> McpTokens<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Creates a token for `user`. `InvalidInput` for a blank or over-long
    /// name or an expiry in the past; `ForeignKey` for an unknown user. A
    /// time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(user_id = %user, mcp_token_id = tracing::field::Empty), err(Display))]
    pub async fn create(
        &self,
        user: UserId,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<CreatedMcpToken> {
        let name = validation::required("name", name, McpTokens::MAX_NAME)?;
        let now = time::now();
        let expires_at = expires_at
            .map(|at| validation::expiry("expires_at", time::checked_utc("expires_at", at)?, now))
            .transpose()?;
        let plaintext = hashing::generate(McpTokens::TOKEN_PREFIX)?;
        let row = tokens::Model {
            id: Uuid::now_v7(),
            user_id: user.as_uuid(),
            name,
            token_hash: hashing::hash(plaintext.expose()),
            token_prefix: plaintext.expose()[..McpTokens::DISPLAY_PREFIX_LEN].to_owned(),
            expires_at: expires_at.map(time::stored),
            last_used_at: None,
            usage_count: 0,
            is_revoked: false,
            created_at: time::stored(now),
        };
        tracing::Span::current().record("mcp_token_id", tracing::field::display(row.id));
        tokens::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
            tokens::ActiveModel::from(row.clone()),
        ))
        .exec_without_returning_in(&self.ctx)
        .await?;
        Ok(CreatedMcpToken {
            token: row.try_into()?,
            plaintext,
        })
    }

    /// Accepts the token and counts the use, in ONE statement: the hash
    /// matches, it is not revoked, it has not expired; then `usage_count +
    /// 1` and `last_used_at` are set in SQL (the later of the stored time
    /// and now: it never moves back). `None` otherwise, and nothing is
    /// counted. A token without the `pmcp_` prefix is looked up the same
    /// way: a database adopted from the original server holds the hashes
    /// of tokens in the original's form.
    #[metered]
    #[instrument(skip_all, fields(mcp_token_id = tracing::field::Empty))]
    pub async fn validate(&self, plaintext: &str) -> Result<Option<McpTokenUse>> {
        if plaintext.is_empty() || plaintext.len() > MAX_PRESENTED {
            return Ok(None);
        }
        static VALIDATE: Prepared = prepared!();
        let (hash, now) = (hashing::hash(plaintext), time::stored(time::now()));
        let values = vec![
            1i32.into(),
            now.into(),
            now.into(),
            hash.as_str().into(),
            false.into(),
            now.into(),
        ];
        let backend = self.ctx.backend();
        let statement = VALIDATE.built(tokens::Entity, backend, values, || {
            let mut update = tokens::Entity::update_many()
                .col_expr(
                    tokens::Column::UsageCount,
                    Expr::col(tokens::Column::UsageCount).add(1),
                )
                .col_expr(
                    tokens::Column::LastUsedAt,
                    latest(tokens::Column::LastUsedAt, now),
                )
                .filter(tokens::Column::TokenHash.eq(&hash))
                .filter(tokens::Column::IsRevoked.eq(false))
                .filter(
                    tokens::Column::ExpiresAt
                        .is_null()
                        .or(tokens::Column::ExpiresAt.gt(now)),
                )
                .into_query();
            update.returning(
                Query::returning().columns([tokens::Column::Id, tokens::Column::UserId]),
            );
            backend.build(&update)
        });
        let used: Option<McpTokenUse> = self.ctx.returning_row(statement).await?;
        if let Some(used) = &used {
            tracing::Span::current().record("mcp_token_id", tracing::field::display(used.token_id));
        }
        Ok(used)
    }

    /// The user's tokens, newest first (no secrets).
    #[metered]
    #[instrument(skip_all, fields(user_id = %user))]
    pub async fn list_for_user(&self, user: UserId) -> Result<Vec<McpToken>> {
        tokens::Entity::find()
            .filter(tokens::Column::UserId.eq(user.as_uuid()))
            .order_by_desc(tokens::Column::CreatedAt)
            .order_by_desc(tokens::Column::Id)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(McpToken::try_from)
            .collect()
    }

    /// The token if `owner` owns it; `NotFound` otherwise (the same answer
    /// for another user's token).
    #[metered]
    #[instrument(skip_all, fields(mcp_token_id = %id, user_id = %owner))]
    pub async fn get(&self, id: McpTokenId, owner: UserId) -> Result<McpToken> {
        static BY_ID: Prepared = prepared!();
        let values = vec![id.as_uuid().into(), owner.as_uuid().into()];
        BY_ID
            .statement(self.ctx.backend(), values, || {
                tokens::Entity::find()
                    .filter(tokens::Column::Id.eq(id.as_uuid()))
                    .filter(tokens::Column::UserId.eq(owner.as_uuid()))
            })
            .decoded_one::<tokens::Model>(&self.ctx)
            .await?
            .ok_or_else(|| DatabaseError::not_found("mcp token", id))?
            .try_into()
    }

    /// Revokes the token if `owner` owns it (revoking twice is a no-op);
    /// `NotFound` otherwise.
    #[metered]
    #[instrument(skip_all, fields(mcp_token_id = %id, user_id = %owner), err(Display))]
    pub async fn revoke(&self, id: McpTokenId, owner: UserId) -> Result<()> {
        let changed = tokens::Entity::update_many()
            .col_expr(tokens::Column::IsRevoked, Expr::value(true))
            .filter(tokens::Column::Id.eq(id))
            .filter(tokens::Column::UserId.eq(owner.as_uuid()))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        expect_changed(changed, "mcp token", id)
    }

    /// Deletes tokens that expired at or before `now`; how many. A time
    /// outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, err(Display))]
    pub async fn cleanup_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let now = time::checked("now", now)?;
        Ok(tokens::Entity::delete_many()
            .filter(tokens::Column::ExpiresAt.lte(now))
            .exec_in(&self.ctx)
            .await?
            .rows_affected)
    }
}
