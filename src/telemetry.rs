//! Metrics, recorded through the [`metrics`] facade (feature `metrics`).
//!
//! pierre-db records; the application chooses where the series go by
//! installing a recorder (`metrics-exporter-prometheus`, an OpenTelemetry
//! bridge, …) before it connects. Without a recorder every call is a no-op;
//! without the feature nothing of this is compiled in.
//!
//! | series | type | labels |
//! |---|---|---|
//! | [`CALL_DURATION`] | histogram, seconds | `repository`, `method` |
//! | [`CALL_ERRORS`] | counter | `repository`, `method`, `kind` |
//! | [`CALLS_IN_FLIGHT`] | gauge | none |
//! | [`POOL_CONNECTIONS`] | gauge | `pool`, `state` (`open`, `idle`, `in_use`, `max`) |
//! | [`CONTENTION`] | counter | none |
//! | [`RETRIES`] | counter | `kind` |
//! | [`RETRIES_EXHAUSTED`] | counter | `kind` |
//! | [`KEY_CACHE_EVENTS`] | counter | `event` |
//! | [`REPLICA_FALLBACKS`] | counter | `reason` (`unhealthy`, `own_write`) |
//! | [`CALLING_THREAD_READS`] | counter | `outcome` (`served`, `fell_back`) |
//!
//! - `repository` is the accessor that hands the repository out (`users`,
//!   `oauth_tokens` for `db.tenant(t).oauth_tokens()`,
//!   `across_tenants.oauth_tokens`), `method` the method's name, `kind` the
//!   error's [`DatabaseError::kind`](crate::DatabaseError::kind). No label
//!   ever carries a tenant, a user or a value: every label has a fixed,
//!   small set of values, so the number of series is bounded.
//! - A call's duration is recorded when it returns, whatever it returns; a
//!   call whose future is dropped unfinished records none (and leaves
//!   [`CALLS_IN_FLIGHT`]). A method that calls another one of the library
//!   (`get_by_email_required` calls `get_by_email`) is recorded once, as
//!   the outer call. `db.global_admin_config()` and
//!   `db.global_audit_events()` are labelled `admin_config` and
//!   `audit_events`, like their tenant scopes' handles.
//! - The pool is sampled at most once a second, by the statements
//!   themselves (no background task): the gauges keep their last values
//!   while no statement runs, and with several handles in one process the
//!   last one sampled wins. The driver does not count the tasks waiting
//!   for a connection: when `in_use` equals `max`, the calls in
//!   [`CALLS_IN_FLIGHT`] beyond it are waiting (or between statements).
//! - [`CONTENTION`] counts every busy, locked or serialization failure the
//!   database reported, including those a retry then absorbed;
//!   [`RETRIES`] counts the re-runs of a transaction (or of a key
//!   operation) after a retryable error (`contention`, or `stale_key`: a
//!   data key retired while it ran), and [`RETRIES_EXHAUSTED`] those that
//!   still failed on their last attempt.
//! - [`KEY_CACHE_EVENTS`]: `hit` (sealed with the cached keys), `confirmed`
//!   (the cached active key was checked against the database), `reloaded`
//!   (the keys were read again), `rotated_elsewhere` (another process had
//!   rotated), `unknown_version` (a value sealed under a key this handle
//!   did not know yet).
//! - [`REPLICA_FALLBACKS`]: reads asked of a read replica and served by the
//!   primary, because no replica was healthy and close enough (or one
//!   failed the read: `unhealthy`) or because this handle had written
//!   since the replicas last caught up (`own_write`).
//! - [`CALLING_THREAD_READS`]: SQLite reads run on the calling thread
//!   (`served`) or given up there and read through sqlx (`fell_back`: a
//!   lock past the busy timeout, a cell not stored as sqlx stores it).
//!
//! ```no_run
//! # async fn run() -> Result<(), pierre_db::DatabaseError> {
//! // Install the exporter's recorder first (for example
//! // `metrics_exporter_prometheus::PrometheusBuilder::new().install()`),
//! // then connect: the descriptions are registered on connect.
//! let key = pierre_db::MasterKey::generate()?;
//! let db = pierre_db::Database::connect("sqlite::memory:", key).await?;
//! // Every call of every repository is now timed.
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

use crate::error::Result;

/// Duration of each repository call, in seconds.
pub const CALL_DURATION: &str = "pierre_db_call_duration_seconds";
/// Repository calls that returned an error, by error kind.
pub const CALL_ERRORS: &str = "pierre_db_call_errors_total";
/// Repository calls started and not yet finished.
pub const CALLS_IN_FLIGHT: &str = "pierre_db_calls_in_flight";
/// The pool's connections: open, idle, in use, and the configured maximum.
pub const POOL_CONNECTIONS: &str = "pierre_db_pool_connections";
/// Busy, locked or serialization failures reported by the database.
pub const CONTENTION: &str = "pierre_db_contention_total";
/// Transactions re-run after a retryable failure.
pub const RETRIES: &str = "pierre_db_transaction_retries_total";
/// Transactions that failed with a retryable error on their last attempt.
pub const RETRIES_EXHAUSTED: &str = "pierre_db_transaction_retries_exhausted_total";
/// Events of the handle's data-key cache.
pub const KEY_CACHE_EVENTS: &str = "pierre_db_key_cache_events_total";
/// Reads asked of a read replica and served by the primary, by reason.
pub const REPLICA_FALLBACKS: &str = "pierre_db_replica_fallbacks_total";
/// SQLite reads on the calling thread, by outcome (builds with SQLite).
#[cfg(feature = "sqlite")]
pub const CALLING_THREAD_READS: &str = crate::calling_thread::SERIES;

/// Registers the description and unit of every series with the recorder
/// installed now. [`Database::connect`](crate::Database::connect) calls it;
/// call it again if the recorder is installed after connecting.
pub fn describe() {
    describe_histogram!(
        CALL_DURATION,
        Unit::Seconds,
        "Duration of each pierre-db repository call"
    );
    describe_counter!(
        CALL_ERRORS,
        "pierre-db repository calls that returned an error, by kind"
    );
    describe_gauge!(
        CALLS_IN_FLIGHT,
        "pierre-db repository calls started and not yet finished"
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        "Connections of the pierre-db pool, by state"
    );
    describe_counter!(
        CONTENTION,
        "Busy, locked or serialization failures reported by the database"
    );
    describe_counter!(
        RETRIES,
        "pierre-db transactions re-run after a retryable failure"
    );
    describe_counter!(
        RETRIES_EXHAUSTED,
        "pierre-db transactions still failing with a retryable error on their last attempt"
    );
    describe_counter!(KEY_CACHE_EVENTS, "Events of the pierre-db data-key cache");
    describe_counter!(
        REPLICA_FALLBACKS,
        "Reads asked of a pierre-db read replica and served by the primary, by reason"
    );
    #[cfg(feature = "sqlite")]
    describe_counter!(
        CALLING_THREAD_READS,
        "pierre-db SQLite reads on the calling thread, served there or given up to sqlx"
    );
}

/// A repository type and the accessor name its series are labelled with.
/// Implemented from the accessor list (`repositories/mod.rs`).
pub(crate) trait Repository {
    const NAME: &'static str;
}

tokio::task_local! {
    /// Set while a call is being recorded: a repository method that calls
    /// another one (`get_by_email_required` calls `get_by_email`) is one
    /// call of the outer method, not two.
    static IN_CALL: ();
}

/// Runs one call of `R::method`, recording its duration and its error
/// (unless it runs inside another recorded call).
///
/// The body is boxed: it is awaited on one of two paths, and unboxed the
/// state machine of every caller would hold it twice over, compounding
/// through nested calls into futures that overflow a thread's stack.
pub(crate) async fn call<R: Repository, T>(
    method: &'static str,
    body: impl Future<Output = Result<T>>,
) -> Result<T> {
    let body = Box::pin(body);
    if IN_CALL.try_with(|_| ()).is_ok() {
        return body.await;
    }
    IN_CALL.scope((), record::<R, T>(method, body)).await
}

/// Awaits `body`, recording its duration and its error.
async fn record<R: Repository, T>(
    method: &'static str,
    body: Pin<Box<impl Future<Output = Result<T>>>>,
) -> Result<T> {
    let _in_flight = InFlight::enter();
    let started = Instant::now();
    let outcome = body.await;
    histogram!(CALL_DURATION, "repository" => R::NAME, "method" => method)
        .record(started.elapsed().as_secs_f64());
    if let Err(err) = &outcome {
        counter!(
            CALL_ERRORS,
            "repository" => R::NAME,
            "method" => method,
            "kind" => err.kind()
        )
        .increment(1);
    }
    outcome
}

/// Counts a call in [`CALLS_IN_FLIGHT`] until dropped, so that a call
/// abandoned mid-way leaves the gauge too. It keeps the gauge it
/// incremented: the decrement reaches the same recorder, whichever thread
/// drops it.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn enter() -> Self {
        let gauge = gauge!(CALLS_IN_FLIGHT);
        gauge.increment(1.0);
        InFlight(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// A retryable failure the database reported.
pub(crate) fn contention() {
    counter!(CONTENTION).increment(1);
}

/// A transaction re-run after `err`.
pub(crate) fn retry(err: &crate::DatabaseError) {
    counter!(RETRIES, "kind" => err.kind()).increment(1);
}

/// A transaction that failed with the retryable `err` on its last attempt.
pub(crate) fn retries_exhausted(err: &crate::DatabaseError) {
    counter!(RETRIES_EXHAUSTED, "kind" => err.kind()).increment(1);
}

/// An event of the key cache (see the module docs for each).
pub(crate) fn key_cache(event: &'static str) {
    counter!(KEY_CACHE_EVENTS, "event" => event).increment(1);
}

/// A read asked of a replica went to the primary.
pub(crate) fn replica_fallback(why: crate::replicas::Fallback) {
    use crate::replicas::Fallback;
    let reason = match why {
        Fallback::None => return,
        Fallback::Unhealthy => "unhealthy",
        Fallback::OwnWrite => "own_write",
    };
    counter!(REPLICA_FALLBACKS, "reason" => reason).increment(1);
}

/// When the pool was last sampled, so that sampling costs one clock read
/// and one atomic load on most statements.
#[derive(Debug)]
pub(crate) struct PoolSampler {
    origin: Instant,
    /// Milliseconds after `origin` of the last sample, plus one (0: never).
    last: AtomicU64,
}

impl PoolSampler {
    const EVERY_MS: u64 = 1000;

    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// Sets the pool's gauges unless they were set within the last second.
    pub(crate) fn sample(&self, shared: &crate::shared::Shared) {
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX) + 1;
        let last = self.last.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < Self::EVERY_MS {
            return;
        }
        // One sampler wins the second; the others go on.
        if self
            .last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let pool = shared.pool_state();
        // Read one after the other: a connection may go idle in between.
        let idle = pool.idle.min(pool.open as usize);
        let (open, idle) = (f64::from(pool.open), idle as f64);
        gauge!(POOL_CONNECTIONS, "pool" => "primary", "state" => "open").set(open);
        gauge!(POOL_CONNECTIONS, "pool" => "primary", "state" => "idle").set(idle);
        gauge!(POOL_CONNECTIONS, "pool" => "primary", "state" => "in_use").set(open - idle);
        gauge!(POOL_CONNECTIONS, "pool" => "primary", "state" => "max").set(f64::from(pool.max));
    }
}
