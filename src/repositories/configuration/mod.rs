//! Configuration: platform settings and admin configuration overrides
//! with their audit log.

pub mod admin_config;
pub mod system_settings;

pub use admin_config::{
    AdminConfig, ConfigActor, ConfigAuditEntry, ConfigAuditFilter, ConfigCategory, ConfigChange,
    ConfigOverride,
};
pub use system_settings::{SystemSetting, SystemSettings};
