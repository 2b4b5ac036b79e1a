//! Fitness configurations: tenant defaults, users' overrides, the fallback.

use pierre_db::DatabaseError;
use pierre_db::serde_json::json;

use crate::common;

async fn rows(t: &common::TestDb) -> usize {
    common::text_column(
        &t.db,
        "SELECT configuration_name FROM fitness_configurations",
    )
    .await
    .len()
}

#[tokio::test]
async fn saves_are_upserts_and_users_fall_back_to_the_tenant_default() {
    for t in common::databases().await {
        let b = t.backend;
        let ada = common::user(&t, "ada@example.org").await;
        let acme = common::tenant(&t, ada).await;
        let globex = common::tenant(&t, ada).await;
        let configs = t.db.tenant(acme).fitness_configs();

        assert_eq!(
            configs.get_for_user(ada, "zones").await.unwrap(),
            None,
            "{b}"
        );
        let first = configs
            .save_tenant_default("zones", json!({"max_hr": 190}))
            .await
            .unwrap();
        let second = configs
            .save_tenant_default("zones", json!({"max_hr": 191}))
            .await
            .unwrap();
        assert_eq!(
            rows(&t).await,
            1,
            "{b}: saving a default twice leaves one row"
        );
        assert_eq!(second.id, first.id, "{b}");
        assert_eq!(second.data, json!({"max_hr": 191}));

        let fallback = configs.get_for_user(ada, "zones").await.unwrap().unwrap();
        assert_eq!(
            (fallback.user_id, fallback.data.clone()),
            (None, json!({"max_hr": 191}))
        );

        configs
            .save_for_user(ada, "zones", json!({"max_hr": 182}))
            .await
            .unwrap();
        configs
            .save_for_user(ada, "zones", json!({"max_hr": 183}))
            .await
            .unwrap();
        assert_eq!(rows(&t).await, 2, "{b}: one override row");
        let own = configs.get_for_user(ada, "zones").await.unwrap().unwrap();
        assert_eq!(
            (own.user_id, own.data),
            (Some(ada), json!({"max_hr": 183})),
            "{b}"
        );
        assert_eq!(configs.list_for_user(ada).await.unwrap().len(), 1);
        assert_eq!(configs.list_tenant_defaults().await.unwrap().len(), 1);
        // The tenant default itself, under the user's override.
        let default = configs.get_tenant_default("zones").await.unwrap().unwrap();
        assert_eq!(
            (default.id, default.user_id, default.data),
            (first.id, None, json!({"max_hr": 191})),
            "{b}"
        );
        assert_eq!(
            configs.get_tenant_default("power").await.unwrap(),
            None,
            "{b}"
        );

        // Another tenant sees none of it.
        let other = t.db.tenant(globex).fitness_configs();
        assert_eq!(other.get_for_user(ada, "zones").await.unwrap(), None, "{b}");
        assert!(other.list_tenant_defaults().await.unwrap().is_empty());
        assert!(!other.delete_tenant_default("zones").await.unwrap(), "{b}");

        assert!(configs.delete_for_user(ada, "zones").await.unwrap());
        let back = configs.get_for_user(ada, "zones").await.unwrap().unwrap();
        assert_eq!(back.user_id, None, "{b}: falls back again");
        assert!(configs.delete_tenant_default("zones").await.unwrap());
        assert_eq!(configs.get_for_user(ada, "zones").await.unwrap(), None);

        for (name, data, field) in [
            ("zones", json!([1, 2]), "config_data"),
            ("zones", json!({"x": "y".repeat(70_000)}), "config_data"),
            ("", json!({}), "name"),
            ("two words", json!({}), "name"),
        ] {
            let err = configs.save_tenant_default(name, data).await.unwrap_err();
            assert!(
                matches!(err, DatabaseError::InvalidInput { field: f, .. } if f == field),
                "{b}: {err:?}"
            );
        }
        assert_eq!(rows(&t).await, 0, "{b}: nothing written");
    }
}

#[tokio::test]
async fn concurrent_saves_of_one_default_leave_one_row() {
    let dir = tempfile::tempdir().unwrap();
    for t in common::racing(&dir).await {
        let b = t.backend;
        let ada = common::user(&t, "ada@example.org").await;
        let acme = common::tenant(&t, ada).await;
        let saved = common::all_at_once(16, |i| {
            let db = t.db.clone();
            async move {
                let configs = db.tenant(acme).fitness_configs();
                configs
                    .save_tenant_default("zones", json!({ "n": i }))
                    .await?;
                configs.save_for_user(ada, "zones", json!({ "n": i })).await
            }
        })
        .await;
        assert!(saved.iter().all(Result::is_ok), "{b}: {saved:?}");
        assert_eq!(rows(&t).await, 2, "{b}");
    }
}
