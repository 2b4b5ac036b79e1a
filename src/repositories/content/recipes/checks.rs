//! A draft checked against every rule of the schema before anything is
//! written.

use super::Recipes;
use entity::recipe_ingredients as ingredients;
use entity::sea_orm_active_enums::MealTiming;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::validation;

use super::types::*;

/// A draft checked against every rule of the schema, ready to write.
pub(super) struct ValidDraft {
    pub(super) name: String,
    pub(super) description: Option<String>,
    pub(super) servings: i32,
    pub(super) prep_time_mins: Option<i32>,
    pub(super) cook_time_mins: Option<i32>,
    pub(super) instructions: serde_json::Value,
    pub(super) tags: serde_json::Value,
    pub(super) meal_timing: MealTiming,
    pub(super) ingredients: Vec<ingredients::Model>,
}

impl ValidDraft {
    pub(super) fn new(draft: RecipeDraft) -> Result<Self> {
        let minutes = |field, v: Option<u32>| {
            v.map(|m| validation::int_range::<u32, i32>(field, m, 0..=Recipes::MAX_MINUTES))
                .transpose()
        };
        let instructions = validation::list_of(
            "instructions",
            &draft.instructions,
            Recipes::MAX_STEPS,
            |s| {
                validation::optional_multiline("instructions", Some(s), Recipes::MAX_STEP)?
                    .ok_or_else(|| DatabaseError::invalid("instructions", "must not be empty"))
            },
        )?;
        let tags = validation::list_of("tags", &draft.tags, Recipes::MAX_TAGS, |t| {
            validation::required("tags", t, Recipes::MAX_TAG)
        })?;
        let ingredients = validation::list_of(
            "ingredients",
            &draft.ingredients,
            Recipes::MAX_INGREDIENTS,
            ingredient_row,
        )?;
        Ok(Self {
            name: validation::required("name", &draft.name, Recipes::MAX_NAME)?,
            description: validation::optional_multiline(
                "description",
                draft.description.as_deref(),
                Recipes::MAX_DESCRIPTION,
            )?,
            servings: validation::int_range("servings", draft.servings, 1..=Recipes::MAX_SERVINGS)?,
            prep_time_mins: minutes("prep_time_mins", draft.prep_time_mins)?,
            cook_time_mins: minutes("cook_time_mins", draft.cook_time_mins)?,
            instructions: serde_json::json!(instructions),
            tags: serde_json::json!(tags),
            meal_timing: draft.meal_timing,
            ingredients,
        })
    }

    /// The ingredient rows of recipe `id`, numbered in order.
    pub(super) fn ingredient_rows(&self, recipe: Uuid) -> Vec<ingredients::ActiveModel> {
        self.ingredients
            .iter()
            .zip(0..)
            .map(|(row, order)| {
                let mut row = row.clone();
                (row.id, row.recipe_id, row.sort_order) = (Uuid::now_v7(), recipe, order);
                sea_orm::ActiveModelTrait::reset_all(ingredients::ActiveModel::from(row))
            })
            .collect()
    }
}

/// One ingredient checked; its ids and order are set when it is written.
fn ingredient_row(new: &NewIngredient) -> Result<ingredients::Model> {
    Ok(ingredients::Model {
        id: Uuid::nil(),
        recipe_id: Uuid::nil(),
        fdc_id: new
            .fdc_id
            .map(|id| validation::int_range("fdc_id", id, 0..=i32::MAX as u32))
            .transpose()?,
        name: validation::required("name", &new.name, Recipes::MAX_INGREDIENT_TEXT)?,
        amount: validation::quantity("amount", new.amount, true)?,
        unit: new.unit,
        grams: validation::quantity("grams", new.grams, false)?,
        preparation: validation::optional(
            "preparation",
            new.preparation.as_deref(),
            Recipes::MAX_INGREDIENT_TEXT,
        )?,
        sort_order: 0,
    })
}
