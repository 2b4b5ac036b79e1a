//! What every repository borrows: one executor (the pool or a transaction)
//! and the state the database handles share, for cursors and keys.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend,
    FromQueryResult, Statement,
};

use crate::crypto::aad::Context;
use crate::crypto::keyring::Keyring;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::keys::store::check_key_stored;
use crate::pagination::CursorCodec;
use crate::query::{begin_write, finish};
use crate::shared::Shared;

/// The pool or an open transaction. Repositories are not generic over the
/// connection: each is compiled once, and no SeaORM type shows in their
/// public signatures.
#[derive(Clone, Copy)]
enum Conn<'a> {
    Pool(&'a DatabaseConnection),
    Tx(&'a DatabaseTransaction),
}

/// A repository's connection and the state the database handles share.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    conn: Conn<'a>,
    pub shared: &'a Shared,
}

impl<'a> Ctx<'a> {
    /// Queries go through the pool.
    pub fn pool(shared: &'a Shared) -> Self {
        Self {
            conn: Conn::Pool(shared.pool()),
            shared,
        }
    }

    /// Queries go through `txn`.
    pub fn transaction(txn: &'a DatabaseTransaction, shared: &'a Shared) -> Self {
        Self {
            conn: Conn::Tx(txn),
            shared,
        }
    }

    /// The executor to run a statement on.
    pub fn conn(&self) -> DatabaseExecutor<'a> {
        match self.conn {
            Conn::Pool(pool) => DatabaseExecutor::Connection(pool),
            Conn::Tx(txn) => DatabaseExecutor::Transaction(txn),
        }
    }

    /// Whether statements run inside a transaction (whose commit, and its
    /// error, is explicit).
    pub fn in_transaction(&self) -> bool {
        matches!(self.conn, Conn::Tx(_))
    }

    /// Runs a write with `RETURNING` and reads its row, if any. On the
    /// pool it waits for the statement to finish, so that a failed commit
    /// of its implicit transaction is an error (see
    /// `query::prepared`); in a transaction the commit is explicit, and the read stops
    /// at the row.
    pub async fn returning_row<M: FromQueryResult>(&self, write: Statement) -> Result<Option<M>> {
        let rows = M::find_by_statement(write);
        if self.in_transaction() {
            Ok(rows.one(&self.conn()).await?)
        } else {
            Ok(rows.all(&self.conn()).await?.pop())
        }
    }

    /// The backend statements are written for.
    pub fn backend(&self) -> DbBackend {
        match self.conn {
            Conn::Pool(pool) => pool.get_database_backend(),
            Conn::Tx(txn) => txn.get_database_backend(),
        }
    }

    pub fn cursors(&self) -> &'a CursorCodec {
        self.shared.cursors()
    }

    /// The keys for opening values.
    pub async fn keyring(&self) -> Result<Arc<Keyring>> {
        self.shared.keyring().await
    }

    /// The keys for sealing, the active version confirmed within the key
    /// refresh interval through this repository's own connection (see the
    /// `keys` module).
    pub async fn sealing_keyring(&self) -> Result<Arc<Keyring>> {
        let cached = self.keyring().await?;
        self.shared
            .keys()
            .sealing_keyring(&self.conn(), cached)
            .await
    }

    /// Runs the one statement `build` writes with the sealing keyring, so
    /// that no value lands under a data key that `retire` deleted while the
    /// write was on its way (a write can wait on a lock, or its task be
    /// descheduled, for longer than any time bound).
    ///
    /// The statement runs in a write transaction that first checks that
    /// the key it seals with is still stored: on SQLite `BEGIN IMMEDIATE`
    /// keeps `retire` out until the commit; on PostgreSQL the check holds a
    /// share lock on the key row, which `retire`'s delete waits for, and
    /// `retire` then counts this value and refuses. A key retired just
    /// before is `StaleKey`: the keys are reloaded and the write runs
    /// again. Inside a caller's transaction it runs there. Returns the rows
    /// the statement changed.
    pub async fn write_sealed(&self, build: impl Fn(&Keyring) -> Result<Statement>) -> Result<u64> {
        if self.in_transaction() {
            return self.write_sealed_here(&build).await;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let txn = begin_write(&self.conn()).await?;
            let here = Ctx::transaction(&txn, self.shared);
            let outcome = here.write_sealed_here(&build).await;
            match finish(txn, outcome).await {
                Err(DatabaseError::StaleKey { .. }) if attempt < 3 => {
                    self.shared.keys().reload(&self.conn()).await?;
                }
                other => return other,
            }
        }
    }

    async fn write_sealed_here(
        &self,
        build: &impl Fn(&Keyring) -> Result<Statement>,
    ) -> Result<u64> {
        let keyring = self.sealing_keyring().await?;
        check_key_stored(&self.conn(), keyring.active_version()).await?;
        let statement = build(&keyring)?;
        Ok(self.conn().execute_raw(statement).await?.rows_affected())
    }

    /// Opens a sealed value with the current keys.
    pub async fn open(&self, context: &Context, text: &str) -> Result<Secret> {
        let mut keyring = self.keyring().await?;
        self.open_with(&mut keyring, context, text).await
    }

    /// Opens a sealed value with `keyring`, reloading it (through this
    /// repository's connection) when the value names a newer key.
    pub async fn open_with(
        &self,
        keyring: &mut Arc<Keyring>,
        context: &Context,
        text: &str,
    ) -> Result<Secret> {
        self.shared
            .keys()
            .open_with(&self.conn(), keyring, context, text)
            .await
    }
}
