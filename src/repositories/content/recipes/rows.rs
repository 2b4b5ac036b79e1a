//! Recipes and ingredients read by column position (`get` is a hot path;
//! see `query::cells`).

use sea_orm::DbErr;
use uuid::Uuid;

use entity::recipe_ingredients as ingredients;
use entity::recipes;

use crate::ids::{IngredientId, RecipeId, TenantId, UserId};
use crate::query::cells::{Cell, Decode, Row, at, checked, decoded_rows, read_enum};
use crate::query::{string_list, unsigned, unsigned_opt};

use super::types::*;

/// A [`Recipe`] read by column position from `recipes::Entity::find()`
/// (`get` is a hot path; see the `cells` module).
pub(super) struct RecipeRow(pub(super) Recipe);

decoded_rows!(RecipeRow);

impl Decode for RecipeRow {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        let real = |i| Option::<f64>::read(row, i);
        Ok(Self(Recipe {
            id: RecipeId::from_uuid(Uuid::read(row, at!(recipes::Column::Id))?),
            user_id: UserId::from_uuid(Uuid::read(row, at!(recipes::Column::UserId))?),
            tenant_id: TenantId::from_uuid(Uuid::read(row, at!(recipes::Column::TenantId))?),
            name: String::read(row, at!(recipes::Column::Name))?,
            description: Cell::read(row, at!(recipes::Column::Description))?,
            servings: checked(unsigned(
                "recipes.servings",
                i32::read(row, at!(recipes::Column::Servings))?,
            ))?,
            prep_time_mins: checked(unsigned_opt(
                "recipes.prep_time_mins",
                Option::<i32>::read(row, at!(recipes::Column::PrepTimeMins))?,
            ))?,
            cook_time_mins: checked(unsigned_opt(
                "recipes.cook_time_mins",
                Option::<i32>::read(row, at!(recipes::Column::CookTimeMins))?,
            ))?,
            instructions: checked(string_list(
                "recipes.instructions",
                Cell::read(row, at!(recipes::Column::Instructions))?,
            ))?,
            tags: checked(string_list(
                "recipes.tags",
                Cell::read(row, at!(recipes::Column::Tags))?,
            ))?,
            meal_timing: read_enum(row, at!(recipes::Column::MealTiming))?,
            nutrition: Nutrition {
                calories: real(at!(recipes::Column::CachedCalories))?,
                protein_g: real(at!(recipes::Column::CachedProteinG))?,
                carbs_g: real(at!(recipes::Column::CachedCarbsG))?,
                fat_g: real(at!(recipes::Column::CachedFatG))?,
                fiber_g: real(at!(recipes::Column::CachedFiberG))?,
                sodium_mg: real(at!(recipes::Column::CachedSodiumMg))?,
                sugar_g: real(at!(recipes::Column::CachedSugarG))?,
            },
            nutrition_validated_at: Cell::read(row, at!(recipes::Column::NutritionValidatedAt))?,
            created_at: Cell::read(row, at!(recipes::Column::CreatedAt))?,
            updated_at: Cell::read(row, at!(recipes::Column::UpdatedAt))?,
        }))
    }
}

/// An [`Ingredient`] read by column position from
/// `recipe_ingredients::Entity::find()`.
pub(super) struct IngredientRow(pub(super) Ingredient);

decoded_rows!(IngredientRow);

impl Decode for IngredientRow {
    fn decode(row: Row<'_>) -> std::result::Result<Self, DbErr> {
        let fdc_id = checked(unsigned_opt(
            "recipe_ingredients.fdc_id",
            Option::<i32>::read(row, at!(ingredients::Column::FdcId))?,
        ))?;
        Ok(Self(Ingredient {
            id: IngredientId::from_uuid(Uuid::read(row, at!(ingredients::Column::Id))?),
            fdc_id,
            name: String::read(row, at!(ingredients::Column::Name))?,
            amount: f64::read(row, at!(ingredients::Column::Amount))?,
            unit: read_enum(row, at!(ingredients::Column::Unit))?,
            grams: f64::read(row, at!(ingredients::Column::Grams))?,
            preparation: Cell::read(row, at!(ingredients::Column::Preparation))?,
        }))
    }
}
