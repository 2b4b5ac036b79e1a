//! Fresh databases for the migration tests: SQLite in memory always, and
//! PostgreSQL when `PIERRE_TEST_POSTGRES_URL` is set (each test in a database
//! of its own). A set URL whose server cannot be reached fails the test.
#![allow(
    dead_code,
    reason = "shared helpers: not every test module uses each one"
)]

#[path = "../../../../tests/support/postgres_db.rs"]
mod postgres_db;
pub mod rows;

use migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "PIERRE_TEST_POSTGRES_URL";

/// An empty database on one backend.
pub struct TestDb {
    /// The connection (one connection on SQLite, as the migrations require).
    pub conn: DatabaseConnection,
    /// Which backend this is.
    pub backend: DbBackend,
    /// The URL the connection was made with.
    pub url: String,
}

impl TestDb {
    /// Applies the first `steps` migrations (all when `None`).
    pub async fn migrate(&self, steps: Option<u32>) {
        Migrator::up(&self.conn, steps)
            .await
            .unwrap_or_else(|err| panic!("migrating {:?} failed: {err}", self.backend));
    }

    /// Runs raw SQL (test setup only).
    pub async fn exec(&self, sql: &str) {
        self.conn
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|err| panic!("{sql}: {err}"));
    }
}

/// An empty SQLite database in memory.
pub async fn sqlite() -> TestDb {
    let url = "sqlite::memory:".to_owned();
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    let conn = Database::connect(options)
        .await
        .expect("open SQLite in memory");
    TestDb {
        conn,
        backend: DbBackend::Sqlite,
        url,
    }
}

/// An empty PostgreSQL database of its own, if a server is configured
/// (dropped when the test ends).
pub async fn postgres() -> Option<TestDb> {
    let url = postgres_db::create(POSTGRES_URL_VAR).await?;
    let conn = Database::connect(quiet(&url, 2))
        .await
        .expect("connect to test database");
    Some(TestDb {
        conn,
        backend: DbBackend::Postgres,
        url,
    })
}

/// SQLite always, PostgreSQL when configured.
pub async fn all_backends() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    dbs.extend(postgres().await);
    dbs
}

fn quiet(url: &str, max: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(max).sqlx_logging(false);
    options
}
