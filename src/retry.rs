//! Transactions that are re-run when the database asks for it.
//!
//! SQLite answers BUSY or LOCKED when another connection holds the lock
//! longer than the busy timeout; PostgreSQL aborts one side of a
//! serialization conflict (40001) or deadlock (40P01). In both cases the
//! whole transaction may be run again. Nothing else is retried: a unique
//! violation would fail the same way every time. The decision reads the
//! error code ([`DatabaseError::Contention`]), never the message.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use sea_orm::{DatabaseTransaction, TransactionTrait};
use tracing::{instrument, warn};

use crate::database::Database;
use crate::error::Result;
use crate::repositories::Ctx;
use crate::repositories::users::Users;

/// A boxed future borrowing the transaction, as the closures of
/// [`Database::transaction`] return.
pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// An open transaction, as [`Database::transaction`] hands it to its
/// closure: the same repositories as [`Database`], bound to the transaction.
#[derive(Clone, Copy)]
pub struct Tx<'c> {
    txn: &'c DatabaseTransaction,
    db: &'c Database,
}

impl<'c> Tx<'c> {
    pub(crate) fn ctx(&self) -> Ctx<'c, DatabaseTransaction> {
        Ctx::new(self.txn, self.db)
    }

    /// The users repository, inside this transaction.
    pub fn users(&self) -> Users<'c, DatabaseTransaction> {
        Users::new(Ctx::new(self.txn, self.db))
    }

    /// The transaction itself, bypassing every repository (see
    /// [`Database::unscoped_connection`]).
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
    /// out of it.
    ///
    /// ```
    /// use pierre_db::{Database, MasterKey};
    /// use sea_orm::ConnectionTrait;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), pierre_db::DatabaseError> {
    /// let db = Database::connect("sqlite::memory:", MasterKey::generate()?).await?;
    /// let answer = db
    ///     .transaction(|tx| Box::pin(async move {
    ///         tx.unscoped_connection().execute_unprepared("SELECT 1").await?;
    ///         Ok(42)
    ///     }))
    ///     .await?;
    /// assert_eq!(answer, 42);
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
        let rng = SystemRandom::new();
        let mut attempt = 1;
        loop {
            match self.attempt(&work).await {
                Err(err) if err.is_retryable() && attempt < policy.max_attempts.max(1) => {
                    let delay = policy.delay(attempt, random_u32(&rng));
                    warn!(
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        error = %err,
                        "transaction hit contention; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn attempt<T, F>(&self, work: &F) -> Result<T>
    where
        T: Send,
        F: for<'c> Fn(Tx<'c>) -> TxFuture<'c, T> + Send + Sync,
    {
        let tx = self.unscoped_connection().begin().await?;
        let handle = Tx { txn: &tx, db: self };
        match work(handle).await {
            Ok(value) => {
                tx.commit().await?;
                Ok(value)
            }
            Err(err) => {
                // The rollback's own failure matters less than the cause.
                let _ = tx.rollback().await;
                Err(err)
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
