//! `cargo run -p migration -- -u URL up|down|status|fresh|refresh|reset`.

use sea_orm_migration::sea_orm::{ConnectOptions, Database};

#[tokio::main]
async fn main() {
    // One connection: the SQLite rebuild migrations switch foreign-key
    // enforcement off on the connection that runs them.
    sea_orm_migration::cli::run_cli_with_connection(
        migration::Migrator,
        |options: ConnectOptions| {
            let mut options = options;
            options.max_connections(1).sqlx_logging(false);
            Database::connect(options)
        },
    )
    .await;
}
