//! Enum-like columns: one definition, two renderings.
//!
//! On PostgreSQL an enum column has a native `ENUM` type (so the database
//! rejects unknown values and `sea-orm-cli generate entity` turns it into an
//! `ActiveEnum`); on SQLite it is `enum_text` with a `CHECK (col IN (...))`,
//! because SQLite has no enum types.

use sea_orm_migration::prelude::extension::postgres::Type;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// An enum type: its PostgreSQL type name and its values, in order.
#[derive(Debug, Clone, Copy)]
pub struct EnumType {
    /// The PostgreSQL type name, also the `ActiveEnum`'s name in the entity crate.
    pub name: &'static str,
    /// The allowed values.
    pub values: &'static [&'static str],
}

/// `users.tier` and `tenants.plan`.
pub const SUBSCRIPTION_TIER: EnumType = EnumType {
    name: "subscription_tier",
    values: &["starter", "professional", "enterprise"],
};
/// `users.user_status`.
pub const USER_STATUS: EnumType = EnumType {
    name: "user_status",
    values: &["pending", "active", "suspended"],
};
/// `users.role` (M12).
pub const USER_ROLE: EnumType = EnumType {
    name: "user_role",
    values: &["super_admin", "admin", "user"],
};
/// Provider of the OAuth credential tables, as created by M01/M09.
pub const OAUTH_PROVIDER_V1: EnumType = EnumType {
    name: "oauth_provider",
    values: &["strava", "fitbit"],
};
/// Provider of the OAuth credential tables, as widened by M11.
pub const OAUTH_PROVIDER_V2: EnumType = EnumType {
    name: "oauth_provider",
    values: &["strava", "fitbit", "garmin", "whoop", "terra"],
};
/// `api_keys.tier`.
pub const API_KEY_TIER: EnumType = EnumType {
    name: "api_key_tier",
    values: &["trial", "starter", "professional", "enterprise"],
};
/// `a2a_tasks.status`.
pub const TASK_STATUS: EnumType = EnumType {
    name: "task_status",
    values: &["pending", "running", "completed", "failed", "cancelled"],
};
/// `oauth_apps.app_type`.
pub const OAUTH_APP_TYPE: EnumType = EnumType {
    name: "oauth_app_type",
    values: &["public", "confidential"],
};
/// `tenant_users.role`.
pub const TENANT_ROLE: EnumType = EnumType {
    name: "tenant_role",
    values: &["owner", "admin", "member", "viewer"],
};
/// `chat_messages.role`.
pub const CHAT_ROLE: EnumType = EnumType {
    name: "chat_role",
    values: &["system", "user", "assistant"],
};
/// `recipes.meal_timing`.
pub const MEAL_TIMING: EnumType = EnumType {
    name: "meal_timing",
    values: &["pre_training", "post_training", "rest_day", "general"],
};
/// `recipe_ingredients.unit`.
pub const INGREDIENT_UNIT: EnumType = EnumType {
    name: "ingredient_unit",
    values: &[
        "grams",
        "milliliters",
        "cups",
        "tablespoons",
        "teaspoons",
        "pieces",
        "ounces",
        "pounds",
        "kilograms",
    ],
};
/// `admin_config_overrides.data_type`.
pub const CONFIG_DATA_TYPE: EnumType = EnumType {
    name: "config_data_type",
    values: &["float", "integer", "boolean", "string", "enum"],
};

/// Creates the PostgreSQL types (a no-op on SQLite).
pub async fn create_types(manager: &SchemaManager<'_>, types: &[EnumType]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for ty in types {
        manager
            .create_type(
                Type::create()
                    .as_enum(ty.name)
                    .values(ty.values.iter().copied())
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// Drops the PostgreSQL types (a no-op on SQLite).
pub async fn drop_types(manager: &SchemaManager<'_>, types: &[EnumType]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for ty in types {
        manager
            .drop_type(Type::drop().name(ty.name).to_owned())
            .await?;
    }
    Ok(())
}

/// A required enum column, checked on SQLite.
pub fn enum_col(backend: DbBackend, name: &'static str, ty: EnumType) -> ColumnDef {
    let mut col = ColumnDef::new(name);
    col.enumeration(ty.name, ty.values.iter().copied())
        .not_null();
    if backend == DbBackend::Sqlite {
        col.check(Expr::col(name).is_in(ty.values.iter().copied()));
    }
    col
}

/// A required enum column with a default, checked on SQLite.
pub fn enum_col_default(
    backend: DbBackend,
    name: &'static str,
    ty: EnumType,
    default: &'static str,
) -> ColumnDef {
    debug_assert!(ty.values.contains(&default));
    let mut col = enum_col(backend, name, ty);
    col.default(default);
    col
}
