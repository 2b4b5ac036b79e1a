//! The database itself rejects bad rows, on both backends.

use crate::common;

use sea_orm_migration::prelude::*;
use uuid::Uuid;

use crate::common::TestDb;
use crate::common::rows::{enum_val, insert, json, now, tenant, user};

async fn migrated() -> Vec<TestDb> {
    let dbs = common::all_backends().await;
    for db in &dbs {
        db.migrate(None).await;
    }
    dbs
}

fn user_row(tier: Expr) -> Vec<(&'static str, Expr)> {
    let id = Uuid::new_v4();
    vec![
        ("id", Expr::val(id)),
        ("email", Expr::val(format!("{id}@example.com"))),
        ("password_hash", Expr::val("x")),
        ("tier", tier),
        ("created_at", Expr::val(now())),
        ("last_active", Expr::val(now())),
    ]
}

#[tokio::test]
async fn unknown_enum_value_is_rejected() {
    for db in migrated().await {
        insert(
            &db,
            "users",
            user_row(enum_val("professional", "subscription_tier")),
        )
        .await
        .unwrap_or_else(|err| panic!("{:?}: a known tier is accepted: {err}", db.backend));
        let err = insert(
            &db,
            "users",
            user_row(enum_val("platinum", "subscription_tier")),
        )
        .await
        .expect_err("unknown tier");
        assert!(!err.to_string().is_empty(), "{:?}", db.backend);
    }
}

#[tokio::test]
async fn orphan_foreign_key_is_rejected() {
    for db in migrated().await {
        let row = |user_id: Uuid| {
            let id = Uuid::new_v4();
            vec![
                ("id", Expr::val(id)),
                ("user_id", Expr::val(user_id)),
                ("name", Expr::val("key")),
                ("key_hash", Expr::val(format!("hash-{id}"))),
                ("key_prefix", Expr::val(format!("pk_{id}"))),
                ("tier", enum_val("trial", "api_key_tier")),
                ("created_at", Expr::val(now())),
            ]
        };
        let owner = user(&db).await;
        insert(&db, "api_keys", row(owner))
            .await
            .expect("owned key");
        assert!(
            insert(&db, "api_keys", row(Uuid::new_v4())).await.is_err(),
            "{:?}: api key of a missing user",
            db.backend
        );
    }
}

fn recipe_row(user_id: Uuid, tenant_id: Uuid, servings: i32) -> Vec<(&'static str, Expr)> {
    vec![
        ("id", Expr::val(Uuid::new_v4())),
        ("user_id", Expr::val(user_id)),
        ("tenant_id", Expr::val(tenant_id)),
        ("name", Expr::val("Oats")),
        ("servings", Expr::val(servings)),
        ("instructions", json("[\"cook\"]")),
        ("created_at", Expr::val(now())),
        ("updated_at", Expr::val(now())),
    ]
}

#[tokio::test]
async fn zero_servings_is_rejected() {
    for db in migrated().await {
        let owner = user(&db).await;
        let t = tenant(&db, owner).await;
        insert(&db, "recipes", recipe_row(owner, t, 2))
            .await
            .expect("two servings");
        assert!(
            insert(&db, "recipes", recipe_row(owner, t, 0))
                .await
                .is_err(),
            "{:?}: servings = 0",
            db.backend
        );
    }
}

fn fitness_row(tenant_id: Uuid, user_id: Option<Uuid>) -> Vec<(&'static str, Expr)> {
    vec![
        ("id", Expr::val(Uuid::new_v4())),
        ("tenant_id", Expr::val(tenant_id)),
        ("user_id", Expr::val(user_id)),
        ("configuration_name", Expr::val("default")),
        ("config_data", json("{}")),
        ("created_at", Expr::val(now())),
        ("updated_at", Expr::val(now())),
    ]
}

#[tokio::test]
async fn a_second_tenant_default_fitness_configuration_is_rejected() {
    for db in migrated().await {
        let b = db.backend;
        let owner = user(&db).await;
        let t = tenant(&db, owner).await;
        let other = tenant(&db, owner).await;
        insert(&db, "fitness_configurations", fitness_row(t, None))
            .await
            .expect("first default");
        assert!(
            insert(&db, "fitness_configurations", fitness_row(t, None))
                .await
                .is_err(),
            "{b:?}: second NULL-user default for the same tenant and name"
        );
        insert(&db, "fitness_configurations", fitness_row(other, None))
            .await
            .expect("another tenant's default");
        insert(&db, "fitness_configurations", fitness_row(t, Some(owner)))
            .await
            .expect("a user's own configuration");
        assert!(
            insert(&db, "fitness_configurations", fitness_row(t, Some(owner)))
                .await
                .is_err(),
            "{b:?}: second configuration of the same user and name"
        );
    }
}

#[tokio::test]
async fn global_rows_are_unique_where_the_tenant_is_null() {
    for db in migrated().await {
        let b = db.backend;
        let admin = user(&db).await;
        let override_row = || {
            vec![
                ("id", Expr::val(Uuid::new_v4())),
                ("category", Expr::val("rate_limiting")),
                ("config_key", Expr::val("burst")),
                ("config_value", Expr::val("10")),
                ("data_type", enum_val("integer", "config_data_type")),
                ("created_by", Expr::val(admin)),
                ("created_at", Expr::val(now())),
                ("updated_at", Expr::val(now())),
            ]
        };
        insert(&db, "admin_config_overrides", override_row())
            .await
            .expect("global override");
        assert!(
            insert(&db, "admin_config_overrides", override_row())
                .await
                .is_err(),
            "{b:?}: duplicate global override"
        );

        let key_row = || {
            vec![
                ("id", Expr::val(Uuid::new_v4())),
                ("version", Expr::val(1)),
                ("created_at", Expr::val(now())),
            ]
        };
        insert(&db, "key_versions", key_row())
            .await
            .expect("global key v1");
        assert!(
            insert(&db, "key_versions", key_row()).await.is_err(),
            "{b:?}: duplicate global key version"
        );
    }
}
