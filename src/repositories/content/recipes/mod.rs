//! Recipes and their ingredients: `db.tenant(t).recipes()`.
//!
//! A recipe belongs to a user in a tenant; its ingredients have no tenant
//! column of their own and are reached only through a recipe of this scope
//! and that user. A recipe and its ingredients are written together in one
//! transaction, so no reader ever sees a recipe with half its ingredients,
//! and a failed update leaves the old ones. Every CHECK of the schema is an
//! `InvalidInput` before anything is written.

mod checks;
mod rows;
mod types;

use entity::recipe_ingredients as ingredients;
use entity::recipes;
use entity::sea_orm_active_enums::MealTiming;
use pierre_db_macros::metered;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Select,
};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{RecipeId, UserId};
use crate::pagination::{Page, PageRequest, Position};
use crate::query::Scoped;
use crate::query::text_search::{json_strings_contain, text_contains};
use crate::query::{Checked, Ctx, RunInsert, RunSelect, RunWrite};
use crate::query::{Prepared, expect_changed, prepared};
use crate::query::{keyset_order, keyset_page};
use crate::time;
use crate::validation;

use checks::ValidDraft;
use rows::{IngredientRow, RecipeRow};
pub use types::*;

/// A tenant's recipes: `db.tenant(t).recipes()`.
///
/// ```
/// use pierre_db::{Database, IngredientUnit, MasterKey, NewIngredient, NewTenant, NewUser, RecipeDraft};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let ada = db.users().create(NewUser::new("ada@example.org", "hash")).await?;
/// # let tenant = db.tenants().create(NewTenant::new("Acme", "acme", ada.id)).await?;
/// let recipes = db.tenant(tenant.id).recipes();
/// let mut oats = RecipeDraft::new("Overnight oats");
/// oats.ingredients = vec![
///     NewIngredient::new("Rolled oats", 80.0, IngredientUnit::Grams, 80.0),
///     NewIngredient::new("Milk", 200.0, IngredientUnit::Milliliters, 206.0),
/// ];
/// let stored = recipes.create(ada.id, oats).await?;
/// let read = recipes.get(ada.id, stored.recipe.id).await?;
/// assert_eq!(read.ingredients[1].name, "Milk");
/// # Ok(())
/// # }
/// ```
pub struct Recipes<'a> {
    scope: Scoped<'a>,
}

/// Limits and fixed values of this repository's data.
impl Recipes<'_> {
    /// Longest recipe name.
    pub const MAX_NAME: usize = 200;
    /// Longest description, in characters.
    pub const MAX_DESCRIPTION: usize = 4000;
    /// Most instruction steps.
    pub const MAX_STEPS: usize = 100;
    /// Longest instruction step, in characters.
    pub const MAX_STEP: usize = 4000;
    /// Most tags.
    pub const MAX_TAGS: usize = 32;
    /// Longest tag.
    pub const MAX_TAG: usize = 50;
    /// Most ingredients of one recipe.
    pub const MAX_INGREDIENTS: usize = 200;
    /// Longest ingredient name or preparation note.
    pub const MAX_INGREDIENT_TEXT: usize = 200;
    /// Most servings.
    pub const MAX_SERVINGS: u32 = 1000;
    /// Longest preparation or cooking time, in minutes (a week).
    pub const MAX_MINUTES: u32 = 7 * 24 * 60;
    /// Longest search text.
    pub const MAX_SEARCH: usize = 200;
}

impl<'a> Recipes<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Stores a recipe of `user` and its ingredients in ONE transaction.
    /// `InvalidInput` (nothing written) for any value the schema refuses;
    /// `ForeignKey` for an unknown user.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, ingredients = draft.ingredients.len()), err(Display))]
    pub async fn create(&self, user: UserId, draft: RecipeDraft) -> Result<RecipeWithIngredients> {
        let checked = ValidDraft::new(draft)?;
        let id = Uuid::now_v7();
        let now = time::stored(time::now());
        let ingredient_rows = checked.ingredient_rows(id);
        let insert = self.scope.insert(recipes::ActiveModel {
            id: Set(id),
            user_id: Set(user.as_uuid()),
            name: Set(checked.name),
            description: Set(checked.description),
            servings: Set(checked.servings),
            prep_time_mins: Set(checked.prep_time_mins),
            cook_time_mins: Set(checked.cook_time_mins),
            instructions: Set(checked.instructions),
            tags: Set(checked.tags),
            meal_timing: Set(checked.meal_timing),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })?;
        self.scope
            .in_write_tx(|tx| {
                Box::pin(async move {
                    insert.exec_without_returning_in(&tx).await?;
                    insert_ingredients(&tx, ingredient_rows).await
                })
            })
            .await?;
        self.get(user, RecipeId::from_uuid(id)).await
    }

    /// The user's recipe with its ingredients, in two queries. `NotFound`
    /// if it is not theirs in this tenant.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, recipe_id = %id))]
    pub async fn get(&self, user: UserId, id: RecipeId) -> Result<RecipeWithIngredients> {
        static RECIPE: Prepared = prepared!();
        static INGREDIENTS: Prepared = prepared!();
        let values = [id.into(), user.as_uuid().into()];
        let recipe =
            self.scope
                .prepared(&RECIPE, values, |mine: Checked<Select<recipes::Entity>>| {
                    mine.filter(recipes::Column::Id.eq(id))
                        .filter(recipes::Column::UserId.eq(user.as_uuid()))
                });
        let recipe = recipe
            .decoded_one::<RecipeRow>(&self.scope)
            .await?
            .ok_or_else(|| DatabaseError::not_found("recipe", id))?;
        // The recipe is the user's in this tenant: its ingredients may be
        // read by its id.
        let statement = INGREDIENTS.statement(self.scope.backend(), vec![id.into()], || {
            ingredients::Entity::find()
                .filter(ingredients::Column::RecipeId.eq(id))
                .order_by_asc(ingredients::Column::SortOrder)
        });
        // At most MAX_INGREDIENTS rows: a bounded read.
        let ingredients = statement
            .decoded_all(
                &self.scope,
                Some(<IngredientRow as crate::query::cells::Decode>::decode),
            )
            .await?;
        Ok(RecipeWithIngredients {
            recipe: recipe.0,
            ingredients: ingredients.into_iter().map(|row| row.0).collect(),
        })
    }

    /// The user's recipes that pass `filter`, newest first, one keyset
    /// page at a time: on `(tenant_id, user_id, created_at, id)`, or with
    /// a meal timing on `(tenant_id, user_id, meal_timing, created_at,
    /// id)`. The text filter is checked on the rows those indexes give.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, limit = request.limit()))]
    pub async fn list(
        &self,
        user: UserId,
        filter: &RecipeFilter,
        request: &PageRequest,
    ) -> Result<Page<Recipe>> {
        let text = validation::optional("text", filter.text.as_deref(), Recipes::MAX_SEARCH)?;
        let list = self
            .scope
            .list("recipes")
            .by(user)
            .by(filter.meal_timing)
            .by(&text);
        let page = keyset_page::<recipes::Model>(
            &self.scope,
            &list,
            request,
            self.filtered(user, filter.meal_timing, text.as_deref()),
        )
        .await?;
        page.try_map(Recipe::try_from)
    }

    /// How many of the user's recipes pass `filter`.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user))]
    pub async fn count(&self, user: UserId, filter: &RecipeFilter) -> Result<u64> {
        let text = validation::optional("text", filter.text.as_deref(), Recipes::MAX_SEARCH)?;
        self.filtered(user, filter.meal_timing, text.as_deref())
            .count_in(&self.scope)
            .await
    }

    /// Replaces the user's recipe and all its ingredients with `draft`, in
    /// ONE transaction: a failure anywhere leaves the old recipe and
    /// ingredients as they were. The cached nutrition is cleared (it was
    /// computed from the old ingredients). `NotFound` if the recipe is not
    /// the user's in this tenant.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, recipe_id = %id, ingredients = draft.ingredients.len()), err(Display))]
    pub async fn update(
        &self,
        user: UserId,
        id: RecipeId,
        draft: RecipeDraft,
    ) -> Result<RecipeWithIngredients> {
        let checked = ValidDraft::new(draft)?;
        let ingredient_rows = checked.ingredient_rows(id.as_uuid());
        let none = Expr::value(Option::<f64>::None);
        let mut replace = self
            .scope
            .update::<recipes::Entity>()
            .col_expr(recipes::Column::Name, Expr::value(checked.name))
            .col_expr(
                recipes::Column::Description,
                Expr::value(checked.description),
            )
            .col_expr(recipes::Column::Servings, Expr::value(checked.servings))
            .col_expr(
                recipes::Column::PrepTimeMins,
                Expr::value(checked.prep_time_mins),
            )
            .col_expr(
                recipes::Column::CookTimeMins,
                Expr::value(checked.cook_time_mins),
            )
            .col_expr(
                recipes::Column::Instructions,
                Expr::value(checked.instructions),
            )
            .col_expr(recipes::Column::Tags, Expr::value(checked.tags))
            .col_expr(
                recipes::Column::MealTiming,
                Expr::value(checked.meal_timing),
            )
            .col_expr(
                recipes::Column::NutritionValidatedAt,
                Expr::value(Option::<chrono::DateTime<chrono::FixedOffset>>::None),
            )
            .col_expr(
                recipes::Column::UpdatedAt,
                Expr::value(time::stored(time::now())),
            )
            .filter(recipes::Column::Id.eq(id))
            .filter(recipes::Column::UserId.eq(user.as_uuid()));
        for column in NUTRITION_COLUMNS {
            replace = replace.col_expr(column, none.clone());
        }
        self.scope
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let changed = replace.exec_in(&tx).await?.rows_affected;
                    expect_changed(changed, "recipe", id)?;
                    // The recipe is this user's in this tenant (just updated,
                    // and locked until commit): its ingredients may go.
                    ingredients::Entity::delete_many()
                        .filter(ingredients::Column::RecipeId.eq(id))
                        .exec_in(&tx)
                        .await?;
                    insert_ingredients(&tx, ingredient_rows).await
                })
            })
            .await?;
        self.get(user, id).await
    }

    /// Stores the nutrition computed for the user's recipe, stamped now.
    /// `InvalidInput` for a negative or non-finite value; `NotFound` if
    /// the recipe is not theirs.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, recipe_id = %id), err(Display))]
    pub async fn set_nutrition(
        &self,
        user: UserId,
        id: RecipeId,
        nutrition: Nutrition,
    ) -> Result<()> {
        let n = nutrition.checked()?;
        let values = [
            n.calories,
            n.protein_g,
            n.carbs_g,
            n.fat_g,
            n.fiber_g,
            n.sodium_mg,
            n.sugar_g,
        ];
        let mut update = self
            .scope
            .update::<recipes::Entity>()
            .col_expr(
                recipes::Column::NutritionValidatedAt,
                Expr::value(time::stored(time::now())),
            )
            .filter(recipes::Column::Id.eq(id))
            .filter(recipes::Column::UserId.eq(user.as_uuid()));
        for (column, value) in NUTRITION_COLUMNS.into_iter().zip(values) {
            update = update.col_expr(column, Expr::value(value));
        }
        let changed = update.exec_in(&self.scope).await?.rows_affected;
        expect_changed(changed, "recipe", id)
    }

    /// Deletes the user's recipe and (by the foreign key's cascade) its
    /// ingredients; whether it existed.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, recipe_id = %id), err(Display))]
    pub async fn delete(&self, user: UserId, id: RecipeId) -> Result<bool> {
        let deleted = self
            .scope
            .delete::<recipes::Entity>()
            .filter(recipes::Column::Id.eq(id))
            .filter(recipes::Column::UserId.eq(user.as_uuid()))
            .exec_in(&self.scope)
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// The SQL of the list's pages (each filter, first page and a page
    /// after a cursor), for tests that check their query plans.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn page_statements(&self, user: UserId) -> Vec<sea_orm::Statement> {
        use crate::query::in_page;
        let backend = self.scope.backend();
        let cursor = Some(Position {
            at: chrono::Utc::now(),
            id: Uuid::now_v7(),
        });
        let filters = [
            (None, None),
            (Some(MealTiming::PostTraining), None),
            (None, Some("50%")),
            (Some(MealTiming::RestDay), Some("oat")),
        ];
        let mut out = Vec::new();
        for (timing, text) in filters {
            for after in [None, cursor] {
                let select = self.filtered(user, timing, text);
                let page = in_page::<recipes::Model, _>(select, 50, after);
                out.push(page.build(backend).into_inner());
            }
        }
        out
    }

    /// The user's recipes of `timing`, containing `text`, unordered.
    fn filtered(
        &self,
        user: UserId,
        timing: Option<MealTiming>,
        text: Option<&str>,
    ) -> Checked<sea_orm::Select<recipes::Entity>> {
        let mut select = self
            .scope
            .find::<recipes::Entity>()
            .filter(recipes::Column::UserId.eq(user.as_uuid()));
        if let Some(timing) = timing {
            select = select.filter(recipes::Column::MealTiming.eq(timing));
        }
        if let Some(text) = text {
            let backend = self.scope.backend();
            select = select.filter(
                Condition::any()
                    .add(text_contains(backend, recipes::Column::Name, text))
                    .add(text_contains(backend, recipes::Column::Description, text))
                    .add(json_strings_contain(backend, recipes::Column::Tags, text)),
            );
        }
        select
    }
}

/// Inserts a recipe's ingredient rows in one statement (none: nothing).
async fn insert_ingredients(ctx: &Ctx<'_>, rows: Vec<ingredients::ActiveModel>) -> Result<()> {
    if !rows.is_empty() {
        ingredients::Entity::insert_many(rows).exec_in(ctx).await?;
    }
    Ok(())
}

/// The cached nutrition columns, in [`Nutrition`]'s order.
const NUTRITION_COLUMNS: [recipes::Column; 7] = [
    recipes::Column::CachedCalories,
    recipes::Column::CachedProteinG,
    recipes::Column::CachedCarbsG,
    recipes::Column::CachedFatG,
    recipes::Column::CachedFiberG,
    recipes::Column::CachedSodiumMg,
    recipes::Column::CachedSugarG,
];

// Recipes page newest first on `(…, created_at, id)`.
keyset_order!(
    recipes::Model,
    recipes::Column,
    (recipes::Column::CreatedAt, recipes::Column::Id),
    Descending,
    |last| Position {
        at: last.created_at.to_utc(),
        id: last.id,
    }
);
