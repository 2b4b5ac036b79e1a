//! What an adoption did, table by table and secret by secret.

use super::TableRows;
use super::credentials::CredentialCount;
use super::rows::{LegacyCell, MappedId};

/// One table's part of an adoption.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableAdopted {
    /// The target table (the original's `user_oauth_apps` counts under
    /// `user_oauth_app_credentials`, where its rows go).
    pub table: String,
    /// Rows the source holds for it.
    pub source_rows: u64,
    /// Rows written to the target.
    pub moved: u64,
    /// Rows left out with `--quarantine` (listed in
    /// [`AdoptionReport::quarantined`]).
    pub quarantined: u64,
    /// Rows left out by rule, not by fault (listed in
    /// [`AdoptionReport::left_behind`]).
    pub left_behind: u64,
}

/// How many values of one column adoption sealed or hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ColumnCount {
    /// `table.column` in the target.
    pub column: String,
    /// Values.
    pub rows: u64,
}

/// What [`LegacySource::adopt`](super::LegacySource::adopt) did. Every
/// source row is in exactly one of: moved, quarantined, left behind.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct AdoptionReport {
    /// Rows per table, source and target, in loading order.
    pub tables: Vec<TableAdopted>,
    /// Ids the original wrote in a prefixed form and the UUIDs they
    /// became (every reference to them was rewritten the same way).
    pub mapped_ids: Vec<MappedId>,
    /// Rows written whose id the original left NULL, filled with a UUID
    /// derived from the table and the row's place in it (the same in every
    /// run).
    pub new_ids: u64,
    /// Values sealed under the target's active data key with pierre-db's
    /// associated data: the original's ciphertexts opened and sealed
    /// again, and the secrets it kept in clear.
    pub sealed: Vec<ColumnCount>,
    /// Credentials the original kept in clear, now stored as SHA-256.
    pub hashed: Vec<ColumnCount>,
    /// Credentials moved in a legacy hash form (bcrypt, Argon2id, HMAC):
    /// the repository that checks each one verifies the legacy form and
    /// replaces it with the current one on first success.
    pub legacy_hashes: Vec<CredentialCount>,
    /// Rows left out because a cell did not convert (only with
    /// [`AdoptOptions::quarantine`](super::AdoptOptions::quarantine)), and
    /// rows left out because they refer to one of those. A reference
    /// written after every row is in (a user's home tenant) is instead
    /// left empty, and listed here too: that row itself moved.
    pub quarantined: Vec<LegacyCell>,
    /// Rows left out by rule: the original's wrapped data key (its values
    /// are sealed again under the target's keys) and tenant-level fitness
    /// defaults that another row of the same tenant and name replaces.
    pub left_behind: Vec<LegacyCell>,
    /// The source's tables pierre-db does not manage, left where they are.
    pub unmanaged_tables: Vec<TableRows>,
    /// Seconds the adoption took.
    pub seconds: f64,
}

impl AdoptionReport {
    /// Rows written to the target, in every table.
    pub fn moved(&self) -> u64 {
        self.tables.iter().map(|t| t.moved).sum()
    }

    pub(crate) fn count(list: &mut Vec<ColumnCount>, column: String) {
        match list.iter_mut().find(|c| c.column == column) {
            Some(count) => count.rows += 1,
            None => list.push(ColumnCount { column, rows: 1 }),
        }
    }
}
