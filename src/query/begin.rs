//! Beginning and ending a write transaction, the same way everywhere.
//!
//! A transaction that may write begins with `BEGIN IMMEDIATE` on SQLite:
//! see the `transactions` module for why.

use sea_orm::{
    DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::error::Result;

/// Ends `txn` by `outcome`: commits on `Ok`, rolls back on `Err` and
/// returns the error (the rollback's own failure matters less than the
/// cause). The error is the library's, or the driver's for the executor
/// that speaks SeaORM's connection trait (`walled`).
pub(crate) async fn finish<T, E: From<DbErr>>(
    txn: DatabaseTransaction,
    outcome: std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    match outcome {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(err) => {
            let _ = txn.rollback().await;
            Err(err)
        }
    }
}

/// Begins a transaction that may write: `BEGIN IMMEDIATE` on SQLite (see the
/// `transactions` module); PostgreSQL ignores the mode. Inside a transaction it opens
/// a savepoint.
pub(crate) async fn begin_write<C: TransactionTrait>(conn: &C) -> Result<C::Transaction> {
    Ok(conn
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?)
}
