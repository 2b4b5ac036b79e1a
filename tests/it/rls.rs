//! Row-level security on PostgreSQL: the wall holds for connections of the
//! application's role that are not the library's, a tenant scope sets its
//! tenant on its own transaction only, and putting the wall up or down
//! loses nothing. Each test makes a database owned by, and opened as, a
//! role the wall applies to (neither superuser nor BYPASSRLS), whatever
//! the run's mode.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use pierre_db::{
    AuditSeverity, ConfigActor, ConfigChange, ConfigDataType, Database, DatabaseConfig,
    DatabaseError, IngredientUnit, NewAuditEvent, NewChatMessage, NewConversation, NewIngredient,
    NewOAuthToken, NewTenant, NewTenantOAuthCredential, OauthProvider, RecipeDraft, TenantId,
    UserId,
};
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{AssertSqlSafe, Connection, Executor, Row};
use sea_orm::{ConnectionTrait, Statement};

use crate::common;

/// A database owned by the application's role, opened by it with the wall
/// up; with the admin URL (a superuser, whom the wall does not apply to)
/// for counting.
struct Walled {
    db: Database,
    url: String,
    admin: sea_orm::DatabaseConnection,
}

async fn walled(pool: u32) -> Option<Walled> {
    let url = common::new_walled_postgres_database().await?;
    let mut config = DatabaseConfig::new(&url, common::key());
    config.max_connections = pool;
    config.min_connections = 1;
    config.migrate_on_connect = true;
    config.row_level_security = true;
    let db = Database::connect_with(config).await.unwrap();
    common::wall_up(&db).await;
    let admin_url = common::as_admin(&url);
    let admin = sea_orm::Database::connect(admin_url).await.unwrap();
    Some(Walled { db, url, admin })
}

/// Two tenants, each with a member, a token, a conversation with a
/// message, a recipe with an ingredient, a fitness default, OAuth client
/// credentials, a configuration override and an audit event; and the
/// global rows (data keys, a global override and event).
async fn two_tenants(w: &Walled) -> (TenantId, TenantId) {
    let t = common::TestDb {
        db: w.db.clone(),
        backend: "postgres",
        url: w.url.clone(),
    };
    let ada = common::user(&t, "ada@example.org").await;
    let bob = common::user(&t, "bob@example.org").await;
    let mut tenants = Vec::new();
    for (user, slug) in [(ada, "acme"), (bob, "globex")] {
        let tenant =
            w.db.tenants()
                .create(NewTenant::new(slug, slug, user))
                .await
                .unwrap()
                .id;
        tenants.push(tenant);
        let scope = w.db.tenant(tenant);
        scope
            .oauth_tokens()
            .upsert(NewOAuthToken::new(user, OauthProvider::Strava, "access"))
            .await
            .unwrap();
        let conversation = scope
            .chat()
            .create_conversation(NewConversation::new(user, "Plan"))
            .await
            .unwrap();
        scope
            .chat()
            .add_message(
                user,
                conversation.id,
                NewChatMessage::new(pierre_db::ChatRole::User, "hello"),
            )
            .await
            .unwrap();
        let mut recipe = RecipeDraft::new("Oats");
        recipe.ingredients = vec![NewIngredient::new("oats", 1.0, IngredientUnit::Grams, 1.0)];
        scope.recipes().create(user, recipe).await.unwrap();
        scope
            .fitness_configs()
            .save_tenant_default("default", serde_json::json!({"zones": 5}))
            .await
            .unwrap();
        scope
            .oauth_credentials()
            .upsert(NewTenantOAuthCredential::new(
                OauthProvider::Strava,
                "client",
                "secret",
                "https://app.example.org/cb",
            ))
            .await
            .unwrap();
        let actor = ConfigActor::new(user, "admin@example.org");
        let change = ConfigChange::new("rate_limiting", "burst", "10", ConfigDataType::Integer);
        scope.admin_config().set(change, &actor).await.unwrap();
        let event = NewAuditEvent::new("test", AuditSeverity::Info, "hello", "rls", "ok");
        scope.audit_events().record(event).await.unwrap();
    }
    let actor = ConfigActor::new(ada, "admin@example.org");
    let change = ConfigChange::new("rate_limiting", "burst", "20", ConfigDataType::Integer);
    w.db.global_admin_config()
        .set(change, &actor)
        .await
        .unwrap();
    let event = NewAuditEvent::new("test", AuditSeverity::Info, "hello", "rls", "ok");
    w.db.global_audit_events().record(event).await.unwrap();
    (tenants[0], tenants[1])
}

/// Rows per walled table, counted by the superuser.
async fn counts(admin: &sea_orm::DatabaseConnection) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for table in walled_tables(admin).await {
        let row = admin
            .query_one_raw(Statement::from_string(
                admin.get_database_backend(),
                format!("SELECT count(*) FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        counts.insert(table, row.try_get_by_index::<i64>(0).unwrap());
    }
    counts
}

/// The tables the wall must cover, read from the schema: every table with
/// a `tenant_id` column but `users` (whose column is a home, not an
/// owner), and every table without one whose foreign key points at one of
/// those (reached only through its parent).
async fn walled_tables(admin: &sea_orm::DatabaseConnection) -> Vec<String> {
    let rows = admin
        .query_all_raw(Statement::from_string(
            admin.get_database_backend(),
            "WITH owned AS (SELECT table_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_name = 'tenant_id' \
             AND table_name <> 'users') \
             SELECT table_name::text FROM owned \
             UNION \
             SELECT c.conrelid::regclass::text FROM pg_constraint c \
             WHERE c.contype = 'f' AND c.confrelid::regclass::text IN (SELECT table_name FROM owned) \
             AND c.conrelid::regclass::text NOT IN (SELECT table_name FROM owned) \
             AND c.conrelid::regclass::text <> 'users' \
             ORDER BY 1",
        ))
        .await
        .unwrap();
    let tables: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    assert!(
        tables.iter().any(|t| t == "chat_messages"),
        "the children are found: {tables:?}"
    );
    tables
}

/// A connection of the application's role that is not the library's: no
/// startup setting, as `psql` or a second service would connect.
async fn outsider(w: &Walled) -> PgConnection {
    PgConnection::connect(&w.url).await.unwrap()
}

fn is_wall(err: &sea_orm::sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "42501")
}

#[tokio::test]
async fn the_wall_covers_every_tenant_owned_table_of_the_schema() {
    let Some(w) = walled(2).await else { return };
    let status = w.db.row_level_security().status().await.unwrap();
    assert!(status.enabled, "{status:?}");
    assert!(!status.role_bypasses);
    let covered: Vec<String> = status.tables.iter().map(|t| t.table.to_owned()).collect();
    for table in walled_tables(&w.admin).await {
        assert!(covered.contains(&table), "{table} has no wall: {covered:?}");
    }
    assert!(status.tables.iter().all(|t| t.is_up()), "{status:?}");

    // Taken down, every table says so; put up again, every table is up.
    let down = w.db.row_level_security().disable().await.unwrap();
    assert!(!down.enabled);
    assert!(
        down.tables
            .iter()
            .all(|t| !t.enabled && !t.forced && t.policies == 0)
    );
    assert!(w.db.row_level_security().enable().await.unwrap().enabled);
}

#[tokio::test]
async fn a_connection_with_no_tenant_set_sees_no_row_and_can_write_none() {
    let Some(w) = walled(2).await else { return };
    two_tenants(&w).await;
    let before = counts(&w.admin).await;
    let mut conn = outsider(&w).await;
    let mut refused = 0;
    for (table, rows) in &before {
        let seen: i64 = conn
            .fetch_one(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .await
            .unwrap()
            .get(0);
        assert_eq!(seen, 0, "{table}: {rows} rows, the outsider saw {seen}");
        if *rows == 0 {
            continue;
        }
        // A copy of a row that exists (read by the superuser): refused by
        // the wall before any key or constraint is checked.
        let row: String = w
            .admin
            .query_one_raw(Statement::from_string(
                w.admin.get_database_backend(),
                format!("SELECT row_to_json(t)::text FROM {table} t LIMIT 1"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        // Table names from the schema.
        let err = sea_orm::sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {table} SELECT * FROM json_populate_record(NULL::{table}, $1::json)"
        )))
        .bind(&row)
        .execute(&mut conn)
        .await
        .expect_err(table);
        assert!(is_wall(&err), "{table}: {err}");
        refused += 1;
    }
    assert!(refused >= 8, "only {refused} tables had rows to try");
    assert_eq!(counts(&w.admin).await, before);
}

#[tokio::test]
async fn a_connection_with_a_tenant_set_sees_only_its_rows_and_cannot_write_another_tenants() {
    let Some(w) = walled(2).await else { return };
    let (a, b) = two_tenants(&w).await;
    let before = counts(&w.admin).await;
    let mut conn = outsider(&w).await;
    let mut tx = conn.begin().await.unwrap();
    tx.execute(AssertSqlSafe(format!(
        "SELECT set_config('pierre.scope', 'tenant', true), \
         set_config('pierre.tenant_id', '{a}', true)"
    )))
    .await
    .unwrap();
    for table in ["user_oauth_tokens", "chat_conversations", "tenant_users"] {
        let foreign: i64 = sea_orm::sqlx::query(AssertSqlSafe(format!(
            "SELECT count(*) FROM {table} WHERE tenant_id <> $1"
        )))
        .bind(a.as_uuid())
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get(0);
        let mine: i64 =
            sea_orm::sqlx::query(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap()
                .get(0);
        assert_eq!(foreign, 0, "{table}");
        assert!(mine >= 1, "{table}: tenant A sees none of its rows");
    }
    let messages: i64 = tx
        .fetch_one("SELECT count(*) FROM chat_messages")
        .await
        .unwrap()
        .get(0);
    assert_eq!(messages, 1, "only tenant A's message");

    // Moving A's row to B, and writing a row for B, are refused.
    for sql in [
        format!("UPDATE user_oauth_tokens SET tenant_id = '{b}' WHERE tenant_id = '{a}'"),
        format!(
            "INSERT INTO user_oauth_tokens SELECT * FROM json_populate_record(\
             NULL::user_oauth_tokens, (SELECT row_to_json(t)::jsonb || '{{\"tenant_id\": \"{b}\", \
             \"provider\": \"fitbit\"}}' FROM user_oauth_tokens t LIMIT 1)::json)"
        ),
    ] {
        tx.execute("SAVEPOINT attempt").await.unwrap();
        let err = tx
            .execute(AssertSqlSafe(sql.clone()))
            .await
            .expect_err(&sql);
        assert!(is_wall(&err), "{sql}: {err}");
        tx.execute("ROLLBACK TO SAVEPOINT attempt").await.unwrap();
    }
    tx.rollback().await.unwrap();
    assert_eq!(counts(&w.admin).await, before);
}

#[tokio::test]
async fn a_pooled_connection_carries_no_tenant_into_its_next_use() {
    // One connection: every call below reuses it.
    let Some(w) = walled(1).await else { return };
    let (a, b) = two_tenants(&w).await;
    let a_tokens =
        w.db.tenant(a)
            .oauth_tokens()
            .list_for_provider(OauthProvider::Strava)
            .await
            .unwrap();
    assert_eq!(a_tokens.len(), 1);

    // After tenant A's call, the connection is back to the library's own
    // session: no tenant, every row.
    let raw = w.db.unscoped_connection();
    let row = raw
        .query_one_raw(Statement::from_string(
            raw.get_database_backend(),
            "SELECT coalesce(current_setting('pierre.tenant_id', true), ''), \
             current_setting('pierre.scope', true), \
             (SELECT count(*) FROM user_oauth_tokens)",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "");
    assert_eq!(row.try_get_by_index::<String>(1).unwrap(), "all");
    assert_eq!(row.try_get_by_index::<i64>(2).unwrap(), 2);

    // Used for tenant B next, inside a transaction too: only B's rows.
    let seen =
        w.db.transaction(move |tx| {
            Box::pin(async move {
                tx.tenant(b)
                    .oauth_tokens()
                    .list_for_provider(OauthProvider::Strava)
                    .await
            })
        })
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert!(seen.iter().all(|t| t.tenant_id == b), "{seen:?}");
    let b_tokens =
        w.db.tenant(b)
            .oauth_tokens()
            .list_for_provider(OauthProvider::Strava)
            .await
            .unwrap();
    assert_eq!(b_tokens.len(), 1, "{b_tokens:?}");
    assert!(b_tokens.iter().all(|t| t.tenant_id == b), "{b_tokens:?}");

    // In one transaction, tenant A's statement, then the cross-tenant
    // handle: it reaches every tenant's rows again.
    let (mine, all) =
        w.db.transaction(move |tx| {
            Box::pin(async move {
                let mine = tx
                    .tenant(a)
                    .oauth_tokens()
                    .list_for_provider(OauthProvider::Strava)
                    .await?;
                let bob = b_tokens_owner(&tx, b).await?;
                let all = tx
                    .across_tenants()
                    .oauth_tokens()
                    .list_for_user(bob)
                    .await?;
                Ok((mine, all))
            })
        })
        .await
        .unwrap();
    assert!(mine.iter().all(|t| t.tenant_id == a), "{mine:?}");
    assert_eq!(
        all.len(),
        1,
        "tenant B's token, after tenant A's call: {all:?}"
    );
}

/// The user of tenant B's token, read across tenants.
async fn b_tokens_owner(tx: &pierre_db::Tx<'_>, b: TenantId) -> pierre_db::Result<UserId> {
    let owner = tx.tenants().get_by_id(b).await?.expect("tenant B");
    Ok(owner.owner_user_id)
}

#[tokio::test]
async fn putting_the_wall_up_and_down_loses_nothing() {
    let Some(w) = walled(2).await else { return };
    two_tenants(&w).await;
    let before = counts(&w.admin).await;
    let rls = w.db.row_level_security();
    for _ in 0..2 {
        assert!(!rls.disable().await.unwrap().enabled);
        assert_eq!(counts(&w.admin).await, before);
        assert!(rls.enable().await.unwrap().enabled);
        assert_eq!(counts(&w.admin).await, before);
    }
    let report =
        w.db.security()
            .verify(100, |_| ControlFlow::Continue(()))
            .await
            .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(report.checked >= 2, "{report:?}");
}

#[tokio::test]
async fn sqlite_refuses_row_level_security() {
    let mut config = DatabaseConfig::new("sqlite::memory:", common::key());
    config.row_level_security = true;
    let err = Database::connect_with(config).await.unwrap_err();
    assert!(matches!(err, DatabaseError::Config(_)), "{err}");
    assert!(err.to_string().contains("PostgreSQL"), "{err}");

    let t = common::sqlite().await;
    let err = t.db.row_level_security().status().await.unwrap_err();
    assert!(matches!(err, DatabaseError::Unsupported(_)), "{err}");
}

#[tokio::test]
async fn a_scope_sets_its_tenant_on_every_statement_on_the_pool_and_in_transactions() {
    let Some(w) = walled(2).await else { return };
    let (a, _) = two_tenants(&w).await;
    // A stricter wall than the library's own: rows are reachable only by
    // a statement whose transaction set a tenant. The library's sessions
    // reach every row otherwise, so this is what shows the scope set it.
    for table in ["user_oauth_tokens", "chat_conversations"] {
        w.admin
            .execute_unprepared(&format!(
                "CREATE POLICY test_strict ON {table} AS RESTRICTIVE FOR ALL \
                 USING (current_setting('pierre.scope', true) = 'tenant') \
                 WITH CHECK (current_setting('pierre.scope', true) = 'tenant')"
            ))
            .await
            .unwrap();
    }
    let t = common::TestDb {
        db: w.db.clone(),
        backend: "postgres",
        url: w.url.clone(),
    };
    let user = common::user(&t, "cy@example.org").await;
    let scope = w.db.tenant(a);
    scope
        .oauth_tokens()
        .upsert(NewOAuthToken::new(user, OauthProvider::Fitbit, "access"))
        .await
        .unwrap();
    let token = scope.oauth_tokens().get(user, OauthProvider::Fitbit).await;
    assert!(token.unwrap().is_some(), "the scoped read saw no row");
    let conversation = scope
        .chat()
        .create_conversation(NewConversation::new(user, "Walled"))
        .await
        .unwrap();
    let listed =
        w.db.transaction(move |tx| {
            Box::pin(async move {
                // An unscoped statement first: the scope's statement after
                // it in the same transaction still sets its tenant.
                tx.users().count().await?;
                tx.tenant(a)
                    .chat()
                    .get_conversation(user, conversation.id)
                    .await
            })
        })
        .await
        .unwrap();
    assert_eq!(listed.id, conversation.id);

    // The cross-tenant handle sets no tenant: the stricter wall hides
    // every row from it, as it does from any statement that sets none.
    let across =
        w.db.across_tenants()
            .oauth_tokens()
            .list_for_user(user)
            .await;
    assert!(across.unwrap().is_empty());
}

#[tokio::test]
async fn every_tenant_repository_sets_its_wall() {
    let Some(w) = walled(2).await else { return };
    // The stricter wall of the test above, on every table only scopes
    // write (memberships are written by the tenants repository, a
    // cross-tenant path): a repository whose statement set no wall would
    // fail or see nothing.
    for table in [
        "chat_conversations",
        "chat_messages",
        "fitness_configurations",
        "recipes",
        "recipe_ingredients",
        "tenant_oauth_credentials",
        "user_oauth_tokens",
        "admin_config_overrides",
        "admin_config_audit",
        "audit_events",
    ] {
        w.admin
            .execute_unprepared(&format!(
                "CREATE POLICY test_strict ON {table} AS RESTRICTIVE FOR ALL \
                 USING (current_setting('pierre.scope', true) IN ('tenant', 'global')) \
                 WITH CHECK (current_setting('pierre.scope', true) IN ('tenant', 'global'))"
            ))
            .await
            .unwrap();
    }
    // Writes through every tenant repository (and the global handles).
    let (a, _) = two_tenants(&w).await;
    let user =
        w.db.tenants()
            .get_by_id(a)
            .await
            .unwrap()
            .unwrap()
            .owner_user_id;

    // Reads through each: they see the tenant's rows (and, for
    // configuration, the global ones).
    let scope = w.db.tenant(a);
    let page = pierre_db::PageRequest::first(10);
    assert_eq!(
        scope
            .chat()
            .list_conversations(user, &page)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let recipes = scope.recipes();
    let filter = pierre_db::RecipeFilter::default();
    assert_eq!(recipes.count(user, &filter).await.unwrap(), 1);
    let listed = recipes.list(user, &filter, &page).await.unwrap();
    let recipe = recipes.get(user, listed.items[0].id).await.unwrap();
    assert_eq!(
        recipe.ingredients.len(),
        1,
        "the ingredient, through its recipe"
    );
    assert!(
        scope
            .fitness_configs()
            .get_tenant_default("default")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(scope.oauth_credentials().list().await.unwrap().len(), 1);
    let burst = scope
        .admin_config()
        .effective("rate_limiting", "burst")
        .await
        .unwrap();
    let burst = burst.unwrap().config_value;
    assert_eq!(burst, "10", "the tenant's own override");
    assert_eq!(scope.admin_config().list(None).await.unwrap().len(), 1);
    let events = scope
        .audit_events()
        .list(&pierre_db::AuditEventFilter::default(), &page)
        .await
        .unwrap();
    assert_eq!(events.items.len(), 1);
    let global =
        w.db.global_audit_events()
            .list(&pierre_db::AuditEventFilter::default(), &page)
            .await
            .unwrap();
    assert_eq!(global.items.len(), 1);
}
