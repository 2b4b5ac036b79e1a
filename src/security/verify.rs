//! Checking that every sealed value still opens, and counting values per
//! data key: what an operator runs before retiring a key, after a restore,
//! or after copying a database.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order};
use tracing::{info, instrument, warn};

use super::Security;
use super::rows::{self, SealedRow};
use crate::crypto::columns::{self, SealedColumn};
use crate::crypto::envelope;
use crate::crypto::keyring::MASTER_KEY_VERSION;
use crate::error::{DatabaseError, Result};
use crate::keys::store;

/// How many values of one encrypted column each key seals, as
/// [`Security::sealed_counts`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedCounts {
    /// `table.column`.
    pub column: String,
    /// Values that are not NULL.
    pub total: u64,
    /// Values per data key version (0: the master key, which seals only
    /// the stored data keys). Versions with no value are left out.
    pub by_version: BTreeMap<u32, u64>,
}

impl SealedCounts {
    /// Values that name no known key version (not envelopes, or under a key
    /// this database does not list): each of them is unreadable.
    pub fn unaccounted(&self) -> u64 {
        self.total
            .saturating_sub(self.by_version.values().copied().sum::<u64>())
    }
}

/// Progress of [`Security::verify`], reported after every batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyProgress {
    /// The column of the batch just checked (`table.column`).
    pub column: String,
    /// Values checked so far, in this call, across all columns.
    pub checked: u64,
    /// Of those, how many did not open.
    pub unreadable: u64,
}

/// One value that did not open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadableValue {
    /// The table.
    pub table: &'static str,
    /// The encrypted column.
    pub column: &'static str,
    /// The row's primary key, as text.
    pub key: String,
    /// Why it did not open (never any part of the value).
    pub reason: String,
}

/// What [`Security::verify`] found in one column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnCheck {
    /// `table.column`.
    pub column: String,
    /// Values that opened, per data key version (0: data keys under the
    /// master key, which opened when the handle loaded them).
    pub by_version: BTreeMap<u32, u64>,
    /// Values that did not open.
    pub unreadable: u64,
}

/// What [`Security::verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Per encrypted column, in the order of the schema.
    pub columns: Vec<ColumnCheck>,
    /// Every value that did not open, by table and primary key.
    pub unreadable: Vec<UnreadableValue>,
    /// Values checked.
    pub checked: u64,
    /// Whether the progress callback stopped the check before the end.
    pub stopped: bool,
}

impl VerifyReport {
    /// Whether every value checked opened.
    pub fn is_clean(&self) -> bool {
        self.unreadable.is_empty()
    }
}

impl Security<'_> {
    /// Counts the values of every encrypted column per data key version,
    /// in SQL, without decrypting anything (one `COUNT` per column and
    /// known version).
    ///
    /// # Errors
    ///
    /// A database error from any of the counts.
    #[instrument(skip_all)]
    pub async fn sealed_counts(&self) -> Result<Vec<SealedCounts>> {
        let conn = self.db.pool();
        let mut versions: Vec<u32> = self
            .key_versions()
            .await?
            .iter()
            .map(|k| k.version)
            .collect();
        versions.insert(0, MASTER_KEY_VERSION);
        let mut out = Vec::with_capacity(columns::ALL.len());
        for column in columns::ALL {
            let total = rows::count(conn, column, None).await?;
            let mut by_version = BTreeMap::new();
            if total > 0 {
                for &version in &versions {
                    let n = rows::count(conn, column, Some(version)).await?;
                    if n > 0 {
                        by_version.insert(version, n);
                    }
                }
            }
            out.push(SealedCounts {
                column: name(column),
                total,
                by_version,
            });
        }
        Ok(out)
    }

    /// Opens every encrypted value of every table with this handle's keys
    /// (re-read first, so a rotation made elsewhere is seen), reading
    /// `batch_size` rows at a time in primary-key order through the pool:
    /// no transaction is held open and memory stays flat. A value that does
    /// not open (altered, moved to another row, under a retired key) is
    /// listed by table and primary key; it does not stop the check.
    /// `progress` sees each batch and may return `ControlFlow::Break` to
    /// stop.
    ///
    /// # Errors
    ///
    /// [`DatabaseError::InvalidInput`] for a `batch_size` of 0; a database
    /// error, or a primary key that does not decode, stops the check.
    #[instrument(skip_all, fields(batch_size))]
    pub async fn verify(
        &self,
        batch_size: u32,
        mut progress: impl FnMut(&VerifyProgress) -> ControlFlow<()>,
    ) -> Result<VerifyReport> {
        if batch_size == 0 {
            return Err(DatabaseError::invalid("batch_size", "must be at least 1"));
        }
        let keyring = self.db.reload_keys().await?;
        let conn = self.db.pool();
        let mut report = VerifyReport {
            columns: Vec::with_capacity(columns::ALL.len()),
            unreadable: Vec::new(),
            checked: 0,
            stopped: false,
        };
        // The `system_secrets` rows the keyring unwrapped when it loaded.
        let data_keys: Vec<String> = keyring
            .versions()
            .into_iter()
            .map(store::secret_type)
            .collect();
        for column in columns::ALL {
            let mut check = ColumnCheck {
                column: name(column),
                by_version: BTreeMap::new(),
                unreadable: 0,
            };
            let mut last = None;
            loop {
                let mut select = rows::select(column);
                select
                    .and_where(Expr::col(Alias::new(column.column)).is_not_null())
                    .order_by(Alias::new(column.key), Order::Asc)
                    .limit(u64::from(batch_size));
                if let Some(key) = last.take() {
                    select.and_where(rows::after(column, key));
                }
                let batch = conn.query_all(&select).await?;
                for row in &batch {
                    let key = rows::read_key(column, row)?;
                    report.checked += 1;
                    let opened = match rows::read(column, row) {
                        // A row whose context columns do not decode is
                        // reported like a value that does not open.
                        Err(err) => Err(err.to_string()),
                        Ok(SealedRow { context, text, .. }) => match envelope::key_version(&text) {
                            // Data keys under the master key: unwrapped when
                            // the keys were loaded above, if the keyring
                            // lists them. Any other row under the master key
                            // is not one this check can vouch for.
                            Ok(MASTER_KEY_VERSION)
                                if column.table == columns::SYSTEM_SECRET.table =>
                            {
                                if data_keys.contains(&rows::key_text(&key)) {
                                    Ok(MASTER_KEY_VERSION)
                                } else {
                                    Err("sealed under the master key, but not a data key this \
                                         database lists"
                                        .to_owned())
                                }
                            }
                            Ok(version) => keyring
                                .open(&context, &text)
                                .map(|_| version)
                                .map_err(|err| err.to_string()),
                            Err(err) => Err(err.to_string()),
                        },
                    };
                    match opened {
                        Ok(version) => *check.by_version.entry(version).or_default() += 1,
                        Err(reason) => {
                            check.unreadable += 1;
                            report.unreadable.push(UnreadableValue {
                                table: column.table,
                                column: column.column,
                                key: rows::key_text(&key),
                                reason,
                            });
                        }
                    }
                    last = Some(key);
                }
                if batch.is_empty() {
                    break;
                }
                let step = VerifyProgress {
                    column: check.column.clone(),
                    checked: report.checked,
                    unreadable: report.unreadable.len() as u64,
                };
                if progress(&step).is_break() {
                    report.stopped = true;
                    report.columns.push(check);
                    return Ok(report);
                }
                if batch.len() < batch_size as usize {
                    break;
                }
            }
            report.columns.push(check);
        }
        if report.is_clean() {
            info!(checked = report.checked, "every sealed value opens");
        } else {
            warn!(
                checked = report.checked,
                unreadable = report.unreadable.len(),
                "sealed values that do not open"
            );
        }
        Ok(report)
    }
}

fn name(column: &SealedColumn) -> String {
    format!("{}.{}", column.table, column.column)
}
