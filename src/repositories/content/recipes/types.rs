//! The recipe types of the API, and the limits their fields are checked
//! against.

use chrono::{DateTime, Utc};
use entity::recipes;
use entity::sea_orm_active_enums::{IngredientUnit, MealTiming};

use crate::error::{DatabaseError, Result};
use crate::ids::{IngredientId, RecipeId, TenantId, UserId};
use crate::query::{string_list, unsigned, unsigned_opt};
use crate::validation;

/// A recipe's nutrition, as last computed for it (each value may be
/// unknown). Values are finite and never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Nutrition {
    /// Kilocalories.
    pub calories: Option<f64>,
    /// Protein, grams.
    pub protein_g: Option<f64>,
    /// Carbohydrates, grams.
    pub carbs_g: Option<f64>,
    /// Fat, grams.
    pub fat_g: Option<f64>,
    /// Fibre, grams.
    pub fiber_g: Option<f64>,
    /// Sodium, milligrams.
    pub sodium_mg: Option<f64>,
    /// Sugar, grams.
    pub sugar_g: Option<f64>,
}

impl Nutrition {
    /// Each value checked as the schema's real columns take them.
    pub(super) fn checked(self) -> Result<Self> {
        let value =
            |field, v: Option<f64>| v.map(|v| validation::quantity(field, v, false)).transpose();
        Ok(Self {
            calories: value("calories", self.calories)?,
            protein_g: value("protein_g", self.protein_g)?,
            carbs_g: value("carbs_g", self.carbs_g)?,
            fat_g: value("fat_g", self.fat_g)?,
            fiber_g: value("fiber_g", self.fiber_g)?,
            sodium_mg: value("sodium_mg", self.sodium_mg)?,
            sugar_g: value("sugar_g", self.sugar_g)?,
        })
    }
}

/// A stored recipe, without its ingredients (as lists give it).
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// The row id.
    pub id: RecipeId,
    /// Whose it is.
    pub user_id: UserId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// How many it serves (at least 1).
    pub servings: u32,
    /// Preparation time, minutes.
    pub prep_time_mins: Option<u32>,
    /// Cooking time, minutes.
    pub cook_time_mins: Option<u32>,
    /// The steps, in order.
    pub instructions: Vec<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// When in the training day it fits.
    pub meal_timing: MealTiming,
    /// The cached nutrition ([`Recipes::set_nutrition`](super::Recipes::set_nutrition)); cleared when the
    /// recipe is updated.
    pub nutrition: Nutrition,
    /// When the nutrition was last computed, if ever since the last update.
    pub nutrition_validated_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last updated.
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<recipes::Model> for Recipe {
    type Error = DatabaseError;

    fn try_from(m: recipes::Model) -> Result<Self> {
        Ok(Self {
            id: RecipeId::from_uuid(m.id),
            user_id: UserId::from_uuid(m.user_id),
            tenant_id: TenantId::from_uuid(m.tenant_id),
            name: m.name,
            description: m.description,
            servings: unsigned("recipes.servings", m.servings)?,
            prep_time_mins: unsigned_opt("recipes.prep_time_mins", m.prep_time_mins)?,
            cook_time_mins: unsigned_opt("recipes.cook_time_mins", m.cook_time_mins)?,
            instructions: string_list("recipes.instructions", m.instructions)?,
            tags: string_list("recipes.tags", m.tags)?,
            meal_timing: m.meal_timing,
            nutrition: Nutrition {
                calories: m.cached_calories,
                protein_g: m.cached_protein_g,
                carbs_g: m.cached_carbs_g,
                fat_g: m.cached_fat_g,
                fiber_g: m.cached_fiber_g,
                sodium_mg: m.cached_sodium_mg,
                sugar_g: m.cached_sugar_g,
            },
            nutrition_validated_at: m.nutrition_validated_at.map(|t| t.to_utc()),
            created_at: m.created_at.to_utc(),
            updated_at: m.updated_at.to_utc(),
        })
    }
}

/// An ingredient of a stored recipe.
#[derive(Clone, Debug, PartialEq)]
pub struct Ingredient {
    /// The row id.
    pub id: IngredientId,
    /// Its food in USDA FoodData Central, if known.
    pub fdc_id: Option<u32>,
    /// Its name.
    pub name: String,
    /// How much, in `unit` (greater than 0).
    pub amount: f64,
    /// The unit of `amount`.
    pub unit: IngredientUnit,
    /// The amount in grams (at least 0).
    pub grams: f64,
    /// How it is prepared ("diced").
    pub preparation: Option<String>,
}

/// A recipe with its ingredients in their order, as
/// [`Recipes::get`](super::Recipes::get) gives it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecipeWithIngredients {
    /// The recipe.
    pub recipe: Recipe,
    /// Its ingredients, in the order they were given.
    pub ingredients: Vec<Ingredient>,
}

/// An ingredient to store with a [`RecipeDraft`].
#[derive(Clone, Debug)]
pub struct NewIngredient {
    /// Its name.
    pub name: String,
    /// How much, in `unit`: finite, greater than 0.
    pub amount: f64,
    /// The unit of `amount`.
    pub unit: IngredientUnit,
    /// The amount in grams: finite, at least 0.
    pub grams: f64,
    /// Its food in USDA FoodData Central.
    pub fdc_id: Option<u32>,
    /// How it is prepared.
    pub preparation: Option<String>,
}

impl NewIngredient {
    /// `amount` of `name` in `unit`, weighing `grams`.
    pub fn new(name: impl Into<String>, amount: f64, unit: IngredientUnit, grams: f64) -> Self {
        Self {
            name: name.into(),
            amount,
            unit,
            grams,
            fdc_id: None,
            preparation: None,
        }
    }
}

/// What a recipe holds, to create one or to replace one whole.
#[derive(Clone, Debug)]
pub struct RecipeDraft {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// How many it serves: 1 to [`Recipes::MAX_SERVINGS`](super::Recipes::MAX_SERVINGS).
    pub servings: u32,
    /// Preparation time, minutes (at most [`Recipes::MAX_MINUTES`](super::Recipes::MAX_MINUTES)).
    pub prep_time_mins: Option<u32>,
    /// Cooking time, minutes (at most [`Recipes::MAX_MINUTES`](super::Recipes::MAX_MINUTES)).
    pub cook_time_mins: Option<u32>,
    /// The steps, in order.
    pub instructions: Vec<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// When in the training day it fits.
    pub meal_timing: MealTiming,
    /// Its ingredients, in order.
    pub ingredients: Vec<NewIngredient>,
}

impl RecipeDraft {
    /// A recipe named `name` for one serving, fitting any time, with no
    /// steps, tags or ingredients yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            servings: 1,
            prep_time_mins: None,
            cook_time_mins: None,
            instructions: Vec::new(),
            tags: Vec::new(),
            meal_timing: MealTiming::General,
            ingredients: Vec::new(),
        }
    }
}

/// Which of a user's recipes [`Recipes::list`](super::Recipes::list) and [`Recipes::count`](super::Recipes::count) take.
#[derive(Clone, Debug, Default)]
pub struct RecipeFilter {
    /// Only recipes of this meal timing.
    pub meal_timing: Option<MealTiming>,
    /// Only recipes whose name, description or a tag contains this text,
    /// literally (`%` and `_` are not wildcards), ignoring the case of
    /// ASCII letters (of every letter on PostgreSQL). Blank means no text
    /// filter.
    pub text: Option<String>,
}
