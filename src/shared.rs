//! The state a database handle and every repository share: the pool, the
//! settings, the cursor codec and the keys (whose one owner this is).
//! Below the query layer, so that a repository's context reaches it
//! without reaching up to [`Database`](crate::Database).

use std::sync::Arc;

use migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;

use crate::backend::Backend;
use crate::config::DatabaseConfig;
use crate::crypto::keyring::Keyring;
use crate::error::{DatabaseError, Result};
use crate::keys::KeyCache;
use crate::pagination::CursorCodec;

#[derive(Debug)]
pub(crate) struct Shared {
    pub conn: DatabaseConnection,
    pub backend: Backend,
    /// The settings as given (the current master key is in `keys`).
    pub config: DatabaseConfig,
    pub cursors: CursorCodec,
    /// The master key and the data keys: their one owner.
    pub keys: KeyCache,
    /// The read replicas (none unless configured), shared by every handle
    /// and session of this database.
    pub replicas: Arc<crate::replicas::ReplicaSet>,
    /// The read-only connections of the hot reads on the calling thread
    /// (a SQLite file, unless turned off).
    #[cfg(feature = "sqlite")]
    pub calling_thread: Option<crate::calling_thread::Readers>,
    /// When the pool's gauges were last set.
    #[cfg(feature = "metrics")]
    pub pool_sampler: crate::telemetry::PoolSampler,
}

impl Shared {
    /// The pool, for this crate's own queries.
    pub(crate) fn pool(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The newest applied migration and how many are pending, read without
    /// creating the migration table (a missing table means all pending).
    pub(crate) async fn migration_status(&self) -> Result<(Option<String>, usize)> {
        let all = Migrator::get_migration_with_status_read_only(&self.conn).await?;
        let latest = all
            .iter()
            .rfind(|m| m.status() == MigrationStatus::Applied)
            .map(|m| m.name().to_owned());
        let pending = all
            .iter()
            .filter(|m| m.status() == MigrationStatus::Pending)
            .count();
        Ok((latest, pending))
    }

    pub(crate) fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// The keys for opening values: the cached ones, or loaded through the
    /// pool (once the schema exists; creating data key v1 on first use).
    pub(crate) async fn keyring(&self) -> Result<Arc<Keyring>> {
        if let Some(keyring) = self.keys.cached() {
            return Ok(keyring);
        }
        // Connected before the schema existed: load once it does.
        let pending = self.migration_status().await?.1;
        if pending > 0 {
            return Err(DatabaseError::NotMigrated { pending });
        }
        self.reload_keys().await
    }

    /// Reads (or on first use creates) the data keys through the pool.
    pub(crate) async fn reload_keys(&self) -> Result<Arc<Keyring>> {
        self.keys.load_or_create(&self.conn).await
    }

    pub(crate) fn cursors(&self) -> &CursorCodec {
        &self.cursors
    }

    /// The driver pool's connections now.
    pub(crate) fn pool_state(&self) -> PoolState {
        #[cfg(feature = "sqlite")]
        if let sea_orm::DbBackend::Sqlite = self.conn.get_database_backend() {
            let pool = self.conn.get_sqlite_connection_pool();
            return PoolState {
                open: pool.size(),
                idle: pool.num_idle(),
                max: pool.options().get_max_connections(),
            };
        }
        #[cfg(feature = "postgres")]
        if let sea_orm::DbBackend::Postgres = self.conn.get_database_backend() {
            let pool = self.conn.get_postgres_connection_pool();
            return PoolState {
                open: pool.size(),
                idle: pool.num_idle(),
                max: pool.options().get_max_connections(),
            };
        }
        PoolState::default()
    }
}

/// Connections of the driver's pool.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PoolState {
    /// Open, idle or in use.
    pub open: u32,
    pub idle: usize,
    /// The most the pool opens.
    pub max: u32,
}
