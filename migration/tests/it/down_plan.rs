//! Going down never silently drops rows either: what the steps of a `down`
//! would lose is counted before any of them runs, a `down` without consent
//! refuses and changes nothing, and with consent it reverts every step and
//! loses exactly what it reported. The catalog behind the count is checked
//! against what each `down` really removes, so that it cannot drift.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use migration::{
    Loss, LossKind, Migrator, MigratorTrait, down_catalog, down_checked, down_losses, down_steps,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement, StatementBuilder};
use uuid::Uuid;

use crate::common::TestDb;
use crate::common::rows::{
    app_credential, enum_val, insert, json, now, tenant, tenant_credential, user,
};

const M01: &str = "m20250120_000001_users_schema";
const M08: &str = "m20250120_000008_oauth2_schema";
const M09: &str = "m20250120_000009_tenant_management_schema";
const M11: &str = "m20250120_000011_expand_oauth_provider_constraints";
const M12: &str = "m20250120_000012_user_roles_permissions";
const M13: &str = "m20250120_000013_system_settings_schema";
const M15: &str = "m20250120_000015_remove_legacy_user_token_columns";
const M17: &str = "m20250120_000017_chat_schema";
const M18: &str = "m20250120_000018_firebase_auth";
const M19: &str = "m20250120_000019_recipes_schema";
const M20: &str = "m20250120_000020_admin_config_schema";
const M21: &str = "m20250120_000021_add_config_categories";

/// Rows the migrations seed and nobody edits in these tests: dropped with
/// their table, and not losses.
const PRISTINE_SEEDS: [(&str, u64); 2] = [("admin_config_categories", 19), ("system_settings", 1)];

/// Every table (but the migration log) with its columns.
async fn columns(db: &TestDb) -> BTreeMap<String, BTreeSet<String>> {
    let sql = match db.backend {
        DbBackend::Sqlite => {
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'seaql_migrations'"
        }
        _ => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'"
        }
    };
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in db
        .conn
        .query_all_raw(Statement::from_string(db.backend, sql))
        .await
        .expect("list columns")
    {
        let table: String = row.try_get_by_index(0).expect("table");
        let column: String = row.try_get_by_index(1).expect("column");
        tables.entry(table).or_default().insert(column);
    }
    tables
}

/// Rows per table (but the migration log).
async fn row_counts(db: &TestDb) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for table in columns(db).await.into_keys() {
        let row = db
            .conn
            .query_one_raw(Statement::from_string(
                db.backend,
                format!("SELECT COUNT(*) FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("one row");
        let n: i64 = row.try_get_by_index(0).expect("count value");
        counts.insert(table, n as u64);
    }
    counts
}

async fn applied(db: &TestDb) -> Vec<String> {
    Migrator::get_applied_migrations(&db.conn)
        .await
        .expect("applied")
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

async fn exec(db: &TestDb, stmt: impl StatementBuilder) {
    db.conn.execute(&stmt).await.expect("statement");
}

/// (migration, table, column, rows, kind) of each loss, kind spelled
/// "table", "column", "cleared" or "deleted".
fn summary(
    losses: &[Loss],
) -> Vec<(
    String,
    &'static str,
    Option<&'static str>,
    u64,
    &'static str,
)> {
    losses
        .iter()
        .map(|l| {
            let kind = match l.kind {
                LossKind::DroppedTable => "table",
                LossKind::DroppedColumn => "column",
                LossKind::ClearedColumn => "cleared",
                LossKind::DeletedRows(_) => "deleted",
            };
            (l.migration.clone(), l.table, l.column, l.rows, kind)
        })
        .collect()
}

fn expect(
    rows: &[(&str, &'static str, Option<&'static str>, u64, &'static str)],
) -> Vec<(
    String,
    &'static str,
    Option<&'static str>,
    u64,
    &'static str,
)> {
    rows.iter()
        .map(|&(m, t, c, n, k)| (m.to_owned(), t, c, n, k))
        .collect()
}

/// A migrated database with rows where reverting loses them: two users
/// (one with a home tenant, one with a Firebase uid), a tenant, two tokens
/// of the tenant (one synced), an OAuth 2.0 client with a state of the
/// tenant and one without, credentials with a provider only M11 allows and
/// one it does not need, a conversation with two messages, a recipe with an
/// ingredient.
async fn seeded() -> Vec<TestDb> {
    let dbs = common::all_backends().await;
    for db in &dbs {
        db.migrate(None).await;
        let owner = user(db).await;
        let athlete = user(db).await;
        let t = tenant(db, owner).await;
        exec(
            db,
            Query::update()
                .table("users")
                .value("tenant_id", t)
                .and_where(Expr::col("id").eq(owner))
                .to_owned(),
        )
        .await;
        exec(
            db,
            Query::update()
                .table("users")
                .value("firebase_uid", "fb-athlete")
                .and_where(Expr::col("id").eq(athlete))
                .to_owned(),
        )
        .await;
        for (who, synced) in [(owner, true), (athlete, false)] {
            let mut row = vec![
                ("id", Expr::val(Uuid::new_v4())),
                ("user_id", Expr::val(who)),
                ("tenant_id", Expr::val(t)),
                ("provider", Expr::val("strava")),
                ("access_token", Expr::val("v1:sealed")),
                ("created_at", Expr::val(now())),
                ("updated_at", Expr::val(now())),
            ];
            if synced {
                row.push(("last_sync", Expr::val(now())));
            }
            insert(db, "user_oauth_tokens", row).await.expect("token");
        }
        insert(
            db,
            "oauth2_clients",
            vec![
                ("id", Expr::val(Uuid::new_v4())),
                ("client_id", Expr::val("coach")),
                ("client_secret_hash", Expr::val("hash")),
                ("redirect_uris", json("[\"https://example.com/cb\"]")),
                ("grant_types", json("[\"authorization_code\"]")),
                ("response_types", json("[\"code\"]")),
                ("created_at", Expr::val(now())),
            ],
        )
        .await
        .expect("oauth2 client");
        for (state, tenant_id) in [("with-tenant", Some(t)), ("without-tenant", None)] {
            insert(
                db,
                "oauth2_states",
                vec![
                    ("state", Expr::val(state)),
                    ("client_id", Expr::val("coach")),
                    ("tenant_id", Expr::val(tenant_id)),
                    ("redirect_uri", Expr::val("https://example.com/cb")),
                    ("created_at", Expr::val(now())),
                    ("expires_at", Expr::val(now())),
                ],
            )
            .await
            .expect("oauth2 state");
        }
        for provider in ["strava", "garmin"] {
            tenant_credential(db, t, provider)
                .await
                .expect("tenant credential");
        }
        for provider in ["fitbit", "whoop"] {
            app_credential(db, owner, provider)
                .await
                .expect("user app credential");
        }
        let conversation = Uuid::new_v4();
        insert(
            db,
            "chat_conversations",
            vec![
                ("id", Expr::val(conversation)),
                ("user_id", Expr::val(owner)),
                ("tenant_id", Expr::val(t)),
                ("title", Expr::val("Training plan")),
                ("created_at", Expr::val(now())),
                ("updated_at", Expr::val(now())),
            ],
        )
        .await
        .expect("conversation");
        for role in ["user", "assistant"] {
            insert(
                db,
                "chat_messages",
                vec![
                    ("id", Expr::val(Uuid::new_v4())),
                    ("conversation_id", Expr::val(conversation)),
                    ("role", enum_val(role, "chat_role")),
                    ("content", Expr::val("hello")),
                    ("created_at", Expr::val(now())),
                ],
            )
            .await
            .expect("message");
        }
        let recipe = Uuid::new_v4();
        insert(
            db,
            "recipes",
            vec![
                ("id", Expr::val(recipe)),
                ("user_id", Expr::val(owner)),
                ("tenant_id", Expr::val(t)),
                ("name", Expr::val("Oats")),
                ("instructions", json("[\"cook\"]")),
                ("created_at", Expr::val(now())),
                ("updated_at", Expr::val(now())),
            ],
        )
        .await
        .expect("recipe");
        insert(
            db,
            "recipe_ingredients",
            vec![
                ("id", Expr::val(Uuid::new_v4())),
                ("recipe_id", Expr::val(recipe)),
                ("name", Expr::val("oats")),
                ("amount", Expr::val(80.0)),
                ("grams", Expr::val(80.0)),
            ],
        )
        .await
        .expect("ingredient");
    }
    dbs
}

/// Rows per table that `losses` say disappear, seeds of dropped tables added.
fn reported(
    losses: &[Loss],
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let mut lost: BTreeMap<String, u64> = before.keys().map(|t| (t.clone(), 0)).collect();
    for loss in losses {
        if matches!(loss.kind, LossKind::DroppedTable | LossKind::DeletedRows(_)) {
            *lost.entry(loss.table.to_owned()).or_default() += loss.rows;
        }
    }
    for (table, seeds) in PRISTINE_SEEDS {
        if before.contains_key(table) && !after.contains_key(table) {
            *lost.entry(table.to_owned()).or_default() += seeds;
        }
    }
    lost
}

/// Rows per table that really disappeared between `before` and `after`.
fn disappeared(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    before
        .iter()
        .map(|(t, n)| (t.clone(), n - after.get(t).copied().unwrap_or(0)))
        .collect()
}

#[tokio::test]
async fn the_catalog_has_one_entry_per_migration_in_order() {
    let names: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let listed: Vec<String> = down_catalog().into_iter().map(|e| e.migration).collect();
    assert_eq!(listed, names);
}

#[tokio::test]
async fn each_down_removes_exactly_the_tables_and_columns_the_catalog_lists() {
    for db in common::all_backends().await {
        let b = db.backend;
        db.migrate(None).await;
        for effects in down_catalog().iter().rev() {
            let m = &effects.migration;
            let before = columns(&db).await;
            Migrator::down(&db.conn, Some(1))
                .await
                .unwrap_or_else(|err| panic!("{b:?}: down of {m}: {err}"));
            let after = columns(&db).await;

            let dropped: BTreeSet<&str> = before
                .keys()
                .filter(|t| !after.contains_key(*t))
                .map(String::as_str)
                .collect();
            let listed: BTreeSet<&str> = effects.dropped_tables.iter().copied().collect();
            assert_eq!(dropped, listed, "{b:?}: tables {m}'s down drops");

            let dropped: BTreeSet<(&str, &str)> = before
                .iter()
                .filter_map(|(t, cols)| after.get(t).map(|kept| (t, cols, kept)))
                .flat_map(|(t, cols, kept)| {
                    cols.difference(kept).map(move |c| (t.as_str(), c.as_str()))
                })
                .collect();
            let listed: BTreeSet<(&str, &str)> = effects.dropped_columns.iter().copied().collect();
            assert_eq!(dropped, listed, "{b:?}: columns {m}'s down drops");

            // What it empties or deletes from lives on in the schema.
            for (t, c) in effects.cleared_columns {
                assert!(
                    before[*t].contains(*c) && after[*t].contains(*c),
                    "{b:?}: {m} empties {t}.{c}, which it keeps"
                );
            }
            for set in effects.deleted_rows.iter().chain(&effects.seeded_rows) {
                assert!(
                    before.contains_key(set.table),
                    "{b:?}: {m} lists rows of {}, which exists before its down",
                    set.table
                );
            }
        }
        assert!(columns(&db).await.is_empty(), "{b:?}: every table gone");
    }
}

#[tokio::test]
async fn down_without_consent_names_every_loss_and_changes_nothing() {
    for db in seeded().await {
        let b = db.backend;
        let losses = down_losses(&db.conn, Some(30)).await.expect("losses");
        assert_eq!(
            summary(&losses),
            expect(&[
                (M19, "recipe_ingredients", None, 1, "table"),
                (M19, "recipes", None, 1, "table"),
                (M18, "users", Some("auth_provider"), 2, "column"),
                (M18, "users", Some("firebase_uid"), 1, "column"),
                (M17, "chat_messages", None, 2, "table"),
                (M17, "chat_conversations", None, 1, "table"),
                (M15, "user_oauth_tokens", Some("last_sync"), 1, "column"),
                (M12, "users", Some("role"), 2, "column"),
                (M11, "user_oauth_app_credentials", None, 1, "deleted"),
                (M11, "tenant_oauth_credentials", None, 1, "deleted"),
                (M09, "user_oauth_tokens", None, 2, "deleted"),
                (M09, "oauth2_states", None, 1, "deleted"),
                (M09, "users", Some("tenant_id"), 1, "cleared"),
                (M09, "tenant_oauth_credentials", None, 1, "table"),
                (M09, "tenants", None, 1, "table"),
                (M08, "oauth2_states", None, 1, "table"),
                (M08, "oauth2_clients", None, 1, "table"),
                (M01, "user_oauth_app_credentials", None, 1, "table"),
                (M01, "users", None, 2, "table"),
            ]),
            "{b:?}"
        );
        assert_eq!(down_steps(&db.conn, Some(30)).await.unwrap().len(), 23);

        let applied_before = applied(&db).await;
        let rows_before = row_counts(&db).await;
        let err = down_checked(&db.conn, Some(30), false)
            .await
            .expect_err("down 30 without consent must refuse");
        let message = err.to_string();
        assert!(!message.contains('\n'), "{b:?}: one line: {message}");
        for loss in &losses {
            assert!(
                message.contains(&loss.to_string()),
                "{b:?}: names {loss}: {message}"
            );
        }
        for table in [
            "recipes",
            "chat_conversations",
            "user_oauth_tokens",
            "users",
        ] {
            assert!(
                message.contains(&format!(" {table}: ")),
                "{b:?}: {table}: {message}"
            );
        }
        assert!(message.contains("--yes"), "{b:?}: {message}");
        assert_eq!(
            applied(&db).await,
            applied_before,
            "{b:?}: nothing reverted"
        );
        assert_eq!(row_counts(&db).await, rows_before, "{b:?}: no row lost");

        // One step that loses nothing needs no consent.
        down_checked(&db.conn, Some(1), false)
            .await
            .unwrap_or_else(|err| panic!("{b:?}: an index-only step: {err}"));
        assert_eq!(applied(&db).await.len(), 22, "{b:?}");
    }
}

#[tokio::test]
async fn down_with_consent_reverts_every_step_and_loses_exactly_what_it_reported() {
    for db in seeded().await {
        let b = db.backend;

        // Down to M08: M11 and M09 delete what their guards protect.
        let losses = down_losses(&db.conn, Some(15)).await.expect("losses");
        let before = row_counts(&db).await;
        down_checked(&db.conn, Some(15), true)
            .await
            .unwrap_or_else(|err| panic!("{b:?}: down 15 --yes: {err}"));
        assert_eq!(applied(&db).await.len(), 8, "{b:?}: all 15 reverted");
        let after = row_counts(&db).await;
        assert_eq!(
            disappeared(&before, &after),
            reported(&losses, &before, &after),
            "{b:?}: rows lost by down 15 = rows reported"
        );
        assert_eq!(after["users"], 2, "{b:?}: users stay");
        assert_eq!(
            after["user_oauth_tokens"], 0,
            "{b:?}: tenant tokens deleted"
        );
        assert_eq!(
            after["oauth2_states"], 1,
            "{b:?}: the state without tenant stays"
        );
        assert_eq!(
            after["user_oauth_app_credentials"], 1,
            "{b:?}: whoop deleted, fitbit kept"
        );
        let homes = db
            .conn
            .query_one(
                &Query::select()
                    .expr(Expr::col(Asterisk).count())
                    .from("users")
                    .and_where(Expr::col("tenant_id").is_not_null())
                    .to_owned(),
            )
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(homes, 0, "{b:?}: users.tenant_id cleared");

        // The rest: refused without consent, then all of it.
        let losses = down_losses(&db.conn, Some(30)).await.expect("losses");
        assert_eq!(
            summary(&losses),
            expect(&[
                (M08, "oauth2_states", None, 1, "table"),
                (M08, "oauth2_clients", None, 1, "table"),
                (M01, "user_oauth_app_credentials", None, 1, "table"),
                (M01, "users", None, 2, "table"),
            ]),
            "{b:?}"
        );
        assert!(
            down_checked(&db.conn, Some(30), false).await.is_err(),
            "{b:?}"
        );
        assert_eq!(
            applied(&db).await.len(),
            8,
            "{b:?}: a refusal reverts nothing"
        );
        let before = row_counts(&db).await;
        down_checked(&db.conn, Some(30), true)
            .await
            .unwrap_or_else(|err| panic!("{b:?}: down 30 --yes: {err}"));
        assert!(applied(&db).await.is_empty(), "{b:?}");
        let after = row_counts(&db).await;
        assert!(after.is_empty(), "{b:?}: every table gone: {after:?}");
        assert_eq!(
            disappeared(&before, &after),
            reported(&losses, &before, &after),
            "{b:?}: rows lost by the rest = rows reported"
        );
    }
}

#[tokio::test]
async fn seeds_as_seeded_are_no_loss_but_edited_seeds_are() {
    for db in common::all_backends().await {
        let b = db.backend;
        db.migrate(None).await;
        assert!(
            down_losses(&db.conn, None)
                .await
                .expect("losses")
                .is_empty(),
            "{b:?}: a migrated, unused database loses nothing"
        );

        let set = |table: &'static str,
                   key: &'static str,
                   id: &'static str,
                   column: &'static str,
                   value: &'static str| {
            Query::update()
                .table(table)
                .value(column, value)
                .and_where(Expr::col(key).eq(id))
                .to_owned()
        };
        let edits = [
            set(
                "system_settings",
                "key",
                "auto_approval_enabled",
                "value",
                "true",
            ),
            set(
                "admin_config_categories",
                "id",
                "cat_rate_limiting",
                "display_name",
                "Limits",
            ),
            set(
                "admin_config_categories",
                "id",
                "cat_monitoring",
                "display_name",
                "Watch",
            ),
        ];
        for edit in edits {
            exec(&db, edit).await;
        }
        assert_eq!(
            summary(&down_losses(&db.conn, None).await.expect("losses")),
            expect(&[
                (M21, "admin_config_categories", None, 1, "deleted"),
                (M20, "admin_config_categories", None, 1, "table"),
                (M13, "system_settings", None, 1, "table"),
            ]),
            "{b:?}"
        );
        assert!(down_checked(&db.conn, None, false).await.is_err(), "{b:?}");

        let undo = [
            set(
                "system_settings",
                "key",
                "auto_approval_enabled",
                "value",
                "false",
            ),
            set(
                "admin_config_categories",
                "id",
                "cat_rate_limiting",
                "display_name",
                "Rate Limiting",
            ),
            set(
                "admin_config_categories",
                "id",
                "cat_monitoring",
                "display_name",
                "Monitoring",
            ),
        ];
        for edit in undo {
            exec(&db, edit).await;
        }
        down_checked(&db.conn, None, false)
            .await
            .unwrap_or_else(|err| panic!("{b:?}: an unused database goes down freely: {err}"));
        assert!(applied(&db).await.is_empty(), "{b:?}");
    }
}
