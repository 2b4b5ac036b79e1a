//! Refresh tokens, issued in a tenant: `db.tenant(t).oauth2_refresh_tokens()`.
//!
//! A token is generated here, returned once, and stored as its SHA-256 (the
//! primary key). The token endpoint consumes or rotates it through
//! [`OAuth2Exchange`](super::OAuth2Exchange), which learns the tenant from
//! the token.

use chrono::{DateTime, Duration, Utc};
use entity::oauth2_refresh_tokens as tokens;
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};
use tracing::instrument;

use super::OAuth2Clients;
use super::rules::{self};
use crate::crypto::hashing;
use crate::crypto::secret::Secret;
use crate::error::Result;
use crate::ids::{TenantId, UserId};
use crate::keys::legacy_hmac;
use crate::query::Scoped;
use crate::query::{Prepared, prepared};
use crate::query::{RunSelect, RunWrite};
use crate::time;

/// What [`OAuth2RefreshTokens::issue`] needs.
#[derive(Clone, Debug)]
pub struct NewRefreshToken {
    /// The client the token is for (must be active).
    pub client_id: String,
    /// The user it acts for.
    pub user_id: UserId,
    /// The granted scopes (space-separated).
    pub scope: Option<String>,
    /// Lifetime; 30 days when `None`.
    pub ttl: Option<Duration>,
}

impl NewRefreshToken {
    /// A token without scope, living 30 days.
    pub fn new(client_id: impl Into<String>, user_id: UserId) -> Self {
        Self {
            client_id: client_id.into(),
            user_id,
            scope: None,
            ttl: None,
        }
    }
}

/// A refresh token just issued: give `token` to the client now; only its
/// hash is kept.
#[derive(Clone, Debug)]
pub struct IssuedRefreshToken {
    /// The token, in clear this one time.
    pub token: Secret,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// A stored refresh token (without the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    /// The tenant it was issued in.
    pub tenant_id: TenantId,
    /// The user it acts for.
    pub user_id: UserId,
    /// The client it was issued to.
    pub client_id: String,
    /// The granted scopes.
    pub scope: Option<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Whether it was consumed, rotated or revoked.
    pub revoked: bool,
}

impl From<tokens::Model> for RefreshToken {
    fn from(m: tokens::Model) -> Self {
        Self {
            tenant_id: TenantId::from_uuid(m.tenant_id),
            user_id: UserId::from_uuid(m.user_id),
            client_id: m.client_id,
            scope: m.scope,
            created_at: m.created_at.to_utc(),
            expires_at: m.expires_at.to_utc(),
            revoked: m.revoked,
        }
    }
}

/// Refresh tokens of one tenant: `db.tenant(t).oauth2_refresh_tokens()`.
pub struct OAuth2RefreshTokens<'a> {
    scope: Scoped<'a>,
}

/// Limits and fixed values of this repository's data.
impl OAuth2RefreshTokens<'_> {
    /// How every generated refresh token starts.
    pub const REFRESH_TOKEN_PREFIX: &'static str = "mcp_refresh_";
    /// How long a refresh token lives unless the caller says otherwise.
    pub const REFRESH_TOKEN_TTL: Duration = Duration::days(30);
}

impl<'a> OAuth2RefreshTokens<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Issues a refresh token and returns it once. `InvalidInput` for an
    /// unknown or inactive client, a malformed scope or a lifetime that is
    /// not positive; `ForeignKey` for an unknown user.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %new.user_id, client_id = %new.client_id), err(Display))]
    pub async fn issue(&self, new: NewRefreshToken) -> Result<IssuedRefreshToken> {
        let scope = rules::scope(new.scope.as_deref())?;
        let now = time::now();
        let expires_at = rules::expiry(now, new.ttl, OAuth2RefreshTokens::REFRESH_TOKEN_TTL)?;
        OAuth2Clients::new(*self.scope)
            .check_active(&new.client_id)
            .await?;
        let token = hashing::generate(OAuth2RefreshTokens::REFRESH_TOKEN_PREFIX)?;
        let row = tokens::ActiveModel {
            token: Set(hashing::hash(token.expose())),
            client_id: Set(new.client_id),
            user_id: Set(new.user_id.as_uuid()),
            scope: Set(scope),
            expires_at: Set(time::stored(expires_at)),
            created_at: Set(time::stored(now)),
            revoked: Set(false),
            ..Default::default()
        };
        // Issued on every authorization or token request: the text is
        // built once.
        static ISSUE: Prepared = prepared!();
        let statement = self.scope.prepared_insert(&ISSUE, row, |insert| insert)?;
        statement.execute_in(&self.scope).await?;
        Ok(IssuedRefreshToken {
            token,
            expires_at: time::truncate(expires_at),
        })
    }

    /// The token's stored record in this tenant, if it was issued here
    /// (revoked or not, expired or not).
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant()))]
    pub async fn get(&self, token: &str) -> Result<Option<RefreshToken>> {
        if !rules::presentable(token) {
            return Ok(None);
        }
        let by = |stored: String| {
            self.scope
                .find::<tokens::Entity>()
                .filter(tokens::Column::Token.eq(stored))
                .one_in(&self.scope)
        };
        let mut found = by(hashing::hash(token)).await?;
        // The original's HMAC form only when the current one misses: a
        // database never adopted pays nothing more on a hit.
        if found.is_none()
            && let Some(mac) = legacy_hmac::legacy_mac(*self.scope, token).await?
        {
            found = by(mac).await?;
        }
        Ok(found.map(RefreshToken::from))
    }

    /// Revokes the token; whether it was live (issued here, not yet
    /// revoked).
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant()))]
    pub async fn revoke(&self, token: &str) -> Result<bool> {
        if !rules::presentable(token) {
            return Ok(false);
        }
        let mut changed = self
            .revoke_where(tokens::Column::Token.eq(hashing::hash(token)))
            .await?;
        // As for `get`: the HMAC form only when the current one misses.
        if changed == 0
            && let Some(mac) = legacy_hmac::legacy_mac(*self.scope, token).await?
        {
            changed = self.revoke_where(tokens::Column::Token.eq(mac)).await?;
            if changed == 1 {
                self.scope.drop_unused_legacy_key().await?;
            }
        }
        Ok(changed == 1)
    }

    /// Revokes every live token of `user` in this tenant; how many.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user))]
    pub async fn revoke_all_for_user(&self, user: UserId) -> Result<u64> {
        self.revoke_where(tokens::Column::UserId.eq(user.as_uuid()))
            .await
    }

    /// Revokes every live token of the client in this tenant; how many.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), client_id = %client_id))]
    pub async fn revoke_all_for_client(&self, client_id: &str) -> Result<u64> {
        self.revoke_where(tokens::Column::ClientId.eq(client_id))
            .await
    }

    async fn revoke_where(&self, condition: impl sea_orm::sea_query::IntoCondition) -> Result<u64> {
        Ok(self
            .scope
            .update::<tokens::Entity>()
            .col_expr(tokens::Column::Revoked, Expr::value(true))
            .filter(condition)
            .filter(tokens::Column::Revoked.eq(false))
            .exec_in(&self.scope)
            .await?
            .rows_affected)
    }
}
