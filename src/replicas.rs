//! Read replicas on PostgreSQL: their pools, how far behind each is, and
//! which one a read goes to.
//!
//! PostgreSQL's streaming replication does the copying; this module only
//! chooses. A read asked of [`Database::replica`](crate::Database::replica)
//! goes to a replica that is
//!
//! - healthy: it answered the last check, is a standby, and its lag is
//!   within [`DatabaseConfig::max_replica_lag`](crate::DatabaseConfig::max_replica_lag);
//! - caught up with this handle's own writes: a replica is used after a
//!   write only once a check has seen it replay past everything the primary
//!   had written when the check began, and the write ended before that.
//!
//! Otherwise the read goes to the primary. Nothing of this costs the read a
//! round trip: a background task checks each replica every
//! [`DatabaseConfig::replica_check_interval`](crate::DatabaseConfig::replica_check_interval)
//! (one statement on the primary, one on the replica, each on a connection
//! of the checks' own), and a read only loads a few atomics. A replica's lag
//! counts as the lag its last good check found plus the time since, so a
//! replica whose checks stall goes out of use within the bound. A read a
//! replica fails is served by the primary; a replica that could not be
//! reached is also out of use until a check finds it well (one busy, in
//! conflict with its recovery or behind on the schema is not).
//!
//! Read-your-writes holds per [`Database`](crate::Database) handle (and its
//! clones) or per [`Database::session`](crate::Database::session): after a
//! write through it, its replica reads go to the primary until a replica
//! has replayed the write (a check that began after the write ended saw the
//! replica past the primary's position then, or past the position of the
//! check before). A write whose future was dropped counts too: it may have
//! committed. Writes through the escape hatch (`unscoped_connection`) are
//! not seen. Another handle's or process's writes reach this handle's
//! replica reads within the lag bound (plus one check interval), not at
//! once; a process that writes all the time should take a session per
//! request, or its replica reads mostly go to the primary. Each replica
//! URL must name one server (not a pool behind one name): its checks and
//! its reads must meet the same standby.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::config::{DatabaseConfig, redact_password};
use crate::error::Result;

/// What [`Database::replica_status`](crate::Database::replica_status)
/// reports of one replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// The replica's URL, password hidden.
    pub url: String,
    /// Whether reads go to it now (healthy, lag within the bound).
    pub in_use: bool,
    /// How far its replay is behind the primary, as of the last check
    /// (zero when it had replayed everything; `None` when unknown).
    pub lag: Option<Duration>,
    /// Reads it has served through the handles of this database.
    pub reads: u64,
    /// Why it is not in use, when it is not.
    pub problem: Option<String>,
}

/// Checks once, against the primary `primary_url`, the read replicas that
/// `vars` name (`PIERRE_DATABASE_REPLICA_URLS`, with the lag bound of
/// `PIERRE_MAX_REPLICA_LAG_MS`), as a handle's background check does; no
/// master key needed. For an operator's health check (`pierre-db doctor`);
/// empty when no replica is configured.
pub async fn check_replicas(
    primary_url: &str,
    vars: &std::collections::HashMap<String, String>,
) -> Result<Vec<ReplicaStatus>> {
    let (replica_urls, max_replica_lag, interval) = crate::config::replica_settings(vars)?;
    if replica_urls.is_empty() {
        return Ok(Vec::new());
    }
    let mut config = DatabaseConfig::new(primary_url, crate::MasterKey::generate()?);
    config.replica_urls = replica_urls;
    config.max_replica_lag = max_replica_lag;
    config.replica_check_interval = interval;
    config.validate()?;
    let primary = open_pool(&config, primary_url, 1).await?;
    let set = ReplicaSet::unwatched(&config).await?;
    // Two checks: the second can tell a replica that is past the first's
    // position (at most that long behind) from one that is stuck, where a
    // quiet primary's last commit time alone would look like lag.
    set.check_all(&primary).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = set.status(&primary).await;
    set.close().await;
    primary.close().await.ok();
    Ok(status)
}

/// One replica: its pool and what the checks found.
#[derive(Debug)]
struct Replica {
    url: String,
    conn: DatabaseConnection,
    /// A connection of the checks' own: a pool busy with reads does not
    /// make the replica look unreachable.
    check: DatabaseConnection,
    healthy: AtomicBool,
    /// Lag in microseconds at the last check (`u64::MAX`: unknown).
    lag_micros: AtomicU64,
    /// When (see [`ReplicaSet::now`]) the last check that found it well
    /// began: its lag grows by the time since, so a replica whose checks
    /// stopped (or stall) goes out of use once that passes the bound.
    checked_at: AtomicU64,
    /// When (see [`ReplicaSet::now`]) the last check that found it caught
    /// up with the primary began; 0: never.
    caught_up_at: AtomicU64,
    reads: AtomicU64,
    problem: Mutex<Option<String>>,
    /// The primary's WAL position at the previous check, and when that
    /// check began: under a steady stream of writes a replica seldom
    /// replays up to the position of the moment, but it has replayed past
    /// the previous one by the next check.
    previous: Mutex<Option<(u64, String)>>,
}

impl Replica {
    /// Whether reads may go to it: healthy at its last check, and the lag
    /// found then plus the time since within `bound` (so that a replica
    /// whose checks stall or stop goes out of use).
    fn within(&self, bound: u64, now: u64) -> bool {
        let lag = self
            .lag_micros
            .load(Ordering::Acquire)
            .saturating_mul(1_000)
            .saturating_add(now.saturating_sub(self.checked_at.load(Ordering::Acquire)));
        self.healthy.load(Ordering::Acquire) && lag <= bound
    }
}

/// The replicas of one database's handles.
#[derive(Debug)]
pub(crate) struct ReplicaSet {
    replicas: Vec<Replica>,
    max_lag: Duration,
    /// The zero of the times kept here (nanoseconds since, plus one).
    base: Instant,
    next: AtomicUsize,
    /// Reads that asked for a replica and went to the primary.
    fallbacks: AtomicU64,
    watcher: OnceLock<tokio::task::AbortHandle>,
}

impl Drop for ReplicaSet {
    fn drop(&mut self) {
        if let Some(watcher) = self.watcher.get() {
            watcher.abort();
        }
    }
}

/// When a handle's last write (statement or commit) ended (see
/// [`ReplicaSet::now`]; 0: never): a [`Database`](crate::Database) and its
/// clones share one, each [`Database::session`](crate::Database::session)
/// has its own. Its replica reads wait for its writes, not for others'.
#[derive(Debug, Default)]
pub(crate) struct WriteMark(AtomicU64);

/// See [`ReplicaSet::writing`].
pub(crate) struct Writing<'a> {
    set: &'a ReplicaSet,
    mark: &'a WriteMark,
    ended: bool,
}

impl Writing<'_> {
    /// The write has ended: its commit (if any) is behind it.
    pub(crate) fn done(mut self) {
        self.ended = true;
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if !self.set.any() {
            return;
        }
        // Dropped unfinished (or failed): a commit may still be on its way
        // to the server, so the handle waits out one lag bound more.
        let margin = if self.ended {
            0
        } else {
            u64::try_from(self.set.max_lag.as_nanos()).unwrap_or(u64::MAX / 2)
        };
        let at = self.set.now().saturating_add(margin);
        self.mark.0.fetch_max(at, Ordering::AcqRel);
    }
}

/// Why a read asked of a replica went to the primary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// No replica is configured (the read path is then the primary's).
    None,
    /// Every replica is down or too far behind.
    Unhealthy,
    /// This handle wrote since the replicas last caught up.
    OwnWrite,
}

impl ReplicaSet {
    fn with(replicas: Vec<Replica>, max_lag: Duration) -> Self {
        Self {
            replicas,
            max_lag,
            base: Instant::now(),
            next: AtomicUsize::new(0),
            fallbacks: AtomicU64::new(0),
            watcher: OnceLock::new(),
        }
    }

    /// Opens a lazy pool per replica URL of `config` (a replica that is
    /// down at start is only marked so) and starts checking them in the
    /// background against the primary `config` names.
    pub(crate) async fn open(config: &DatabaseConfig) -> Result<Arc<Self>> {
        let set = Self::unwatched(config).await?;
        if !set.replicas.is_empty() {
            // The primary's side of the checks, on a connection of its own
            // too: a busy primary pool must not age every replica out.
            let primary = open_pool(config, &config.url, 1).await?;
            let task = tokio::spawn(watch(
                Arc::downgrade(&set),
                primary,
                config.replica_check_interval,
            ));
            set.watcher.set(task.abort_handle()).ok();
        }
        Ok(set)
    }

    /// The pools, checked only when asked.
    async fn unwatched(config: &DatabaseConfig) -> Result<Arc<Self>> {
        let mut replicas = Vec::new();
        for url in &config.replica_urls {
            replicas.push(Replica {
                url: redact_password(url),
                conn: open_pool(config, url, config.max_connections).await?,
                check: open_pool(config, url, 1).await?,
                healthy: AtomicBool::new(false),
                lag_micros: AtomicU64::new(u64::MAX),
                checked_at: AtomicU64::new(0),
                caught_up_at: AtomicU64::new(0),
                reads: AtomicU64::new(0),
                problem: Mutex::new(Some("not checked yet".to_owned())),
                previous: Mutex::new(None),
            });
        }
        Ok(Arc::new(Self::with(replicas, config.max_replica_lag)))
    }

    /// Whether any replica is configured.
    pub(crate) fn any(&self) -> bool {
        !self.replicas.is_empty()
    }

    /// The lag bound, in the unit of [`Self::now`].
    fn bound(&self) -> u64 {
        u64::try_from(self.max_lag.as_nanos()).unwrap_or(u64::MAX)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    /// Notes a write of the handle that `mark` is for when the guard is
    /// dropped: [`Writing::done`] when the write has ended; dropped
    /// without it (a future dropped mid-write, an error), the write may
    /// still commit, and the handle's replica reads wait one lag bound
    /// longer.
    pub(crate) fn writing<'a>(&'a self, mark: &'a WriteMark) -> Writing<'a> {
        Writing {
            set: self,
            mark,
            ended: false,
        }
    }

    /// The replica a read goes to (its pool and index), or why none.
    pub(crate) fn pick(
        &self,
        mark: &WriteMark,
    ) -> std::result::Result<(usize, &DatabaseConnection), Fallback> {
        let n = self.replicas.len();
        if n == 0 {
            return Err(Fallback::None);
        }
        let last_write = mark.0.load(Ordering::Acquire);
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let (bound, now) = (self.bound(), self.now());
        let mut why = Fallback::Unhealthy;
        for k in 0..n {
            let i = (start + k) % n;
            let replica = &self.replicas[i];
            if !replica.within(bound, now) {
                continue;
            }
            if last_write != 0 && replica.caught_up_at.load(Ordering::Acquire) <= last_write {
                why = Fallback::OwnWrite;
                continue;
            }
            replica.reads.fetch_add(1, Ordering::Relaxed);
            return Ok((i, &replica.conn));
        }
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        crate::telemetry::replica_fallback(why);
        Err(why)
    }

    /// Replica `i` failed a read, which the primary then serves. A replica
    /// that cannot be reached is out of use until a check finds it well;
    /// a read it refused for itself (a conflict with recovery, a schema it
    /// has not replayed yet, a busy pool) leaves it in use.
    pub(crate) fn failed(&self, i: usize, problem: &sea_orm::DbErr) {
        let replica = &self.replicas[i];
        replica.reads.fetch_sub(1, Ordering::Relaxed);
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        crate::telemetry::replica_fallback(Fallback::Unhealthy);
        if !unreachable(problem, &replica.conn) {
            tracing::debug!(replica = %replica.url, %problem, "read replica failed a read: served by the primary");
            return;
        }
        if replica.healthy.swap(false, Ordering::AcqRel) {
            tracing::warn!(replica = %replica.url, %problem, "read replica failed a read: reads go to the primary until it answers again");
        }
        *lock(&replica.problem) = Some(format!("failed a read: {problem}"));
    }

    /// Stops the checks and closes the replicas' pools (reads asked of
    /// them afterwards go to the primary, whose pool is closed too).
    pub(crate) async fn close(&self) {
        if let Some(watcher) = self.watcher.get() {
            watcher.abort();
        }
        for replica in &self.replicas {
            replica.healthy.store(false, Ordering::Release);
            replica.conn.close_by_ref().await.ok();
            replica.check.close_by_ref().await.ok();
        }
    }

    /// Reads that asked for a replica and were served by the primary.
    pub(crate) fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Checks every replica now, then reports them.
    pub(crate) async fn status(&self, primary: &DatabaseConnection) -> Vec<ReplicaStatus> {
        self.check_all(primary).await;
        self.replicas
            .iter()
            .map(|replica| {
                let lag = replica.lag_micros.load(Ordering::Acquire);
                ReplicaStatus {
                    url: replica.url.clone(),
                    in_use: replica.within(self.bound(), self.now()),
                    lag: (lag != u64::MAX).then(|| Duration::from_micros(lag)),
                    reads: replica.reads.load(Ordering::Relaxed),
                    problem: lock(&replica.problem).clone(),
                }
            })
            .collect()
    }

    async fn check_all(&self, primary: &DatabaseConnection) {
        for replica in &self.replicas {
            let began = self.now();
            let previous = lock(&replica.previous).clone();
            let outcome = check(
                primary,
                &replica.check,
                previous.as_ref().map(|(_, lsn)| lsn),
            )
            .await;
            let outcome = match outcome {
                // Nothing learnt of the replica: its state stands (and
                // expires with the lag bound if this goes on).
                Err(Failed::Primary(problem)) => {
                    tracing::debug!(%problem, "replica check: the primary did not answer");
                    continue;
                }
                Err(Failed::Replica(problem)) => Err(problem),
                Ok(found) => Ok(found),
            };
            let outcome = outcome.map(|found| {
                *lock(&replica.previous) = Some((began, found.written));
                match (found.lag, previous) {
                    // Past the previous check's position: at most the time
                    // since that check behind (the replay timestamp alone
                    // would count an idle primary's quiet time as lag).
                    (Lag::Behind(lag), Some((at, _))) if found.caught_up_previous => {
                        replica.caught_up_at.fetch_max(at, Ordering::AcqRel);
                        let since = Duration::from_nanos(self.now().saturating_sub(at));
                        Lag::Behind(Some(lag.map_or(since, |lag| lag.min(since))))
                    }
                    (lag, _) => lag,
                }
            });
            self.record(replica, began, outcome);
        }
    }

    fn record(&self, replica: &Replica, began: u64, outcome: std::result::Result<Lag, String>) {
        let problem = match outcome {
            Ok(Lag::CaughtUp) => {
                replica.caught_up_at.fetch_max(began, Ordering::AcqRel);
                replica.lag_micros.store(0, Ordering::Release);
                None
            }
            Ok(Lag::Behind(lag)) => {
                let micros = lag.map_or(u64::MAX, |lag| {
                    u64::try_from(lag.as_micros()).unwrap_or(u64::MAX)
                });
                replica.lag_micros.store(micros, Ordering::Release);
                match lag {
                    Some(lag) if lag <= self.max_lag => None,
                    Some(lag) => Some(format!(
                        "replay is {} ms behind (the bound is {} ms)",
                        lag.as_millis(),
                        self.max_lag.as_millis()
                    )),
                    None => Some("replay is behind, by an unknown time".to_owned()),
                }
            }
            Err(problem) => {
                replica.lag_micros.store(u64::MAX, Ordering::Release);
                Some(problem)
            }
        };
        let healthy = problem.is_none();
        if healthy {
            replica.checked_at.fetch_max(began, Ordering::AcqRel);
        }
        let was = replica.healthy.swap(healthy, Ordering::AcqRel);
        match (&problem, was) {
            (Some(problem), true) => {
                tracing::warn!(replica = %replica.url, %problem, "read replica out of use: its reads go to another replica or the primary")
            }
            (None, false) => tracing::info!(replica = %replica.url, "read replica in use"),
            _ => {}
        }
        *lock(&replica.problem) = problem;
    }
}

/// Whether `err` says the server could not be reached or the connection
/// broke (as opposed to the statement failing there, or `pool` being busy).
fn unreachable(err: &sea_orm::DbErr, pool: &DatabaseConnection) -> bool {
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};
    match err {
        DbErr::Conn(_) => true,
        DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed) => true,
        // The driver reports a refused connection as a timeout once it
        // has retried until the deadline: a pool with no connection open
        // could not reach the server, one with all of them in use is busy.
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => open_connections(pool) == 0,
        DbErr::Query(RuntimeErr::SqlxError(err)) | DbErr::Exec(RuntimeErr::SqlxError(err)) => {
            use sea_orm::sqlx::Error;
            matches!(
                **err,
                Error::Io(_)
                    | Error::Tls(_)
                    | Error::Protocol(_)
                    | Error::PoolClosed
                    | Error::WorkerCrashed
            )
        }
        _ => false,
    }
}

/// Why a check learnt nothing.
enum Failed {
    /// The primary's position could not be read.
    Primary(String),
    /// The replica did not answer, or is no standby.
    Replica(String),
}

/// How many connections `pool` holds now.
fn open_connections(pool: &DatabaseConnection) -> u32 {
    #[cfg(feature = "postgres")]
    if pool.get_database_backend() == DbBackend::Postgres {
        return pool.get_postgres_connection_pool().size();
    }
    let _ = pool;
    0
}

/// What one check found.
struct Found {
    lag: Lag,
    /// The primary's WAL position when the check began.
    written: String,
    /// Whether the replica had replayed past the previous check's position.
    caught_up_previous: bool,
}

/// How far behind a replica was.
enum Lag {
    /// The replica had replayed everything the primary had written when
    /// the check began.
    CaughtUp,
    /// Behind by this long since its last replayed transaction (`None`:
    /// no transaction replayed since it started).
    Behind(Option<Duration>),
}

/// The longest a check waits for either server.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

async fn check(
    primary: &DatabaseConnection,
    replica: &DatabaseConnection,
    previous: Option<&String>,
) -> std::result::Result<Found, Failed> {
    let ask = |conn: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>| {
        let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
        let conn = conn.clone();
        async move {
            match tokio::time::timeout(CHECK_TIMEOUT, conn.query_one_raw(stmt)).await {
                Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
                Ok(Err(err)) => Err(err.to_string()),
                Ok(Ok(None)) => Err("no row".to_owned()),
                Ok(Ok(Some(row))) => Ok(row),
            }
        }
    };
    // Read first on the primary: whatever it had written by then is what
    // the replica must have replayed to count as caught up.
    let written: String = ask(primary, "SELECT pg_current_wal_insert_lsn()::text", vec![])
        .await
        .and_then(|row| row.try_get_by_index(0).map_err(|err| err.to_string()))
        .map_err(Failed::Primary)?;
    let row = ask(
        replica,
        "SELECT pg_is_in_recovery(), \
         COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false), \
         COALESCE(pg_last_wal_replay_lsn() >= $2::pg_lsn, false), \
         EXTRACT(EPOCH FROM (clock_timestamp() - pg_last_xact_replay_timestamp()))::float8",
        vec![written.clone().into(), previous.cloned().into()],
    )
    .await
    .map_err(Failed::Replica)?;
    let cell = |i: usize| Failed::Replica(format!("column {i} of the replica's answer"));
    let standby: bool = row.try_get_by_index(0).map_err(|_| cell(0))?;
    if !standby {
        return Err(Failed::Replica(
            "not a standby (not in recovery)".to_owned(),
        ));
    }
    let caught_up: bool = row.try_get_by_index(1).map_err(|_| cell(1))?;
    let caught_up_previous: bool = row.try_get_by_index(2).map_err(|_| cell(2))?;
    let seconds: Option<f64> = row.try_get_by_index(3).map_err(|_| cell(3))?;
    let lag = if caught_up {
        Lag::CaughtUp
    } else {
        Lag::Behind(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
    };
    Ok(Found {
        lag,
        written,
        caught_up_previous,
    })
}

/// Checks the replicas every `interval` while their set lives.
async fn watch(set: Weak<ReplicaSet>, primary: DatabaseConnection, interval: Duration) {
    loop {
        let Some(replicas) = set.upgrade() else {
            return;
        };
        replicas.check_all(&primary).await;
        drop(replicas);
        tokio::time::sleep(interval).await;
    }
}

/// A lazy pool of `max` connections on one server: the library's session
/// options, read-only transactions, and a short acquire timeout so that a
/// replica that went away costs a read little before it falls back to the
/// primary.
async fn open_pool(config: &DatabaseConfig, url: &str, max: u32) -> Result<DatabaseConnection> {
    use crate::error::DatabaseError;

    let mut options = sea_orm::ConnectOptions::new(url.trim().to_owned());
    options
        .max_connections(max)
        .min_connections(0)
        .acquire_timeout(config.connect_timeout.min(Duration::from_secs(1)))
        .connect_timeout(config.connect_timeout)
        .idle_timeout(config.idle_timeout)
        .max_lifetime(config.max_lifetime)
        .connect_lazy(true)
        .sqlx_logging(false)
        // As on the primary's pool: no ping before every acquire (a
        // broken connection fails the read, which then goes to the primary).
        .test_before_acquire(false);
    #[cfg(feature = "postgres")]
    options.map_sqlx_postgres_opts(|o| {
        o.options([
            crate::rls::LIBRARY_SESSION,
            ("default_transaction_read_only", "on"),
        ])
    });
    sea_orm::Database::connect(options).await.map_err(|err| {
        DatabaseError::Config(format!(
            "cannot open the read replica {}: {err}",
            redact_password(url)
        ))
    })
}

/// The value behind `mutex`, also after a panic elsewhere (each is
/// written whole).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
