//! The operations that change the data keys: `db.security()`.

// Why `retire` waits and what keeps several processes safe is in the
// `keys` module comment.

use std::ops::ControlFlow;

use entity::{key_versions, system_secrets};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};
use tracing::{info, instrument};

use crate::crypto::columns::{self, SealedColumn};
use crate::crypto::envelope;
use crate::crypto::keyring::{DataKey, MASTER_KEY_VERSION};
use crate::crypto::master::MasterKey;
use crate::database::Database;
use crate::error::{DatabaseError, Result};
use crate::keys::store;
use crate::query::{begin_write, finish, global_update};
use crate::time;
use crate::transactions::{RetryPolicy, retrying};
use rows::SealedRow;

mod rows;
mod verify;

pub use verify::{ColumnCheck, SealedCounts, UnreadableValue, VerifyProgress, VerifyReport};

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

/// The original server's data key, kept to check credentials in its HMAC
/// form: see [`Security::legacy_hmac_key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyHmacKey {
    /// Whether the key is stored.
    pub kept: bool,
    /// Credentials still in the HMAC form (without the key, none of them
    /// can be checked).
    pub credentials: u64,
}

/// Key management: `db.security()`.
///
/// The newest active data key seals new values; every stored version opens
/// old ones. Rotation adds a version, re-encryption moves values to it in
/// batches, retirement deletes a version nobody uses, and rewrapping changes
/// the master key without touching a single row.
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
        let conn = self.db.pool();
        let stored: Vec<u32> = store::wrapped_keys(conn)
            .await?
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        Ok(store::global_versions(conn)
            .await?
            .into_iter()
            .map(|(version, row)| KeyVersionInfo {
                version,
                active: row.is_active,
                retired: !stored.contains(&version),
            })
            .collect())
    }

    /// In a database adopted from the original Pierre server: whether the
    /// original's data key is still kept (sealed as the named secret
    /// `adopted.legacy_hmac_key`) and how many credentials in its HMAC
    /// form (OAuth app secrets, refresh tokens) it is kept for. Each is
    /// stored as SHA-256 on its first successful check, and the key is
    /// deleted with the last. `None` when the database has neither.
    #[instrument(skip_all)]
    pub async fn legacy_hmac_key(&self) -> Result<Option<LegacyHmacKey>> {
        let (credentials, kept) = crate::keys::legacy_hmac::status(self.db.pool()).await?;
        Ok((kept || credentials > 0).then_some(LegacyHmacKey { kept, credentials }))
    }

    /// Makes a new data key the active one. Values sealed under older keys
    /// stay readable; [`Security::reencrypt_all`] moves them.
    #[instrument(skip_all, fields(version))]
    pub async fn rotate_data_key(&self) -> Result<u32> {
        let conn = self.db.pool();
        let newest = store::global_versions(conn)
            .await?
            .last()
            .map(|(v, _)| *v)
            .unwrap_or(0);
        let next = newest
            .checked_add(1)
            .ok_or_else(|| DatabaseError::Config("data key versions are exhausted".to_owned()))?;
        tracing::Span::current().record("version", next);
        let key = DataKey::generate(next)?;
        store::store_new_key(conn, &key, &self.db.keys().master()).await?;
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
        let noted = self.db.shared().replicas.writing(self.db.mark());
        let tx = begin_write(self.db.pool()).await?;
        let outcome = self.reencrypt_rows(&tx, column, batch).await;
        let done = finish(tx, outcome).await;
        noted.done();
        done
    }

    async fn reencrypt_rows(
        &self,
        tx: &DatabaseTransaction,
        column: &SealedColumn,
        batch: u32,
    ) -> Result<Batch> {
        let cached = self.db.keyring().await?;
        let keyring = self.db.keys().sealing_keyring(tx, cached).await?;
        let mut select = rows::select(column);
        select
            .and_where(stale(column, keyring.active_version()))
            .limit(u64::from(batch));
        let rows = tx.query_all(&select).await?;
        let mut moved = 0;
        for row in &rows {
            let SealedRow {
                key,
                context,
                text: old,
            } = rows::read(column, row)?;
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

    /// Deletes data key `version`. Refused for the active key
    /// ([`DatabaseError::InvalidInput`]: rotate first), while any value is
    /// still sealed under it ([`DatabaseError::KeyInUse`]: run
    /// [`Security::reencrypt_all`] first), and until twice the key refresh
    /// interval has passed since it stopped being active, so that no handle
    /// of another process can still be sealing under it
    /// ([`DatabaseError::KeyInGrace`], which says how long to wait). The
    /// check and the deletion are one transaction.
    #[instrument(skip_all, fields(version))]
    pub async fn retire(&self, version: u32) -> Result<()> {
        let grace = self.db.keys().refresh_interval().saturating_mul(2);
        let noted = self.db.shared().replicas.writing(self.db.mark());
        let retired = retrying(RetryPolicy::default(), || async {
            let tx = begin_write(self.db.pool()).await?;
            let outcome = retire_in(&tx, version, grace).await;
            finish(tx, outcome).await
        })
        .await;
        noted.done();
        retired?;
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
        let current = self.db.keys().master();
        let tx = begin_write(self.db.pool()).await?;
        let stored = store::wrapped_keys(&tx).await?;
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
        self.db.keys().set_master(new_master);
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
    let versions = store::global_versions(tx).await?;
    let position = versions
        .iter()
        .position(|(v, _)| *v == version)
        .ok_or_else(|| DatabaseError::not_found("data key", format!("v{version}")))?;
    if versions[position].1.is_active {
        return Err(DatabaseError::invalid(
            "version",
            format!(
                "data key v{version} is the active one: rotate first (a new key becomes \
                 active), re-encrypt, then retire v{version}"
            ),
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
    let deleted = system_secrets::Entity::delete_by_id(store::secret_type(version))
        .exec(tx)
        .await?
        .rows_affected;
    if deleted == 0 {
        return Err(DatabaseError::not_found("data key", format!("v{version}")));
    }
    for column in columns::ALL {
        let n = rows::count(tx, column, Some(version)).await?;
        if n > 0 {
            return Err(DatabaseError::KeyInUse {
                version,
                values: n,
                column: format!("{}.{}", column.table, column.column),
            });
        }
    }
    let since = (time::now() - stopped).to_std().unwrap_or_default();
    if since < grace {
        return Err(DatabaseError::KeyInGrace {
            version,
            since_secs: since.as_secs_f64(),
            wait_secs: (grace - since).as_secs_f64(),
        });
    }
    global_update::<key_versions::Entity>()
        .into_inner()
        .col_expr(key_versions::Column::IsActive, Expr::value(false))
        .col_expr(
            key_versions::Column::ExpiresAt,
            Expr::value(time::stored(time::now())),
        )
        .filter(key_versions::Column::Version.eq(version as i32))
        .exec(tx)
        .await?;
    Ok(())
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
}
