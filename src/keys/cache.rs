//! The keyring a [`Database`](crate::Database) handle caches: its one
//! owner. See the [module docs](super) for why sealing asks for a keyring
//! confirmed within the key refresh interval.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use sea_orm::ConnectionTrait;
use tracing::info;

use super::store;
use crate::crypto::CryptoError;
use crate::crypto::aad::Context;
use crate::crypto::keyring::Keyring;
use crate::crypto::master::MasterKey;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};

/// The master key, and the data keys once loaded.
#[derive(Debug)]
pub(crate) struct KeyCache {
    /// Replaced by `rewrap_data_keys`.
    master: RwLock<MasterKey>,
    cached: RwLock<Option<Cached>>,
    refresh: Duration,
}

#[derive(Debug)]
struct Cached {
    keyring: Arc<Keyring>,
    /// When the active version was last confirmed against the database
    /// (taken before the read began).
    confirmed: Instant,
}

impl KeyCache {
    pub fn new(master: MasterKey, refresh: Duration) -> Self {
        Self {
            master: RwLock::new(master),
            cached: RwLock::new(None),
            refresh,
        }
    }

    pub fn master(&self) -> MasterKey {
        read(&self.master).clone()
    }

    pub fn set_master(&self, key: MasterKey) {
        *write(&self.master) = key;
    }

    pub fn refresh_interval(&self) -> Duration {
        self.refresh
    }

    /// The cached keyring, however old.
    pub fn cached(&self) -> Option<Arc<Keyring>> {
        read(&self.cached).as_ref().map(|c| c.keyring.clone())
    }

    /// The cached keyring if its active version was confirmed within the
    /// refresh interval.
    fn fresh(&self) -> Option<Arc<Keyring>> {
        read(&self.cached)
            .as_ref()
            .filter(|c| c.confirmed.elapsed() < self.refresh)
            .map(|c| c.keyring.clone())
    }

    /// Caches `keyring`, read at `confirmed`. An older read never replaces a
    /// newer one.
    fn store(&self, keyring: Arc<Keyring>, confirmed: Instant) {
        let mut cached = write(&self.cached);
        match cached.as_ref() {
            Some(c)
                if c.confirmed > confirmed
                    && c.keyring.active_version() >= keyring.active_version() => {}
            _ => *cached = Some(Cached { keyring, confirmed }),
        }
    }

    /// Reads the keyring through `conn` and caches it; `None` before the
    /// first data key exists.
    pub async fn reload<C: ConnectionTrait>(&self, conn: &C) -> Result<Option<Arc<Keyring>>> {
        #[cfg(feature = "metrics")]
        crate::telemetry::key_cache("reloaded");
        let asked = Instant::now();
        let Some(keyring) = store::load(conn, &self.master()).await? else {
            return Ok(None);
        };
        let keyring = Arc::new(keyring);
        self.store(keyring.clone(), asked);
        Ok(Some(keyring))
    }

    /// Reads the keyring through the pool, creating data key v1 on first
    /// use, and caches it.
    pub async fn load_or_create(&self, pool: &sea_orm::DatabaseConnection) -> Result<Arc<Keyring>> {
        #[cfg(feature = "metrics")]
        crate::telemetry::key_cache("reloaded");
        let asked = Instant::now();
        let keyring = Arc::new(store::load_or_create(pool, &self.master()).await?);
        self.store(keyring.clone(), asked);
        Ok(keyring)
    }

    /// The keyring to seal with: the cached one if its active version was
    /// confirmed within the refresh interval, else confirmed (or reloaded)
    /// through `conn`, the caller's own connection or transaction.
    pub async fn sealing_keyring<C: ConnectionTrait>(
        &self,
        conn: &C,
        cached: Arc<Keyring>,
    ) -> Result<Arc<Keyring>> {
        if let Some(keyring) = self.fresh() {
            #[cfg(feature = "metrics")]
            crate::telemetry::key_cache("hit");
            return Ok(keyring);
        }
        let asked = Instant::now();
        if store::active_version(conn).await? == Some(cached.active_version()) {
            #[cfg(feature = "metrics")]
            crate::telemetry::key_cache("confirmed");
            self.store(cached.clone(), asked);
            return Ok(cached);
        }
        #[cfg(feature = "metrics")]
        crate::telemetry::key_cache("rotated_elsewhere");
        let fresh = self.reload(conn).await?.ok_or_else(|| {
            DatabaseError::Config("the data keys were deleted from the database".to_owned())
        })?;
        info!(
            version = fresh.active_version(),
            "learned of a data key rotated elsewhere"
        );
        Ok(fresh)
    }

    /// Opens a sealed value with `keyring`. A key version newer than any it
    /// holds (another process rotated) reloads the keys once, through
    /// `conn`, so it also works inside a transaction that holds the pool's
    /// only connection.
    pub async fn open_with<C: ConnectionTrait>(
        &self,
        conn: &C,
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
                #[cfg(feature = "metrics")]
                crate::telemetry::key_cache("unknown_version");
                let fresh = self
                    .reload(conn)
                    .await?
                    .ok_or(CryptoError::UnknownKey(version))?;
                *keyring = fresh;
                Ok(keyring.open(context, text)?)
            }
            other => Ok(other?),
        }
    }
}

// A poisoned lock only means another thread panicked while holding it; the
// value (a key or a keyring handle) is replaced whole, so it is still valid.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
