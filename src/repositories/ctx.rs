//! What every repository borrows: one executor (the pool or a transaction)
//! and the database handle, for cursors and keys.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend,
};

use crate::crypto::aad::Context;
use crate::crypto::keyring::Keyring;
use crate::crypto::secret::Secret;
use crate::database::Database;
use crate::error::Result;
use crate::pagination::CursorCodec;

/// The pool or an open transaction. Repositories are not generic over the
/// connection: each is compiled once, and no SeaORM type shows in their
/// public signatures.
#[derive(Clone, Copy)]
enum Conn<'a> {
    Pool(&'a DatabaseConnection),
    Tx(&'a DatabaseTransaction),
}

/// A repository's connection and database handle.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    conn: Conn<'a>,
    pub db: &'a Database,
}

impl<'a> Ctx<'a> {
    /// Queries go through the pool.
    pub fn pool(db: &'a Database) -> Self {
        Self {
            conn: Conn::Pool(db.pool()),
            db,
        }
    }

    /// Queries go through `txn`.
    pub fn transaction(txn: &'a DatabaseTransaction, db: &'a Database) -> Self {
        Self {
            conn: Conn::Tx(txn),
            db,
        }
    }

    /// The executor to run a statement on.
    pub fn conn(&self) -> DatabaseExecutor<'a> {
        match self.conn {
            Conn::Pool(pool) => DatabaseExecutor::Connection(pool),
            Conn::Tx(txn) => DatabaseExecutor::Transaction(txn),
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
        self.db.cursors()
    }

    /// The keys for opening values.
    pub async fn keyring(&self) -> Result<Arc<Keyring>> {
        self.db.keyring().await
    }

    /// The keys for sealing, the active version confirmed within the key
    /// refresh interval through this repository's own connection (see the
    /// `keys` module).
    pub async fn sealing_keyring(&self) -> Result<Arc<Keyring>> {
        let cached = self.keyring().await?;
        self.db.keys().sealing_keyring(&self.conn(), cached).await
    }

    /// Seals a secret under the active data key.
    pub async fn seal(&self, context: &Context, secret: &Secret) -> Result<String> {
        Ok(self.sealing_keyring().await?.seal(context, secret)?)
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
        self.db
            .keys()
            .open_with(&self.conn(), keyring, context, text)
            .await
    }
}
