//! The admin configuration types of the API: categories, overrides,
//! changes, actors and audit entries.

use chrono::{DateTime, Utc};
use entity::admin_config_audit as audit;
use entity::admin_config_categories as categories;
use entity::admin_config_overrides as overrides;
use entity::sea_orm_active_enums::ConfigDataType;

use crate::ids::{ConfigAuditId, ConfigOverrideId, TenantId, UserId};

/// A configuration category (seeded by the migrations; read-only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigCategory {
    /// Its id (`cat_rate_limiting`).
    pub id: String,
    /// Its name, which overrides use (`rate_limiting`).
    pub name: String,
    /// Its name for people.
    pub display_name: String,
    /// What it covers.
    pub description: Option<String>,
    /// Where it sorts.
    pub display_order: i32,
    /// Its icon.
    pub icon: Option<String>,
    /// Whether it is offered.
    pub is_active: bool,
}

impl From<categories::Model> for ConfigCategory {
    fn from(m: categories::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            display_name: m.display_name,
            description: m.description,
            display_order: m.display_order,
            icon: m.icon,
            is_active: m.is_active,
        }
    }
}

/// A stored override.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigOverride {
    /// The row id.
    pub id: ConfigOverrideId,
    /// Its category's name.
    pub category: String,
    /// The key it sets.
    pub config_key: String,
    /// The value, as text of its `data_type`.
    pub config_value: String,
    /// The value's type.
    pub data_type: ConfigDataType,
    /// Its tenant; `None` for a global override.
    pub tenant_id: Option<TenantId>,
    /// The admin who set it first.
    pub created_by: UserId,
    /// Why it was last set.
    pub reason: Option<String>,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

impl From<overrides::Model> for ConfigOverride {
    fn from(m: overrides::Model) -> Self {
        Self {
            id: ConfigOverrideId::from_uuid(m.id),
            category: m.category,
            config_key: m.config_key,
            config_value: m.config_value,
            data_type: m.data_type,
            tenant_id: m.tenant_id.map(TenantId::from_uuid),
            created_by: UserId::from_uuid(m.created_by),
            reason: m.reason,
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        }
    }
}

/// A value to set with [`AdminConfig::set`](crate::AdminConfig::set).
#[derive(Clone, Debug)]
pub struct ConfigChange {
    /// The category's name.
    pub category: String,
    /// The key.
    pub key: String,
    /// The value, as text of `data_type` (`"1.5"`, `"42"`, `"true"`).
    pub value: String,
    /// The value's type, which the value must parse as.
    pub data_type: ConfigDataType,
    /// Why.
    pub reason: Option<String>,
}

impl ConfigChange {
    /// `category.key = value` of `data_type`, without a reason.
    pub fn new(
        category: impl Into<String>,
        key: impl Into<String>,
        value: impl Into<String>,
        data_type: ConfigDataType,
    ) -> Self {
        Self {
            category: category.into(),
            key: key.into(),
            value: value.into(),
            data_type,
            reason: None,
        }
    }
}

/// The admin making a change, as the audit log records them.
#[derive(Clone, Debug)]
pub struct ConfigActor {
    /// The admin's user id.
    pub user_id: UserId,
    /// The admin's email, as it was at the time.
    pub email: String,
    /// From where.
    pub ip_address: Option<String>,
    /// With what client.
    pub user_agent: Option<String>,
}

impl ConfigActor {
    /// `user_id` with `email`, address and client unknown.
    pub fn new(user_id: UserId, email: impl Into<String>) -> Self {
        Self {
            user_id,
            email: email.into(),
            ip_address: None,
            user_agent: None,
        }
    }
}

/// A row of the configuration audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigAuditEntry {
    /// The row id.
    pub id: ConfigAuditId,
    /// When.
    pub timestamp: DateTime<Utc>,
    /// Who.
    pub admin_user_id: UserId,
    /// Their email then.
    pub admin_email: String,
    /// The category's name.
    pub category: String,
    /// The key.
    pub config_key: String,
    /// The value before; `None` if the key had no override.
    pub old_value: Option<String>,
    /// The value after; empty for a deletion.
    pub new_value: String,
    /// The value's type.
    pub data_type: String,
    /// Why.
    pub reason: Option<String>,
    /// Its tenant; `None` for a global override.
    pub tenant_id: Option<TenantId>,
    /// From where.
    pub ip_address: Option<String>,
    /// With what client.
    pub user_agent: Option<String>,
}

impl From<audit::Model> for ConfigAuditEntry {
    fn from(m: audit::Model) -> Self {
        Self {
            id: ConfigAuditId::from_uuid(m.id),
            timestamp: m.timestamp.to_utc(),
            admin_user_id: UserId::from_uuid(m.admin_user_id),
            admin_email: m.admin_email,
            category: m.category,
            config_key: m.config_key,
            old_value: m.old_value,
            new_value: m.new_value,
            data_type: m.data_type,
            reason: m.reason,
            tenant_id: m.tenant_id.map(TenantId::from_uuid),
            ip_address: m.ip_address,
            user_agent: m.user_agent,
        }
    }
}

/// Which audit rows [`AdminConfig::audit_log`](crate::AdminConfig::audit_log) gives.
#[derive(Clone, Debug, Default)]
pub struct ConfigAuditFilter {
    /// Only this category.
    pub category: Option<String>,
    /// Only this key.
    pub key: Option<String>,
    /// Only this admin's changes.
    pub admin: Option<UserId>,
    /// At or after this time. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub from: Option<DateTime<Utc>>,
    /// Before this time. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming this field.
    pub to: Option<DateTime<Utc>>,
}
