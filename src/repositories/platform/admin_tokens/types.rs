//! The admin token types of the API: tokens, a new token, and their
//! recorded uses.

use chrono::{DateTime, Utc};
use entity::{admin_token_usage as usage, admin_tokens as tokens};

use crate::error::{DatabaseError, Result};
use crate::ids::{AdminTokenId, UsageId};
use crate::query::{string_list, unsigned, unsigned_opt};

/// A stored admin token (its hashes stay in the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminToken {
    /// The row id.
    pub id: AdminTokenId,
    /// The service the token was minted for.
    pub service_name: String,
    /// What the service is.
    pub service_description: Option<String>,
    /// The start of the token's random part, to recognise it by.
    pub token_prefix: String,
    /// What it may do.
    pub permissions: Vec<String>,
    /// Whether it may do everything.
    pub is_super_admin: bool,
    /// Whether it may be used.
    pub is_active: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops being accepted.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// From where it was last used.
    pub last_used_ip: Option<String>,
    /// How many uses were recorded.
    pub usage_count: u64,
}

impl TryFrom<tokens::Model> for AdminToken {
    type Error = DatabaseError;

    fn try_from(m: tokens::Model) -> Result<Self> {
        Ok(Self {
            id: AdminTokenId::from_uuid(m.id),
            service_name: m.service_name,
            service_description: m.service_description,
            token_prefix: m.token_prefix,
            permissions: string_list("admin_tokens.permissions", m.permissions)?,
            is_super_admin: m.is_super_admin,
            is_active: m.is_active,
            created_at: m.created_at.to_utc(),
            expires_at: m.expires_at.map(|at| at.to_utc()),
            last_used_at: m.last_used_at.map(|at| at.to_utc()),
            last_used_ip: m.last_used_ip,
            usage_count: unsigned("admin_tokens.usage_count", m.usage_count)?,
        })
    }
}

/// What [`AdminTokens::create`](crate::AdminTokens::create) stores.
#[derive(Clone, Debug)]
pub struct NewAdminToken {
    /// The JWT the application minted (only its SHA-256 is stored).
    pub token: crate::crypto::secret::Secret,
    /// The secret the JWT was signed with (only its SHA-256 is stored).
    pub jwt_secret: crate::crypto::secret::Secret,
    /// The service it is for (required).
    pub service_name: String,
    /// What the service is.
    pub service_description: Option<String>,
    /// From [`AdminTokens::ADMIN_PERMISSIONS`](crate::AdminTokens::ADMIN_PERMISSIONS); `["provision_keys"]` by default.
    pub permissions: Vec<String>,
    /// May do everything.
    pub is_super_admin: bool,
    /// When it stops being accepted (in the future), if ever. A time outside
    /// the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewAdminToken {
    /// A token allowed to provision keys, not expiring.
    pub fn new(
        token: impl Into<crate::crypto::secret::Secret>,
        jwt_secret: impl Into<crate::crypto::secret::Secret>,
        service_name: impl Into<String>,
    ) -> Self {
        Self {
            token: token.into(),
            jwt_secret: jwt_secret.into(),
            service_name: service_name.into(),
            service_description: None,
            permissions: vec!["provision_keys".into()],
            is_super_admin: false,
            expires_at: None,
        }
    }
}

/// One use of an admin token, for [`AdminTokens::record_use`](crate::AdminTokens::record_use).
#[derive(Clone, Debug)]
pub struct AdminTokenUse {
    /// From [`AdminTokens::ADMIN_ACTIONS`](crate::AdminTokens::ADMIN_ACTIONS).
    pub action: String,
    /// What it acted on.
    pub target_resource: Option<String>,
    /// From where.
    pub ip_address: Option<String>,
    /// With what client.
    pub user_agent: Option<String>,
    /// Request size.
    pub request_size_bytes: Option<u64>,
    /// Whether the action succeeded.
    pub success: bool,
    /// Why it failed.
    pub error_message: Option<String>,
    /// How long it took.
    pub response_time_ms: Option<u32>,
}

impl AdminTokenUse {
    /// A successful `action` with nothing else recorded.
    pub fn new(action: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            target_resource: None,
            ip_address: None,
            user_agent: None,
            request_size_bytes: None,
            success: true,
            error_message: None,
            response_time_ms: None,
        }
    }
}

/// A recorded use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminTokenUsage {
    /// The row id.
    pub id: UsageId,
    /// The token used.
    pub admin_token_id: AdminTokenId,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// What.
    pub action: String,
    /// On what.
    pub target_resource: Option<String>,
    /// From where.
    pub ip_address: Option<String>,
    /// With what client.
    pub user_agent: Option<String>,
    /// Request size.
    pub request_size_bytes: Option<u64>,
    /// Whether it succeeded.
    pub success: bool,
    /// Why it failed.
    pub error_message: Option<String>,
    /// How long it took.
    pub response_time_ms: Option<u32>,
}

impl TryFrom<usage::Model> for AdminTokenUsage {
    type Error = DatabaseError;

    fn try_from(m: usage::Model) -> Result<Self> {
        Ok(Self {
            id: UsageId::from_uuid(m.id),
            admin_token_id: AdminTokenId::from_uuid(m.admin_token_id),
            timestamp: m.timestamp.to_utc(),
            action: m.action,
            target_resource: m.target_resource,
            ip_address: m.ip_address,
            user_agent: m.user_agent,
            request_size_bytes: unsigned_opt(
                "admin_token_usage.request_size_bytes",
                m.request_size_bytes,
            )?,
            success: m.success,
            error_message: m.error_message,
            response_time_ms: unsigned_opt(
                "admin_token_usage.response_time_ms",
                m.response_time_ms,
            )?,
        })
    }
}
