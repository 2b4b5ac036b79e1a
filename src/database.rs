//! The database handle: connecting, migrating, health and backups.

use std::path::Path;
use std::sync::Arc;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, Statement};
use tracing::{info, instrument};

use crate::backend::Backend;
use crate::config::DatabaseConfig;
use crate::crypto::keyring::Keyring;
use crate::crypto::master::MasterKey;
use crate::error::{DatabaseError, Result};
use crate::keys::KeyCache;
use crate::pagination::CursorCodec;
use crate::shared::Shared;

/// A connected pierre-db database. Cheap to clone: clones share the pool.
///
/// ```
/// use pierre_db::{Database, DatabaseConfig, MasterKey};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// let mut config = DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// // A new database: connect, then migrate (an unmigrated database is
/// // otherwise refused at connect with `DatabaseError::NotMigrated`).
/// config.require_migrated = false;
/// let db = Database::connect_with(config).await?;
/// db.migrate().await?;
/// let health = db.health().await?;
/// assert_eq!(health.backend, "sqlite");
/// assert_eq!(health.pending_migrations, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Database {
    inner: Arc<Shared>,
    /// This handle's last write, shared by its clones (not its sessions).
    mark: Arc<crate::replicas::WriteMark>,
}

/// What [`Database::health`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The newest applied migration, if any.
    pub latest_migration: Option<String>,
    /// Migrations known to this build but not applied.
    pub pending_migrations: usize,
    /// Connections the pool holds now.
    pub pool_size: u32,
    /// Of those, how many are idle.
    pub idle_connections: usize,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// SQLite: whether a pooled connection has the query planner stability
    /// guarantee on (it keeps each prepared statement's plan instead of
    /// re-planning per call; the library turns it on for every connection).
    /// `None` on PostgreSQL.
    pub sqlite_stable_plans: Option<bool>,
}

impl Database {
    /// Connects with default pool settings. See [`DatabaseConfig`] for the
    /// URL forms; the backend is chosen from the URL.
    pub async fn connect(url: &str, master_key: MasterKey) -> Result<Self> {
        Self::connect_with(DatabaseConfig::new(url, master_key)).await
    }

    /// Connects with the given settings (and migrates first if
    /// `config.migrate_on_connect`).
    #[instrument(skip_all, fields(backend))]
    pub async fn connect_with(config: DatabaseConfig) -> Result<Self> {
        config.validate()?;
        let backend = Backend::from_url(&config.url)?;
        tracing::Span::current().record("backend", backend.name());
        let conn = open(&config, &backend, None).await?;
        let cursors = CursorCodec::new(&config.master_key);
        let keys = KeyCache::new(config.master_key.clone(), config.key_refresh_interval);
        let replicas = crate::replicas::ReplicaSet::open(&config).await?;
        #[cfg(feature = "sqlite")]
        let calling_thread = match &backend {
            Backend::SqliteFile(_) if config.sqlite_calling_thread_reads => {
                // As many readers are in use as threads poll the library's
                // futures (a read never yields): keep that many.
                let threads = std::thread::available_parallelism().map_or(1, usize::from);
                crate::calling_thread::file_of(&config.url).map(|path| {
                    crate::calling_thread::Readers::new(
                        &path,
                        config.sqlite_mmap_size,
                        threads.max(config.max_connections as usize),
                    )
                })
            }
            _ => None,
        };
        let db = Self {
            inner: Arc::new(Shared {
                replicas,
                #[cfg(feature = "sqlite")]
                calling_thread,
                conn,
                backend,
                config,
                cursors,
                keys,
                #[cfg(feature = "metrics")]
                pool_sampler: crate::telemetry::PoolSampler::new(),
            }),
            mark: Arc::default(),
        };
        #[cfg(feature = "metrics")]
        crate::telemetry::describe();
        if db.config().migrate_on_connect {
            db.migrate().await?;
            crate::rls::check_on_connect(&db).await;
            return Ok(db);
        }
        match db.migration_status().await?.1 {
            // A wrong master key fails here, before anything is written.
            0 => {
                db.reload_keys().await?;
            }
            pending if db.config().require_migrated => {
                db.inner.conn.clone().close().await.ok();
                return Err(DatabaseError::NotMigrated { pending });
            }
            _ => {}
        }
        crate::rls::check_on_connect(&db).await;
        Ok(db)
    }

    /// Applies every pending migration.
    ///
    /// On a SQLite file the migrations run on a connection of their own.
    #[instrument(skip_all, fields(backend = self.inner.backend.name()))]
    pub async fn migrate(&self) -> Result<()> {
        // Replica reads wait for a new schema (see the `replicas` module);
        // without replicas, nothing to ask.
        let replicas = &self.inner.replicas;
        let pending = match replicas.any() {
            true => self.migration_status().await?.1,
            false => 0,
        };
        let noted = (pending > 0).then(|| replicas.writing(&self.mark));
        // A dedicated connection, because the table rebuilds switch
        // foreign-key enforcement off for their transaction (see the
        // `migration` crate).
        let run = async |conn: &DatabaseConnection| {
            Migrator::up(conn, None)
                .await
                .map_err(|err| DatabaseError::Migration(err.to_string()))
        };
        match &self.inner.backend {
            Backend::SqliteFile(_) => {
                let single = open(&self.inner.config, &self.inner.backend, Some(1)).await?;
                let outcome = run(&single).await;
                single.close().await.ok();
                outcome?;
            }
            _ => run(&self.inner.conn).await?,
        }
        if let Some(noted) = noted {
            noted.done();
        }
        info!("migrations applied");
        self.reload_keys().await?;
        Ok(())
    }

    /// The backend, migration state and pool state.
    #[instrument(skip_all)]
    pub async fn health(&self) -> Result<Health> {
        let conn = &self.inner.conn;
        conn.execute_unprepared("SELECT 1").await?;
        let (latest_migration, pending_migrations) = self.migration_status().await?;
        let pool = self.inner.pool_state();
        let sqlite_stable_plans = stable_plans(conn).await?;
        Ok(Health {
            backend: self.inner.backend.name(),
            latest_migration,
            pending_migrations,
            pool_size: pool.open,
            idle_connections: pool.idle,
            max_connections: pool.max,
            sqlite_stable_plans,
        })
    }

    /// Writes a consistent copy of a SQLite database to `path` (which must
    /// not exist) with `VACUUM INTO`, while the database stays in use. On
    /// PostgreSQL this is an [`DatabaseError::Unsupported`] error: use
    /// `pg_dump` there.
    #[instrument(skip_all)]
    pub async fn backup_to(&self, path: &Path) -> Result<()> {
        if !self.inner.backend.is_sqlite() {
            return Err(DatabaseError::Unsupported(
                "backup_to works on SQLite only; back up PostgreSQL with pg_dump".to_owned(),
            ));
        }
        if path.exists() {
            return Err(DatabaseError::invalid(
                "path",
                format!("{} already exists", path.display()),
            ));
        }
        let target = path
            .to_str()
            .ok_or_else(|| DatabaseError::invalid("path", "not valid UTF-8"))?;
        // Raw SQL: sea-query has no builder for VACUUM; the path is bound, not spliced.
        self.inner
            .conn
            .execute_raw(Statement::from_sql_and_values(
                self.inner.conn.get_database_backend(),
                "VACUUM INTO ?",
                [file_uri(target).into()],
            ))
            .await?;
        Ok(())
    }

    /// Which backend this is.
    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The settings this handle uses (a copy; the master key is the current
    /// one after [`Security::rewrap_data_keys`](crate::Security::rewrap_data_keys)).
    pub fn config(&self) -> DatabaseConfig {
        let mut config = self.inner.config.clone();
        config.master_key = self.inner.keys.master();
        config
    }

    /// **Escape hatch** (feature `internals`): the SeaORM connection,
    /// bypassing every repository. Nothing holds on it: no tenant scoping,
    /// no validation, no encryption, no retry. For this crate's tests and
    /// benchmarks and for maintenance tools; application code uses the
    /// repositories, which are the only way the guarantees in the README
    /// hold.
    #[cfg(feature = "internals")]
    pub fn unscoped_connection(&self) -> &DatabaseConnection {
        &self.inner.conn
    }

    /// The pool, for this crate's own queries.
    pub(crate) fn pool(&self) -> &DatabaseConnection {
        &self.inner.conn
    }

    /// Closes the pool, the read replicas' pools and the connections of
    /// the reads on the calling thread (an in-memory database is gone
    /// afterwards). Clones of the handle then fail as the closed pool does.
    pub async fn close(self) -> Result<()> {
        self.inner.replicas.close().await;
        #[cfg(feature = "sqlite")]
        if let Some(readers) = &self.inner.calling_thread {
            readers.close();
        }
        self.inner.conn.close_by_ref().await?;
        Ok(())
    }

    /// The state every handle and repository shares.
    pub(crate) fn shared(&self) -> &Shared {
        &self.inner
    }

    /// This handle's last write (see the `replicas` module).
    pub(crate) fn mark(&self) -> &crate::replicas::WriteMark {
        &self.mark
    }

    /// A handle on the same pools whose replica reads wait for its own
    /// writes only (see [`Database::replica`]): take one per request, or
    /// per user session, so that other callers' writes through the
    /// process's handle do not send its replica reads to the primary.
    /// A session starts with no writes of its own: it does not wait for
    /// those made through `self` before it was taken. Everything else is
    /// the same as on `self`. Cheap: no connection is opened. Without read
    /// replicas a session is just another clone.
    pub fn session(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            mark: Arc::default(),
        }
    }

    /// The newest applied migration and how many are pending.
    pub(crate) async fn migration_status(&self) -> Result<(Option<String>, usize)> {
        self.inner.migration_status().await
    }

    pub(crate) fn keys(&self) -> &KeyCache {
        self.inner.keys()
    }

    /// See [`Shared::keyring`].
    pub(crate) async fn keyring(&self) -> Result<Arc<Keyring>> {
        self.inner.keyring().await
    }

    /// See [`Shared::reload_keys`].
    pub(crate) async fn reload_keys(&self) -> Result<Arc<Keyring>> {
        self.inner.reload_keys().await
    }
}

/// Opens a pool for `backend`; `max` overrides the pool size.
async fn open(
    config: &DatabaseConfig,
    backend: &Backend,
    max: Option<u32>,
) -> Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(config.url.trim().to_owned());
    options
        .sqlx_logging(false)
        .acquire_timeout(config.acquire_timeout)
        // No ping before every acquire: it cost 10-25% per query here, and a
        // broken connection still surfaces as an error on first use.
        .test_before_acquire(false);
    match backend {
        Backend::SqliteMemory => {
            // The database lives as long as its connection: exactly one,
            // never closed for idleness or age.
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        _ => {
            let max = max.unwrap_or(config.max_connections);
            options
                .max_connections(max)
                .min_connections(config.min_connections.min(max))
                .idle_timeout(config.idle_timeout)
                .max_lifetime(config.max_lifetime);
        }
    }
    // A missing SQLite file is created only when asked.
    let create = config.create_if_missing || crate::backend::sqlite_url_creates(&config.url);
    #[cfg(feature = "sqlite")]
    if backend.is_sqlite() {
        use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
        let file = matches!(backend, Backend::SqliteFile(_));
        let busy = config.sqlite_busy_timeout;
        let mmap_size = config.sqlite_mmap_size.to_string();
        options.map_sqlx_sqlite_opts(move |o| {
            let o = o
                .foreign_keys(true)
                .busy_timeout(busy)
                .create_if_missing(create);
            if file {
                // WAL lets readers run beside the writer; NORMAL is durable
                // across application crashes and the WAL default.
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .pragma("mmap_size", mmap_size.clone())
            } else {
                o
            }
        });
        options.map_sqlx_sqlite_pool_opts(crate::sqlite_planner::with_stable_plans);
    }
    if let Backend::SqliteFile(path) = backend {
        if !create && !path.exists() {
            return Err(DatabaseError::Connect {
                backend: "sqlite",
                problem: crate::error::ConnectProblem::MissingFile,
                detail: format!("no such file: {}", path.display()),
            });
        }
        if let Some(dir) = path
            .parent()
            .filter(|d| create && !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|err| {
                DatabaseError::Config(format!("cannot create {}: {err}", dir.display()))
            })?;
        }
    }
    #[cfg(feature = "postgres")]
    if matches!(backend, Backend::Postgres) {
        probe_postgres(&config.url, config.connect_timeout).await?;
        // The library's sessions reach every row under row-level security
        // unless a tenant scope walls its own transaction (`rls`).
        options.map_sqlx_postgres_opts(|o| o.options([crate::rls::LIBRARY_SESSION]));
    }
    sea_orm::Database::connect(options)
        .await
        .map_err(|err| match err {
            sea_orm::DbErr::Conn(_) => DatabaseError::Config(format!(
                "cannot connect to the {} database: {err}",
                backend.name()
            )),
            other => other.into(),
        })
}

impl Database {
    /// Checks each read replica now (its lag and health, as the background
    /// check does) and reports them, in the configured order; empty without
    /// replicas.
    pub async fn replica_status(&self) -> Vec<crate::ReplicaStatus> {
        self.inner.replicas.status(&self.inner.conn).await
    }

    /// How many reads asked of [`Database::replica`] were served by the
    /// primary (no replica healthy and caught up, or one failed the read),
    /// since this handle connected.
    pub fn replica_fallbacks(&self) -> u64 {
        self.inner.replicas.fallbacks()
    }

    /// How the hot reads on the calling thread went, since this handle
    /// connected (see [`DatabaseConfig::sqlite_calling_thread_reads`]);
    /// `None` when they do not run there: PostgreSQL, SQLite in memory, or
    /// turned off.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pierre_db::DatabaseError> {
    /// use pierre_db::{Database, DatabaseConfig, MasterKey};
    ///
    /// let dir = std::env::temp_dir().join(format!("pierre-doc-{}", std::process::id()));
    /// let mut config = DatabaseConfig::new(
    ///     format!("sqlite:{}", dir.join("app.db").display()),
    ///     MasterKey::generate()?,
    /// );
    /// config.create_if_missing = true;
    /// config.migrate_on_connect = true;
    /// let db = Database::connect_with(config).await?;
    /// let user = db.users().create(pierre_db::NewUser::new("ada@example.org", "hash")).await?;
    /// assert!(db.users().get_by_id(user.id).await?.is_some());
    /// let reads = db.calling_thread_reads().expect("a SQLite file");
    /// assert_eq!((reads.served, reads.fell_back), (1, 0));
    /// # db.close().await?;
    /// # std::fs::remove_dir_all(dir).ok();
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "sqlite")]
    pub fn calling_thread_reads(&self) -> Option<crate::CallingThreadReads> {
        self.inner
            .calling_thread
            .as_ref()
            .map(crate::calling_thread::Readers::counts)
    }

    /// Checks that the PostgreSQL server `url` names answers within
    /// `timeout`, accepts the URL's credentials and holds its database, by
    /// opening and closing one connection; nothing is created. A failure is
    /// [`DatabaseError::Connect`], its problem classified and its message
    /// saying what to fix (a malformed URL is `Config`). For tools that
    /// open connections of their own and want the same answer
    /// [`Database::connect`] gives. A SQLite URL has no server to probe:
    /// `Ok`. Without the `postgres` feature a PostgreSQL URL is `Config`
    /// (this build cannot reach one).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use pierre_db::Database;
    ///
    /// assert!(Database::probe("sqlite::memory:", Duration::from_secs(1)).await.is_ok());
    /// # }
    /// ```
    pub async fn probe(url: &str, timeout: std::time::Duration) -> Result<()> {
        let backend = Backend::from_url(url)?;
        #[cfg(feature = "postgres")]
        if matches!(backend, Backend::Postgres) {
            return probe_postgres(url, timeout).await;
        }
        let _ = (backend, timeout);
        Ok(())
    }
}

/// Opens and closes one connection, so that an unreachable server, a
/// refused login or a missing database fails within `timeout` with the
/// driver's cause (the pool would retry until its acquire timeout, then
/// report only that it timed out).
#[cfg(feature = "postgres")]
async fn probe_postgres(url: &str, timeout: std::time::Duration) -> Result<()> {
    use sea_orm::sqlx::Connection;
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};

    let failed = |problem, detail: String| DatabaseError::Connect {
        backend: "postgres",
        problem,
        detail,
    };
    let options: PgConnectOptions = url
        .trim()
        .parse()
        .map_err(|err| DatabaseError::Config(format!("malformed PostgreSQL URL: {err}")))?;
    match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Err(_) => Err(failed(
            crate::error::ConnectProblem::Unreachable,
            format!("no answer within {} ms", timeout.as_millis()),
        )),
        Ok(Err(err)) => Err(failed(
            crate::error::connect_problem(&err),
            crate::error::connect_detail(&err),
        )),
        Ok(Ok(conn)) => {
            conn.close().await.ok();
            Ok(())
        }
    }
}

/// `path` as an SQLite URI filename. `VACUUM INTO` opens its target with
/// the source's flags; from an in-memory (shared-cache URI) database a plain
/// path gave an empty file, an explicit `file:` URI a complete copy.
fn file_uri(path: &str) -> String {
    let mut uri = String::from("file:");
    for c in path.chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3F"),
            '#' => uri.push_str("%23"),
            _ => uri.push(c),
        }
    }
    uri.push_str("?mode=rwc");
    uri
}

/// Reads the QPSG setting back from a pooled SQLite connection.
async fn stable_plans(conn: &DatabaseConnection) -> Result<Option<bool>> {
    #[cfg(feature = "sqlite")]
    if let sea_orm::DbBackend::Sqlite = conn.get_database_backend() {
        let mut pooled = conn
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(|err| DatabaseError::Config(format!("cannot acquire a connection: {err}")))?;
        let on = crate::sqlite_planner::query_planner_stability(&mut pooled, None)
            .await
            .map_err(|err| DatabaseError::Config(err.to_string()))?;
        return Ok(Some(on));
    }
    let _ = conn;
    Ok(None)
}
