//! What every repository borrows: one executor (the pool or a transaction)
//! and the state the database handles share, for cursors and keys.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend,
};

use crate::crypto::aad::Context;
use crate::crypto::keyring::Keyring;
use crate::crypto::secret::Secret;
use crate::error::Result;
use crate::pagination::CursorCodec;
use crate::replicas::WriteMark;
use crate::shared::Shared;

use super::begin::{begin_write, finish};
use super::walled::{Wall, Walled};

/// A boxed future borrowing the transaction, as the closures of
/// [`Database::transaction`](crate::Database::transaction) return.
pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

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
pub struct Ctx<'a> {
    conn: Conn<'a>,
    shared: &'a Shared,
    /// The handle's last write (see `replicas`).
    mark: &'a WriteMark,
    /// The rows its statements may reach under row-level security (set by
    /// the scope handles; `None`: every row).
    wall: Option<Wall>,
    /// The read-replica handle's: its reads may go to a replica, and it
    /// neither writes nor begins a transaction.
    replica: bool,
}

impl<'a> Ctx<'a> {
    /// Queries go through the pool; `mark` is the handle's last write.
    pub(crate) fn pool(shared: &'a Shared, mark: &'a WriteMark) -> Self {
        Self {
            conn: Conn::Pool(shared.pool()),
            shared,
            mark,
            wall: None,
            replica: false,
        }
    }

    /// Queries go through `txn`.
    pub(crate) fn transaction(
        txn: &'a DatabaseTransaction,
        shared: &'a Shared,
        mark: &'a WriteMark,
    ) -> Self {
        Self {
            conn: Conn::Tx(txn),
            shared,
            mark,
            wall: None,
            replica: false,
        }
    }

    /// The same handle inside `txn` (a transaction begun from it), its
    /// wall kept.
    pub(crate) fn inside<'t>(&self, txn: &'t DatabaseTransaction) -> Ctx<'t>
    where
        'a: 't,
    {
        Ctx {
            conn: Conn::Tx(txn),
            shared: self.shared,
            mark: self.mark,
            wall: self.wall,
            replica: false,
        }
    }

    /// This handle on the read replicas: its reads may go to one (on the
    /// pool; inside a transaction it stays where it is).
    pub(crate) fn on_replica(self) -> Self {
        Self {
            replica: matches!(self.conn, Conn::Pool(_)),
            ..self
        }
    }

    /// Refuses `what` on the read-replica handle, before anything is sent.
    pub(crate) fn writable(&self, what: &str) -> Result<()> {
        if self.replica {
            return Err(crate::error::DatabaseError::ReadOnly(what.to_owned()));
        }
        Ok(())
    }

    /// This handle walled to `wall`: for the scope handles.
    pub(in crate::query) fn walled(self, wall: Wall) -> Self {
        Self {
            wall: Some(wall),
            ..self
        }
    }

    /// This handle reaching every row: for the library's own cross-tenant
    /// checks made from inside a scope.
    pub(crate) fn unwalled(self) -> Self {
        Self { wall: None, ..self }
    }

    /// The executor a statement runs on: [`Self::conn`], with the handle's
    /// wall set first when row-level security is on.
    pub(in crate::query) fn exec(&self) -> Walled<'a> {
        let exec = Walled::new(
            self.conn(),
            self.shared.config.row_level_security,
            self.wall,
            &self.shared.replicas,
            self.mark,
        );
        if self.replica {
            exec.on_replica()
        } else {
            exec
        }
    }

    /// The read-only connections a read of this handle may run on, on the
    /// calling thread (see `calling_thread`): on a SQLite file, outside a
    /// transaction (whose own writes a read inside it must see). The
    /// read-replica handle's reads too: SQLite has no replicas, and they
    /// read the file like any other.
    #[cfg(feature = "sqlite")]
    pub(in crate::query) fn calling_thread(&self) -> Option<&'a crate::calling_thread::Readers> {
        match self.conn {
            Conn::Pool(_) => self.shared.calling_thread.as_ref(),
            Conn::Tx(_) => None,
        }
    }

    /// The executor to run a statement on: for the executor
    /// ([`super::exec`]) and the infrastructure in this module tree only.
    pub(in crate::query) fn conn(&self) -> DatabaseExecutor<'a> {
        #[cfg(feature = "metrics")]
        self.shared.pool_sampler.sample(self.shared);
        match self.conn {
            Conn::Pool(pool) => DatabaseExecutor::Connection(pool),
            Conn::Tx(txn) => DatabaseExecutor::Transaction(txn),
        }
    }

    /// Whether statements run inside a transaction (whose commit, and its
    /// error, is explicit).
    pub(crate) fn in_transaction(&self) -> bool {
        matches!(self.conn, Conn::Tx(_))
    }

    /// The backend statements are written for.
    pub(crate) fn backend(&self) -> DbBackend {
        match self.conn {
            Conn::Pool(pool) => pool.get_database_backend(),
            Conn::Tx(txn) => txn.get_database_backend(),
        }
    }

    /// The state the handles share: for this module tree (a repository
    /// reaches the keys and cursors through the methods here).
    pub(in crate::query) fn shared(&self) -> &'a Shared {
        self.shared
    }

    /// The handle's last write: for this module tree.
    pub(in crate::query) fn mark(&self) -> &'a WriteMark {
        self.mark
    }

    /// The cursor codec.
    pub(crate) fn cursors(&self) -> &'a CursorCodec {
        self.shared.cursors()
    }

    /// Deletes an adopted database's HMAC key once no credential needs it
    /// (`keys::legacy_hmac`).
    pub(crate) async fn drop_unused_legacy_key(&self) -> Result<()> {
        // Every tenant's credentials count, whichever scope asks.
        crate::keys::legacy_hmac::drop_when_unused(&self.unwalled().exec()).await
    }

    /// The keys for opening values.
    pub(crate) async fn keyring(&self) -> Result<Arc<Keyring>> {
        self.shared.keyring().await
    }

    /// The keys for sealing, the active version confirmed within the key
    /// refresh interval through this repository's own connection (see the
    /// `keys` module).
    pub(crate) async fn sealing_keyring(&self) -> Result<Arc<Keyring>> {
        let cached = self.keyring().await?;
        self.shared
            .keys()
            .sealing_keyring(&self.conn(), cached)
            .await
    }

    /// Runs `work` in one write transaction on this executor (a savepoint
    /// when it is already a transaction): committed when `work` succeeds,
    /// rolled back when it fails. Not retried: a caller inside
    /// `Database::transaction` is retried as a whole, and a single call on
    /// the pool waits on the busy timeout at `BEGIN IMMEDIATE` instead.
    pub(crate) async fn in_write_tx<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'t> FnOnce(Ctx<'t>) -> TxFuture<'t, T>,
    {
        self.writable("a write transaction")?;
        let noted = self.shared.replicas.writing(self.mark);
        let txn = begin_write(&self.conn()).await?;
        let outcome = work(self.inside(&txn)).await;
        let done = finish(txn, outcome).await;
        noted.done();
        done
    }

    /// Opens a sealed value with the current keys.
    pub(crate) async fn open(&self, context: &Context, text: &str) -> Result<Secret> {
        let mut keyring = self.keyring().await?;
        self.open_with(&mut keyring, context, text).await
    }

    /// Opens a sealed value with `keyring`, reloading it (through this
    /// repository's connection) when the value names a newer key.
    pub(crate) async fn open_with(
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
