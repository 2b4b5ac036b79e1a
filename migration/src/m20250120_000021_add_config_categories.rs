//! M21: six more admin config categories. Idempotent; `down` removes exactly these.

use sea_orm_migration::prelude::*;

use crate::m20250120_000020_admin_config_schema::{Category, seed_categories};

/// The categories this migration seeds (and its `down` deletes).
pub const CATEGORIES: [Category; 6] = [
    Category {
        id: "cat_cache_ttl",
        name: "cache_ttl",
        display_name: "Cache TTL",
        display_order: 140,
    },
    Category {
        id: "cat_provider_strava",
        name: "provider_strava",
        display_name: "Strava Provider",
        display_order: 150,
    },
    Category {
        id: "cat_provider_fitbit",
        name: "provider_fitbit",
        display_name: "Fitbit Provider",
        display_order: 160,
    },
    Category {
        id: "cat_provider_garmin",
        name: "provider_garmin",
        display_name: "Garmin Provider",
        display_order: 170,
    },
    Category {
        id: "cat_mcp_network",
        name: "mcp_network",
        display_name: "MCP Network",
        display_order: 180,
    },
    Category {
        id: "cat_monitoring",
        name: "monitoring",
        display_name: "Monitoring",
        display_order: 190,
    },
];

/// The rows `down` deletes: those with the ids of [`CATEGORIES`], edited or
/// not. Only edited ones count as lost (see `crate::down_plan`): the others
/// are exactly what `up` added.
pub fn deleted() -> Condition {
    Condition::all().add(Expr::col("id").is_in(CATEGORIES.iter().map(|c| c.id)))
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        seed_categories(manager, &CATEGORIES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .execute(
                Query::delete()
                    .from_table("admin_config_categories")
                    .cond_where(deleted())
                    .to_owned(),
            )
            .await
    }
}
