//! Recipes and ingredients read by column position (`get` is a hot path;
//! see `query::cells`).

use sea_orm::{DbErr, FromQueryResult, QueryResult};
use uuid::Uuid;

use crate::ids::{RecipeId, TenantId, UserId};
use crate::query::cells::{Cell, checked, read_enum};
use crate::query::{string_list, unsigned, unsigned_opt};

use super::types::*;

/// A [`Recipe`] read by column position from `recipes::Entity::find()`
/// (`get` is a hot path; see the `cells` module).
pub(super) struct RecipeRow(pub(super) Recipe);

impl FromQueryResult for RecipeRow {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> std::result::Result<Self, DbErr> {
        let real = |i| Option::<f64>::read(row, i);
        Ok(Self(Recipe {
            id: RecipeId::from_uuid(Uuid::read(row, 0)?),
            user_id: UserId::from_uuid(Uuid::read(row, 1)?),
            tenant_id: TenantId::from_uuid(Uuid::read(row, 2)?),
            name: String::read(row, 3)?,
            description: Cell::read(row, 4)?,
            servings: checked(unsigned("recipes.servings", i32::read(row, 5)?))?,
            prep_time_mins: checked(unsigned_opt(
                "recipes.prep_time_mins",
                Option::<i32>::read(row, 6)?,
            ))?,
            cook_time_mins: checked(unsigned_opt(
                "recipes.cook_time_mins",
                Option::<i32>::read(row, 7)?,
            ))?,
            instructions: checked(string_list("recipes.instructions", Cell::read(row, 8)?))?,
            tags: checked(string_list("recipes.tags", Cell::read(row, 9)?))?,
            meal_timing: read_enum(row, 10)?,
            nutrition: Nutrition {
                calories: real(11)?,
                protein_g: real(12)?,
                carbs_g: real(13)?,
                fat_g: real(14)?,
                fiber_g: real(15)?,
                sodium_mg: real(16)?,
                sugar_g: real(17)?,
            },
            nutrition_validated_at: Cell::read(row, 18)?,
            created_at: Cell::read(row, 19)?,
            updated_at: Cell::read(row, 20)?,
        }))
    }
}

/// An [`Ingredient`] read by column position from
/// `recipe_ingredients::Entity::find()`.
pub(super) struct IngredientRow(pub(super) Ingredient);

impl FromQueryResult for IngredientRow {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> std::result::Result<Self, DbErr> {
        let fdc_id = checked(unsigned_opt(
            "recipe_ingredients.fdc_id",
            Option::<i32>::read(row, 2)?,
        ))?;
        Ok(Self(Ingredient {
            id: Uuid::read(row, 0)?,
            fdc_id,
            name: String::read(row, 3)?,
            amount: f64::read(row, 4)?,
            unit: read_enum(row, 5)?,
            grams: f64::read(row, 6)?,
            preparation: Cell::read(row, 7)?,
        }))
    }
}
