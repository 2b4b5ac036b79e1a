//! Recipes and their ingredients: `db.tenant(t).recipes()`.
//!
//! A recipe belongs to a user in a tenant; its ingredients have no tenant
//! column of their own and are reached only through a recipe of this scope
//! and that user. A recipe and its ingredients are written together in one
//! transaction, so no reader ever sees a recipe with half its ingredients,
//! and a failed update leaves the old ones. Every CHECK of the schema is an
//! `InvalidInput` before anything is written.

use chrono::{DateTime, Utc};
use entity::recipe_ingredients as ingredients;
use entity::recipes;
use entity::sea_orm_active_enums::{IngredientUnit, MealTiming};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, Select,
};
use tracing::instrument;
use uuid::Uuid;

use crate::error::{DatabaseError, Result};
use crate::ids::{TenantId, UserId};
use crate::pagination::{Page, PageRequest, Position, keyset_page_as};
use crate::query::cells::{Cell, checked, read_enum};
use crate::query::text_search::{json_strings_contain, text_contains};
use crate::query::{Prepared, expect_changed, string_list, unsigned, unsigned_opt};
use crate::scope::Scoped;
use crate::time;
use crate::transactions::in_write_tx;
use crate::validation;

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
    fn checked(self) -> Result<Self> {
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
    pub id: Uuid,
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
    /// The cached nutrition ([`Recipes::set_nutrition`]); cleared when the
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
            id: m.id,
            user_id: m.user_id.into(),
            tenant_id: m.tenant_id.into(),
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

/// A [`Recipe`] read by column position from `recipes::Entity::find()`
/// (`get` is a hot path; see the `cells` module).
struct RecipeRow(Recipe);

impl FromQueryResult for RecipeRow {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> std::result::Result<Self, DbErr> {
        let real = |i| Option::<f64>::read(row, i);
        Ok(Self(Recipe {
            id: Uuid::read(row, 0)?,
            user_id: Uuid::read(row, 1)?.into(),
            tenant_id: Uuid::read(row, 2)?.into(),
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
struct IngredientRow(Ingredient);

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

/// An ingredient of a stored recipe.
#[derive(Clone, Debug, PartialEq)]
pub struct Ingredient {
    /// The row id.
    pub id: Uuid,
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
/// [`Recipes::get`] gives it.
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
    /// How many it serves: 1 to [`MAX_SERVINGS`].
    pub servings: u32,
    /// Preparation time, minutes (at most [`MAX_MINUTES`]).
    pub prep_time_mins: Option<u32>,
    /// Cooking time, minutes (at most [`MAX_MINUTES`]).
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

/// Which of a user's recipes [`Recipes::list`] and [`Recipes::count`] take.
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

/// A draft checked against every rule of the schema, ready to write.
struct Checked {
    name: String,
    description: Option<String>,
    servings: i32,
    prep_time_mins: Option<i32>,
    cook_time_mins: Option<i32>,
    instructions: serde_json::Value,
    tags: serde_json::Value,
    meal_timing: MealTiming,
    ingredients: Vec<ingredients::Model>,
}

impl Checked {
    fn new(draft: RecipeDraft) -> Result<Self> {
        let minutes = |field, v: Option<u32>| {
            v.map(|m| validation::int_range::<u32, i32>(field, m, 0..=MAX_MINUTES))
                .transpose()
        };
        let instructions =
            validation::list_of("instructions", &draft.instructions, MAX_STEPS, |s| {
                validation::optional_multiline("instructions", Some(s), MAX_STEP)?
                    .ok_or_else(|| DatabaseError::invalid("instructions", "must not be empty"))
            })?;
        let tags = validation::list_of("tags", &draft.tags, MAX_TAGS, |t| {
            validation::required("tags", t, MAX_TAG)
        })?;
        let ingredients = validation::list_of(
            "ingredients",
            &draft.ingredients,
            MAX_INGREDIENTS,
            ingredient_row,
        )?;
        Ok(Self {
            name: validation::required("name", &draft.name, MAX_NAME)?,
            description: validation::optional_multiline(
                "description",
                draft.description.as_deref(),
                MAX_DESCRIPTION,
            )?,
            servings: validation::int_range("servings", draft.servings, 1..=MAX_SERVINGS)?,
            prep_time_mins: minutes("prep_time_mins", draft.prep_time_mins)?,
            cook_time_mins: minutes("cook_time_mins", draft.cook_time_mins)?,
            instructions: serde_json::json!(instructions),
            tags: serde_json::json!(tags),
            meal_timing: draft.meal_timing,
            ingredients,
        })
    }

    /// The ingredient rows of recipe `id`, numbered in order.
    fn ingredient_rows(&self, recipe: Uuid) -> Vec<ingredients::ActiveModel> {
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
        name: validation::required("name", &new.name, MAX_INGREDIENT_TEXT)?,
        amount: validation::quantity("amount", new.amount, true)?,
        unit: new.unit,
        grams: validation::quantity("grams", new.grams, false)?,
        preparation: validation::optional(
            "preparation",
            new.preparation.as_deref(),
            MAX_INGREDIENT_TEXT,
        )?,
        sort_order: 0,
    })
}

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

impl<'a> Recipes<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Stores a recipe of `user` and its ingredients in ONE transaction.
    /// `InvalidInput` (nothing written) for any value the schema refuses;
    /// `ForeignKey` for an unknown user.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, ingredients = draft.ingredients.len()), err(Display))]
    pub async fn create(&self, user: UserId, draft: RecipeDraft) -> Result<RecipeWithIngredients> {
        let checked = Checked::new(draft)?;
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
        in_write_tx(&self.scope, |tx| {
            Box::pin(async move {
                insert.exec_without_returning(&tx.conn()).await?;
                insert_ingredients(&tx.conn(), ingredient_rows).await
            })
        })
        .await?;
        self.get(user, id).await
    }

    /// The user's recipe with its ingredients, in two queries. `NotFound`
    /// if it is not theirs in this tenant.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, recipe_id = %id))]
    pub async fn get(&self, user: UserId, id: Uuid) -> Result<RecipeWithIngredients> {
        static RECIPE: Prepared = Prepared::new();
        static INGREDIENTS: Prepared = Prepared::new();
        let values = [id.into(), user.as_uuid().into()];
        let recipe = self
            .scope
            .prepared(&RECIPE, values, |mine: Select<recipes::Entity>| {
                mine.filter(recipes::Column::Id.eq(id))
                    .filter(recipes::Column::UserId.eq(user.as_uuid()))
            });
        let recipe = RecipeRow::find_by_statement(recipe)
            .one(&self.scope.conn())
            .await?
            .ok_or_else(|| DatabaseError::not_found("recipe", id))?;
        // The recipe is the user's in this tenant: its ingredients may be
        // read by its id.
        let statement = INGREDIENTS.statement(self.scope.backend(), vec![id.into()], || {
            ingredients::Entity::find()
                .filter(ingredients::Column::RecipeId.eq(id))
                .order_by_asc(ingredients::Column::SortOrder)
        });
        let ingredients = IngredientRow::find_by_statement(statement)
            .all(&self.scope.conn())
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
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, limit = request.limit()))]
    pub async fn list(
        &self,
        user: UserId,
        filter: &RecipeFilter,
        request: &PageRequest,
    ) -> Result<Page<Recipe>> {
        let text = validation::optional("text", filter.text.as_deref(), MAX_SEARCH)?;
        let timing = filter.meal_timing.map(|t| format!("{t:?}"));
        let scope = self.scope.cursor_scope(&format!(
            "recipes:{user}:{}:{}",
            timing.unwrap_or_default(),
            text.as_deref().unwrap_or_default()
        ));
        let page = keyset_page_as(
            &self.scope.conn(),
            self.scope.cursors(),
            &scope,
            request,
            self.filtered(user, filter.meal_timing, text.as_deref()),
            (RECIPE_ORDER, Order::Desc),
            |last: &recipes::Model| Position {
                at: last.created_at.to_utc(),
                id: last.id,
            },
        )
        .await?;
        page.try_map(Recipe::try_from)
    }

    /// How many of the user's recipes pass `filter`.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user))]
    pub async fn count(&self, user: UserId, filter: &RecipeFilter) -> Result<u64> {
        let text = validation::optional("text", filter.text.as_deref(), MAX_SEARCH)?;
        let n: Option<i64> = self
            .filtered(user, filter.meal_timing, text.as_deref())
            .select_only()
            .column_as(Expr::col(Asterisk).count(), "n")
            .into_tuple()
            .one(&self.scope.conn())
            .await?;
        unsigned("count", n.unwrap_or(0))
    }

    /// Replaces the user's recipe and all its ingredients with `draft`, in
    /// ONE transaction: a failure anywhere leaves the old recipe and
    /// ingredients as they were. The cached nutrition is cleared (it was
    /// computed from the old ingredients). `NotFound` if the recipe is not
    /// the user's in this tenant.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, recipe_id = %id, ingredients = draft.ingredients.len()), err(Display))]
    pub async fn update(
        &self,
        user: UserId,
        id: Uuid,
        draft: RecipeDraft,
    ) -> Result<RecipeWithIngredients> {
        let checked = Checked::new(draft)?;
        let ingredient_rows = checked.ingredient_rows(id);
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
        in_write_tx(&self.scope, |tx| {
            Box::pin(async move {
                let changed = replace.exec(&tx.conn()).await?.rows_affected;
                expect_changed(changed, "recipe", id)?;
                // The recipe is this user's in this tenant (just updated,
                // and locked until commit): its ingredients may go.
                ingredients::Entity::delete_many()
                    .filter(ingredients::Column::RecipeId.eq(id))
                    .exec(&tx.conn())
                    .await?;
                insert_ingredients(&tx.conn(), ingredient_rows).await
            })
        })
        .await?;
        self.get(user, id).await
    }

    /// Stores the nutrition computed for the user's recipe, stamped now.
    /// `InvalidInput` for a negative or non-finite value; `NotFound` if
    /// the recipe is not theirs.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, recipe_id = %id), err(Display))]
    pub async fn set_nutrition(&self, user: UserId, id: Uuid, nutrition: Nutrition) -> Result<()> {
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
        let changed = update.exec(&self.scope.conn()).await?.rows_affected;
        expect_changed(changed, "recipe", id)
    }

    /// Deletes the user's recipe and (by the foreign key's cascade) its
    /// ingredients; whether it existed.
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %user, recipe_id = %id), err(Display))]
    pub async fn delete(&self, user: UserId, id: Uuid) -> Result<bool> {
        let deleted = self
            .scope
            .delete::<recipes::Entity>()
            .filter(recipes::Column::Id.eq(id))
            .filter(recipes::Column::UserId.eq(user.as_uuid()))
            .exec(&self.scope.conn())
            .await?
            .rows_affected;
        Ok(deleted > 0)
    }

    /// The SQL of the list's pages (each filter, first page and a page
    /// after a cursor), for tests that check their query plans.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn page_statements(&self, user: UserId) -> Vec<sea_orm::Statement> {
        use crate::pagination::in_page;
        use sea_orm::QueryTrait;
        let backend = self.scope.backend();
        let cursor = Some(Position {
            at: Utc::now(),
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
                let page = in_page(select, RECIPE_ORDER, 50, after, Order::Desc);
                out.push(page.build(backend));
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
    ) -> sea_orm::Select<recipes::Entity> {
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
async fn insert_ingredients(
    conn: &impl sea_orm::ConnectionTrait,
    rows: Vec<ingredients::ActiveModel>,
) -> Result<()> {
    if !rows.is_empty() {
        ingredients::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Recipes page newest first on `(…, created_at, id)`.
const RECIPE_ORDER: (recipes::Column, recipes::Column) =
    (recipes::Column::CreatedAt, recipes::Column::Id);

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
