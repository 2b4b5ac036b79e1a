//! One repository per aggregate. Each borrows a connection (the pool or a
//! transaction) and holds only queries: validation, encryption, cursors and
//! error mapping come from their own modules.
//!
//! Repositories of tenant-owned tables are built only by a
//! [`TenantScope`](crate::TenantScope), which supplies the tenant to every
//! query; their constructors are private to the crate.

pub mod api_keys;
pub mod oauth_apps;
pub mod oauth_tokens;
pub mod request_logs;
pub mod tenant_members;
pub mod tenant_oauth_credentials;
pub mod tenants;
pub mod usage;
pub mod user_oauth_apps;
pub mod users;

use std::sync::Arc;

use sea_orm::ConnectionTrait;

use crate::crypto::CryptoError;
use crate::crypto::aad::Context;
use crate::crypto::keyring::Keyring;
use crate::crypto::secret::Secret;
use crate::database::Database;
use crate::error::Result;
use crate::pagination::CursorCodec;
use crate::security;

/// What every repository borrows: a connection and the database handle
/// (for cursors and keys).
pub(crate) struct Ctx<'a, C> {
    pub conn: &'a C,
    pub db: &'a Database,
}

impl<C> Clone for Ctx<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for Ctx<'_, C> {}

impl<'a, C: ConnectionTrait> Ctx<'a, C> {
    pub fn new(conn: &'a C, db: &'a Database) -> Self {
        Self { conn, db }
    }

    pub fn cursors(&self) -> &'a CursorCodec {
        self.db.cursors()
    }

    pub async fn keyring(&self) -> Result<Arc<Keyring>> {
        self.db.keyring().await
    }

    /// The keyring to seal with, its active version confirmed within the
    /// key refresh interval through this repository's own connection (see
    /// the `security` module).
    pub async fn sealing_keyring(&self) -> Result<Arc<Keyring>> {
        security::sealing_keyring(self.db, self.conn).await
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

    /// Opens a sealed value with `keyring`. A key version newer than any it
    /// holds (another process rotated) reloads the keys once, through this
    /// repository's own connection, so it also works inside a transaction
    /// that holds the pool's only connection.
    pub async fn open_with(
        &self,
        keyring: &mut Arc<Keyring>,
        context: &Context,
        text: &str,
    ) -> Result<Secret> {
        match keyring.open(context, text) {
            Err(CryptoError::UnknownKey(version))
                if keyring
                    .versions()
                    .last()
                    .is_some_and(|newest| version > *newest) =>
            {
                let asked = std::time::Instant::now();
                let fresh = security::load(self.conn, &self.db.master_key())
                    .await?
                    .map(Arc::new)
                    .ok_or(CryptoError::UnknownKey(version))?;
                self.db.store_keyring(fresh.clone(), asked);
                *keyring = fresh;
                Ok(keyring.open(context, text)?)
            }
            other => Ok(other?),
        }
    }
}
