//! Data keys in the database, and the operations that change them.
//!
//! Each data key (DEK) is a `key_versions` row (global: `tenant_id` NULL)
//! and its wrapped bytes, sealed by the master key, in `system_secrets`
//! under `data_key.v<N>`. The newest active version seals new values; every
//! stored version opens old ones. Rotation adds a version, re-encryption
//! moves values to it in batches, retirement deletes a version nobody uses,
//! and rewrapping changes the master key without touching a single row.
//!
//! # Several processes, one database
//!
//! Each [`Database`] handle caches the keyring. Opening is never a problem:
//! a value under a version newer than the cache reloads it. Sealing is: a
//! handle that only writes would keep sealing under a key that another
//! process has rotated away from, re-encrypted past and retired, and such a
//! value could never be opened again. The rules that prevent it:
//!
//! 1. **Bounded staleness.** A handle seals only with a keyring whose active
//!    version it confirmed within [`DatabaseConfig::key_refresh_interval`]
//!    (`I`, default 30 s). Past that, the write first re-reads the active
//!    version (one indexed row, through the write's own connection, so it
//!    also works inside a transaction holding the pool's last connection).
//!    So no handle seals under version `v` later than `I` after `v` stopped
//!    being active.
//! 2. **A grace period before retirement.** `retire(v)` is refused until
//!    `2·I` have passed since `v` stopped being active (the creation time of
//!    the next version, in the database): `I` for every handle to notice,
//!    `I` more for a single statement already sealed under `v` to commit.
//! 3. **Check and delete as one.** `retire` counts the values under `v` and
//!    deletes its key in one write transaction (`BEGIN IMMEDIATE` on SQLite,
//!    which excludes every other writer; on PostgreSQL the key row is
//!    deleted first, which waits for transactions holding it, and the count
//!    runs after), so a value committed before the retirement is seen and
//!    refuses it.
//! 4. **Long transactions check at commit.** A [`Database::transaction`]
//!    open longer than `I/2` may have sealed before a rotation and commit
//!    after the grace period; before committing it checks, under a lock
//!    (`FOR SHARE` on PostgreSQL, the write lock on SQLite), that the keys
//!    it could have sealed with still exist, and otherwise rolls back with
//!    [`DatabaseError::StaleKey`], which is retried under the current key.
//!
//! Why not check the key on every write? It costs a round trip per write
//! (a third of a token upsert on SQLite); the interval bounds the same risk
//! at the price of waiting `2·I` before `retire`, which is an operator's
//! step taken after a re-encryption anyway. Clocks: the grace is measured
//! between the rotating process's clock (the stored creation time) and the
//! retiring one's; keep them within seconds of each other (NTP).
//!
//! [`DatabaseConfig::key_refresh_interval`]: crate::DatabaseConfig::key_refresh_interval

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use entity::{key_versions, system_secrets};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value,
};
use tracing::{info, instrument};
use uuid::Uuid;

use crate::crypto::columns::{self, SealedColumn};
use crate::crypto::envelope;
use crate::crypto::keyring::{DataKey, Keyring, MASTER_KEY_VERSION};
use crate::database::Database;
use crate::error::{DatabaseError, Result};
use crate::keys::MasterKey;
use crate::retry::{RetryPolicy, begin_write, retrying};
use crate::time;

const DATA_KEY_PREFIX: &str = "data_key.v";

fn secret_type(version: u32) -> String {
    format!("{DATA_KEY_PREFIX}{version}")
}

/// The global `key_versions` rows with their versions checked, oldest first.
async fn global_versions<C: ConnectionTrait>(conn: &C) -> Result<Vec<(u32, key_versions::Model)>> {
    key_versions::Entity::find()
        .filter(key_versions::Column::TenantId.is_null())
        .order_by_asc(key_versions::Column::Version)
        .all(conn)
        .await?
        .into_iter()
        .map(|row| {
            u32::try_from(row.version)
                .map(|v| (v, row))
                .map_err(|_| DatabaseError::Decode("a data key version is negative".to_owned()))
        })
        .collect()
}

/// The stored wrapped data keys by version. `LIKE` narrows the rows (its
/// `_` is a wildcard); the exact `data_key.v<N>` match is made here.
async fn wrapped_keys<C: ConnectionTrait>(conn: &C) -> Result<Vec<(u32, system_secrets::Model)>> {
    Ok(system_secrets::Entity::find()
        .filter(system_secrets::Column::SecretType.starts_with(DATA_KEY_PREFIX))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|row| {
            let version = row
                .secret_type
                .strip_prefix(DATA_KEY_PREFIX)?
                .parse::<u32>()
                .ok()?;
            (row.secret_type == secret_type(version)).then_some((version, row))
        })
        .collect())
}

/// The active data key version, or `None` before the first key exists.
pub(crate) async fn active_version<C: ConnectionTrait>(conn: &C) -> Result<Option<u32>> {
    let version: Option<i32> = key_versions::Entity::find()
        .select_only()
        .column(key_versions::Column::Version)
        .filter(key_versions::Column::TenantId.is_null())
        .filter(key_versions::Column::IsActive.eq(true))
        .order_by_desc(key_versions::Column::Version)
        .into_tuple()
        .one(conn)
        .await?;
    version
        .map(|v| {
            u32::try_from(v)
                .map_err(|_| DatabaseError::Decode("a data key version is negative".to_owned()))
        })
        .transpose()
}

/// Checks, holding a share lock on the key rows (PostgreSQL; on SQLite the
/// caller's write transaction excludes `retire`), that the data keys of
/// `versions` are still stored: [`DatabaseError::StaleKey`] names the first
/// that is not.
pub(crate) async fn check_keys_stored<C: ConnectionTrait>(
    conn: &C,
    versions: impl IntoIterator<Item = u32>,
) -> Result<()> {
    let wanted: Vec<u32> = versions.into_iter().collect();
    let stored: Vec<String> = system_secrets::Entity::find()
        .select_only()
        .column(system_secrets::Column::SecretType)
        .filter(system_secrets::Column::SecretType.is_in(wanted.iter().map(|v| secret_type(*v))))
        .lock_shared()
        .into_tuple()
        .all(conn)
        .await?;
    match wanted
        .into_iter()
        .find(|v| !stored.contains(&secret_type(*v)))
    {
        Some(version) => Err(DatabaseError::StaleKey { version }),
        None => Ok(()),
    }
}

/// Reads the keyring, or `None` when no data key exists yet.
pub(crate) async fn load<C: ConnectionTrait>(
    conn: &C,
    master: &MasterKey,
) -> Result<Option<Keyring>> {
    let versions = global_versions(conn).await?;
    if versions.is_empty() {
        return Ok(None);
    }
    let wrapped = wrapped_keys(conn).await?;
    let mut keys = Vec::new();
    let mut active = None;
    for (version, row) in &versions {
        let version = *version;
        let Some((_, stored)) = wrapped.iter().find(|(v, _)| *v == version) else {
            continue; // retired
        };
        keys.push(DataKey::unwrap(version, &stored.secret_value, master)?);
        if row.is_active {
            active = Some(version);
        }
    }
    let active = active.ok_or_else(|| {
        DatabaseError::Config(
            "no active data key is stored; the key tables were edited by hand".to_owned(),
        )
    })?;
    Ok(Some(Keyring::new(active, &keys)?))
}

/// Reads the keyring, creating data key v1 on first use.
pub(crate) async fn load_or_create(
    conn: &DatabaseConnection,
    master: &MasterKey,
) -> Result<Keyring> {
    if let Some(keyring) = load(conn, master).await? {
        return Ok(keyring);
    }
    let first = DataKey::generate(1)?;
    match store_new_key(conn, &first, master).await {
        Ok(()) => info!(version = 1, "created the first data key"),
        // Another process created it at the same moment: use theirs.
        Err(DatabaseError::Conflict(_)) => {}
        Err(err) => return Err(err),
    }
    load(conn, master)
        .await?
        .ok_or_else(|| DatabaseError::Config("the first data key could not be stored".to_owned()))
}

/// Stores a new key as the only active one, in one transaction.
async fn store_new_key(conn: &DatabaseConnection, key: &DataKey, master: &MasterKey) -> Result<()> {
    let wrapped = key.wrap(master)?;
    let now = time::stored(time::now());
    let tx = begin_write(conn).await?;
    key_versions::Entity::update_many()
        .col_expr(key_versions::Column::IsActive, Expr::value(false))
        .filter(key_versions::Column::TenantId.is_null())
        .exec(&tx)
        .await?;
    key_versions::Entity::insert(key_versions::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(None),
        version: Set(key.version() as i32),
        created_at: Set(now),
        expires_at: Set(None),
        is_active: Set(true),
        algorithm: Set("AES-256-GCM".to_owned()),
    })
    .exec_without_returning(&tx)
    .await?;
    system_secrets::Entity::insert(system_secrets::ActiveModel {
        secret_type: Set(secret_type(key.version())),
        secret_value: Set(wrapped),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(&tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One data key as [`Security::key_versions`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVersionInfo {
    /// The version.
    pub version: u32,
    /// Whether it seals new values.
    pub active: bool,
    /// Whether it was retired (its key is gone).
    pub retired: bool,
}

/// Progress of [`Security::reencrypt_all`], reported after every batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReencryptProgress {
    /// The column of the batch just committed (`table.column`).
    pub column: String,
    /// Values moved to the active key so far, in this call.
    pub reencrypted: u64,
}

/// What [`Security::reencrypt_all`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReencryptReport {
    /// The version everything was moved to.
    pub target_version: u32,
    /// Values re-encrypted in this call.
    pub reencrypted: u64,
    /// Whether the progress callback stopped the job before the end.
    pub stopped: bool,
}

/// Key management: `db.security()`.
pub struct Security<'a> {
    db: &'a Database,
}

impl<'a> Security<'a> {
    pub(crate) fn new(db: &'a Database) -> Self {
        Self { db }
    }

    /// The global data keys, oldest first.
    #[instrument(skip_all)]
    pub async fn key_versions(&self) -> Result<Vec<KeyVersionInfo>> {
        let conn = self.db.unscoped_connection();
        let stored: Vec<u32> = wrapped_keys(conn)
            .await?
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        Ok(global_versions(conn)
            .await?
            .into_iter()
            .map(|(version, row)| KeyVersionInfo {
                version,
                active: row.is_active,
                retired: !stored.contains(&version),
            })
            .collect())
    }

    /// Makes a new data key the active one. Values sealed under older keys
    /// stay readable; [`Security::reencrypt_all`] moves them.
    #[instrument(skip_all, fields(version))]
    pub async fn rotate_data_key(&self) -> Result<u32> {
        let conn = self.db.unscoped_connection();
        let newest = global_versions(conn)
            .await?
            .last()
            .map(|(v, _)| *v)
            .unwrap_or(0);
        let next = newest
            .checked_add(1)
            .ok_or_else(|| DatabaseError::Config("data key versions are exhausted".to_owned()))?;
        tracing::Span::current().record("version", next);
        let key = DataKey::generate(next)?;
        store_new_key(conn, &key, &self.db.master_key()).await?;
        self.db.reload_keys().await?;
        info!(version = next, "rotated the data key");
        Ok(next)
    }

    /// Moves every encrypted value of every table to the active key, in
    /// transactions of `batch_size` rows. Safe to stop and to run again: each
    /// batch commits on its own and only values under other keys are
    /// touched, so a rerun resumes where the last one stopped. Safe beside
    /// writers: a batch is a write transaction that is retried on
    /// contention, and it only replaces a value still equal to the one it
    /// read. `progress` sees each committed batch and may return
    /// `ControlFlow::Break` to stop.
    #[instrument(skip_all, fields(batch_size))]
    pub async fn reencrypt_all(
        &self,
        batch_size: u32,
        mut progress: impl FnMut(&ReencryptProgress) -> ControlFlow<()>,
    ) -> Result<ReencryptReport> {
        if batch_size == 0 {
            return Err(DatabaseError::invalid("batch_size", "must be at least 1"));
        }
        let mut target = self.db.keyring().await?.active_version();
        let mut done = 0u64;
        for column in columns::ALL {
            loop {
                let batch = retrying(RetryPolicy::default(), || {
                    self.reencrypt_batch(column, batch_size)
                })
                .await?;
                target = batch.target;
                // Stop when no stale value is left, not when a batch moved
                // nothing: a concurrent writer may have changed every row
                // of a batch, and stale rows can remain behind it.
                if batch.fetched == 0 {
                    break;
                }
                done += batch.moved;
                let report = ReencryptProgress {
                    column: format!("{}.{}", column.table, column.column),
                    reencrypted: done,
                };
                if progress(&report).is_break() {
                    return Ok(ReencryptReport {
                        target_version: target,
                        reencrypted: done,
                        stopped: true,
                    });
                }
            }
        }
        info!(reencrypted = done, target, "re-encryption complete");
        Ok(ReencryptReport {
            target_version: target,
            reencrypted: done,
            stopped: false,
        })
    }

    /// Re-encrypts up to `batch` stale values of `column` in one write
    /// transaction, under the active key as confirmed inside it.
    async fn reencrypt_batch(&self, column: &SealedColumn, batch: u32) -> Result<Batch> {
        let tx = begin_write(self.db.unscoped_connection()).await?;
        match self.reencrypt_rows(&tx, column, batch).await {
            Ok(done) => {
                tx.commit().await?;
                Ok(done)
            }
            Err(err) => {
                let _ = tx.rollback().await;
                Err(err)
            }
        }
    }

    async fn reencrypt_rows(
        &self,
        tx: &DatabaseTransaction,
        column: &SealedColumn,
        batch: u32,
    ) -> Result<Batch> {
        let keyring = sealing_keyring(self.db, tx).await?;
        let mut select = Query::select();
        select.column(Alias::new(column.key));
        for c in column.tenant.iter().chain(column.user.iter()) {
            select.column(Alias::new(*c));
        }
        for part in column.parts {
            select.expr(Expr::col(Alias::new(*part)).cast_as(Alias::new("TEXT")));
        }
        select
            .column(Alias::new(column.column))
            .from(Alias::new(column.table))
            .and_where(stale(column, keyring.active_version()))
            .limit(u64::from(batch));
        let rows = tx.query_all(&select).await?;
        let mut moved = 0;
        for row in &rows {
            let mut i = 0;
            let mut next = || {
                i += 1;
                i - 1
            };
            let key: Value = if column.key_is_uuid {
                row.try_get_by_index::<Uuid>(next())?.into()
            } else {
                row.try_get_by_index::<String>(next())?.into()
            };
            let tenant = match column.tenant {
                Some(_) => Some(row.try_get_by_index::<Uuid>(next())?),
                None => None,
            };
            let user = match column.user {
                Some(_) => Some(row.try_get_by_index::<Uuid>(next())?),
                None => None,
            };
            let mut parts = Vec::new();
            for _ in column.parts {
                parts.push(row.try_get_by_index::<String>(next())?);
            }
            let old: String = row.try_get_by_index(next()).map_err(|err| {
                DatabaseError::Decode(format!("{}.{}: {err}", column.table, column.column))
            })?;
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            let context = column.context(tenant, user, &refs);
            let secret = keyring.open(&context, &old)?;
            let sealed = keyring.seal(&context, &secret)?;
            let update = Query::update()
                .table(Alias::new(column.table))
                .value(Alias::new(column.column), sealed)
                .and_where(Expr::col(Alias::new(column.key)).eq(key))
                .and_where(Expr::col(Alias::new(column.column)).eq(old))
                .to_owned();
            moved += tx.execute(&update).await?.rows_affected();
        }
        Ok(Batch {
            fetched: rows.len(),
            moved,
            target: keyring.active_version(),
        })
    }

    /// Deletes data key `version`. Refused for the active key, while any
    /// value is still sealed under it (run [`Security::reencrypt_all`]
    /// first: [`DatabaseError::Conflict`]), and until twice the key refresh
    /// interval has passed since it stopped being active, so that no handle
    /// of another process can still be sealing under it
    /// ([`DatabaseError::InvalidInput`]; see the module docs). The check and
    /// the deletion are one transaction.
    #[instrument(skip_all, fields(version))]
    pub async fn retire(&self, version: u32) -> Result<()> {
        let grace = self.db.key_refresh_interval().saturating_mul(2);
        retrying(RetryPolicy::default(), || async {
            let tx = begin_write(self.db.unscoped_connection()).await?;
            match retire_in(&tx, version, grace).await {
                Ok(()) => Ok(tx.commit().await?),
                Err(err) => {
                    let _ = tx.rollback().await;
                    Err(err)
                }
            }
        })
        .await?;
        self.db.reload_keys().await?;
        info!(version, "retired a data key");
        Ok(())
    }

    /// Changes the master key: every stored data key is unwrapped with the
    /// current master key and wrapped with `new_master`, in one transaction.
    /// No encrypted row changes. Afterwards this handle uses `new_master`;
    /// restart other processes with it.
    #[instrument(skip_all)]
    pub async fn rewrap_data_keys(&self, new_master: MasterKey) -> Result<usize> {
        let current = self.db.master_key();
        let tx = begin_write(self.db.unscoped_connection()).await?;
        let stored = wrapped_keys(&tx).await?;
        let now = time::stored(time::now());
        for (version, row) in &stored {
            let key = DataKey::unwrap(*version, &row.secret_value, &current)?;
            system_secrets::Entity::update_many()
                .col_expr(
                    system_secrets::Column::SecretValue,
                    Expr::value(key.wrap(&new_master)?),
                )
                .col_expr(system_secrets::Column::UpdatedAt, Expr::value(now))
                .filter(system_secrets::Column::SecretType.eq(row.secret_type.clone()))
                .exec(&tx)
                .await?;
        }
        tx.commit().await?;
        self.db.set_master_key(new_master);
        info!(
            keys = stored.len(),
            "rewrapped the data keys under a new master key"
        );
        Ok(stored.len())
    }
}

/// One committed re-encryption batch.
struct Batch {
    fetched: usize,
    moved: u64,
    target: u32,
}

/// The body of [`Security::retire`], inside its write transaction.
async fn retire_in(
    tx: &DatabaseTransaction,
    version: u32,
    grace: std::time::Duration,
) -> Result<()> {
    let versions = global_versions(tx).await?;
    let position = versions
        .iter()
        .position(|(v, _)| *v == version)
        .ok_or_else(|| DatabaseError::not_found("data key", format!("v{version}")))?;
    if versions[position].1.is_active {
        return Err(DatabaseError::invalid(
            "version",
            "the active data key cannot be retired",
        ));
    }
    // The key stopped sealing when the next version was created.
    let stopped = versions[position + 1..]
        .first()
        .map(|(_, row)| row.created_at.to_utc())
        .ok_or_else(|| {
            DatabaseError::Config(
                "no data key is newer than an inactive one; the key tables were edited by hand"
                    .to_owned(),
            )
        })?;
    // Deleting first takes the key row's lock on PostgreSQL: transactions
    // that checked the key under a share lock commit before the count below
    // runs, so it sees their values. (On SQLite this transaction already
    // excludes every other writer.)
    let deleted = system_secrets::Entity::delete_by_id(secret_type(version))
        .exec(tx)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Err(DatabaseError::not_found("data key", format!("v{version}")));
    }
    for column in columns::ALL {
        let mut count = Query::select();
        count
            .expr(Expr::col(Alias::new(column.column)).count())
            .from(Alias::new(column.table))
            .and_where(Expr::col(Alias::new(column.column)).like(envelope::like_pattern(version)));
        let n: i64 = tx
            .query_one(&count)
            .await?
            .map(|row| row.try_get_by_index(0))
            .transpose()?
            .unwrap_or(0);
        if n > 0 {
            return Err(DatabaseError::Conflict(format!(
                "data key v{version} still seals {n} values in {}.{}; run reencrypt_all first",
                column.table, column.column
            )));
        }
    }
    let since = (time::now() - stopped).to_std().unwrap_or_default();
    if since < grace {
        return Err(DatabaseError::invalid(
            "version",
            format!(
                "data key v{version} stopped sealing {:.1} s ago; handles of other processes may \
                 seal under it until twice the key refresh interval ({:.1} s) has passed: retry then",
                since.as_secs_f64(),
                grace.as_secs_f64()
            ),
        ));
    }
    key_versions::Entity::update_many()
        .col_expr(key_versions::Column::IsActive, Expr::value(false))
        .col_expr(
            key_versions::Column::ExpiresAt,
            Expr::value(time::stored(time::now())),
        )
        .filter(key_versions::Column::TenantId.is_null())
        .filter(key_versions::Column::Version.eq(version as i32))
        .exec(tx)
        .await?;
    Ok(())
}

/// The keyring to seal with: the cached one if its active version was
/// confirmed within the key refresh interval, else confirmed (or reloaded)
/// through `conn`, the caller's own connection or transaction.
pub(crate) async fn sealing_keyring<C: ConnectionTrait>(
    db: &Database,
    conn: &C,
) -> Result<Arc<Keyring>> {
    if let Some(keyring) = db.fresh_keyring() {
        return Ok(keyring);
    }
    let Some(cached) = db.cached_keyring() else {
        return db.keyring().await;
    };
    let asked = Instant::now();
    if active_version(conn).await? == Some(cached.active_version()) {
        db.store_keyring(cached.clone(), asked);
        return Ok(cached);
    }
    let fresh = Arc::new(load(conn, &db.master_key()).await?.ok_or_else(|| {
        DatabaseError::Config("the data keys were deleted from the database".to_owned())
    })?);
    db.store_keyring(fresh.clone(), asked);
    info!(
        version = fresh.active_version(),
        "learned of a data key rotated elsewhere"
    );
    Ok(fresh)
}

/// Values of `column` sealed under a data key other than `active`. Values
/// under version 0, the master key (the wrapped data keys themselves), are
/// never re-encrypted by this job.
fn stale(column: &SealedColumn, active: u32) -> SimpleExpr {
    let c = || Expr::col(Alias::new(column.column));
    c().like(envelope::like_any())
        .and(c().not_like(envelope::like_pattern(active)))
        .and(c().not_like(envelope::like_pattern(MASTER_KEY_VERSION)))
}

impl Database {
    /// Key management: rotation, re-encryption, retirement, master key change.
    pub fn security(&self) -> Security<'_> {
        Security::new(self)
    }

    pub(crate) async fn keyring(&self) -> Result<Arc<Keyring>> {
        if let Some(keyring) = self.cached_keyring() {
            return Ok(keyring);
        }
        // Connected before the schema existed: load once it does.
        if self.migration_status().await?.1 > 0 {
            return Err(DatabaseError::Config(
                "the database is not migrated; call Database::migrate first".to_owned(),
            ));
        }
        self.reload_keys().await
    }

    /// Reads (or on first use creates) the data keys through the pool.
    pub(crate) async fn reload_keys(&self) -> Result<Arc<Keyring>> {
        let asked = Instant::now();
        let keyring =
            Arc::new(load_or_create(self.unscoped_connection(), &self.master_key()).await?);
        self.store_keyring(keyring.clone(), asked);
        Ok(keyring)
    }
}
