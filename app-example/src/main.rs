//! A tiny application on pierre-db, written from the README alone: it
//! depends on `pierre-db` and `tokio` only, and reaches chrono and uuid
//! through pierre-db's re-exports.
//!
//! ```text
//! cargo run -p app-example -- sqlite:data/app.db
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used, reason = "a failed unit test panics"))]

use std::process::ExitCode;

use pierre_db::chrono::{Duration, Utc};
use pierre_db::{
    Database, DatabaseConfig, DatabaseError, MasterKey, NewOAuthToken, NewTenant, NewUser,
    OauthProvider, provider_name,
};

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite::memory:".to_owned());
    match run(&url).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Creates a user, a tenant and a token; returns what it did.
async fn run(url: &str) -> Result<String, DatabaseError> {
    let mut config = DatabaseConfig::new(url, MasterKey::generate()?);
    config.migrate_on_connect = true;
    config.create_if_missing = true;
    let db = Database::connect_with(config).await?;

    let user = db
        .users()
        .create(NewUser::new("grace@example.org", "<password hash>"))
        .await?;
    let tenant = db
        .tenants()
        .create(NewTenant::new("Navy", "navy", user.id))
        .await?;
    let mut token = NewOAuthToken::new(user.id, OauthProvider::Strava, "access-token");
    token.expires_at = Some(Utc::now() + Duration::hours(6));
    db.tenant(tenant.id).oauth_tokens().upsert(token).await?;
    let stored = db
        .tenant(tenant.id)
        .oauth_tokens()
        .get(user.id, OauthProvider::Strava)
        .await?
        .ok_or_else(|| DatabaseError::not_found("token", "strava"))?;
    let id = stored.id;
    Ok(format!(
        "user {} in tenant {} holds token {id} for {}",
        user.email,
        tenant.slug,
        provider_name(stored.provider)
    ))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_application_runs_on_sqlite_in_memory() {
        let summary = super::run("sqlite::memory:").await.unwrap();
        assert!(
            summary.starts_with("user grace@example.org in tenant navy"),
            "{summary}"
        );
    }
}
