//! Rows written before M11, M14 and M15 survive them, or the migration stops
//! and names the rows it would lose (SCHEMA.md, rule 8).

use crate::common;

use migration::{Migrator, MigratorTrait};
use sea_orm_migration::prelude::*;
use uuid::Uuid;

use crate::common::TestDb;
use crate::common::rows::{
    app_credential, count, count_where, insert, json, now, tenant, tenant_credential, user,
};

/// Steps applied before the migration under test.
const BEFORE_M11: u32 = 10;
const BEFORE_M14: u32 = 13;
const BEFORE_M15: u32 = 14;

#[tokio::test]
async fn m11_keeps_rows_and_its_down_refuses_rows_it_would_reject() {
    for db in common::all_backends().await {
        let b = db.backend;
        db.migrate(Some(BEFORE_M11)).await;
        let owner = user(&db).await;
        let t = tenant(&db, owner).await;
        let strava = app_credential(&db, owner, "strava").await.expect("strava");
        tenant_credential(&db, t, "fitbit").await.expect("fitbit");
        assert!(
            app_credential(&db, owner, "garmin").await.is_err(),
            "{b:?}: garmin is rejected before M11"
        );

        db.migrate(Some(1)).await;
        assert_eq!(count(&db, "user_oauth_app_credentials").await, 1, "{b:?}");
        assert_eq!(count(&db, "tenant_oauth_credentials").await, 1, "{b:?}");
        assert_eq!(
            count_where(
                &db,
                "user_oauth_app_credentials",
                Condition::all().add(Expr::col("id").eq(strava))
            )
            .await,
            1
        );
        let garmin = app_credential(&db, owner, "garmin")
            .await
            .expect("garmin after M11");
        tenant_credential(&db, t, "whoop")
            .await
            .expect("whoop after M11");

        let err = Migrator::down(&db.conn, Some(1))
            .await
            .expect_err("down must refuse garmin/whoop rows");
        let message = err.to_string();
        assert!(
            message.contains(&garmin.to_string()),
            "{b:?}: error names the row: {message}"
        );
        assert_eq!(
            count(&db, "user_oauth_app_credentials").await,
            2,
            "{b:?}: nothing lost"
        );
        assert_eq!(
            Migrator::get_pending_migrations(&db.conn)
                .await
                .unwrap()
                .len(),
            Migrator::migrations().len() - 11,
            "{b:?}: M11 still applied"
        );
        // Enforcement is back on after the failed rebuild.
        assert!(
            app_credential(&db, Uuid::new_v4(), "strava").await.is_err(),
            "{b:?}: foreign keys enforced after a failed down"
        );

        let delete_new = |table: &'static str| {
            Query::delete()
                .from_table(table)
                .and_where(
                    Expr::col("provider")
                        .cast_as("text")
                        .is_in(["garmin", "whoop", "terra"]),
                )
                .to_owned()
        };
        for table in ["user_oauth_app_credentials", "tenant_oauth_credentials"] {
            db.conn
                .execute(&delete_new(table))
                .await
                .expect("delete new providers");
        }
        Migrator::down(&db.conn, Some(1))
            .await
            .expect("down once the rows are gone");
        assert_eq!(count(&db, "user_oauth_app_credentials").await, 1, "{b:?}");
        assert_eq!(count(&db, "tenant_oauth_credentials").await, 1, "{b:?}");
        assert!(
            app_credential(&db, owner, "terra").await.is_err(),
            "{b:?}: narrowed again"
        );
    }
}

async fn a2a_client(db: &TestDb, user_id: Uuid) -> Uuid {
    let id = Uuid::new_v4();
    insert(
        db,
        "a2a_clients",
        vec![
            ("id", Expr::val(id)),
            ("user_id", Expr::val(user_id)),
            ("name", Expr::val("agent")),
            ("public_key", Expr::val(format!("pk-{id}"))),
            ("client_secret", Expr::val("hash")),
            ("permissions", json("[]")),
            ("created_at", Expr::val(now())),
            ("updated_at", Expr::val(now())),
        ],
    )
    .await
    .expect("insert a2a client");
    id
}

async fn a2a_children(db: &TestDb, client: Uuid) {
    insert(
        db,
        "a2a_sessions",
        vec![
            ("session_token", Expr::val(format!("s-{client}"))),
            ("client_id", Expr::val(client)),
            ("granted_scopes", json("[]")),
            ("expires_at", Expr::val(now())),
            ("last_activity", Expr::val(now())),
            ("created_at", Expr::val(now())),
        ],
    )
    .await
    .expect("session");
    insert(
        db,
        "a2a_tasks",
        vec![
            ("id", Expr::val(Uuid::new_v4())),
            ("client_id", Expr::val(client)),
            ("task_type", Expr::val("sync")),
            ("input_data", json("{}")),
            ("created_at", Expr::val(now())),
            ("updated_at", Expr::val(now())),
        ],
    )
    .await
    .expect("task");
}

async fn user_configuration(db: &TestDb, user_id: Uuid) {
    insert(
        db,
        "user_configurations",
        vec![
            ("user_id", Expr::val(user_id)),
            ("config_data", json("{}")),
            ("created_at", Expr::val(now())),
            ("updated_at", Expr::val(now())),
        ],
    )
    .await
    .expect("user configuration");
}

#[tokio::test]
async fn m14_names_orphans_then_adds_keys_without_touching_child_rows() {
    for db in common::all_backends().await {
        let b = db.backend;
        db.migrate(Some(BEFORE_M14)).await;
        let owner = user(&db).await;
        let client = a2a_client(&db, owner).await;
        a2a_children(&db, client).await;
        user_configuration(&db, owner).await;
        let orphan = a2a_client(&db, Uuid::new_v4()).await;
        let orphan_config = Uuid::new_v4();
        user_configuration(&db, orphan_config).await;

        let err = Migrator::up(&db.conn, Some(1))
            .await
            .expect_err("orphans stop M14");
        let message = err.to_string();
        assert!(message.contains(&orphan.to_string()), "{b:?}: {message}");
        assert_eq!(count(&db, "a2a_clients").await, 2, "{b:?}: nothing deleted");
        assert_eq!(count(&db, "user_configurations").await, 2, "{b:?}");
        assert_eq!(
            Migrator::get_pending_migrations(&db.conn)
                .await
                .unwrap()
                .len(),
            Migrator::migrations().len() - 13,
            "{b:?}: M14 not applied"
        );

        for (table, key, id) in [
            ("a2a_clients", "id", orphan),
            ("user_configurations", "user_id", orphan_config),
        ] {
            db.conn
                .execute(
                    &Query::delete()
                        .from_table(table)
                        .and_where(Expr::col(key).eq(id))
                        .to_owned(),
                )
                .await
                .expect("remove orphan");
        }
        db.migrate(Some(1)).await;
        assert_eq!(count(&db, "a2a_clients").await, 1, "{b:?}");
        assert_eq!(
            count(&db, "a2a_sessions").await,
            1,
            "{b:?}: rebuild kept child rows"
        );
        assert_eq!(
            count(&db, "a2a_tasks").await,
            1,
            "{b:?}: rebuild kept child rows"
        );
        assert_eq!(count(&db, "user_configurations").await, 1, "{b:?}");

        let stray = Uuid::new_v4();
        let rejected = insert(
            &db,
            "a2a_clients",
            vec![
                ("id", Expr::val(stray)),
                ("user_id", Expr::val(Uuid::new_v4())),
                ("name", Expr::val("agent")),
                ("public_key", Expr::val(format!("pk-{stray}"))),
                ("client_secret", Expr::val("hash")),
                ("permissions", json("[]")),
                ("created_at", Expr::val(now())),
                ("updated_at", Expr::val(now())),
            ],
        )
        .await;
        assert!(rejected.is_err(), "{b:?}: the new key rejects orphans");

        db.conn
            .execute(
                &Query::delete()
                    .from_table("users")
                    .and_where(Expr::col("id").eq(owner))
                    .to_owned(),
            )
            .await
            .expect("delete user");
        assert_eq!(
            count(&db, "a2a_clients").await,
            0,
            "{b:?}: cascade from users"
        );
        assert_eq!(count(&db, "user_configurations").await, 0, "{b:?}");
    }
}

#[tokio::test]
async fn m15_refuses_to_drop_legacy_tokens_and_keeps_users() {
    for db in common::all_backends().await {
        let b = db.backend;
        db.migrate(Some(BEFORE_M15)).await;
        let plain = user(&db).await;
        let holder = user(&db).await;
        db.conn
            .execute(
                &Query::update()
                    .table("users")
                    .value("strava_access_token", "legacy-token")
                    .and_where(Expr::col("id").eq(holder))
                    .to_owned(),
            )
            .await
            .expect("set legacy token");

        let err = Migrator::up(&db.conn, Some(1))
            .await
            .expect_err("legacy tokens stop M15");
        let message = err.to_string();
        assert!(message.contains(&holder.to_string()), "{b:?}: {message}");
        assert!(
            !message.contains(&plain.to_string()),
            "{b:?}: only holders are named"
        );
        assert!(
            !message.contains("legacy-token"),
            "{b:?}: no token in the message"
        );
        assert_eq!(
            count_where(
                &db,
                "users",
                Condition::all().add(Expr::col("strava_access_token").is_not_null())
            )
            .await,
            1,
            "{b:?}: the token is still there"
        );

        db.conn
            .execute(
                &Query::update()
                    .table("users")
                    .value("strava_access_token", Option::<String>::None)
                    .to_owned(),
            )
            .await
            .expect("clear legacy token");
        db.migrate(Some(1)).await;
        assert_eq!(count(&db, "users").await, 2, "{b:?}: users kept");
        let owner_tenant = tenant(&db, plain).await;
        insert(
            &db,
            "user_oauth_tokens",
            vec![
                ("id", Expr::val(Uuid::new_v4())),
                ("user_id", Expr::val(plain)),
                ("tenant_id", Expr::val(owner_tenant)),
                ("provider", Expr::val("strava")),
                ("access_token", Expr::val("v1:sealed")),
                ("last_sync", Expr::val(now())),
                ("created_at", Expr::val(now())),
                ("updated_at", Expr::val(now())),
            ],
        )
        .await
        .expect("user_oauth_tokens has last_sync after M15");
    }
}
