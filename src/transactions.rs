//! Transactions that are re-run when the database asks for it.
//!
//! SQLite answers BUSY or LOCKED when another connection holds the lock
//! longer than the busy timeout; PostgreSQL aborts one side of a
//! serialization conflict (40001) or deadlock (40P01). In both cases the
//! whole transaction may be run again. Nothing else is retried: a unique
//! violation would fail the same way every time. The decision reads the
//! error code ([`DatabaseError::Contention`]), never the message.
//!
//! Transactions that may write begin with `BEGIN IMMEDIATE` on SQLite
//! ([`begin_write`]). A deferred transaction that reads and then writes
//! holds a read snapshot when it asks for the write lock; if another
//! connection committed since, SQLite cannot let it write at all and answers
//! BUSY_SNAPSHOT at once, without waiting for the busy timeout, so quick
//! retries keep losing under load. Taking the write lock at `BEGIN` makes
//! writers queue on the busy timeout instead. Readers outside transactions
//! are not affected (WAL lets them run beside the writer).

use std::future::Future;
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::DatabaseTransaction;
use tracing::{instrument, warn};

use crate::database::Database;
use crate::error::{DatabaseError, Result};
use crate::keys::store;
use crate::query::{AllTenants, Ctx, TxFuture, begin_write, finish};

/// An open transaction, as [`Database::transaction`] hands it to its
/// closure: the same repositories as [`Database`], bound to the transaction.
#[derive(Clone, Copy)]
pub struct Tx<'c> {
    txn: &'c DatabaseTransaction,
    db: &'c Database,
}

impl<'c> Tx<'c> {
    /// What this transaction's repositories borrow.
    pub(crate) fn ctx(&self) -> Ctx<'c> {
        Ctx::transaction(self.txn, self.db.shared(), self.db.mark())
    }

    /// Every tenant's rows inside this transaction, for the handles named
    /// for it.
    pub(crate) fn all_tenants(&self) -> AllTenants<'c> {
        AllTenants::in_transaction(self.txn, self.db.shared(), self.db.mark())
    }

    /// **Escape hatch** (feature `internals`): the transaction itself,
    /// bypassing every repository (see [`Database::unscoped_connection`]).
    /// With row-level security on, its statements run under whatever wall
    /// the transaction's last repository statement set (a tenant scope's
    /// tenant, say): set `pierre.scope` yourself to reach every row.
    #[cfg(feature = "internals")]
    pub fn unscoped_connection(&self) -> &'c DatabaseTransaction {
        self.txn
    }
}

/// How often and how patiently a transaction is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled for each later one.
    pub base_delay: Duration,
    /// Upper bound of any single delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(1000),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` (`attempt` starts at 1): full
    /// jitter over an exponentially growing, capped window, so that
    /// competing writers spread out instead of colliding again.
    pub fn delay(&self, attempt: u32, random: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let window = exp.min(self.max_delay);
        let fraction = f64::from(random) / f64::from(u32::MAX);
        // Never zero: half the window at least, the rest random.
        window.mul_f64(0.5 + fraction / 2.0)
    }
}

impl Database {
    /// Runs `work` in a transaction, commits, and re-runs the whole of it
    /// (with [`RetryPolicy::default`]) when the database reports contention.
    /// Any other error rolls back and is returned at once.
    ///
    /// `work` may run more than once: keep side effects outside the database
    /// out of it. On SQLite the transaction takes the write lock at `BEGIN`
    /// (`BEGIN IMMEDIATE`, so that concurrent writers wait out the busy
    /// timeout instead of failing at once): transactions on one database
    /// run one at a time, while reads outside them go on; keep them short.
    ///
    /// ```
    /// use pierre_db::{Database, DatabaseConfig, MasterKey, NewUser};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pierre_db::DatabaseError> {
    /// let mut config = DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
    /// config.migrate_on_connect = true;
    /// let db = Database::connect_with(config).await?;
    /// let (ada, bob) = db
    ///     .transaction(|tx| Box::pin(async move {
    ///         let ada = tx.users().create(NewUser::new("ada@example.org", "<hash>")).await?;
    ///         let bob = tx.users().create(NewUser::new("bob@example.org", "<hash>")).await?;
    ///         Ok((ada.id, bob.id))
    ///     }))
    ///     .await?;
    /// assert_ne!(ada, bob);
    /// assert_eq!(db.users().count().await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn transaction<T, F>(&self, work: F) -> Result<T>
    where
        T: Send,
        F: for<'c> Fn(Tx<'c>) -> TxFuture<'c, T> + Send + Sync,
    {
        self.transaction_with(RetryPolicy::default(), work).await
    }

    /// [`Database::transaction`] with an explicit policy.
    #[instrument(skip_all, fields(max_attempts = policy.max_attempts))]
    pub async fn transaction_with<T, F>(&self, policy: RetryPolicy, work: F) -> Result<T>
    where
        T: Send,
        F: for<'c> Fn(Tx<'c>) -> TxFuture<'c, T> + Send + Sync,
    {
        retrying(policy, || self.attempt(&work)).await
    }

    async fn attempt<T, F>(&self, work: &F) -> Result<T>
    where
        T: Send,
        F: for<'c> Fn(Tx<'c>) -> TxFuture<'c, T> + Send + Sync,
    {
        let started = Instant::now();
        let sealing_at_start = self.keys().cached().map(|k| k.active_version());
        // Its writes, if any: replica reads wait for them.
        let noted = self.shared().replicas.writing(self.mark());
        let tx = begin_write(self.pool()).await?;
        let handle = Tx { txn: &tx, db: self };
        let outcome = match work(handle).await {
            // A transaction that ran past the key refresh interval may have
            // sealed under a key that another process has retired since
            // (`retire` only waits out single statements): check, under a
            // lock, before committing.
            Ok(value) if started.elapsed() >= self.keys().refresh_interval() / 2 => {
                let versions = [
                    sealing_at_start,
                    self.keys().cached().map(|k| k.active_version()),
                ];
                store::check_keys_stored(&tx, versions.into_iter().flatten())
                    .await
                    .map(|()| value)
            }
            other => other,
        };
        let outcome = finish(tx, outcome).await;
        noted.done();
        if let Err(DatabaseError::StaleKey { .. }) = &outcome {
            self.reload_keys().await?;
        }
        outcome
    }
}

/// Runs `op` until it succeeds, fails with an error that is not retryable,
/// or has had `policy.max_attempts` attempts; waits between attempts with
/// jittered exponential backoff, and logs each retry.
pub(crate) async fn retrying<T, Fut>(policy: RetryPolicy, mut op: impl FnMut() -> Fut) -> Result<T>
where
    Fut: Future<Output = Result<T>>,
{
    let rng = SystemRandom::new();
    let mut attempt = 1;
    loop {
        match op().await {
            Err(err) if err.is_retryable() && attempt < policy.max_attempts.max(1) => {
                #[cfg(feature = "metrics")]
                crate::telemetry::retry(&err);
                let delay = policy.delay(attempt, random_u32(&rng));
                warn!(
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    error = %err,
                    "contention; retrying"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            outcome => {
                #[cfg(feature = "metrics")]
                if let Err(err) = &outcome {
                    if err.is_retryable() {
                        crate::telemetry::retries_exhausted(err);
                    }
                }
                return outcome;
            }
        }
    }
}

fn random_u32(rng: &SystemRandom) -> u32 {
    let mut bytes = [0u8; 4];
    match rng.fill(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes),
        Err(_) => u32::MAX / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        let policy = RetryPolicy::default();
        let low = policy.delay(1, 0);
        assert_eq!(low, Duration::from_millis(5));
        assert_eq!(policy.delay(1, u32::MAX), Duration::from_millis(10));
        assert_eq!(policy.delay(3, u32::MAX), Duration::from_millis(40));
        assert_eq!(policy.delay(30, u32::MAX), policy.max_delay);
        assert!(policy.delay(30, 0) >= policy.max_delay / 2);
    }
}
