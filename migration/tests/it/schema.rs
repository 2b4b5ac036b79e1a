//! The migrated schema is the schema of SCHEMA.md, table by table, on every
//! backend.
//!
//! [`TABLES`] is the specification: one entry per table, written from
//! SCHEMA.md with the crate's documented choices applied (ids `uuid`, natural
//! keys text, counters and byte sizes `bigint`, other integers `integer`,
//! reals double precision, enum columns native enum types on PostgreSQL and
//! `CHECK (col IN (...))` on SQLite). Each test migrates a fresh database,
//! reads the real schema back (SQLite: pragmas and `sqlite_master`;
//! PostgreSQL: `information_schema` and `pg_catalog`) and reports every
//! difference at once, naming backend, table and column.

use crate::common;

use std::collections::BTreeSet;

use migration::TABLES as MIGRATED_TABLES;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, TryGetable};

use crate::common::TestDb;

// ---------------------------------------------------------------------------
// The vocabulary of the specification
// ---------------------------------------------------------------------------

/// An enum-like column: its PostgreSQL type and the values SCHEMA.md lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EnumType {
    pg_type: &'static str,
    values: &'static [&'static str],
}

/// The type class of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Uuid,
    Text,
    Time,
    Json,
    Bool,
    Int,
    BigInt,
    Real,
    Enum(EnumType),
}
use Ty::*;

impl Ty {
    /// The declared type SeaORM's schema builder writes on SQLite.
    fn sqlite_type(self) -> &'static str {
        match self {
            Uuid => "uuid_text",
            Text => "text",
            Time => "timestamp_with_timezone_text",
            Json => "jsonb_text",
            Bool => "boolean",
            // SQLite has one integer type; sea-query writes both as `integer`.
            Int | BigInt => "integer",
            Real => "double",
            Enum(_) => "enum_text",
        }
    }

    /// `information_schema.columns` (data_type, udt_name) on PostgreSQL.
    fn pg_type(self) -> (&'static str, &'static str) {
        match self {
            Uuid => ("uuid", "uuid"),
            Text => ("text", "text"),
            Time => ("timestamp with time zone", "timestamptz"),
            Json => ("jsonb", "jsonb"),
            Bool => ("boolean", "bool"),
            Int => ("integer", "int4"),
            BigInt => ("bigint", "int8"),
            Real => ("double precision", "float8"),
            Enum(e) => ("USER-DEFINED", e.pg_type),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    not_null: bool,
    ty: Ty,
}

/// A NOT NULL column (`!` in SCHEMA.md).
const fn nn(name: &'static str, ty: Ty) -> Column {
    Column {
        name,
        not_null: true,
        ty,
    }
}

/// A nullable column.
const fn opt(name: &'static str, ty: Ty) -> Column {
    Column {
        name,
        not_null: false,
        ty,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnDelete {
    Cascade,
    SetNull,
    Restrict,
}
use OnDelete::*;

impl OnDelete {
    /// As `PRAGMA foreign_key_list` spells it.
    fn sql(self) -> &'static str {
        match self {
            Cascade => "CASCADE",
            SetNull => "SET NULL",
            Restrict => "RESTRICT",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ForeignKey {
    column: &'static str,
    parent: &'static str,
    parent_column: &'static str,
    on_delete: OnDelete,
}

const fn fk(
    column: &'static str,
    parent: &'static str,
    parent_column: &'static str,
    on_delete: OnDelete,
) -> ForeignKey {
    ForeignKey {
        column,
        parent,
        parent_column,
        on_delete,
    }
}

/// `column -> users(id) ON DELETE CASCADE` (rule 3's default).
const fn user_fk(column: &'static str) -> ForeignKey {
    fk(column, "users", "id", Cascade)
}

/// `tenant_id -> tenants(id) ON DELETE CASCADE` (rule 3).
const TENANT_FK: ForeignKey = fk("tenant_id", "tenants", "id", Cascade);

/// A key or index SCHEMA.md asks for, by column list (order matters).
#[derive(Debug, Clone, Copy)]
enum Key {
    /// An index on exactly these columns (unique or not).
    Index(&'static [&'static str]),
    /// A unique index on exactly these columns (NULLs distinct).
    Unique(&'static [&'static str]),
    /// Unique also among rows where `nullable` is NULL (rule 5): either one
    /// `NULLS NOT DISTINCT` unique index, or a unique index for the non-NULL
    /// rows plus a partial unique index `WHERE nullable IS NULL` on the other
    /// columns.
    UniqueAlsoWhenNull {
        columns: &'static [&'static str],
        nullable: &'static str,
    },
}
use Key::*;

#[derive(Debug, Clone, Copy)]
struct Table {
    name: &'static str,
    primary_key: &'static [&'static str],
    columns: &'static [Column],
    foreign_keys: &'static [ForeignKey],
    keys: &'static [Key],
    /// Numeric CHECKs (`CK(>0)` in SCHEMA.md), as `column>0` / `column>=0`.
    checks: &'static [&'static str],
}

/// Defaults for the fields most tables share.
const TABLE: Table = Table {
    name: "",
    primary_key: &["id"],
    columns: &[],
    foreign_keys: &[],
    keys: &[],
    checks: &[],
};

const ID: Column = nn("id", Uuid);
const CREATED_AT: Column = nn("created_at", Time);
const UPDATED_AT: Column = nn("updated_at", Time);

// ---------------------------------------------------------------------------
// The specification (SCHEMA.md)
// ---------------------------------------------------------------------------

const SUBSCRIPTION_TIER: EnumType = EnumType {
    pg_type: "subscription_tier",
    values: &["starter", "professional", "enterprise"],
};
const USER_STATUS: EnumType = EnumType {
    pg_type: "user_status",
    values: &["pending", "active", "suspended"],
};
const USER_ROLE: EnumType = EnumType {
    pg_type: "user_role",
    values: &["super_admin", "admin", "user"],
};
/// As widened by M11.
const OAUTH_PROVIDER: EnumType = EnumType {
    pg_type: "oauth_provider",
    values: &["strava", "fitbit", "garmin", "whoop", "terra"],
};
const API_KEY_TIER: EnumType = EnumType {
    pg_type: "api_key_tier",
    values: &["trial", "starter", "professional", "enterprise"],
};
const TASK_STATUS: EnumType = EnumType {
    pg_type: "task_status",
    values: &["pending", "running", "completed", "failed", "cancelled"],
};
const OAUTH_APP_TYPE: EnumType = EnumType {
    pg_type: "oauth_app_type",
    values: &["public", "confidential"],
};
const TENANT_ROLE: EnumType = EnumType {
    pg_type: "tenant_role",
    values: &["owner", "admin", "member", "viewer"],
};
const CHAT_ROLE: EnumType = EnumType {
    pg_type: "chat_role",
    values: &["system", "user", "assistant"],
};
const MEAL_TIMING: EnumType = EnumType {
    pg_type: "meal_timing",
    values: &["pre_training", "post_training", "rest_day", "general"],
};
const INGREDIENT_UNIT: EnumType = EnumType {
    pg_type: "ingredient_unit",
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
const CONFIG_DATA_TYPE: EnumType = EnumType {
    pg_type: "config_data_type",
    values: &["float", "integer", "boolean", "string", "enum"],
};

/// The 44 tables of SCHEMA.md as they stand after every migration.
const TABLES: [Table; 44] = [
    // M01 (+ M12 role, M15 legacy columns removed, M18 firebase)
    Table {
        name: "users",
        columns: &[
            ID,
            nn("email", Text),
            opt("display_name", Text),
            nn("password_hash", Text),
            nn("tier", Enum(SUBSCRIPTION_TIER)),
            opt("tenant_id", Uuid),
            nn("is_active", Bool),
            nn("user_status", Enum(USER_STATUS)),
            nn("is_admin", Bool),
            opt("approved_by", Uuid),
            opt("approved_at", Time),
            CREATED_AT,
            nn("last_active", Time),
            nn("role", Enum(USER_ROLE)),
            opt("firebase_uid", Text),
            nn("auth_provider", Text),
        ],
        foreign_keys: &[
            // SCHEMA.md gives no action for the nullable legacy home tenant;
            // deleting a tenant must not delete users, so SET NULL.
            fk("tenant_id", "tenants", "id", SetNull),
            fk("approved_by", "users", "id", SetNull),
        ],
        keys: &[Unique(&["email"]), Unique(&["firebase_uid"])],
        ..TABLE
    },
    Table {
        name: "user_profiles",
        primary_key: &["user_id"],
        columns: &[
            nn("user_id", Uuid),
            nn("profile_data", Json),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[user_fk("user_id")],
        ..TABLE
    },
    Table {
        name: "user_oauth_app_credentials",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("provider", Enum(OAUTH_PROVIDER)),
            nn("client_id", Text),
            nn("client_secret", Text),
            nn("redirect_uri", Text),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[user_fk("user_id")],
        keys: &[Unique(&["user_id", "provider"])],
        ..TABLE
    },
    // M02
    Table {
        name: "api_keys",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("name", Text),
            opt("description", Text),
            nn("key_hash", Text),
            nn("key_prefix", Text),
            nn("tier", Enum(API_KEY_TIER)),
            opt("rate_limit_requests", Int),
            opt("rate_limit_window_seconds", Int),
            nn("is_active", Bool),
            opt("expires_at", Time),
            opt("last_used_at", Time),
            CREATED_AT,
        ],
        foreign_keys: &[user_fk("user_id")],
        keys: &[Unique(&["key_hash"]), Unique(&["key_prefix"])],
        ..TABLE
    },
    Table {
        name: "api_key_usage",
        columns: &[
            ID,
            nn("api_key_id", Uuid),
            nn("timestamp", Time),
            nn("tool_name", Text),
            nn("status_code", Int),
            opt("response_time_ms", Int),
            opt("error_message", Text),
            opt("request_size_bytes", BigInt),
            opt("response_size_bytes", BigInt),
            opt("ip_address", Text),
            opt("user_agent", Text),
        ],
        foreign_keys: &[fk("api_key_id", "api_keys", "id", Cascade)],
        keys: &[Index(&["api_key_id", "timestamp"])],
        ..TABLE
    },
    // M03
    Table {
        name: "jwt_usage",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("timestamp", Time),
            nn("endpoint", Text),
            nn("method", Text),
            nn("status_code", Int),
            opt("response_time_ms", Int),
            opt("request_size_bytes", BigInt),
            opt("response_size_bytes", BigInt),
            opt("ip_address", Text),
            opt("user_agent", Text),
        ],
        foreign_keys: &[user_fk("user_id")],
        ..TABLE
    },
    Table {
        name: "goals",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("goal_data", Json),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[user_fk("user_id")],
        ..TABLE
    },
    Table {
        name: "insights",
        columns: &[
            ID,
            nn("user_id", Uuid),
            opt("activity_id", Text),
            nn("insight_type", Text),
            nn("insight_data", Json),
            CREATED_AT,
        ],
        foreign_keys: &[user_fk("user_id")],
        ..TABLE
    },
    Table {
        name: "request_logs",
        columns: &[
            ID,
            opt("user_id", Uuid),
            opt("api_key_id", Uuid),
            nn("timestamp", Time),
            nn("method", Text),
            nn("endpoint", Text),
            nn("status_code", Int),
            opt("response_time_ms", Int),
            opt("error_message", Text),
        ],
        foreign_keys: &[
            user_fk("user_id"),
            // SCHEMA.md gives no action; the log outlives the key (SET NULL).
            fk("api_key_id", "api_keys", "id", SetNull),
        ],
        ..TABLE
    },
    // M04 (+ M14 user FK)
    Table {
        name: "a2a_clients",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("name", Text),
            opt("description", Text),
            nn("public_key", Text),
            nn("client_secret", Text),
            nn("permissions", Json),
            nn("capabilities", Json),
            nn("redirect_uris", Json),
            nn("rate_limit_requests", Int),
            nn("rate_limit_window_seconds", Int),
            nn("is_active", Bool),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[user_fk("user_id")],
        keys: &[Unique(&["public_key"])],
        ..TABLE
    },
    Table {
        name: "a2a_sessions",
        primary_key: &["session_token"],
        columns: &[
            nn("session_token", Text),
            nn("client_id", Uuid),
            opt("user_id", Uuid),
            nn("granted_scopes", Json),
            nn("expires_at", Time),
            nn("last_activity", Time),
            CREATED_AT,
            nn("requests_count", BigInt),
        ],
        foreign_keys: &[
            fk("client_id", "a2a_clients", "id", Cascade),
            user_fk("user_id"),
        ],
        ..TABLE
    },
    Table {
        name: "a2a_tasks",
        columns: &[
            ID,
            nn("client_id", Uuid),
            nn("task_type", Text),
            nn("input_data", Json),
            opt("output_data", Json),
            nn("status", Enum(TASK_STATUS)),
            opt("error_message", Text),
            CREATED_AT,
            UPDATED_AT,
            opt("completed_at", Time),
        ],
        foreign_keys: &[fk("client_id", "a2a_clients", "id", Cascade)],
        ..TABLE
    },
    Table {
        name: "a2a_usage",
        columns: &[
            ID,
            nn("client_id", Uuid),
            opt("session_token", Text),
            nn("timestamp", Time),
            nn("tool_name", Text),
            opt("response_time_ms", Int),
            nn("status_code", Int),
            opt("error_message", Text),
            opt("request_size_bytes", BigInt),
            opt("response_size_bytes", BigInt),
            opt("ip_address", Text),
            opt("user_agent", Text),
            nn("protocol_version", Text),
            nn("client_capabilities", Json),
            nn("granted_scopes", Json),
        ],
        foreign_keys: &[
            fk("client_id", "a2a_clients", "id", Cascade),
            fk("session_token", "a2a_sessions", "session_token", SetNull),
        ],
        ..TABLE
    },
    Table {
        name: "a2a_client_api_keys",
        primary_key: &["client_id", "api_key_id"],
        columns: &[nn("client_id", Uuid), nn("api_key_id", Uuid), CREATED_AT],
        foreign_keys: &[
            fk("client_id", "a2a_clients", "id", Cascade),
            fk("api_key_id", "api_keys", "id", Cascade),
        ],
        ..TABLE
    },
    // M05
    Table {
        name: "admin_tokens",
        columns: &[
            ID,
            nn("service_name", Text),
            opt("service_description", Text),
            nn("token_hash", Text),
            nn("token_prefix", Text),
            nn("jwt_secret_hash", Text),
            nn("permissions", Json),
            nn("is_super_admin", Bool),
            nn("is_active", Bool),
            CREATED_AT,
            opt("expires_at", Time),
            opt("last_used_at", Time),
            opt("last_used_ip", Text),
            nn("usage_count", BigInt),
        ],
        ..TABLE
    },
    Table {
        name: "admin_token_usage",
        columns: &[
            ID,
            nn("admin_token_id", Uuid),
            nn("timestamp", Time),
            nn("action", Text),
            opt("target_resource", Text),
            opt("ip_address", Text),
            opt("user_agent", Text),
            opt("request_size_bytes", BigInt),
            nn("success", Bool),
            opt("error_message", Text),
            opt("response_time_ms", Int),
        ],
        foreign_keys: &[fk("admin_token_id", "admin_tokens", "id", Cascade)],
        ..TABLE
    },
    Table {
        name: "admin_provisioned_keys",
        columns: &[
            ID,
            nn("admin_token_id", Uuid),
            nn("api_key_id", Uuid),
            nn("user_email", Text),
            nn("requested_tier", Text),
            nn("provisioned_at", Time),
            nn("provisioned_by_service", Text),
            nn("rate_limit_requests", Int),
            nn("rate_limit_period", Text),
            nn("key_status", Text),
            opt("revoked_at", Time),
            opt("revoked_reason", Text),
        ],
        foreign_keys: &[
            fk("admin_token_id", "admin_tokens", "id", Cascade),
            fk("api_key_id", "api_keys", "id", Cascade),
        ],
        ..TABLE
    },
    Table {
        name: "system_secrets",
        primary_key: &["secret_type"],
        columns: &[
            nn("secret_type", Text),
            nn("secret_value", Text),
            CREATED_AT,
            UPDATED_AT,
        ],
        ..TABLE
    },
    Table {
        name: "rsa_keypairs",
        primary_key: &["kid"],
        columns: &[
            nn("kid", Text),
            nn("private_key_pem", Text),
            nn("public_key_pem", Text),
            CREATED_AT,
            nn("is_active", Bool),
            nn("key_size_bits", Int),
        ],
        ..TABLE
    },
    // M06 (+ M15 last_sync)
    Table {
        name: "user_oauth_tokens",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("tenant_id", Uuid),
            nn("provider", Text),
            nn("access_token", Text),
            opt("refresh_token", Text),
            nn("token_type", Text),
            opt("expires_at", Time),
            opt("scope", Text),
            CREATED_AT,
            UPDATED_AT,
            opt("last_sync", Time),
        ],
        foreign_keys: &[user_fk("user_id"), TENANT_FK],
        keys: &[
            Unique(&["user_id", "tenant_id", "provider"]),
            Index(&["tenant_id", "provider"]),
        ],
        ..TABLE
    },
    // M07
    Table {
        name: "oauth_notifications",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("provider", Text),
            nn("success", Bool),
            nn("message", Text),
            opt("expires_at", Time),
            CREATED_AT,
            opt("read_at", Time),
        ],
        foreign_keys: &[user_fk("user_id")],
        keys: &[Index(&["user_id", "read_at"])],
        ..TABLE
    },
    // M08
    Table {
        name: "oauth2_clients",
        columns: &[
            ID,
            nn("client_id", Text),
            nn("client_secret_hash", Text),
            nn("redirect_uris", Json),
            nn("grant_types", Json),
            nn("response_types", Json),
            opt("client_name", Text),
            opt("client_uri", Text),
            opt("scope", Text),
            CREATED_AT,
            opt("expires_at", Time),
        ],
        keys: &[Unique(&["client_id"])],
        ..TABLE
    },
    Table {
        name: "oauth2_auth_codes",
        primary_key: &["code"],
        columns: &[
            nn("code", Text),
            nn("client_id", Text),
            nn("user_id", Uuid),
            nn("tenant_id", Uuid),
            nn("redirect_uri", Text),
            opt("scope", Text),
            nn("expires_at", Time),
            nn("used", Bool),
            opt("state", Text),
            opt("code_challenge", Text),
            opt("code_challenge_method", Text),
        ],
        foreign_keys: &[
            fk("client_id", "oauth2_clients", "client_id", Cascade),
            user_fk("user_id"),
            TENANT_FK,
        ],
        ..TABLE
    },
    Table {
        name: "oauth2_refresh_tokens",
        primary_key: &["token"],
        columns: &[
            nn("token", Text),
            nn("client_id", Text),
            nn("user_id", Uuid),
            nn("tenant_id", Uuid),
            opt("scope", Text),
            nn("expires_at", Time),
            CREATED_AT,
            nn("revoked", Bool),
        ],
        foreign_keys: &[
            fk("client_id", "oauth2_clients", "client_id", Cascade),
            user_fk("user_id"),
            TENANT_FK,
        ],
        ..TABLE
    },
    Table {
        name: "oauth2_states",
        primary_key: &["state"],
        columns: &[
            nn("state", Text),
            nn("client_id", Text),
            opt("user_id", Uuid),
            opt("tenant_id", Uuid),
            nn("redirect_uri", Text),
            opt("scope", Text),
            opt("code_challenge", Text),
            opt("code_challenge_method", Text),
            CREATED_AT,
            nn("expires_at", Time),
            nn("used", Bool),
        ],
        foreign_keys: &[
            fk("client_id", "oauth2_clients", "client_id", Cascade),
            user_fk("user_id"),
            TENANT_FK,
        ],
        ..TABLE
    },
    // M09
    Table {
        name: "tenants",
        columns: &[
            ID,
            nn("name", Text),
            nn("slug", Text),
            opt("domain", Text),
            nn("plan", Enum(SUBSCRIPTION_TIER)),
            nn("owner_user_id", Uuid),
            nn("is_active", Bool),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[fk("owner_user_id", "users", "id", Restrict)],
        keys: &[Unique(&["slug"]), Unique(&["domain"])],
        ..TABLE
    },
    Table {
        name: "tenant_oauth_credentials",
        columns: &[
            ID,
            nn("tenant_id", Uuid),
            nn("provider", Enum(OAUTH_PROVIDER)),
            nn("client_id", Text),
            nn("client_secret_encrypted", Text),
            nn("redirect_uri", Text),
            nn("scopes", Json),
            opt("rate_limit_per_day", Int),
            nn("is_active", Bool),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[TENANT_FK],
        keys: &[Unique(&["tenant_id", "provider"])],
        ..TABLE
    },
    Table {
        name: "oauth_apps",
        columns: &[
            ID,
            nn("client_id", Text),
            nn("client_secret_hash", Text),
            nn("name", Text),
            opt("description", Text),
            nn("redirect_uris", Json),
            nn("scopes", Json),
            nn("app_type", Enum(OAUTH_APP_TYPE)),
            nn("owner_user_id", Uuid),
            nn("is_active", Bool),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[user_fk("owner_user_id")],
        keys: &[Unique(&["client_id"])],
        ..TABLE
    },
    Table {
        name: "key_versions",
        columns: &[
            ID,
            opt("tenant_id", Uuid),
            nn("version", Int),
            CREATED_AT,
            opt("expires_at", Time),
            nn("is_active", Bool),
            nn("algorithm", Text),
        ],
        foreign_keys: &[TENANT_FK],
        keys: &[UniqueAlsoWhenNull {
            columns: &["tenant_id", "version"],
            nullable: "tenant_id",
        }],
        ..TABLE
    },
    Table {
        name: "audit_events",
        columns: &[
            ID,
            nn("event_type", Text),
            nn("severity", Text),
            nn("message", Text),
            nn("source", Text),
            nn("result", Text),
            opt("tenant_id", Uuid),
            opt("user_id", Uuid),
            opt("ip_address", Text),
            opt("user_agent", Text),
            opt("metadata", Json),
            nn("timestamp", Time),
        ],
        foreign_keys: &[TENANT_FK, fk("user_id", "users", "id", SetNull)],
        ..TABLE
    },
    Table {
        name: "tenant_users",
        columns: &[
            ID,
            nn("tenant_id", Uuid),
            nn("user_id", Uuid),
            nn("role", Enum(TENANT_ROLE)),
            opt("permissions", Json),
            opt("invited_by", Uuid),
            nn("invited_at", Time),
            opt("joined_at", Time),
            nn("is_active", Bool),
        ],
        foreign_keys: &[
            TENANT_FK,
            user_fk("user_id"),
            fk("invited_by", "users", "id", SetNull),
        ],
        keys: &[Unique(&["tenant_id", "user_id"])],
        ..TABLE
    },
    Table {
        name: "user_configurations",
        primary_key: &["user_id"],
        columns: &[
            nn("user_id", Uuid),
            nn("config_data", Json),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[user_fk("user_id")],
        ..TABLE
    },
    // M10
    Table {
        name: "fitness_configurations",
        columns: &[
            ID,
            nn("tenant_id", Uuid),
            opt("user_id", Uuid),
            nn("configuration_name", Text),
            nn("config_data", Json),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[TENANT_FK, user_fk("user_id")],
        keys: &[UniqueAlsoWhenNull {
            columns: &["tenant_id", "user_id", "configuration_name"],
            nullable: "user_id",
        }],
        ..TABLE
    },
    // M12
    Table {
        name: "impersonation_sessions",
        columns: &[
            ID,
            nn("impersonator_id", Uuid),
            nn("target_user_id", Uuid),
            opt("reason", Text),
            nn("started_at", Time),
            opt("ended_at", Time),
            nn("is_active", Bool),
            CREATED_AT,
        ],
        foreign_keys: &[user_fk("impersonator_id"), user_fk("target_user_id")],
        ..TABLE
    },
    Table {
        name: "permission_delegations",
        columns: &[
            ID,
            nn("grantor_id", Uuid),
            nn("grantee_id", Uuid),
            nn("permissions", BigInt),
            opt("expires_at", Time),
            opt("revoked_at", Time),
            CREATED_AT,
        ],
        foreign_keys: &[user_fk("grantor_id"), user_fk("grantee_id")],
        keys: &[Unique(&["grantor_id", "grantee_id"])],
        ..TABLE
    },
    Table {
        name: "user_mcp_tokens",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("name", Text),
            nn("token_hash", Text),
            nn("token_prefix", Text),
            opt("expires_at", Time),
            opt("last_used_at", Time),
            nn("usage_count", BigInt),
            nn("is_revoked", Bool),
            CREATED_AT,
        ],
        foreign_keys: &[user_fk("user_id")],
        ..TABLE
    },
    // M13
    Table {
        name: "system_settings",
        primary_key: &["key"],
        columns: &[
            nn("key", Text),
            nn("value", Text),
            opt("description", Text),
            CREATED_AT,
            UPDATED_AT,
        ],
        ..TABLE
    },
    // M17
    Table {
        name: "chat_conversations",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("tenant_id", Uuid),
            nn("title", Text),
            nn("model", Text),
            opt("system_prompt", Text),
            nn("total_tokens", BigInt),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[user_fk("user_id"), TENANT_FK],
        // M21 (a documented choice): the keyset pages' index ends in `id`.
        keys: &[Index(&["tenant_id", "user_id", "updated_at", "id"])],
        ..TABLE
    },
    Table {
        name: "chat_messages",
        columns: &[
            ID,
            nn("conversation_id", Uuid),
            nn("role", Enum(CHAT_ROLE)),
            nn("content", Text),
            opt("token_count", Int),
            opt("finish_reason", Text),
            CREATED_AT,
        ],
        foreign_keys: &[fk("conversation_id", "chat_conversations", "id", Cascade)],
        // M21: as above.
        keys: &[Index(&["conversation_id", "created_at", "id"])],
        ..TABLE
    },
    // M19
    Table {
        name: "recipes",
        columns: &[
            ID,
            nn("user_id", Uuid),
            nn("tenant_id", Uuid),
            nn("name", Text),
            opt("description", Text),
            nn("servings", Int),
            opt("prep_time_mins", Int),
            opt("cook_time_mins", Int),
            nn("instructions", Json),
            nn("tags", Json),
            nn("meal_timing", Enum(MEAL_TIMING)),
            opt("cached_calories", Real),
            opt("cached_protein_g", Real),
            opt("cached_carbs_g", Real),
            opt("cached_fat_g", Real),
            opt("cached_fiber_g", Real),
            opt("cached_sodium_mg", Real),
            opt("cached_sugar_g", Real),
            opt("nutrition_validated_at", Time),
            CREATED_AT,
            UPDATED_AT,
        ],
        foreign_keys: &[user_fk("user_id"), TENANT_FK],
        // M21: the list filtered by meal timing has an index of its own.
        keys: &[Index(&[
            "tenant_id",
            "user_id",
            "meal_timing",
            "created_at",
            "id",
        ])],
        checks: &["servings>0", "prep_time_mins>=0", "cook_time_mins>=0"],
        ..TABLE
    },
    Table {
        name: "recipe_ingredients",
        columns: &[
            ID,
            nn("recipe_id", Uuid),
            opt("fdc_id", Int),
            nn("name", Text),
            nn("amount", Real),
            nn("unit", Enum(INGREDIENT_UNIT)),
            nn("grams", Real),
            opt("preparation", Text),
            nn("sort_order", Int),
        ],
        foreign_keys: &[fk("recipe_id", "recipes", "id", Cascade)],
        checks: &["amount>0", "grams>=0"],
        ..TABLE
    },
    // M20
    Table {
        name: "admin_config_overrides",
        columns: &[
            ID,
            nn("category", Text),
            nn("config_key", Text),
            nn("config_value", Text),
            nn("data_type", Enum(CONFIG_DATA_TYPE)),
            opt("tenant_id", Uuid),
            nn("created_by", Uuid),
            CREATED_AT,
            UPDATED_AT,
            opt("reason", Text),
        ],
        foreign_keys: &[TENANT_FK, fk("created_by", "users", "id", Restrict)],
        keys: &[UniqueAlsoWhenNull {
            columns: &["category", "config_key", "tenant_id"],
            nullable: "tenant_id",
        }],
        ..TABLE
    },
    Table {
        name: "admin_config_audit",
        columns: &[
            ID,
            nn("timestamp", Time),
            nn("admin_user_id", Uuid),
            nn("admin_email", Text),
            nn("category", Text),
            nn("config_key", Text),
            opt("old_value", Text),
            nn("new_value", Text),
            nn("data_type", Text),
            opt("reason", Text),
            opt("tenant_id", Uuid),
            opt("ip_address", Text),
            opt("user_agent", Text),
        ],
        foreign_keys: &[fk("admin_user_id", "users", "id", Restrict), TENANT_FK],
        ..TABLE
    },
    Table {
        name: "admin_config_categories",
        columns: &[
            nn("id", Text),
            nn("name", Text),
            nn("display_name", Text),
            opt("description", Text),
            nn("display_order", Int),
            opt("icon", Text),
            nn("is_active", Bool),
        ],
        keys: &[Unique(&["name"])],
        ..TABLE
    },
];

/// The seeded categories of M20 and M21: (id, name, display_order).
const CATEGORIES: [(&str, &str, i64); 19] = [
    ("cat_rate_limiting", "rate_limiting", 10),
    ("cat_feature_flags", "feature_flags", 20),
    ("cat_heart_rate", "heart_rate_zones", 30),
    ("cat_training_zones", "training_zones", 40),
    ("cat_effort", "effort_thresholds", 50),
    ("cat_recommendation", "recommendation_engine", 60),
    ("cat_sleep", "sleep_recovery", 70),
    ("cat_tsb", "training_stress", 80),
    ("cat_weather", "weather_analysis", 90),
    ("cat_nutrition", "nutrition", 100),
    ("cat_algorithms", "algorithms", 110),
    ("cat_tokio_runtime", "tokio_runtime", 120),
    ("cat_sqlx_config", "sqlx_config", 130),
    ("cat_cache_ttl", "cache_ttl", 140),
    ("cat_provider_strava", "provider_strava", 150),
    ("cat_provider_fitbit", "provider_fitbit", 160),
    ("cat_provider_garmin", "provider_garmin", 170),
    ("cat_mcp_network", "mcp_network", 180),
    ("cat_monitoring", "monitoring", 190),
];

// ---------------------------------------------------------------------------
// What the database reports
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct DbColumn {
    name: String,
    not_null: bool,
    /// SQLite: the declared type; PostgreSQL: `data_type`.
    ty: String,
    /// PostgreSQL: `udt_name` (empty on SQLite).
    udt: String,
}

#[derive(Debug)]
struct DbForeignKey {
    columns: Vec<String>,
    parent: String,
    parent_columns: Vec<String>,
    /// `CASCADE`, `SET NULL`, `RESTRICT`, `NO ACTION` or `SET DEFAULT`.
    on_delete: String,
}

#[derive(Debug)]
struct DbIndex {
    name: String,
    columns: Vec<String>,
    unique: bool,
    primary: bool,
    /// The `WHERE` of a partial index, [`normalize`]d.
    predicate: Option<String>,
    /// PostgreSQL `NULLS NOT DISTINCT`.
    nulls_not_distinct: bool,
}

#[derive(Debug)]
struct DbTable {
    columns: Vec<DbColumn>,
    primary_key: Vec<String>,
    foreign_keys: Vec<DbForeignKey>,
    indexes: Vec<DbIndex>,
    /// [`normalize`]d CHECK texts: SQLite, the whole `CREATE TABLE`;
    /// PostgreSQL, each `contype = 'c'` constraint's definition.
    checks: Vec<String>,
}

/// Lower case without whitespace, quotes or parentheses, so that SQLite's
/// `CHECK ("servings" > 0)` and PostgreSQL's `CHECK ((servings > 0))` both
/// read `checkservings>0`.
fn normalize(sql: &str) -> String {
    sql.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '"' | '`' | '(' | ')'))
        .flat_map(char::to_lowercase)
        .collect()
}

async fn query(db: &TestDb, sql: &str) -> Vec<QueryResult> {
    db.conn
        .query_all_raw(Statement::from_string(db.backend, sql))
        .await
        .unwrap_or_else(|err| panic!("{:?}: {sql}: {err}", db.backend))
}

fn get<T: TryGetable>(row: &QueryResult, idx: usize) -> T {
    row.try_get_by_index::<T>(idx)
        .unwrap_or_else(|err| panic!("column {idx} of {row:?}: {err}"))
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn inspect(db: &TestDb, table: &str) -> DbTable {
    match db.backend {
        DbBackend::Sqlite => inspect_sqlite(db, table).await,
        DbBackend::Postgres => inspect_postgres(db, table).await,
        other => panic!("no schema inspection for {other:?}"),
    }
}

async fn inspect_sqlite(db: &TestDb, table: &str) -> DbTable {
    let mut columns = Vec::new();
    let mut primary_key: Vec<(i64, String)> = Vec::new();
    let sql = format!(
        "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid"
    );
    for row in query(db, &sql).await {
        let name: String = get(&row, 0);
        let pk: i64 = get(&row, 3);
        if pk > 0 {
            primary_key.push((pk, name.clone()));
        }
        columns.push(DbColumn {
            name,
            not_null: get::<i64>(&row, 2) != 0,
            ty: get::<String>(&row, 1).to_lowercase(),
            udt: String::new(),
        });
    }
    primary_key.sort();

    let mut foreign_keys: Vec<(i64, DbForeignKey)> = Vec::new();
    let sql = format!(
        "SELECT id, \"table\", \"from\", \"to\", on_delete \
         FROM pragma_foreign_key_list('{table}') ORDER BY id, seq"
    );
    for row in query(db, &sql).await {
        let id: i64 = get(&row, 0);
        let from: String = get(&row, 2);
        // `to` is NULL when the key names no column (the parent's PK).
        let to: String = get::<Option<String>>(&row, 3).unwrap_or_else(|| "<pk>".to_owned());
        match foreign_keys.last_mut() {
            Some((last, fk)) if *last == id => {
                fk.columns.push(from);
                fk.parent_columns.push(to);
            }
            _ => foreign_keys.push((
                id,
                DbForeignKey {
                    columns: vec![from],
                    parent: get(&row, 1),
                    parent_columns: vec![to],
                    on_delete: get::<String>(&row, 4).to_uppercase(),
                },
            )),
        }
    }

    let mut indexes = Vec::new();
    let sql = format!("SELECT name, \"unique\", origin FROM pragma_index_list('{table}')");
    for row in query(db, &sql).await {
        let name: String = get(&row, 0);
        let columns = query(
            db,
            &format!("SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"),
        )
        .await
        .iter()
        .map(|r| get::<Option<String>>(r, 0).unwrap_or_else(|| "<expression>".to_owned()))
        .collect();
        let definition = query(
            db,
            &format!("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{name}'"),
        )
        .await
        .first()
        .and_then(|r| get::<Option<String>>(r, 0));
        let predicate = definition.and_then(|sql| {
            sql.to_lowercase()
                .find(" where ")
                .map(|at| normalize(&sql[at + " where ".len()..]))
        });
        indexes.push(DbIndex {
            name,
            columns,
            unique: get::<i64>(&row, 1) != 0,
            primary: get::<String>(&row, 2) == "pk",
            predicate,
            nulls_not_distinct: false,
        });
    }

    let create = query(
        db,
        &format!("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = '{table}'"),
    )
    .await;
    let checks = create
        .iter()
        .map(|row| normalize(&get::<String>(row, 0)))
        .collect();

    DbTable {
        columns,
        primary_key: primary_key.into_iter().map(|(_, name)| name).collect(),
        foreign_keys: foreign_keys.into_iter().map(|(_, fk)| fk).collect(),
        indexes,
        checks,
    }
}

/// `pg_class` row of a table of the public schema.
fn pg_table(table: &str) -> String {
    format!(
        "(SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = '{table}')"
    )
}

async fn inspect_postgres(db: &TestDb, table: &str) -> DbTable {
    let sql = format!(
        "SELECT column_name::text, is_nullable::text, data_type::text, udt_name::text \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
    );
    let columns = query(db, &sql)
        .await
        .iter()
        .map(|row| DbColumn {
            name: get(row, 0),
            not_null: get::<String>(row, 1) == "NO",
            ty: get(row, 2),
            udt: get(row, 3),
        })
        .collect();

    let oid = pg_table(table);
    let attnames = |rel: &str, keys: &str| {
        format!(
            "array_to_string(ARRAY(SELECT COALESCE(a.attname::text, '<expression>') \
             FROM unnest({keys}) WITH ORDINALITY AS k(attnum, ord) \
             LEFT JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.attnum \
             ORDER BY k.ord), ',')"
        )
    };

    let sql = format!(
        "SELECT {}, confrelid::regclass::text, {}, \
         CASE confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' \
         WHEN 'r' THEN 'RESTRICT' WHEN 'a' THEN 'NO ACTION' WHEN 'd' THEN 'SET DEFAULT' END \
         FROM pg_constraint WHERE contype = 'f' AND conrelid = {oid} ORDER BY conname",
        attnames("conrelid", "conkey"),
        attnames("confrelid", "confkey"),
    );
    let foreign_keys = query(db, &sql)
        .await
        .iter()
        .map(|row| DbForeignKey {
            columns: split_list(&get::<String>(row, 0)),
            parent: get(row, 1),
            parent_columns: split_list(&get::<String>(row, 2)),
            on_delete: get(row, 3),
        })
        .collect::<Vec<_>>();

    let sql = format!(
        "SELECT i.relname::text, {}, ix.indisunique, ix.indisprimary, \
         pg_get_expr(ix.indpred, ix.indrelid), ix.indnullsnotdistinct \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
         WHERE ix.indrelid = {oid} ORDER BY 1",
        attnames("ix.indrelid", "ix.indkey::int2[]"),
    );
    let indexes: Vec<DbIndex> = query(db, &sql)
        .await
        .iter()
        .map(|row| DbIndex {
            name: get(row, 0),
            columns: split_list(&get::<String>(row, 1)),
            unique: get(row, 2),
            primary: get(row, 3),
            predicate: get::<Option<String>>(row, 4).map(|p| normalize(&p)),
            nulls_not_distinct: get(row, 5),
        })
        .collect();
    let primary_key = indexes
        .iter()
        .find(|ix| ix.primary)
        .map(|ix| ix.columns.clone())
        .unwrap_or_default();

    let sql = format!(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE contype = 'c' AND conrelid = {oid} ORDER BY conname"
    );
    let checks = query(db, &sql)
        .await
        .iter()
        .map(|row| normalize(&get::<String>(row, 0)))
        .collect();

    DbTable {
        columns,
        primary_key,
        foreign_keys,
        indexes,
        checks,
    }
}

/// The labels of a PostgreSQL enum type, in order (empty if no such type).
async fn pg_enum_labels(db: &TestDb, pg_type: &str) -> Vec<String> {
    let sql = format!(
        "SELECT e.enumlabel::text FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid \
         JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname = 'public' AND t.typname = '{pg_type}' ORDER BY e.enumsortorder"
    );
    query(db, &sql).await.iter().map(|r| get(r, 0)).collect()
}

/// The values of SQLite's `CHECK (column IN ('a', 'b'))` in a [`normalize`]d
/// `CREATE TABLE`, or `None` if there is no such CHECK.
fn sqlite_check_values(create: &str, column: &str) -> Option<Vec<String>> {
    let anchor = format!("check{column}in");
    let mut rest = &create[create.find(&anchor)? + anchor.len()..];
    let mut values = Vec::new();
    while let Some(quoted) = rest.strip_prefix('\'') {
        let end = quoted.find('\'')?;
        values.push(quoted[..end].to_owned());
        rest = &quoted[end + 1..];
        match rest.strip_prefix(',') {
            Some(next) if next.starts_with('\'') => rest = next,
            _ => break,
        }
    }
    Some(values)
}

// ---------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------

/// Differences found, each a full sentence naming backend, table and column.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn fail(&mut self, db: &TestDb, table: &str, what: String) {
        self.0.push(format!("{:?} {table}: {what}", db.backend));
    }

    fn assert_clean(self, aspect: &str) {
        assert!(
            self.0.is_empty(),
            "{} difference(s) from SCHEMA.md in {aspect}:\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

async fn migrated() -> Vec<TestDb> {
    let dbs = common::all_backends().await;
    for db in &dbs {
        db.migrate(None).await;
    }
    dbs
}

/// Every table of the spec, with what `db` reports about it.
async fn inspect_all(db: &TestDb) -> Vec<(&'static Table, DbTable)> {
    let mut all = Vec::with_capacity(TABLES.len());
    for table in &TABLES {
        all.push((table, inspect(db, table.name).await));
    }
    all
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'a str> {
    items.into_iter().collect()
}

fn compare_columns(db: &TestDb, spec: &Table, real: &DbTable, report: &mut Report) {
    let t = spec.name;
    if real.columns.is_empty() {
        report.fail(db, t, "table does not exist (no columns)".to_owned());
        return;
    }
    let expected = set(spec.columns.iter().map(|c| c.name));
    let actual = set(real.columns.iter().map(|c| c.name.as_str()));
    for missing in expected.difference(&actual) {
        report.fail(db, t, format!("column {missing} is missing"));
    }
    for extra in actual.difference(&expected) {
        report.fail(db, t, format!("column {extra} is not in SCHEMA.md"));
    }
    for col in spec.columns {
        let Some(found) = real.columns.iter().find(|c| c.name == col.name) else {
            continue;
        };
        if found.not_null != col.not_null {
            let says = |nn: bool| if nn { "NOT NULL" } else { "nullable" };
            report.fail(
                db,
                t,
                format!(
                    "column {} is {}, SCHEMA.md says {}",
                    col.name,
                    says(found.not_null),
                    says(col.not_null)
                ),
            );
        }
        let type_ok = match db.backend {
            DbBackend::Sqlite => found.ty == col.ty.sqlite_type(),
            _ => (found.ty.as_str(), found.udt.as_str()) == col.ty.pg_type(),
        };
        if !type_ok {
            let expected = match db.backend {
                DbBackend::Sqlite => col.ty.sqlite_type().to_owned(),
                _ => format!("{:?}", col.ty.pg_type()),
            };
            report.fail(
                db,
                t,
                format!(
                    "column {} has type {:?}/{:?}, expected {expected} for {:?}",
                    col.name, found.ty, found.udt, col.ty
                ),
            );
        }
    }
    if real.primary_key != spec.primary_key {
        report.fail(
            db,
            t,
            format!(
                "primary key is {:?}, SCHEMA.md says {:?}",
                real.primary_key, spec.primary_key
            ),
        );
    }
}

fn compare_foreign_keys(db: &TestDb, spec: &Table, real: &DbTable, report: &mut Report) {
    let t = spec.name;
    for fk in spec.foreign_keys {
        let found = real.foreign_keys.iter().find(|f| f.columns == [fk.column]);
        let Some(found) = found else {
            report.fail(
                db,
                t,
                format!(
                    "missing foreign key {} -> {}({}) ON DELETE {}",
                    fk.column,
                    fk.parent,
                    fk.parent_column,
                    fk.on_delete.sql()
                ),
            );
            continue;
        };
        if found.parent != fk.parent || found.parent_columns != [fk.parent_column] {
            report.fail(
                db,
                t,
                format!(
                    "foreign key {} references {}({}), expected {}({})",
                    fk.column,
                    found.parent,
                    found.parent_columns.join(","),
                    fk.parent,
                    fk.parent_column
                ),
            );
        }
        if found.on_delete != fk.on_delete.sql() {
            report.fail(
                db,
                t,
                format!(
                    "foreign key {} -> {} is ON DELETE {}, expected {}",
                    fk.column,
                    fk.parent,
                    found.on_delete,
                    fk.on_delete.sql()
                ),
            );
        }
    }
    for found in &real.foreign_keys {
        let listed = spec
            .foreign_keys
            .iter()
            .any(|fk| found.columns == [fk.column]);
        if !listed {
            report.fail(
                db,
                t,
                format!(
                    "foreign key ({}) -> {}({}) is not in SCHEMA.md",
                    found.columns.join(","),
                    found.parent,
                    found.parent_columns.join(",")
                ),
            );
        }
    }
}

fn index_cols(ix: &DbIndex) -> Vec<&str> {
    ix.columns.iter().map(String::as_str).collect()
}

fn describe(ix: &DbIndex) -> String {
    format!(
        "{} ({}){}{}{}",
        ix.name,
        ix.columns.join(", "),
        if ix.unique { " UNIQUE" } else { "" },
        if ix.nulls_not_distinct {
            " NULLS NOT DISTINCT"
        } else {
            ""
        },
        ix.predicate
            .as_ref()
            .map(|p| format!(" WHERE {p}"))
            .unwrap_or_default()
    )
}

fn compare_keys(db: &TestDb, spec: &Table, real: &DbTable, report: &mut Report) {
    let t = spec.name;
    let all = || {
        real.indexes
            .iter()
            .map(describe)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let with_columns = |cols: &[&str]| {
        real.indexes
            .iter()
            .filter(move |ix| index_cols(ix) == cols)
            .collect::<Vec<_>>()
    };
    for key in spec.keys {
        match *key {
            Index(cols) => {
                let ok = with_columns(cols).iter().any(|ix| ix.predicate.is_none());
                if !ok {
                    report.fail(
                        db,
                        t,
                        format!("no index on ({}); indexes: {}", cols.join(", "), all()),
                    );
                }
            }
            Unique(cols) => {
                let ok = with_columns(cols)
                    .iter()
                    .any(|ix| ix.unique && ix.predicate.is_none() && !ix.nulls_not_distinct);
                if !ok {
                    report.fail(
                        db,
                        t,
                        format!(
                            "no unique index on ({}); indexes: {}",
                            cols.join(", "),
                            all()
                        ),
                    );
                }
            }
            UniqueAlsoWhenNull { columns, nullable } => {
                let not_null = format!("{nullable}isnotnull");
                let is_null = format!("{nullable}isnull");
                let rest: Vec<&str> = columns.iter().copied().filter(|c| *c != nullable).collect();
                let single = with_columns(columns)
                    .iter()
                    .any(|ix| ix.unique && ix.predicate.is_none() && ix.nulls_not_distinct);
                let non_null_rows = with_columns(columns)
                    .iter()
                    .any(|ix| ix.unique && ix.predicate.as_ref().is_none_or(|p| *p == not_null));
                let null_rows = with_columns(&rest)
                    .iter()
                    .any(|ix| ix.unique && ix.predicate.as_deref() == Some(is_null.as_str()));
                if !(single || non_null_rows && null_rows) {
                    report.fail(
                        db,
                        t,
                        format!(
                            "({}) is not unique also when {nullable} is NULL: needs a \
                             NULLS NOT DISTINCT unique index, or a unique index on ({}) \
                             [WHERE {nullable} IS NOT NULL] plus a unique index on ({}) \
                             WHERE {nullable} IS NULL (non-NULL part: {non_null_rows}, \
                             NULL part: {null_rows}); indexes: {}",
                            columns.join(", "),
                            columns.join(", "),
                            rest.join(", "),
                            all()
                        ),
                    );
                }
            }
        }
    }

    // Rule 6: every foreign key is the leading column of some index.
    for fk in spec.foreign_keys {
        let covered = real.primary_key.first().map(String::as_str) == Some(fk.column)
            || real
                .indexes
                .iter()
                .any(|ix| ix.columns.first().map(String::as_str) == Some(fk.column));
        if !covered {
            report.fail(
                db,
                t,
                format!(
                    "foreign key column {} leads no index (rule 6); indexes: {}",
                    fk.column,
                    all()
                ),
            );
        }
    }

    // Rule 6: no index duplicates another (e.g. a plain index on a PK/UNIQUE column).
    for (i, a) in real.indexes.iter().enumerate() {
        for b in &real.indexes[i + 1..] {
            if a.columns == b.columns && a.predicate == b.predicate {
                report.fail(
                    db,
                    t,
                    format!("redundant indexes: {} and {}", describe(a), describe(b)),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn the_spec_itself_is_consistent() {
    let names = set(TABLES.iter().map(|t| t.name));
    assert_eq!(names.len(), 44, "44 distinct table names");
    assert_eq!(
        names,
        set(MIGRATED_TABLES.iter().copied()),
        "migration::TABLES names the same 44 tables"
    );
    for t in &TABLES {
        let cols = set(t.columns.iter().map(|c| c.name));
        assert_eq!(cols.len(), t.columns.len(), "{}: duplicate column", t.name);
        let referenced = t
            .primary_key
            .iter()
            .copied()
            .chain(t.foreign_keys.iter().map(|fk| fk.column))
            .chain(t.keys.iter().flat_map(|k| match *k {
                Index(c) | Unique(c) => c.iter().copied(),
                UniqueAlsoWhenNull { columns, .. } => columns.iter().copied(),
            }));
        for col in referenced {
            assert!(cols.contains(col), "{}: {col} is not a column", t.name);
        }
        for fk in t.foreign_keys {
            let parent = TABLES
                .iter()
                .find(|p| p.name == fk.parent)
                .unwrap_or_else(|| panic!("{}: unknown parent {}", t.name, fk.parent));
            assert!(
                parent.columns.iter().any(|c| c.name == fk.parent_column),
                "{}.{}: {}.{} does not exist",
                t.name,
                fk.column,
                fk.parent,
                fk.parent_column
            );
        }
    }
}

#[tokio::test]
async fn exactly_the_44_tables_and_seaql_migrations_exist() {
    for db in migrated().await {
        let sql = match db.backend {
            DbBackend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            _ => {
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            }
        };
        let actual: BTreeSet<String> = query(&db, sql).await.iter().map(|r| get(r, 0)).collect();
        let mut expected: BTreeSet<String> = TABLES.iter().map(|t| t.name.to_owned()).collect();
        expected.insert("seaql_migrations".to_owned());
        let missing: Vec<_> = expected.difference(&actual).collect();
        let extra: Vec<_> = actual.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{:?}: missing tables {missing:?}, tables not in SCHEMA.md {extra:?}",
            db.backend
        );
        assert_eq!(
            actual.len(),
            45,
            "{:?}: 44 tables + seaql_migrations",
            db.backend
        );
    }
}

#[tokio::test]
async fn columns_types_nullability_and_primary_keys_match_the_spec() {
    let mut report = Report::default();
    for db in migrated().await {
        for (spec, real) in inspect_all(&db).await {
            compare_columns(&db, spec, &real, &mut report);
        }
    }
    report.assert_clean("columns");
}

#[tokio::test]
async fn foreign_keys_match_the_spec() {
    let mut report = Report::default();
    for db in migrated().await {
        for (spec, real) in inspect_all(&db).await {
            compare_foreign_keys(&db, spec, &real, &mut report);
        }
    }
    report.assert_clean("foreign keys");
}

#[tokio::test]
async fn enum_columns_allow_exactly_the_listed_values() {
    let mut report = Report::default();
    for db in migrated().await {
        let mut used_types = BTreeSet::new();
        for (spec, real) in inspect_all(&db).await {
            for col in spec.columns {
                let Enum(ty) = col.ty else { continue };
                used_types.insert(ty.pg_type);
                let actual = match db.backend {
                    DbBackend::Sqlite => {
                        let Some(values) = real
                            .checks
                            .iter()
                            .find_map(|sql| sqlite_check_values(sql, col.name))
                        else {
                            report.fail(
                                &db,
                                spec.name,
                                format!("column {} has no CHECK ({} IN (...))", col.name, col.name),
                            );
                            continue;
                        };
                        values
                    }
                    _ => pg_enum_labels(&db, ty.pg_type).await,
                };
                let actual = set(actual.iter().map(String::as_str));
                let expected = set(ty.values.iter().copied());
                if actual != expected {
                    report.fail(
                        &db,
                        spec.name,
                        format!(
                            "column {} ({}) allows {actual:?}, SCHEMA.md lists {expected:?} \
                             (missing {:?}, extra {:?})",
                            col.name,
                            ty.pg_type,
                            expected.difference(&actual).collect::<Vec<_>>(),
                            actual.difference(&expected).collect::<Vec<_>>()
                        ),
                    );
                }
            }
        }
        if db.backend == DbBackend::Postgres {
            // No leftover or unused enum types (e.g. M11's temporary type).
            let sql = "SELECT t.typname::text FROM pg_type t \
                       JOIN pg_namespace n ON n.oid = t.typnamespace \
                       WHERE t.typtype = 'e' AND n.nspname = 'public'";
            let rows = query(&db, sql).await;
            let actual: BTreeSet<String> = rows.iter().map(|r| get(r, 0)).collect();
            let actual = set(actual.iter().map(String::as_str));
            if actual != used_types {
                report.fail(
                    &db,
                    "(schema)",
                    format!("enum types are {actual:?}, the spec's columns use {used_types:?}"),
                );
            }
        }
    }
    report.assert_clean("enum values");
}

#[tokio::test]
async fn listed_keys_and_indexes_exist_and_foreign_keys_are_indexed() {
    let mut report = Report::default();
    for db in migrated().await {
        for (spec, real) in inspect_all(&db).await {
            compare_keys(&db, spec, &real, &mut report);
        }
    }
    report.assert_clean("keys and indexes");
}

#[tokio::test]
async fn numeric_checks_exist() {
    let mut report = Report::default();
    for db in migrated().await {
        for (spec, real) in inspect_all(&db).await {
            for check in spec.checks {
                let wanted = format!("check{check}");
                if !real.checks.iter().any(|c| c.contains(&wanted)) {
                    report.fail(
                        &db,
                        spec.name,
                        format!("no CHECK ({check}); checks: {:?}", real.checks),
                    );
                }
            }
        }
    }
    report.assert_clean("numeric checks");
}

#[tokio::test]
async fn seed_rows_exist() {
    for db in migrated().await {
        let rows = query(
            &db,
            "SELECT id, name, CAST(display_order AS BIGINT) FROM admin_config_categories",
        )
        .await;
        assert_eq!(
            rows.len(),
            19,
            "{:?}: admin_config_categories rows",
            db.backend
        );
        let actual: BTreeSet<(String, String, i64)> = rows
            .iter()
            .map(|r| (get(r, 0), get(r, 1), get(r, 2)))
            .collect();
        let expected: BTreeSet<(String, String, i64)> = CATEGORIES
            .iter()
            .map(|(id, name, order)| (id.to_string(), name.to_string(), *order))
            .collect();
        assert_eq!(
            actual, expected,
            "{:?}: admin_config_categories (id, name, display_order)",
            db.backend
        );

        let rows = query(
            &db,
            "SELECT value FROM system_settings WHERE key = 'auto_approval_enabled'",
        )
        .await;
        let values: Vec<String> = rows.iter().map(|r| get(r, 0)).collect();
        assert_eq!(
            values,
            ["false"],
            "{:?}: system_settings auto_approval_enabled",
            db.backend
        );
    }
}
