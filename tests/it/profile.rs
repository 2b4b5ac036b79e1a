//! Profiles, configurations, goals, insights and OAuth notifications.

use pierre_db::chrono::{Duration, Utc};
use pierre_db::{DatabaseError, NewInsight, NewOAuthNotification, PageRequest, UserId};
use serde_json::json;

use crate::common;

#[tokio::test]
async fn documents_are_one_per_user_and_objects_only() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let profiles = w.t.db.user_profiles();
        let configs = w.t.db.user_configurations();
        assert!(profiles.get(w.ada).await.unwrap().is_none(), "{b}");
        profiles
            .upsert(w.ada, json!({ "weight_kg": 61 }))
            .await
            .unwrap();
        let saved = profiles
            .upsert(w.ada, json!({ "weight_kg": 60 }))
            .await
            .unwrap();
        assert_eq!(saved.data, json!({ "weight_kg": 60 }), "{b}");
        assert!(
            profiles.get(w.bob).await.unwrap().is_none(),
            "{b}: another user's"
        );
        configs
            .save(w.bob, json!({ "units": "metric" }))
            .await
            .unwrap();
        assert_eq!(
            configs.get(w.bob).await.unwrap().unwrap().data["units"],
            "metric"
        );
        assert!(configs.get(w.ada).await.unwrap().is_none(), "{b}");
        for bad in [json!([1]), json!("x"), json!({ "big": "x".repeat(70_000) })] {
            let err = profiles.upsert(w.ada, bad.clone()).await.unwrap_err();
            assert!(
                matches!(err, DatabaseError::InvalidInput { .. }),
                "{b}: {err}"
            );
            assert!(configs.save(w.ada, bad).await.is_err(), "{b}");
        }
        assert_eq!(
            profiles.get(w.ada).await.unwrap().unwrap().data["weight_kg"],
            60
        );
        let err = profiles.upsert(UserId::new(), json!({})).await.unwrap_err();
        assert!(
            matches!(err, DatabaseError::ForeignKey { .. }),
            "{b}: {err}"
        );
    }
}

#[tokio::test]
async fn goals_track_progress_and_stay_with_their_owner() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let goals = w.t.db.goals();
        let goal = goals
            .create(
                w.ada,
                json!({ "title": "Run 100 km", "target_value": 100.0 }),
            )
            .await
            .unwrap();
        assert!(
            goals
                .create(w.ada, json!({ "target_value": "lots" }))
                .await
                .is_err()
        );
        for bad in [f64::NAN, f64::INFINITY] {
            let err = goals
                .update_progress(w.ada, goal.id, bad)
                .await
                .unwrap_err();
            assert!(matches!(err, DatabaseError::InvalidInput { .. }), "{b}");
        }
        let g = goals.update_progress(w.ada, goal.id, 25.0).await.unwrap();
        assert_eq!(g.data["progress_percentage"], 25.0, "{b}");
        assert_eq!(g.data["title"], "Run 100 km", "{b}: other fields kept");
        let g = goals.update_progress(w.ada, goal.id, 250.0).await.unwrap();
        assert_eq!(g.data["progress_percentage"], 100.0, "{b}: clamped");
        let g = goals.update_progress(w.ada, goal.id, -5.0).await.unwrap();
        assert_eq!(g.data["progress_percentage"], 0.0, "{b}: clamped");
        let done = goals.complete(w.ada, goal.id).await.unwrap();
        assert_eq!(done.data["status"], "completed", "{b}");
        assert_eq!(goals.get(w.ada, goal.id).await.unwrap(), done, "{b}");

        // Bob reaches none of it.
        let not_found = |r: Result<pierre_db::Goal, DatabaseError>| {
            matches!(r, Err(DatabaseError::NotFound { .. }))
        };
        assert!(not_found(goals.get(w.bob, goal.id).await), "{b}");
        assert!(
            not_found(goals.update_progress(w.bob, goal.id, 1.0).await),
            "{b}"
        );
        assert!(not_found(goals.complete(w.bob, goal.id).await), "{b}");
        assert!(!goals.delete(w.bob, goal.id).await.unwrap(), "{b}");
        assert_eq!(
            goals.get(w.ada, goal.id).await.unwrap(),
            done,
            "{b}: unchanged"
        );

        let second = goals
            .create(w.ada, json!({ "title": "Swim" }))
            .await
            .unwrap();
        let page = goals.list(w.ada, &PageRequest::first(1)).await.unwrap();
        assert_eq!(page.items[0].id, second.id, "{b}: newest first");
        let rest = goals
            .list(w.ada, &PageRequest::after(page.next_cursor.unwrap(), 1))
            .await
            .unwrap();
        assert_eq!(rest.items[0].id, goal.id, "{b}");
        assert!(
            goals
                .list(w.bob, &PageRequest::first(5))
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert!(goals.delete(w.ada, goal.id).await.unwrap(), "{b}");
    }
}

#[tokio::test]
async fn concurrent_progress_updates_lose_no_field() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let ada = common::user(&t, "ada@example.org").await;
        let goal =
            t.db.goals()
                .create(ada, json!({ "title": "Ride", "target_value": 160.0 }))
                .await
                .unwrap();
        let db = t.db.clone();
        let done = common::all_at_once(16, |i| {
            let db = db.clone();
            async move {
                let goals = db.goals();
                // Half record progress, half add a field of their own by
                // completing: each must keep what the others wrote.
                if i == 15 {
                    goals.complete(ada, goal.id).await
                } else {
                    goals.update_progress(ada, goal.id, (i * 10) as f64).await
                }
            }
        })
        .await;
        for d in done {
            d.unwrap();
        }
        let last = t.db.goals().get(ada, goal.id).await.unwrap().data;
        assert_eq!(last["title"], "Ride", "{b}");
        assert_eq!(last["target_value"], 160.0, "{b}");
        assert_eq!(last["status"], "completed", "{b}: the completion survived");
        let current = last["current_value"].as_f64().unwrap();
        assert!((0.0..=140.0).contains(&current), "{b}: {current}");
        assert_eq!(current % 10.0, 0.0, "{b}: one of the written values");
    }
}

#[tokio::test]
async fn insights_list_by_type_and_owner() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let insights = w.t.db.insights();
        insights
            .store(
                w.ada,
                NewInsight::new(json!({ "type": "recovery", "score": 80 })),
            )
            .await
            .unwrap();
        insights
            .store(
                w.ada,
                NewInsight::new(json!({ "insight_type": "load", "tss": 120 })),
            )
            .await
            .unwrap();
        let mut given = NewInsight::new(json!({ "score": 90 }));
        given.insight_type = Some("recovery".into());
        given.activity_id = Some("strava-123".into());
        insights.store(w.ada, given).await.unwrap();
        insights
            .store(w.bob, NewInsight::new(json!({ "type": "recovery" })))
            .await
            .unwrap();
        let err = insights
            .store(w.ada, NewInsight::new(json!({ "score": 1 })))
            .await;
        assert!(
            matches!(err, Err(DatabaseError::InvalidInput { .. })),
            "{b}"
        );

        let recovery = insights
            .list(w.ada, Some("recovery"), &PageRequest::first(10))
            .await
            .unwrap();
        let scores: Vec<i64> = recovery
            .items
            .iter()
            .map(|i| i.data["score"].as_i64().unwrap())
            .collect();
        assert_eq!(scores, [90, 80], "{b}: filtered, newest first");
        assert_eq!(recovery.items[0].activity_id.as_deref(), Some("strava-123"));
        let all = insights
            .list(w.ada, None, &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(all.items.len(), 3, "{b}");
        assert!(all.items.iter().all(|i| i.user_id == w.ada), "{b}");

        // One insight by id, only for its owner; deleted only by its owner.
        let newest = all.items[0].clone();
        let got = insights.get(w.ada, newest.id).await.unwrap();
        assert_eq!(got.as_ref().map(|i| &i.data), Some(&newest.data), "{b}");
        assert_eq!(insights.get(w.bob, newest.id).await.unwrap(), None, "{b}");
        assert!(!insights.delete(w.bob, newest.id).await.unwrap(), "{b}");
        assert!(
            insights.get(w.ada, newest.id).await.unwrap().is_some(),
            "{b}"
        );
        assert!(insights.delete(w.ada, newest.id).await.unwrap(), "{b}");
        assert!(!insights.delete(w.ada, newest.id).await.unwrap(), "{b}");
        assert_eq!(insights.get(w.ada, newest.id).await.unwrap(), None, "{b}");
        let left = insights
            .list(w.ada, None, &PageRequest::first(10))
            .await
            .unwrap();
        assert_eq!(left.items.len(), 2, "{b}");
    }
}

fn note(user: UserId, message: &str) -> NewOAuthNotification {
    NewOAuthNotification {
        user_id: user,
        provider: "strava".into(),
        success: true,
        message: message.into(),
        expires_at: None,
    }
}

#[tokio::test]
async fn notifications_are_read_only_by_their_owner_and_expire() {
    for t in common::databases().await {
        let w = common::World::new(t).await;
        let b = w.t.backend;
        let inbox = w.t.db.oauth_notifications();
        let first = inbox.store(note(w.ada, "Strava connected")).await.unwrap();
        let mut soon = note(w.ada, "Expiring");
        soon.expires_at = Some(Utc::now() + Duration::hours(1));
        let expiring = inbox.store(soon).await.unwrap();
        inbox.store(note(w.ada, "Garmin connected")).await.unwrap();
        let mut past = note(w.ada, "late");
        past.expires_at = Some(Utc::now() - Duration::hours(1));
        assert!(inbox.store(past).await.is_err(), "{b}: expiry in the past");

        // Another user cannot mark it, and nothing changes.
        assert!(!inbox.mark_read(w.bob, first.id).await.unwrap(), "{b}");
        assert_eq!(inbox.unread(w.ada).await.unwrap().len(), 3, "{b}");
        assert!(inbox.mark_read(w.ada, first.id).await.unwrap(), "{b}");
        assert!(
            !inbox.mark_read(w.ada, first.id).await.unwrap(),
            "{b}: only if unread"
        );

        // Expired in the database: no longer unread, and purged.
        let conn = w.t.db.unscoped_connection();
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        entity::oauth_notifications::Entity::update_many()
            .col_expr(
                entity::oauth_notifications::Column::ExpiresAt,
                Expr::value((Utc::now() - Duration::minutes(1)).fixed_offset()),
            )
            .filter(entity::oauth_notifications::Column::Id.eq(expiring.id))
            .exec(conn)
            .await
            .unwrap();
        let unread = inbox.unread(w.ada).await.unwrap();
        assert_eq!(unread.len(), 1, "{b}: expired ones are not unread");
        assert_eq!(unread[0].message, "Garmin connected", "{b}");
        assert_eq!(inbox.mark_all_read(w.ada).await.unwrap(), 2, "{b}");
        assert_eq!(inbox.mark_all_read(w.ada).await.unwrap(), 0, "{b}");
        let page = inbox.list(w.ada, &PageRequest::first(10)).await.unwrap();
        assert_eq!(page.items.len(), 3, "{b}");
        assert_eq!(
            page.items[0].message, "Garmin connected",
            "{b}: newest first"
        );
        assert_eq!(inbox.purge_expired().await.unwrap(), 1, "{b}");
        assert_eq!(
            inbox
                .list(w.ada, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .len(),
            2
        );
    }
}

/// Every table of the schema is reached by some repository: each of the
/// entity modules is named by a file under `src/repositories`.
#[test]
fn every_table_is_reached_by_a_repository() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let entities = std::fs::read_to_string(root.join("entity/src/lib.rs")).unwrap();
    let tables: Vec<&str> = entities
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .filter(|m| !matches!(*m, "prelude" | "sea_orm_active_enums"))
        .collect();
    assert_eq!(tables.len(), 44, "{tables:?}");
    let mut sources = String::new();
    let mut dirs = vec![root.join("src/repositories"), root.join("src/keys")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                sources.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    // The entity modules the sources name: in `use entity::…;` items and
    // in `entity::module::` paths.
    let mut named = std::collections::BTreeSet::new();
    for (k, _) in sources.match_indices("entity::") {
        let rest = &sources[k + "entity::".len()..];
        let end = if rest.starts_with('{') {
            rest.find('}').unwrap_or(0)
        } else {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(0)
        };
        for word in rest[..end].split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            named.insert(word.to_owned());
        }
    }
    let unreached: Vec<&&str> = tables.iter().filter(|t| !named.contains(**t)).collect();
    assert!(
        unreached.is_empty(),
        "tables no repository uses: {unreached:?}"
    );
}
