//! Recipes and their ingredients.

use pierre_db::RecipeId;
use pierre_db::{
    DatabaseError, IngredientUnit, MealTiming, NewIngredient, Nutrition, PageRequest, RecipeDraft,
    RecipeFilter,
};
use sea_orm::ConnectionTrait;

use crate::common;

/// A draft named `name` with `n` ingredients `"{name} 0"`, `"{name} 1"`, ….
fn draft(name: &str, n: usize) -> RecipeDraft {
    let mut d = RecipeDraft::new(name);
    d.servings = 2;
    d.prep_time_mins = Some(10);
    d.instructions = vec!["Mix.".into(), "Wait overnight.".into()];
    d.tags = vec!["breakfast".into()];
    d.ingredients = (0..n)
        .map(|i| {
            let mut ing = NewIngredient::new(
                format!("{name} {i}"),
                1.0 + i as f64,
                IngredientUnit::Grams,
                1.0 + i as f64,
            );
            ing.fdc_id = Some(170_000 + i as u32);
            ing
        })
        .collect();
    d
}

fn names(ingredients: &[pierre_db::Ingredient]) -> Vec<&str> {
    ingredients.iter().map(|i| i.name.as_str()).collect()
}

/// Ingredient rows in the whole database, whoever owns them.
async fn ingredient_rows(t: &common::TestDb) -> i64 {
    let conn = t.db.unscoped_connection();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) FROM recipe_ingredients",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn recipes_round_trip_with_ingredients_in_order() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let recipes = w.t.db.tenant(w.acme).recipes();
        let created = recipes.create(w.ada, draft("Oats", 10)).await.unwrap();
        let got = recipes.get(w.ada, created.recipe.id).await.unwrap();
        assert_eq!(got, created, "{b}");
        let want: Vec<String> = (0..10).map(|i| format!("Oats {i}")).collect();
        assert_eq!(names(&got.ingredients), want, "{b}: in the order given");
        let r = &got.recipe;
        assert_eq!((r.user_id, r.tenant_id), (w.ada, w.acme), "{b}");
        assert_eq!(
            (r.servings, r.prep_time_mins, r.cook_time_mins),
            (2, Some(10), None)
        );
        assert_eq!(r.instructions, ["Mix.", "Wait overnight."], "{b}");
        assert_eq!(r.tags, ["breakfast"], "{b}");
        assert_eq!(r.meal_timing, MealTiming::General, "{b}");
        assert_eq!(r.nutrition, Nutrition::default(), "{b}");
        assert_eq!(got.ingredients[3].fdc_id, Some(170_003), "{b}");
        assert_eq!(got.ingredients[3].amount, 4.0, "{b}");

        // The nutrition cache, then an update that clears it and replaces
        // every ingredient.
        let nutrition = Nutrition {
            calories: Some(389.5),
            protein_g: Some(16.9),
            sodium_mg: Some(0.0),
            ..Nutrition::default()
        };
        recipes.set_nutrition(w.ada, r.id, nutrition).await.unwrap();
        let cached = recipes.get(w.ada, r.id).await.unwrap().recipe;
        assert_eq!(cached.nutrition, nutrition, "{b}");
        assert!(cached.nutrition_validated_at.is_some(), "{b}");
        let mut changed = draft("Porridge", 3);
        changed.meal_timing = MealTiming::PreTraining;
        changed.tags = vec![];
        let updated = recipes.update(w.ada, r.id, changed).await.unwrap();
        assert_eq!(updated.recipe.name, "Porridge", "{b}");
        assert_eq!(updated.recipe.meal_timing, MealTiming::PreTraining, "{b}");
        assert_eq!(updated.recipe.created_at, r.created_at, "{b}");
        assert_eq!(
            updated.recipe.nutrition,
            Nutrition::default(),
            "{b}: cache cleared"
        );
        assert_eq!(updated.recipe.nutrition_validated_at, None, "{b}");
        assert_eq!(
            names(&updated.ingredients),
            ["Porridge 0", "Porridge 1", "Porridge 2"]
        );
        assert_eq!(ingredient_rows(&w.t).await, 3, "{b}: the old ones are gone");

        // Delete takes the ingredients along.
        assert!(recipes.delete(w.ada, r.id).await.unwrap(), "{b}");
        assert!(!recipes.delete(w.ada, r.id).await.unwrap(), "{b}");
        assert!(matches!(
            recipes.get(w.ada, r.id).await,
            Err(DatabaseError::NotFound { .. })
        ));
        assert_eq!(ingredient_rows(&w.t).await, 0, "{b}");
    }
}

#[tokio::test]
async fn lists_page_newest_first_filter_by_timing_and_count() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let recipes = w.t.db.tenant(w.acme).recipes();
        let mut ids = Vec::new();
        for i in 0..7 {
            let mut d = draft(&format!("R{i}"), 1);
            if i % 2 == 0 {
                d.meal_timing = MealTiming::PostTraining;
            }
            ids.push(recipes.create(w.ada, d).await.unwrap().recipe.id);
        }
        // Someone else's, and another tenant's: never listed.
        recipes.create(w.bob, draft("Bob's", 1)).await.unwrap();
        let globex = w.t.db.tenant(w.globex).recipes();
        globex.create(w.ada, draft("Elsewhere", 1)).await.unwrap();

        let all = RecipeFilter::default();
        let mut request = PageRequest::first(3);
        let mut seen = Vec::new();
        loop {
            let page = recipes.list(w.ada, &all, &request).await.unwrap();
            assert!(page.items.len() <= 3, "{b}");
            seen.extend(page.items.iter().map(|r| r.id));
            match page.next_cursor {
                Some(cursor) => request = PageRequest::after(cursor, 3),
                None => break,
            }
        }
        let newest_first: Vec<RecipeId> = ids.iter().rev().copied().collect();
        assert_eq!(seen, newest_first, "{b}");
        assert_eq!(recipes.count(w.ada, &all).await.unwrap(), 7, "{b}");

        let post = RecipeFilter {
            meal_timing: Some(MealTiming::PostTraining),
            ..RecipeFilter::default()
        };
        let page = recipes
            .list(w.ada, &post, &PageRequest::first(2))
            .await
            .unwrap();
        assert_eq!(
            page.items.iter().map(|r| r.id).collect::<Vec<_>>(),
            [ids[6], ids[4]],
            "{b}"
        );
        // A cursor of one filter is refused by another.
        let cursor = page.next_cursor.unwrap();
        let err = recipes
            .list(w.ada, &all, &PageRequest::after(cursor.clone(), 2))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: {err}"
        );
        let rest = recipes
            .list(w.ada, &post, &PageRequest::after(cursor, 2))
            .await
            .unwrap();
        assert_eq!(
            rest.items.iter().map(|r| r.id).collect::<Vec<_>>(),
            [ids[2], ids[0]],
            "{b}"
        );
        assert_eq!(recipes.count(w.ada, &post).await.unwrap(), 4, "{b}");
        assert_eq!(globex.count(w.ada, &all).await.unwrap(), 1, "{b}");
    }
}

#[tokio::test]
async fn every_schema_check_is_invalid_input_and_writes_nothing() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let recipes = w.t.db.tenant(w.acme).recipes();
        let with_ingredient = |f: fn(&mut NewIngredient)| {
            let mut d = draft("Bad", 3);
            f(&mut d.ingredients[1]);
            d
        };
        let with = |f: fn(&mut RecipeDraft)| {
            let mut d = draft("Bad", 3);
            f(&mut d);
            d
        };
        let cases: Vec<(&str, RecipeDraft)> = vec![
            ("servings", with(|d| d.servings = 0)),
            ("servings", with(|d| d.servings = 1_000_000)),
            (
                "prep_time_mins",
                with(|d| d.prep_time_mins = Some(u32::MAX)),
            ),
            ("name", with(|d| d.name = "  ".into())),
            ("name", with(|d| d.name = "x".repeat(201))),
            ("tags", with(|d| d.tags = vec!["ok".into(), "".into()])),
            (
                "tags",
                with(|d| d.tags = (0..33).map(|i| i.to_string()).collect()),
            ),
            (
                "instructions",
                with(|d| d.instructions = vec!["a\u{0}b".into()]),
            ),
            ("ingredients", with_ingredient(|i| i.amount = 0.0)),
            ("ingredients", with_ingredient(|i| i.amount = -2.0)),
            ("ingredients", with_ingredient(|i| i.amount = f64::NAN)),
            ("ingredients", with_ingredient(|i| i.grams = -0.5)),
            ("ingredients", with_ingredient(|i| i.grams = f64::INFINITY)),
            ("ingredients", with_ingredient(|i| i.name = String::new())),
            (
                "ingredients",
                with_ingredient(|i| i.fdc_id = Some(u32::MAX)),
            ),
        ];
        for (field, bad) in cases {
            let err = recipes.create(w.ada, bad).await.unwrap_err();
            match &err {
                DatabaseError::InvalidInput { field: f, .. } => assert_eq!(*f, field, "{b}: {err}"),
                other => panic!("{b}: {field}: {other}"),
            }
        }
        let err = recipes
            .create(w.ada, with_ingredient(|i| i.amount = 0.0))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("1: amount"),
            "{b}: names the entry: {err}"
        );
        assert_eq!(
            recipes
                .count(w.ada, &RecipeFilter::default())
                .await
                .unwrap(),
            0,
            "{b}"
        );
        assert_eq!(ingredient_rows(&w.t).await, 0, "{b}");

        let kept = recipes.create(w.ada, draft("Kept", 2)).await.unwrap();
        let bad = Nutrition {
            fat_g: Some(-1.0),
            ..Nutrition::default()
        };
        let err = recipes
            .set_nutrition(w.ada, kept.recipe.id, bad)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { field: "fat_g", .. }),
            "{b}"
        );
        let long = RecipeFilter {
            text: Some("x".repeat(201)),
            ..RecipeFilter::default()
        };
        assert!(
            recipes
                .list(w.ada, &long, &PageRequest::first(5))
                .await
                .is_err()
        );
        assert_eq!(
            recipes.get(w.ada, kept.recipe.id).await.unwrap(),
            kept,
            "{b}"
        );
    }
}

#[tokio::test]
async fn a_failed_update_leaves_the_old_recipe_and_ingredients() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let recipes = w.t.db.tenant(w.acme).recipes();
        let old = recipes.create(w.ada, draft("Old", 4)).await.unwrap();

        // Refused by the checks: nothing reaches the database.
        let mut invalid = draft("New", 5);
        invalid.ingredients[4].amount = 0.0;
        let err = recipes
            .update(w.ada, old.recipe.id, invalid)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: {err}"
        );
        assert_eq!(recipes.get(w.ada, old.recipe.id).await.unwrap(), old, "{b}");

        // Refused by the database after the recipe was updated and its
        // ingredients deleted: the transaction takes it all back.
        common::refuse_boom(&w.t, "recipe_ingredients", "name").await;
        let mut failing = draft("New", 5);
        failing.ingredients[4].name = "boom".into();
        let err = recipes
            .update(w.ada, old.recipe.id, failing)
            .await
            .unwrap_err();
        // (SQLite reports a trigger's abort as the code its foreign keys
        // use, so the error's class is not asserted: only that it came
        // from the database.)
        assert!(
            !matches!(err, DatabaseError::InvalidInput { .. }),
            "{b}: {err}"
        );
        assert_eq!(recipes.get(w.ada, old.recipe.id).await.unwrap(), old, "{b}");
        assert_eq!(ingredient_rows(&w.t).await, 4, "{b}");

        // And a create that fails the same way leaves no recipe behind.
        let mut failing = draft("Never", 2);
        failing.ingredients[1].name = "boom".into();
        assert!(recipes.create(w.ada, failing).await.is_err(), "{b}");
        assert_eq!(
            recipes
                .count(w.ada, &RecipeFilter::default())
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test]
async fn search_takes_wildcards_literally_in_names_descriptions_and_tags() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let recipes = w.t.db.tenant(w.acme).recipes();
        let make = async |name: &str, description: Option<&str>, tags: &[&str]| {
            let mut d = draft(name, 1);
            d.description = description.map(str::to_owned);
            d.tags = tags.iter().map(|t| (*t).to_owned()).collect();
            recipes.create(w.ada, d).await.unwrap().recipe.id
        };
        let shake = make("50% Protein Shake", None, &[]).await;
        let big = make("5000 kcal bowl", Some("For 100 days"), &[]).await;
        let snake = make("Rice", Some("a_b style"), &[]).await;
        let plain = make("Axb salad", None, &["post_run"]).await;
        let quoted = make("Toast", None, &["say \"hi\""]).await;
        let search = async |text: &str| {
            let filter = RecipeFilter {
                text: Some(text.to_owned()),
                ..RecipeFilter::default()
            };
            let page = recipes
                .list(w.ada, &filter, &PageRequest::first(50))
                .await
                .unwrap();
            let mut ids: Vec<RecipeId> = page.items.iter().map(|r| r.id).collect();
            ids.sort();
            let n = recipes.count(w.ada, &filter).await.unwrap();
            assert_eq!(
                n as usize,
                ids.len(),
                "{b}: count agrees with list for {text:?}"
            );
            ids
        };
        let sorted = |mut ids: Vec<RecipeId>| {
            ids.sort();
            ids
        };
        assert_eq!(search("%").await, [shake], "{b}");
        assert_eq!(search("50%").await, [shake], "{b}");
        assert_eq!(search("_").await, sorted(vec![snake, plain]), "{b}");
        assert_eq!(search("a_b").await, [snake], "{b}: _ is not a wildcard");
        assert_eq!(
            search("!").await,
            Vec::<RecipeId>::new(),
            "{b}: the escape is literal"
        );
        assert_eq!(search("PROTEIN").await, [shake], "{b}: case-insensitive");
        assert_eq!(search("100 days").await, [big], "{b}: descriptions");
        assert_eq!(search("post_run").await, [plain], "{b}: tags");
        assert_eq!(
            search("\"").await,
            [quoted],
            "{b}: JSON quotes are not text"
        );
        assert_eq!(search("  ").await.len(), 5, "{b}: blank is no filter");
    }
}

#[tokio::test]
async fn a_recipe_is_reached_only_by_its_user_in_its_tenant() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let acme = w.t.db.tenant(w.acme).recipes();
        let globex = w.t.db.tenant(w.globex).recipes();
        let mine = acme.create(w.ada, draft("Mine", 2)).await.unwrap();
        let id = mine.recipe.id;
        for (who, repo) in [(w.bob, &acme), (w.ada, &globex), (w.bob, &globex)] {
            let not_found =
                |r: Result<_, DatabaseError>| matches!(r, Err(DatabaseError::NotFound { .. }));
            assert!(not_found(repo.get(who, id).await.map(|_| ())), "{b}");
            assert!(not_found(
                repo.update(who, id, draft("Taken", 1)).await.map(|_| ())
            ));
            assert!(not_found(
                repo.set_nutrition(who, id, Nutrition::default()).await
            ));
            assert!(!repo.delete(who, id).await.unwrap(), "{b}");
        }
        assert_eq!(acme.get(w.ada, id).await.unwrap(), mine, "{b}: untouched");
    }
}

#[tokio::test]
async fn concurrent_updates_leave_one_whole_version() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let id =
            w.t.db
                .tenant(w.acme)
                .recipes()
                .create(w.ada, draft("v", 3))
                .await
                .unwrap()
                .recipe
                .id;
        let (db, acme, ada) = (w.t.db.clone(), w.acme, w.ada);
        let results = common::all_at_once(16, |i| {
            let db = db.clone();
            async move {
                let version = format!("v{i}");
                let update = draft(&version, 2 + i % 5);
                db.tenant(acme).recipes().update(ada, id, update).await
            }
        })
        .await;
        for r in results {
            r.unwrap();
        }
        let last =
            w.t.db
                .tenant(w.acme)
                .recipes()
                .get(w.ada, id)
                .await
                .unwrap();
        let version = &last.recipe.name;
        let n: usize = version[1..].parse().unwrap();
        let want: Vec<String> = (0..2 + n % 5).map(|k| format!("{version} {k}")).collect();
        assert_eq!(names(&last.ingredients), want, "{b}: one version, whole");
        assert_eq!(ingredient_rows(&w.t).await as usize, want.len(), "{b}");
    }
}

#[tokio::test]
async fn recipe_pages_use_their_index_without_sorting() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let statements = w.t.db.tenant(w.acme).recipes().page_statements(w.ada);
        common::assert_plans_use_indexes(&w.t, statements).await;
    }
}
