//! M19: recipes, recipe_ingredients.

use sea_orm_migration::prelude::*;

use crate::builders::*;
use crate::enums::*;

const CACHED_NUTRITION: [&str; 7] = [
    "cached_calories",
    "cached_protein_g",
    "cached_carbs_g",
    "cached_fat_g",
    "cached_fiber_g",
    "cached_sodium_mg",
    "cached_sugar_g",
];

/// The tables `down` drops, children first.
pub const DROPPED_TABLES: [&str; 2] = ["recipe_ingredients", "recipes"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        create_types(manager, &[MEAL_TIMING, INGREDIENT_UNIT]).await?;

        const REC: &str = "recipes";
        let mut recipes = Table::create();
        recipes
            .table(REC)
            .col(pk("id"))
            .col(uuid("user_id"))
            .col(uuid("tenant_id"))
            .col(text("name"))
            .col(text_null("description"))
            .col(int_default("servings", 1).check(Expr::col("servings").gt(0)))
            .col(int_null("prep_time_mins").check(Expr::col("prep_time_mins").gte(0)))
            .col(int_null("cook_time_mins").check(Expr::col("cook_time_mins").gte(0)))
            .col(json("instructions"))
            .col(json_default("tags", "[]"))
            .col(enum_col_default(
                backend,
                "meal_timing",
                MEAL_TIMING,
                "general",
            ));
        for column in CACHED_NUTRITION {
            recipes.col(real_null(column));
        }
        recipes
            .col(time_null("nutrition_validated_at"))
            .col(time("created_at"))
            .col(time("updated_at"))
            .foreign_key(&mut fk_user(REC, "user_id"))
            .foreign_key(&mut fk_tenant(REC));
        create_table_with_indexes(
            manager,
            recipes.to_owned(),
            vec![
                index(REC, &["tenant_id", "user_id", "created_at", "id"]),
                index(REC, &["user_id"]),
            ],
        )
        .await?;

        const ING: &str = "recipe_ingredients";
        create_table_with_indexes(
            manager,
            Table::create()
                .table(ING)
                .col(pk("id"))
                .col(uuid("recipe_id"))
                .col(int_null("fdc_id"))
                .col(text("name"))
                .col(real("amount").check(Expr::col("amount").gt(0)))
                .col(enum_col_default(backend, "unit", INGREDIENT_UNIT, "grams"))
                .col(real("grams").check(Expr::col("grams").gte(0)))
                .col(text_null("preparation"))
                .col(int_default("sort_order", 0))
                .foreign_key(&mut fk(
                    ING,
                    "recipe_id",
                    REC,
                    "id",
                    ForeignKeyAction::Cascade,
                ))
                .to_owned(),
            vec![index(ING, &["recipe_id", "sort_order"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &DROPPED_TABLES).await?;
        drop_types(manager, &[INGREDIENT_UNIT, MEAL_TIMING]).await
    }
}
