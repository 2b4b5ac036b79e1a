//! `migrate down N`: on a database with data it refuses, naming what would
//! be lost and changing nothing, unless `--yes`; with `--yes` it reverts all
//! N steps and loses exactly what it named. On SQLite files, and on
//! PostgreSQL when `PIERRE_TEST_POSTGRES_URL` is set.

use std::collections::BTreeMap;

use migration::{Loss, LossKind};
use pierre_db::{Database, DatabaseConfig, NewTenantOAuthCredential, OauthProvider};
use serde_json::Value;

use crate::common::{Fixture, postgres_database};
use crate::counts::row_counts;
use crate::seed::{self, Scale};

/// Rows the migrations seed that the seed leaves as they are: dropped with
/// their tables, and not losses.
const PRISTINE_SEEDS: [(&str, u64); 2] = [("admin_config_categories", 19), ("system_settings", 1)];

const SMALL: Scale = Scale {
    users: 3,
    usage: 3,
    request_logs: 3,
    tokens: 3,
};

fn applied(fx: &Fixture, url: &str) -> u64 {
    let (code, status) = fx.json(&["-u", url, "migrate", "status"]);
    assert_eq!(code, 0, "{status}");
    status["applied"].as_u64().unwrap()
}

/// The SQLite file of the fixture, and a PostgreSQL database when configured.
async fn targets(fx: &Fixture) -> Vec<String> {
    let mut urls = vec![fx.url.clone()];
    urls.extend(postgres_database().await);
    urls
}

/// Migrated, with rows in every table and a tenant credential for a
/// provider only M11 allows.
async fn seeded(fx: &Fixture, url: &str) {
    fx.run(&["-u", url, "migrate", "up"]).ok();
    let db = Database::connect_with(DatabaseConfig::new(url, fx.key.clone()))
        .await
        .unwrap();
    seed::every_table(&db, &SMALL).await;
    let tenant = db.tenants().get_by_slug("acme").await.unwrap().unwrap().id;
    db.tenant(tenant)
        .oauth_credentials()
        .upsert(NewTenantOAuthCredential::new(
            OauthProvider::Garmin,
            "acme-garmin-client",
            "acme-garmin-secret",
            "https://acme.example.org/oauth/garmin/callback",
        ))
        .await
        .unwrap();
    db.close().await.unwrap();
}

async fn losses(url: &str, steps: u32) -> Vec<Loss> {
    let conn = sea_orm::Database::connect(url).await.unwrap();
    let losses = migration::down_losses(&conn, Some(steps)).await.unwrap();
    conn.close().await.unwrap();
    losses
}

#[tokio::test]
async fn migrate_down_without_yes_refuses_naming_the_losses_and_changes_nothing() {
    let fx = Fixture::new();
    for url in targets(&fx).await {
        seeded(&fx, &url).await;
        let all = applied(&fx, &url);
        let before = row_counts(&url).await;

        let refused = fx.run(&["-u", &url, "migrate", "down", "30"]);
        assert_eq!(refused.code, 2, "{refused:?}");
        assert_eq!(refused.stderr.lines().count(), 1, "one line: {refused:?}");
        let message = &refused.stderr;
        assert!(message.contains("--yes"), "{refused:?}");
        for table in [
            "chat_conversations",
            "chat_messages",
            "recipes",
            "recipe_ingredients",
            "user_oauth_tokens",
            "tenants",
            "users",
        ] {
            assert!(
                message.contains(&format!(" {table}: ")),
                "{table}: {refused:?}"
            );
        }
        assert!(
            message.contains(
                "tenant_oauth_credentials: 1 row with providers that the narrower constraint \
                 rejects (m20250120_000011_expand_oauth_provider_constraints deletes them)"
            ),
            "{refused:?}"
        );
        assert!(
            message.contains("that belong to tenants (m20250120_000009_tenant_management_schema"),
            "{refused:?}"
        );
        assert_eq!(applied(&fx, &url), all, "{url}: nothing reverted");
        assert_eq!(row_counts(&url).await, before, "{url}: no row lost");

        let (code, document) = fx.json(&["-u", &url, "migrate", "down", "6"]);
        assert_eq!(code, 2, "{document}");
        assert_eq!(document["ok"], Value::Bool(false));
        assert!(
            document["error"].as_str().unwrap().contains("recipes: "),
            "{document}"
        );
    }
}

#[tokio::test]
async fn migrate_down_yes_reverts_all_n_and_loses_exactly_what_it_names() {
    let fx = Fixture::new();
    for url in targets(&fx).await {
        seeded(&fx, &url).await;
        let expected = losses(&url, 30).await;
        let before = row_counts(&url).await;
        assert_eq!(before.len(), 44, "{before:?}");

        let down = fx.run(&["-u", &url, "migrate", "down", "30", "--yes"]).ok();
        assert_eq!(down.stdout.matches("reverted m").count(), 23, "{down:?}");
        assert_eq!(applied(&fx, &url), 0, "{url}: every step reverted");
        assert!(row_counts(&url).await.is_empty(), "{url}: every table gone");

        // Every row that disappeared was named (seeds aside).
        let mut named: BTreeMap<String, u64> = BTreeMap::new();
        for loss in &expected {
            if matches!(loss.kind, LossKind::DroppedTable | LossKind::DeletedRows(_)) {
                *named.entry(loss.table.to_owned()).or_default() += loss.rows;
            }
        }
        for (table, seeds) in PRISTINE_SEEDS {
            *named.entry(table.to_owned()).or_default() += seeds;
        }
        named.retain(|_, n| *n > 0);
        assert_eq!(named, before, "{url}: rows named = rows lost");
    }
}

#[tokio::test]
async fn migrate_down_on_an_unused_database_needs_no_yes() {
    let fx = Fixture::new();
    for url in targets(&fx).await {
        fx.run(&["-u", &url, "migrate", "up"]).ok();
        let down = fx.run(&["-u", &url, "migrate", "down", "30"]).ok();
        assert_eq!(down.stdout.matches("reverted m").count(), 23, "{down:?}");
        assert_eq!(applied(&fx, &url), 0, "{url}");
    }
}
