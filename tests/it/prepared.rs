//! The census of prepared statements. A hot path keeps its statement's
//! text and binds values it lists itself, in the builder's order
//! (`query::prepared`); debug builds check that list against the builder on
//! every call. This test finds every statement declared in `src/` and runs
//! each one on every backend, so that no statement's values go unchecked.

#![cfg(debug_assertions)] // Release builds do not check, so there is nothing to count.

use std::collections::BTreeSet;
use std::path::Path;

use pierre_db::internals::prepared_checks;
use pierre_db::{
    AdminTokenUse, ApiKeyTier, ChatRole, Database, IngredientUnit, NewA2aClient, NewA2aUsage,
    NewAdminToken, NewApiKey, NewApiKeyUsage, NewAuthCode, NewChatMessage, NewConversation,
    NewIngredient, NewOAuth2Client, NewOAuthToken, NewRefreshToken, OauthProvider, PageRequest,
    RecipeDraft, Secret, TenantId, UserId,
};
use sea_orm::DbBackend;

use crate::common;

const CALLBACK: &str = "https://client.example.org/cb";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Every `static` prepared slot in `src/`, as `file:line`, with the part
/// names a keyset list's two statements are noted under. The unit tests of
/// `query/prepared.rs` declare slots of their own, which the library this
/// binary links does not contain.
fn declared() -> BTreeSet<(String, &'static str)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = BTreeSet::new();
    for path in crate::common::rust_files(&root.join("src")) {
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if relative == "src/query/prepared.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            // Any `static` whose type names either slot, however qualified
            // (`pub(crate) static X: query::Prepared`), whether or not the
            // macro declares it.
            let is_slot = !line.starts_with("//")
                && line.contains("static ")
                && ["Prepared", "KeysetSql"].iter().any(|slot| {
                    line.split_once(':').is_some_and(|(_, ty)| {
                        ty.split('=')
                            .next()
                            .unwrap_or_default()
                            .trim()
                            .ends_with(slot)
                    })
                });
            if !is_slot {
                continue;
            }
            let site = format!("{relative}:{}", i + 1);
            if line.ends_with("= prepared!();") {
                found.insert((site, ""));
            } else if line.ends_with("= keyset_sql!();") {
                found.insert((site.clone(), " first"));
                found.insert((site, " after"));
            } else {
                panic!(
                    "{site}: a slot is declared with prepared!() or keyset_sql!(), which name it: {line}"
                );
            }
        }
    }
    found
}

#[tokio::test]
async fn every_prepared_statement_is_checked_against_its_builder_on_every_backend() {
    let declared = declared();
    assert!(
        declared.len() >= 25,
        "the census found only {} prepared statements: {declared:?}",
        declared.len()
    );
    for w in common::worlds().await {
        run_every_hot_path(&w.t.db, w.acme, w.ada, w.bob).await;
        let checked = prepared_checks::on_this_thread();
        let backend = match w.t.backend {
            "postgres" => DbBackend::Postgres,
            _ => DbBackend::Sqlite,
        };
        let missed: Vec<String> = declared
            .iter()
            .map(|(site, part)| prepared_checks::name(site, part, backend))
            .filter(|name| !checked.contains(name))
            .collect();
        assert!(
            missed.is_empty(),
            "{}: these prepared statements never ran, so their values were not checked \
             against their builder (run them in run_every_hot_path): {missed:?}",
            w.t.backend
        );
    }
}

/// Runs the hot path of every prepared statement once (twice for a keyset
/// list: its first page and a page after a cursor). Results are asserted
/// loosely: the repositories' own tests check them; what matters here is
/// that each statement is built and bound.
async fn run_every_hot_path(db: &Database, tenant: TenantId, ada: UserId, bob: UserId) {
    let scope = db.tenant(tenant);

    // Users: by id, email, Firebase uid; a list by status, two pages.
    let user = db.users().get_by_id(ada).await.unwrap().unwrap();
    db.users().get_by_email("ada@example.org").await.unwrap();
    db.users()
        .get_by_email_including_inactive("ada@example.org")
        .await
        .unwrap();
    db.users()
        .get_by_firebase_uid("firebase-nobody")
        .await
        .unwrap();
    let first = db
        .users()
        .list_by_status_paginated(user.status, &PageRequest::first(1))
        .await
        .unwrap();
    let cursor = first.next_cursor.expect("Ada and Bob share a status");
    db.users()
        .list_by_status_paginated(user.status, &PageRequest::after(cursor, 1))
        .await
        .unwrap();

    // Tenants: by id and by slug.
    let slug = db.tenants().get_by_id(tenant).await.unwrap().unwrap().slug;
    assert!(db.tenants().get_by_slug(&slug).await.unwrap().is_some());

    // OAuth tokens: a sealed upsert (and its key check), and a get.
    let mut token = NewOAuthToken::new(ada, OauthProvider::Strava, "ya29.census");
    token.refresh_token = Some(Secret::new("1//census"));
    scope.oauth_tokens().upsert(token).await.unwrap();
    scope
        .oauth_tokens()
        .get(ada, OauthProvider::Strava)
        .await
        .unwrap();

    // API keys: lookup and verify; usage recorded with it.
    let key = db
        .api_keys()
        .create(NewApiKey::new(ada, "census", ApiKeyTier::Starter))
        .await
        .unwrap();
    let found = db
        .api_keys()
        .find_by_prefix_and_verify(key.plaintext.expose())
        .await
        .unwrap();
    assert!(found.is_some());
    db.usage()
        .record_api_key_usage(NewApiKeyUsage::new(key.key.id, "census", 200))
        .await
        .unwrap();

    // Platform: an MCP token validated, an admin token's use recorded.
    let mcp = db.mcp_tokens().create(ada, "census", None).await.unwrap();
    assert!(
        db.mcp_tokens()
            .validate(mcp.plaintext.expose())
            .await
            .unwrap()
            .is_some()
    );
    db.mcp_tokens().get(mcp.token.id, ada).await.unwrap();
    let admin = db
        .admin_tokens()
        .create(NewAdminToken::new("eyJ.census.signature", "s", "census"))
        .await
        .unwrap();
    db.admin_tokens()
        .record_use(admin.id, AdminTokenUse::new("list_keys"))
        .await
        .unwrap();

    // OAuth 2.0 server: a client looked up; a code and a refresh token
    // issued and spent; a state that was never stored is not spent.
    let client = db
        .oauth2_clients()
        .register(NewOAuth2Client::new(CALLBACK))
        .await
        .unwrap()
        .client
        .client_id;
    assert!(db.oauth2_clients().get(&client).await.unwrap().is_some());
    let code = scope
        .oauth2_auth_codes()
        .issue(NewAuthCode::new(&client, ada, CALLBACK, CHALLENGE))
        .await
        .unwrap();
    let refresh = scope
        .oauth2_refresh_tokens()
        .issue(NewRefreshToken::new(&client, ada))
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let exchange = db.oauth2_exchange();
    let spent = exchange.consume_auth_code(code.code.expose(), &client, CALLBACK, now);
    assert!(spent.await.unwrap().is_some());
    let spent = exchange.consume_refresh_token(refresh.token.expose(), &client, now);
    assert!(spent.await.unwrap().is_some());
    let spent = exchange.consume_state("census-state-never-stored", &client, now);
    assert!(spent.await.unwrap().is_none());

    // A2A: a session touched, usage recorded.
    let agent_key = db
        .api_keys()
        .create(NewApiKey::new(bob, "agents", ApiKeyTier::Starter))
        .await
        .unwrap();
    let agent = db
        .a2a_clients()
        .register(NewA2aClient::new(
            bob,
            agent_key.key.id,
            "census-agent",
            "pk-census",
            &["tasks"],
        ))
        .await
        .unwrap()
        .client
        .id;
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    let session = db
        .a2a_sessions()
        .create(bob, agent, None, &["tasks"], expires)
        .await
        .unwrap();
    assert!(
        db.a2a_sessions()
            .touch(session.token.expose())
            .await
            .unwrap()
    );
    db.a2a_usage()
        .record(NewA2aUsage::new(agent, "census", 200))
        .await
        .unwrap();

    // Content: a recipe read with its ingredients; chat messages added and
    // paged (first page, then after a cursor).
    let mut draft = RecipeDraft::new("Census oats");
    draft.ingredients = vec![NewIngredient::new(
        "oats",
        40.0,
        IngredientUnit::Grams,
        40.0,
    )];
    let recipe = scope.recipes().create(ada, draft).await.unwrap().recipe.id;
    let got = scope.recipes().get(ada, recipe).await.unwrap();
    assert_eq!(got.ingredients.len(), 1);
    let chat = scope.chat();
    let talk = chat
        .create_conversation(NewConversation::new(ada, "census"))
        .await
        .unwrap()
        .id;
    for text in ["one", "two"] {
        let message = NewChatMessage::new(ChatRole::User, text);
        chat.add_message(ada, talk, message).await.unwrap();
    }
    let first = chat
        .messages(ada, talk, &PageRequest::first(1))
        .await
        .unwrap();
    let cursor = first.next_cursor.expect("two messages, pages of one");
    chat.messages(ada, talk, &PageRequest::after(cursor, 1))
        .await
        .unwrap();
}
