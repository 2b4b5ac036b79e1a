//! The API key types of the API: keys, a new key, a created key with its
//! plaintext, and list filters.

use chrono::{DateTime, Utc};
use entity::api_keys;
use entity::sea_orm_active_enums::ApiKeyTier;

use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::ids::{ApiKeyId, UserId};
use crate::query::unsigned_opt;

/// An API key as stored, without its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The id.
    pub id: ApiKeyId,
    /// Whose key it is.
    pub user_id: UserId,
    /// The name its owner gave it.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// The first [`ApiKeys::DISPLAY_PREFIX_LEN`](crate::ApiKeys::DISPLAY_PREFIX_LEN) characters of the key, for display.
    pub key_prefix: String,
    /// The rate-limit tier.
    pub tier: ApiKeyTier,
    /// Requests allowed per window, overriding the tier's default.
    pub rate_limit_requests: Option<u32>,
    /// The length of that window, in seconds.
    pub rate_limit_window_seconds: Option<u32>,
    /// Whether the key may be used (cleared by deactivation).
    pub is_active: bool,
    /// When the key stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl ApiKey {
    /// Whether the key is active and not expired at `at`. Any time is accepted,
    /// outside the years 0000–9999 too: nothing is stored or queried.
    pub fn is_usable_at(&self, at: DateTime<Utc>) -> bool {
        self.is_active && self.expires_at.is_none_or(|expiry| expiry > at)
    }
}

impl TryFrom<api_keys::Model> for ApiKey {
    type Error = DatabaseError;

    fn try_from(m: api_keys::Model) -> Result<Self> {
        Ok(Self {
            id: ApiKeyId::from_uuid(m.id),
            user_id: UserId::from_uuid(m.user_id),
            name: m.name,
            description: m.description,
            key_prefix: m.key_prefix,
            tier: m.tier,
            rate_limit_requests: unsigned_opt(
                "api_keys.rate_limit_requests",
                m.rate_limit_requests,
            )?,
            rate_limit_window_seconds: unsigned_opt(
                "api_keys.rate_limit_window_seconds",
                m.rate_limit_window_seconds,
            )?,
            is_active: m.is_active,
            expires_at: m.expires_at.map(|t| t.to_utc()),
            last_used_at: m.last_used_at.map(|t| t.to_utc()),
            created_at: m.created_at.to_utc(),
        })
    }
}

/// What [`ApiKeys::create`](crate::ApiKeys::create) needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewApiKey {
    /// The owner (must exist: `ForeignKey` otherwise).
    pub user_id: UserId,
    /// A name, 1 to [`ApiKeys::MAX_NAME`](crate::ApiKeys::MAX_NAME) characters.
    pub name: String,
    /// An optional description, at most [`ApiKeys::MAX_DESCRIPTION`](crate::ApiKeys::MAX_DESCRIPTION) characters.
    pub description: Option<String>,
    /// The rate-limit tier.
    pub tier: ApiKeyTier,
    /// Requests per window (at least 1); set together with the window.
    pub rate_limit_requests: Option<u32>,
    /// The window in seconds (at least 1); set together with the requests.
    pub rate_limit_window_seconds: Option<u32>,
    /// When the key stops working; must lie in the future. A time outside the
    /// years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewApiKey {
    /// A key of `tier` with the tier's default limits and no expiry.
    pub fn new(user_id: UserId, name: impl Into<String>, tier: ApiKeyTier) -> Self {
        Self {
            user_id,
            name: name.into(),
            description: None,
            tier,
            rate_limit_requests: None,
            rate_limit_window_seconds: None,
            expires_at: None,
        }
    }
}

/// A key just created: the only time its plaintext exists. Hand
/// [`CreatedApiKey::plaintext`] to the user and drop it; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct CreatedApiKey {
    /// The stored key.
    pub key: ApiKey,
    /// The full key, shown once.
    pub plaintext: Secret,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiKey")
            .field("key", &self.key)
            .field("plaintext", &"<redacted>")
            .finish()
    }
}

/// Which keys [`ApiKeys::list_filtered`](crate::ApiKeys::list_filtered) returns; `None` matches anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiKeyFilter {
    /// Only this user's keys.
    pub user_id: Option<UserId>,
    /// Only keys whose active flag is this (an expired key keeps its flag
    /// until [`ApiKeys::cleanup_expired`](crate::ApiKeys::cleanup_expired) clears it).
    pub active: Option<bool>,
    /// Only keys of this tier.
    pub tier: Option<ApiKeyTier>,
}
