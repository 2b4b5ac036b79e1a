//! The quickstart: an embedded SQLite database under ./data, migrated and used.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! The master key comes from `PIERRE_MASTER_ENCRYPTION_KEY` when set, else
//! from `./data/master.key` (created on the first run). Running it again
//! reuses the database and the key.

use std::path::Path;
use std::process::ExitCode;

use chrono::{Duration, Utc};
use pierre_db::OauthProvider;
use pierre_db::{
    ApiKeyTier, Database, DatabaseConfig, DatabaseError, MasterKey, NewApiKey, NewApiKeyUsage,
    NewAuthCode, NewOAuth2Client, NewOAuthToken, NewRefreshToken, NewTenant, NewUser, PageRequest,
    Secret, UserStatus, verify_pkce,
};

const DATA_DIR: &str = "data";
const DEMO_EMAIL: &str = "ada@example.org";
const DEMO_TENANT: &str = "analytical-engines";

/// Runs the tour; a failure prints its message (the `Display` form, which
/// says what to do) and exits with status 1.
#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), DatabaseError> {
    let url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| format!("sqlite:{DATA_DIR}/pierre.db"));
    let master_key = match std::env::var(pierre_db::ENV_MASTER_KEY) {
        Ok(text) => {
            println!("master key: from {}", pierre_db::ENV_MASTER_KEY);
            MasterKey::from_base64(&text)?
        }
        Err(_) => {
            let path = Path::new(DATA_DIR).join("master.key");
            let existed = path.exists();
            let key = MasterKey::load_or_create_file(&path)?;
            let how = if existed { "read" } else { "created" };
            println!("master key: {how} {}", path.display());
            key
        }
    };

    let mut config = DatabaseConfig::new(&url, master_key);
    // This demo owns its database and migrates it itself below; an
    // application whose operator migrates keeps the default, and an
    // unmigrated database is refused at connect (DatabaseError::NotMigrated).
    config.require_migrated = false;
    // The demo makes its database on the first run; a mistyped path in an
    // application's URL is refused instead (ConnectProblem::MissingFile).
    config.create_if_missing = true;
    let db = Database::connect_with(config).await?;
    let before = db.health().await?.pending_migrations;
    db.migrate().await?;
    let health = db.health().await?;
    println!(
        "database: {url} ({}), {before} migrations applied now, latest {}",
        health.backend,
        health.latest_migration.as_deref().unwrap_or("none")
    );

    let users = db.users();
    let ada = match users.get_by_email(DEMO_EMAIL).await? {
        Some(existing) => {
            println!("user: found {} ({})", existing.email, existing.id);
            existing
        }
        None => {
            let mut new = NewUser::new(DEMO_EMAIL, "$argon2id$v=19$demo-only");
            new.display_name = Some("Ada Lovelace".to_owned());
            new.status = UserStatus::Active;
            let created = users.create(new).await?;
            println!("user: created {} ({})", created.email, created.id);
            created
        }
    };

    match users.create(NewUser::new(DEMO_EMAIL, "other")).await {
        Err(DatabaseError::Conflict { .. }) => {
            println!("duplicate email: refused with Conflict, as it should be")
        }
        other => println!("duplicate email: unexpected outcome {other:?}"),
    }
    match users.create(NewUser::new("not-an-email", "hash")).await {
        Err(err @ DatabaseError::InvalidInput { .. }) => {
            println!("malformed email: refused ({err})")
        }
        other => println!("malformed email: unexpected outcome {other:?}"),
    }

    // A tenant owned by Ada (its owner membership is created with it).
    let tenant = match db.tenants().get_by_slug(DEMO_TENANT).await? {
        Some(existing) => {
            println!("tenant: found {} ({})", existing.slug, existing.id);
            existing
        }
        None => {
            let created = db
                .tenants()
                .create(NewTenant::new("Analytical Engines", DEMO_TENANT, ada.id))
                .await?;
            println!("tenant: created {} ({})", created.slug, created.id);
            created
        }
    };

    // An OAuth token, stored encrypted and read back through the tenant's scope.
    let scope = db.tenant(tenant.id);
    let mut token = NewOAuthToken::new(ada.id, OauthProvider::Strava, "demo-access-token-ZmFrZQ");
    token.refresh_token = Some(Secret::new("demo-refresh-token"));
    token.expires_at = Some(Utc::now() + Duration::hours(6));
    scope.oauth_tokens().upsert(token).await?;
    let stored = scope
        .oauth_tokens()
        .get(ada.id, OauthProvider::Strava)
        .await?
        .ok_or_else(|| DatabaseError::not_found("oauth token", "strava"))?;
    println!(
        "oauth token: stored encrypted, read back {} chars for {} (printed as {})",
        stored.access_token.expose().len(),
        pierre_db::provider_name(stored.provider),
        stored.access_token
    );

    // An API key: the plaintext is shown once; only its hash is stored.
    let created = db
        .api_keys()
        .create(NewApiKey::new(ada.id, "quickstart", ApiKeyTier::Starter))
        .await?;
    let verified = db
        .api_keys()
        .find_by_prefix_and_verify(created.plaintext.expose())
        .await?;
    println!(
        "api key: created {}…, verifies: {}, a wrong key verifies: {}",
        created.key.key_prefix,
        verified.is_some(),
        db.api_keys()
            .find_by_prefix_and_verify(&format!("{}x", created.plaintext.expose()))
            .await?
            .is_some()
    );

    // Usage, recorded in one batch, summarized in one query.
    let batch: Vec<NewApiKeyUsage> = (0..20u16)
        .map(|i| {
            let tool = if i % 3 == 0 {
                "get_activities"
            } else {
                "get_athlete"
            };
            let status = if i % 7 == 0 { 500 } else { 200 };
            let mut usage = NewApiKeyUsage::new(created.key.id, tool, status);
            usage.request.response_time_ms = Some(40 + u32::from(i));
            usage
        })
        .collect();
    db.usage().record_api_key_usage_batch(batch).await?;
    let stats = db
        .usage()
        .usage_stats(
            created.key.id,
            Utc::now() - Duration::hours(1),
            Utc::now() + Duration::minutes(1),
        )
        .await?;
    println!(
        "usage: {} requests, {} ok, {} failed, average {:.1} ms, by tool {:?}",
        stats.total_requests,
        stats.successful_requests,
        stats.failed_requests,
        stats.average_response_time_ms.unwrap_or_default(),
        stats.requests_by_tool
    );

    // One OAuth 2.0 authorization-code exchange (PKCE S256): the server
    // issues a code in the tenant; the token endpoint consumes it once,
    // learns the tenant from it, checks the verifier, and issues a refresh
    // token there.
    let callback = "https://client.example.org/callback";
    let client = db
        .oauth2_clients()
        .register(NewOAuth2Client::new(callback))
        .await?
        .client;
    let (verifier, challenge) = (
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
    let code = scope
        .oauth2_auth_codes()
        .issue(NewAuthCode::new(
            &client.client_id,
            ada.id,
            callback,
            challenge,
        ))
        .await?
        .code;
    let exchange = db.oauth2_exchange();
    let redeemed = exchange
        .consume_auth_code(code.expose(), &client.client_id, callback, Utc::now())
        .await?
        .ok_or_else(|| DatabaseError::not_found("authorization code", "issued above"))?;
    let pkce_ok = verify_pkce(verifier, redeemed.code_challenge.as_deref().unwrap_or(""));
    let refresh = db
        .tenant(redeemed.tenant_id)
        .oauth2_refresh_tokens()
        .issue(NewRefreshToken::new(&client.client_id, redeemed.user_id))
        .await?;
    let replay = exchange
        .consume_auth_code(code.expose(), &client.client_id, callback, Utc::now())
        .await?;
    println!(
        "oauth2: code exchanged for tenant {} (PKCE ok: {pkce_ok}), refresh token until {}, \
         replaying the code: {}",
        redeemed.tenant_id,
        refresh.expires_at.format("%Y-%m-%d"),
        if replay.is_none() {
            "refused"
        } else {
            "ACCEPTED (bug)"
        }
    );

    let page = users
        .list_by_status_paginated(UserStatus::Active, &PageRequest::first(10))
        .await?;
    println!(
        "active users: {} on the first page (more: {}), {} among them",
        page.items.len(),
        page.has_more,
        ada.display_name.as_deref().unwrap_or(&ada.email)
    );

    let health = db.health().await?;
    println!(
        "pool: {} connections of at most {}, {} idle",
        health.pool_size, health.max_connections, health.idle_connections
    );
    db.close().await?;
    println!("done");
    Ok(())
}
