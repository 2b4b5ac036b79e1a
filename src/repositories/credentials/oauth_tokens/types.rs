//! The OAuth token types of the API: a stored token (opened) and a token
//! to store.

use chrono::{DateTime, Utc};
use entity::sea_orm_active_enums::OauthProvider;

use crate::crypto::secret::Secret;
use crate::ids::{OAuthTokenId, TenantId, UserId};

/// A stored OAuth token, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthToken {
    /// The row id.
    pub id: OAuthTokenId,
    /// Whose token it is.
    pub user_id: UserId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The provider.
    pub provider: OauthProvider,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, if the provider issued one.
    pub refresh_token: Option<Secret>,
    /// Usually `bearer`.
    pub token_type: String,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The granted scopes, as the provider wrote them.
    pub scope: Option<String>,
    /// When the provider's data was last synchronized.
    pub last_sync: Option<DateTime<Utc>>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A token to store with [`OAuthTokens::upsert`](crate::OAuthTokens::upsert).
#[derive(Clone, Debug)]
pub struct NewOAuthToken {
    /// Whose token it is.
    pub user_id: UserId,
    /// The provider.
    pub provider: OauthProvider,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token.
    pub refresh_token: Option<Secret>,
    /// The token type (`bearer` if unsure).
    pub token_type: String,
    /// When the access token expires. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub expires_at: Option<DateTime<Utc>>,
    /// The granted scopes.
    pub scope: Option<String>,
}

impl NewOAuthToken {
    /// A bearer token without refresh token, expiry or scope.
    pub fn new(user_id: UserId, provider: OauthProvider, access_token: impl Into<Secret>) -> Self {
        Self {
            user_id,
            provider,
            access_token: access_token.into(),
            refresh_token: None,
            token_type: "bearer".to_owned(),
            expires_at: None,
            scope: None,
        }
    }
}
