//! Connection settings: the URL, the master key and the pool.

use std::collections::HashMap;
use std::time::Duration;

use crate::backend::Backend;
use crate::crypto::master::MasterKey;
use crate::error::{DatabaseError, Result};

/// Environment variable with the database URL.
pub const ENV_DATABASE_URL: &str = "DATABASE_URL";
/// Environment variable with the master key (standard base64 of 32 bytes).
pub const ENV_MASTER_KEY: &str = "PIERRE_MASTER_ENCRYPTION_KEY";
/// Environment variable naming a file that holds the master key (used when
/// `PIERRE_MASTER_ENCRYPTION_KEY` is not set).
pub const ENV_MASTER_KEY_FILE: &str = "PIERRE_MASTER_KEY_FILE";
/// Environment variable: most connections in the pool.
pub const ENV_MAX_CONNECTIONS: &str = "DATABASE_MAX_CONNECTIONS";
/// Environment variable: connections kept open while idle.
pub const ENV_MIN_CONNECTIONS: &str = "DATABASE_MIN_CONNECTIONS";
/// Environment variable: seconds to wait for a free connection.
pub const ENV_ACQUIRE_TIMEOUT: &str = "DATABASE_ACQUIRE_TIMEOUT";
/// Environment variable: seconds connecting to PostgreSQL may take.
pub const ENV_CONNECT_TIMEOUT: &str = "DATABASE_CONNECT_TIMEOUT";
/// Environment variable: seconds before an idle connection is closed.
pub const ENV_IDLE_TIMEOUT: &str = "DATABASE_IDLE_TIMEOUT";
/// Environment variable: seconds before any connection is recycled.
pub const ENV_MAX_LIFETIME: &str = "DATABASE_MAX_LIFETIME";
/// Environment variable: seconds within which every handle learns of a key
/// rotation made elsewhere (see [`DatabaseConfig::key_refresh_interval`]).
pub const ENV_KEY_REFRESH_INTERVAL: &str = "PIERRE_KEY_REFRESH_INTERVAL";
/// Environment variable: `true` to have tenant scopes set their tenant for
/// PostgreSQL's row-level security (see
/// [`DatabaseConfig::row_level_security`]).
pub const ENV_ROW_LEVEL_SECURITY: &str = "PIERRE_ROW_LEVEL_SECURITY";
/// Environment variable: `false` to run every SQLite read through sqlx's
/// worker threads (see [`DatabaseConfig::sqlite_calling_thread_reads`]).
pub const ENV_SQLITE_CALLING_THREAD_READS: &str = "PIERRE_SQLITE_CALLING_THREAD_READS";
/// Environment variable: PostgreSQL read replica URLs, comma-separated
/// (see [`DatabaseConfig::replica_urls`]).
pub const ENV_REPLICA_URLS: &str = "PIERRE_DATABASE_REPLICA_URLS";
/// Environment variable: milliseconds a replica may lag before its reads go
/// elsewhere (see [`DatabaseConfig::max_replica_lag`]).
pub const ENV_MAX_REPLICA_LAG_MS: &str = "PIERRE_MAX_REPLICA_LAG_MS";
/// Environment variable: milliseconds between checks of each replica (see
/// [`DatabaseConfig::replica_check_interval`]).
pub const ENV_REPLICA_CHECK_INTERVAL_MS: &str = "PIERRE_REPLICA_CHECK_INTERVAL_MS";

const DEFAULT_MAX_REPLICA_LAG: Duration = Duration::from_secs(5);
const DEFAULT_REPLICA_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// How to connect. [`DatabaseConfig::new`] gives the defaults; the fields
/// can be changed directly or read from the environment with
/// [`DatabaseConfig::from_env`].
///
/// ```
/// use pierre_db::{DatabaseConfig, MasterKey};
///
/// let mut config = DatabaseConfig::new("sqlite::memory:", MasterKey::generate().unwrap());
/// config.max_connections = 4;
/// assert_eq!(config.min_connections, 2);
/// ```
#[derive(Clone)]
pub struct DatabaseConfig {
    /// `sqlite:PATH`, `sqlite://PATH?mode=rwc`, `sqlite::memory:`,
    /// `postgres://…` or `postgresql://…`.
    pub url: String,
    /// The master key that wraps the data keys.
    pub master_key: MasterKey,
    /// Most connections in the pool (default 10). An in-memory SQLite
    /// database always uses exactly one.
    pub max_connections: u32,
    /// Connections kept open while idle (default 2).
    pub min_connections: u32,
    /// How long a caller waits for a free connection (default 30 s).
    pub acquire_timeout: Duration,
    /// How long connecting to a PostgreSQL server may take before
    /// [`Database::connect`](crate::Database::connect) gives up with
    /// [`DatabaseError::Connect`] (default 5 s).
    pub connect_timeout: Duration,
    /// How long a connection may sit idle before it is closed (default 600 s).
    pub idle_timeout: Duration,
    /// How long any connection lives before it is replaced (default 1800 s).
    pub max_lifetime: Duration,
    /// How long SQLite waits on a locked database before answering BUSY (default 5 s).
    pub sqlite_busy_timeout: Duration,
    /// How much of a SQLite file each connection reads through a memory map
    /// (default 256 MiB; 0 turns it off). Beyond SQLite's small page cache
    /// (2 MiB per connection), a read served from the map costs no system
    /// call: on a 1,000,000-row table, point reads ran 1.5x slower than on
    /// 10,000 rows without it. The map is shared by all
    /// connections through the OS page cache; it is address space, not
    /// memory the process owns.
    pub sqlite_mmap_size: u64,
    /// SQLite files only (default true): the hot reads (point lookups and
    /// keyset pages) outside a transaction run on the calling thread,
    /// through a few read-only connections of the library's own, instead
    /// of crossing to sqlx's worker thread and back (see
    /// [`Database::calling_thread_reads`](crate::Database::calling_thread_reads)).
    /// Such a read holds the calling task's thread for as long as SQLite
    /// takes: microseconds for a point read on cached pages, and at most
    /// 2 ms waiting on another connection's lock (then it goes through
    /// sqlx instead). Turn it
    /// off when the file is on storage whose reads can block for long (a
    /// network file system, a cold disk much larger than memory), where
    /// the runtime's threads should not wait on I/O.
    pub sqlite_calling_thread_reads: bool,
    /// Apply pending migrations while connecting (default false).
    pub migrate_on_connect: bool,
    /// Create a missing SQLite file (and its directory) while connecting
    /// (default false). Without it, or `?mode=rwc` on the URL, a file that
    /// does not exist is [`DatabaseError::Connect`] with
    /// [`ConnectProblem::MissingFile`](crate::ConnectProblem::MissingFile):
    /// a mistyped path must not become a new, empty database. Set it with
    /// `migrate_on_connect` to make a database on first run.
    pub create_if_missing: bool,
    /// Refuse to connect to a database with pending migrations, with
    /// [`DatabaseError::NotMigrated`] (default true). Tools that connect in
    /// order to migrate later ([`Database::migrate`](crate::Database::migrate))
    /// or to report [`Database::health`](crate::Database::health) set it
    /// to false.
    pub require_migrated: bool,
    /// How stale this handle's knowledge of the active data key may be when
    /// it seals a value (default 30 s). Past it, the next write re-reads the
    /// active version first, so a rotation made by another process is seen
    /// within this time. `retire` waits twice this long after a key stopped
    /// sealing: every process on one database must use the same value (or
    /// the rotating process the largest), and keep its clock within seconds
    /// of the others (NTP).
    pub key_refresh_interval: Duration,
    /// PostgreSQL only (default false): every tenant scope sets its tenant
    /// on the transaction each of its statements runs in, for the
    /// row-level security policies that
    /// [`Database::row_level_security`](crate::Database::row_level_security)
    /// installs (see the `rls` module). A plain read or one-row insert
    /// sets it inside itself (no round trip more); an update, delete or
    /// locking read of a scope on the pool runs in a transaction of its
    /// own that sets it (three more), and inside a transaction sets it
    /// first (one more). On SQLite it is refused.
    pub row_level_security: bool,
    /// PostgreSQL only (default none): streaming replicas of the database,
    /// for the reads asked of
    /// [`Database::replica`](crate::Database::replica) (see the `replicas`
    /// module). Each gets a pool of its own, opened lazily. Everything
    /// else, transactions included, stays on the primary. On SQLite it is
    /// refused.
    pub replica_urls: Vec<String>,
    /// How far behind the primary a replica may be and still serve reads
    /// (default 5 s).
    pub max_replica_lag: Duration,
    /// How often each replica's lag and health are checked, in the
    /// background (default 1 s; at most half of `max_replica_lag`, since a
    /// replica's lag counts the time since its last check).
    pub replica_check_interval: Duration,
}

impl DatabaseConfig {
    /// The defaults for `url` and `master_key`.
    pub fn new(url: impl Into<String>, master_key: MasterKey) -> Self {
        Self {
            url: url.into(),
            master_key,
            max_connections: 10,
            min_connections: 2,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            sqlite_busy_timeout: Duration::from_secs(5),
            sqlite_mmap_size: 256 * 1024 * 1024,
            sqlite_calling_thread_reads: true,
            migrate_on_connect: false,
            create_if_missing: false,
            require_migrated: true,
            key_refresh_interval: Duration::from_secs(30),
            row_level_security: false,
            replica_urls: Vec::new(),
            max_replica_lag: DEFAULT_MAX_REPLICA_LAG,
            replica_check_interval: DEFAULT_REPLICA_CHECK_INTERVAL,
        }
    }

    /// Reads `DATABASE_URL`, the master key (`PIERRE_MASTER_ENCRYPTION_KEY`,
    /// or else the file named by `PIERRE_MASTER_KEY_FILE`) and the pool
    /// variables (`DATABASE_MAX_CONNECTIONS`, `DATABASE_MIN_CONNECTIONS`,
    /// `DATABASE_ACQUIRE_TIMEOUT`, `DATABASE_CONNECT_TIMEOUT`, `DATABASE_IDLE_TIMEOUT`,
    /// `DATABASE_MAX_LIFETIME`, `PIERRE_KEY_REFRESH_INTERVAL`; times in
    /// seconds), `PIERRE_ROW_LEVEL_SECURITY`,
    /// `PIERRE_SQLITE_CALLING_THREAD_READS` and the read replicas'
    /// (`PIERRE_DATABASE_REPLICA_URLS`, comma-separated;
    /// `PIERRE_MAX_REPLICA_LAG_MS` and `PIERRE_REPLICA_CHECK_INTERVAL_MS`, in
    /// milliseconds). A missing or malformed value is a
    /// [`DatabaseError::Config`] naming the variable.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// [`DatabaseConfig::from_env`] over a given set of variables.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self> {
        let required = |name: &str| {
            vars.get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| DatabaseError::Config(format!("{name} is not set")))
        };
        let url = required(ENV_DATABASE_URL)?.trim().to_owned();
        Backend::from_url(&url)?;
        let master_key = match (vars.get(ENV_MASTER_KEY), vars.get(ENV_MASTER_KEY_FILE)) {
            (None, Some(file)) if !file.trim().is_empty() => {
                MasterKey::from_file(std::path::Path::new(file.trim()))
                    .map_err(|err| in_variable(ENV_MASTER_KEY_FILE, err))?
            }
            _ => MasterKey::from_base64(required(ENV_MASTER_KEY).map_err(|_| {
                DatabaseError::Config(format!(
                    "{ENV_MASTER_KEY} is not set (nor {ENV_MASTER_KEY_FILE}); a new key is \
                     32 random bytes in base64: `openssl rand -base64 32`"
                ))
            })?)
            .map_err(|err| in_variable(ENV_MASTER_KEY, err))?,
        };
        let mut config = Self::new(url, master_key);
        config.max_connections = number(vars, ENV_MAX_CONNECTIONS, config.max_connections)?;
        config.min_connections = number(vars, ENV_MIN_CONNECTIONS, config.min_connections)?;
        config.acquire_timeout = seconds(vars, ENV_ACQUIRE_TIMEOUT, config.acquire_timeout)?;
        config.connect_timeout = seconds(vars, ENV_CONNECT_TIMEOUT, config.connect_timeout)?;
        config.idle_timeout = seconds(vars, ENV_IDLE_TIMEOUT, config.idle_timeout)?;
        config.max_lifetime = seconds(vars, ENV_MAX_LIFETIME, config.max_lifetime)?;
        config.key_refresh_interval =
            seconds(vars, ENV_KEY_REFRESH_INTERVAL, config.key_refresh_interval)?;
        config.row_level_security = flag(vars, ENV_ROW_LEVEL_SECURITY)?;
        if vars
            .get(ENV_SQLITE_CALLING_THREAD_READS)
            .is_some_and(|v| !v.trim().is_empty())
        {
            config.sqlite_calling_thread_reads = flag(vars, ENV_SQLITE_CALLING_THREAD_READS)?;
        }
        (
            config.replica_urls,
            config.max_replica_lag,
            config.replica_check_interval,
        ) = replica_settings(vars)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings fit together.
    pub fn validate(&self) -> Result<()> {
        if self.max_connections == 0 {
            return Err(DatabaseError::Config(format!(
                "{ENV_MAX_CONNECTIONS} must be at least 1"
            )));
        }
        if self.min_connections > self.max_connections {
            return Err(DatabaseError::Config(format!(
                "{ENV_MIN_CONNECTIONS} ({}) exceeds {ENV_MAX_CONNECTIONS} ({})",
                self.min_connections, self.max_connections
            )));
        }
        if self.acquire_timeout.is_zero() {
            return Err(DatabaseError::Config(format!(
                "{ENV_ACQUIRE_TIMEOUT} must be at least 1 second"
            )));
        }
        if self.key_refresh_interval.is_zero() {
            return Err(DatabaseError::Config(format!(
                "{ENV_KEY_REFRESH_INTERVAL} must be greater than zero"
            )));
        }
        let backend = Backend::from_url(&self.url)?;
        if self.row_level_security && backend.is_sqlite() {
            return Err(DatabaseError::Config(format!(
                "{ENV_ROW_LEVEL_SECURITY} is for PostgreSQL; SQLite has no row-level security \
                 (the tenant scope still applies)"
            )));
        }
        if !self.replica_urls.is_empty() {
            if backend.is_sqlite() {
                return Err(DatabaseError::Config(format!(
                    "{ENV_REPLICA_URLS} is for PostgreSQL; an embedded SQLite database has no \
                     replicas"
                )));
            }
            for url in &self.replica_urls {
                if !matches!(Backend::from_url(url)?, Backend::Postgres) {
                    return Err(DatabaseError::Config(format!(
                        "{ENV_REPLICA_URLS}: {} is not a PostgreSQL URL",
                        redact_password(url)
                    )));
                }
            }
            // A replica's lag counts the time since its last check: checks
            // must come well within the bound for it to be in use at all.
            if self.replica_check_interval.is_zero()
                || self.replica_check_interval.saturating_mul(2) > self.max_replica_lag
            {
                return Err(DatabaseError::Config(format!(
                    "{ENV_REPLICA_CHECK_INTERVAL_MS} ({} ms) must be greater than zero and at \
                     most half of {ENV_MAX_REPLICA_LAG_MS} ({} ms)",
                    self.replica_check_interval.as_millis(),
                    self.max_replica_lag.as_millis()
                )));
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_password(&self.url))
            .field("master_key", &self.master_key)
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .field("sqlite_busy_timeout", &self.sqlite_busy_timeout)
            .field("sqlite_mmap_size", &self.sqlite_mmap_size)
            .field(
                "sqlite_calling_thread_reads",
                &self.sqlite_calling_thread_reads,
            )
            .field("migrate_on_connect", &self.migrate_on_connect)
            .field("create_if_missing", &self.create_if_missing)
            .field("require_migrated", &self.require_migrated)
            .field("key_refresh_interval", &self.key_refresh_interval)
            .field("row_level_security", &self.row_level_security)
            .field(
                "replica_urls",
                &self
                    .replica_urls
                    .iter()
                    .map(|url| redact_password(url))
                    .collect::<Vec<_>>(),
            )
            .field("max_replica_lag", &self.max_replica_lag)
            .field("replica_check_interval", &self.replica_check_interval)
            .finish()
    }
}

/// `err` with the variable it came from named: a configuration error keeps
/// one "configuration error:" prefix, with `name:` before its reason.
fn in_variable(name: &str, err: DatabaseError) -> DatabaseError {
    match err {
        DatabaseError::Config(reason) => DatabaseError::Config(format!("{name}: {reason}")),
        other => other,
    }
}

/// The URL with the password of its user info replaced.
///
/// ```text
/// postgres://app:s3cret@db/pierre  ->  postgres://app:<redacted>@db/pierre
/// ```
pub(crate) fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let user_info = &authority[..at];
    let Some(colon) = user_info.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:<redacted>{}",
        &url[..scheme_end],
        &user_info[..colon],
        &url[scheme_end + at..]
    )
}

fn number(vars: &HashMap<String, String>, name: &str, default: u32) -> Result<u32> {
    match vars.get(name).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(text) => text.parse::<u32>().map_err(|_| {
            DatabaseError::Config(format!(
                "{name} must be a whole number of connections, got {text:?}"
            ))
        }),
    }
}

fn flag(vars: &HashMap<String, String>, name: &str) -> Result<bool> {
    match vars
        .get(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "false" | "0" | "off" | "no") => Ok(false),
        Some("true" | "1" | "on" | "yes") => Ok(true),
        Some(text) => Err(DatabaseError::Config(format!(
            "{name} must be true or false, got {text:?}"
        ))),
    }
}

fn seconds(vars: &HashMap<String, String>, name: &str, default: Duration) -> Result<Duration> {
    match vars.get(name).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(text) => text.parse::<u64>().map(Duration::from_secs).map_err(|_| {
            DatabaseError::Config(format!(
                "{name} must be a whole number of seconds, got {text:?}"
            ))
        }),
    }
}

/// The replica URLs, lag bound and check interval `vars` set (the
/// defaults where unset).
pub(crate) fn replica_settings(
    vars: &HashMap<String, String>,
) -> Result<(Vec<String>, Duration, Duration)> {
    let urls = vars
        .get(ENV_REPLICA_URLS)
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|url| !url.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok((
        urls,
        millis(vars, ENV_MAX_REPLICA_LAG_MS, DEFAULT_MAX_REPLICA_LAG)?,
        millis(
            vars,
            ENV_REPLICA_CHECK_INTERVAL_MS,
            DEFAULT_REPLICA_CHECK_INTERVAL,
        )?,
    ))
}

fn millis(vars: &HashMap<String, String>, name: &str, default: Duration) -> Result<Duration> {
    match vars.get(name).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(text) => text.parse::<u64>().map(Duration::from_millis).map_err(|_| {
            DatabaseError::Config(format!(
                "{name} must be a whole number of milliseconds, got {text:?}"
            ))
        }),
    }
}
