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

use pierre_db::{
    Database, DatabaseConfig, DatabaseError, MasterKey, NewUser, PageRequest, UserStatus,
};

const DATA_DIR: &str = "data";
const DEMO_EMAIL: &str = "ada@example.org";

#[tokio::main]
async fn main() -> Result<(), DatabaseError> {
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

    let config = DatabaseConfig::new(&url, master_key);
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
        Err(DatabaseError::Conflict(_)) => {
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
        "pool: {} connections, {} idle",
        health.pool_size, health.idle_connections
    );
    db.close().await?;
    println!("done");
    Ok(())
}
