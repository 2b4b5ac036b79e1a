//! M20: admin_config_overrides, admin_config_audit, admin_config_categories
//! (seeded with the first 13 categories).

use sea_orm_migration::prelude::*;

use crate::builders::*;
use crate::enums::*;

/// A seeded row of `admin_config_categories`.
pub struct Category {
    /// Primary key, e.g. `cat_rate_limiting`.
    pub id: &'static str,
    /// Unique machine name.
    pub name: &'static str,
    /// Name shown to administrators.
    pub display_name: &'static str,
    /// Sort position.
    pub display_order: i32,
}

const fn cat(
    id: &'static str,
    name: &'static str,
    display_name: &'static str,
    display_order: i32,
) -> Category {
    Category {
        id,
        name,
        display_name,
        display_order,
    }
}

/// The categories M20 seeds.
pub const CATEGORIES: [Category; 13] = [
    cat("cat_rate_limiting", "rate_limiting", "Rate Limiting", 10),
    cat("cat_feature_flags", "feature_flags", "Feature Flags", 20),
    cat("cat_heart_rate", "heart_rate_zones", "Heart Rate Zones", 30),
    cat("cat_training_zones", "training_zones", "Training Zones", 40),
    cat("cat_effort", "effort_thresholds", "Effort Thresholds", 50),
    cat(
        "cat_recommendation",
        "recommendation_engine",
        "Recommendation Engine",
        60,
    ),
    cat("cat_sleep", "sleep_recovery", "Sleep & Recovery", 70),
    cat("cat_tsb", "training_stress", "Training Stress", 80),
    cat("cat_weather", "weather_analysis", "Weather Analysis", 90),
    cat("cat_nutrition", "nutrition", "Nutrition", 100),
    cat("cat_algorithms", "algorithms", "Algorithms", 110),
    cat("cat_tokio_runtime", "tokio_runtime", "Tokio Runtime", 120),
    cat("cat_sqlx_config", "sqlx_config", "Database Pool", 130),
];

/// The rows of `categories` as [`seed_categories`] writes them (the other
/// columns at their defaults): removing one of those loses nothing, an
/// operator's edit of one does count.
pub fn seeded(categories: &[Category]) -> Condition {
    categories.iter().fold(Condition::any(), |any, c| {
        any.add(
            Condition::all()
                .add(Expr::col("id").eq(c.id))
                .add(Expr::col("name").eq(c.name))
                .add(Expr::col("display_name").eq(c.display_name))
                .add(Expr::col("display_order").eq(c.display_order))
                .add(Expr::col("description").is_null())
                .add(Expr::col("icon").is_null())
                .add(Expr::col("is_active").eq(true)),
        )
    })
}

/// Inserts the categories, leaving any that already exist untouched.
pub async fn seed_categories(
    manager: &SchemaManager<'_>,
    categories: &[Category],
) -> Result<(), DbErr> {
    let mut insert = Query::insert();
    insert.into_table("admin_config_categories").columns([
        "id",
        "name",
        "display_name",
        "display_order",
    ]);
    for c in categories {
        insert
            .values([
                c.id.into(),
                c.name.into(),
                c.display_name.into(),
                c.display_order.into(),
            ])
            .map_err(|err| DbErr::Migration(err.to_string()))?;
    }
    insert.on_conflict(OnConflict::column("id").do_nothing().to_owned());
    manager.execute(insert).await
}

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 3] = [
    "admin_config_categories",
    "admin_config_audit",
    "admin_config_overrides",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        create_types(manager, &[CONFIG_DATA_TYPE]).await?;

        const OVR: &str = "admin_config_overrides";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(OVR)
                .col(pk("id"))
                .col(text("category"))
                .col(text("config_key"))
                .col(text("config_value"))
                .col(enum_col(backend, "data_type", CONFIG_DATA_TYPE))
                .col(uuid_null("tenant_id"))
                .col(uuid("created_by"))
                .col(time("created_at"))
                .col(time("updated_at"))
                .col(text_null("reason"))
                .foreign_key(&mut fk_tenant(OVR))
                .foreign_key(&mut fk(
                    OVR,
                    "created_by",
                    "users",
                    "id",
                    ForeignKeyAction::Restrict,
                ))
                .to_owned(),
            // Unique per tenant, and once among the global (NULL-tenant) rows.
            vec![
                unique(OVR, &["category", "config_key", "tenant_id"])
                    .and_where(Expr::col("tenant_id").is_not_null())
                    .to_owned(),
                unique(OVR, &["category", "config_key"])
                    .name("ux_admin_config_overrides_global")
                    .and_where(Expr::col("tenant_id").is_null())
                    .to_owned(),
                index(OVR, &["tenant_id"]),
                index(OVR, &["created_by"]),
            ],
        )
        .await?;

        const AUD: &str = "admin_config_audit";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(AUD)
                .col(pk("id"))
                .col(time("timestamp"))
                .col(uuid("admin_user_id"))
                .col(text("admin_email"))
                .col(text("category"))
                .col(text("config_key"))
                .col(text_null("old_value"))
                .col(text("new_value"))
                .col(text("data_type"))
                .col(text_null("reason"))
                .col(uuid_null("tenant_id"))
                .col(text_null("ip_address"))
                .col(text_null("user_agent"))
                .foreign_key(&mut fk(
                    AUD,
                    "admin_user_id",
                    "users",
                    "id",
                    ForeignKeyAction::Restrict,
                ))
                .foreign_key(&mut fk_tenant(AUD))
                .to_owned(),
            vec![
                index(AUD, &["tenant_id", "timestamp"]),
                index(AUD, &["category", "config_key", "timestamp"]),
                index(AUD, &["admin_user_id"]),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("admin_config_categories")
                    .col(text_pk("id"))
                    .col(text("name").unique_key())
                    .col(text("display_name"))
                    .col(text_null("description"))
                    .col(int_default("display_order", 0))
                    .col(text_null("icon"))
                    .col(flag("is_active", true))
                    .to_owned(),
            )
            .await?;
        seed_categories(manager, &CATEGORIES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await?;
        drop_types(manager, &[CONFIG_DATA_TYPE]).await
    }
}
