//! Adopting a database the original Pierre server wrote.
//!
//! [`LegacySource`] opens the original's SQLite file read-only, checks its
//! `_sqlx_migrations` ledger and its tables against what the original's 20
//! migrations create, counts the rows, checks that a master key opens the
//! source's data key and that every ciphertext opens under its row's
//! context, all before anything is written anywhere; then
//! [`LegacySource::adopt`] moves every row into a pierre-db database in one
//! transaction, converting cells, ids and secrets on the way.

mod cells;
mod credentials;
mod ledger;
mod moving;
mod read;
mod report;
mod rows;
mod schema;
mod secrets;
mod target;
mod transform;

pub use credentials::{CredentialCount, CredentialForm, LegacyCredentials};
pub use report::{AdoptionReport, ColumnCount, TableAdopted};
pub use rows::{LegacyCell, LegacyRows, MappedId};
pub use secrets::LegacySecrets;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::backend::Backend;
use crate::crypto::legacy;
use crate::crypto::{CryptoError, master::MasterKey};
use crate::error::{DatabaseError, Result};

/// What adoption may leave behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdoptOptions {
    /// Accept a source whose ledger holds the original's later migrations,
    /// whose tables pierre-db does not manage: those tables are named in
    /// the inventory, with their rows, and left where they are. Without it
    /// such a source is refused.
    pub skip_unmanaged_tables: bool,
    /// Leave out the rows with a value that does not convert (and the rows
    /// that refer to them), listing each in
    /// [`AdoptionReport::quarantined`]. Without it such a value fails the
    /// adoption and nothing is written.
    pub quarantine: bool,
    /// Rows read and written per statement (`0`: 1,000).
    pub batch: u32,
}

impl AdoptOptions {
    /// The strict default: a source with tables pierre-db does not manage
    /// is refused, and so is a value that does not convert.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`AdoptOptions::skip_unmanaged_tables`].
    #[must_use]
    pub fn skip_unmanaged_tables(mut self, skip: bool) -> Self {
        self.skip_unmanaged_tables = skip;
        self
    }

    /// Sets [`AdoptOptions::quarantine`].
    #[must_use]
    pub fn quarantine(mut self, quarantine: bool) -> Self {
        self.quarantine = quarantine;
        self
    }

    /// Sets [`AdoptOptions::batch`].
    #[must_use]
    pub fn batch(mut self, rows: u32) -> Self {
        self.batch = rows;
        self
    }
}

/// A table and how many rows it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableRows {
    /// The table's name.
    pub table: String,
    /// Its rows.
    pub rows: u64,
}

/// What a source holds, as [`LegacySource::inspect`] found it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyInventory {
    /// The original's migrations after the 20 this version mirrors, by
    /// version (accepted only with
    /// [`AdoptOptions::skip_unmanaged_tables`]).
    pub later_migrations: Vec<i64>,
    /// The tables adoption moves, with their rows, by name: pierre-db's 44
    /// and the original's run-time `user_oauth_apps`, whose rows become
    /// `user_oauth_app_credentials` (a source may lack it).
    pub tables: Vec<TableRows>,
    /// The source's tables pierre-db does not manage, with their rows:
    /// adoption leaves them behind.
    pub unmanaged_tables: Vec<TableRows>,
}

/// A database written by the original Pierre server (its SQLite file),
/// opened read-only: nothing here writes to it.
///
/// ```no_run
/// use pierre_db::{AdoptOptions, LegacySource, MasterKey};
///
/// # async fn run() -> Result<(), pierre_db::DatabaseError> {
/// let source = LegacySource::open("sqlite:/var/lib/pierre/pierre.db").await?;
/// let inventory = source.inspect(&AdoptOptions::new()).await?;
/// for table in &inventory.tables {
///     println!("{}: {} rows", table.table, table.rows);
/// }
/// let legacy_key = MasterKey::from_file("/etc/pierre/master.key".as_ref())?;
/// source.check_master_key(&legacy_key).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LegacySource {
    conn: DatabaseConnection,
}

impl LegacySource {
    /// Opens the original's SQLite file at `url` (`sqlite:PATH`,
    /// `sqlite://PATH`) read-only. A missing file is
    /// [`DatabaseError::Connect`], never created; a PostgreSQL URL or an
    /// in-memory database is [`DatabaseError::NotAdoptable`]: the original's
    /// PostgreSQL layer writes no ledger, and its layout is not documented.
    pub async fn open(url: &str) -> Result<Self> {
        let path = match Backend::from_url(url)? {
            Backend::SqliteFile(path) => path,
            Backend::SqliteMemory => {
                return Err(DatabaseError::NotAdoptable(
                    "an in-memory database holds nothing to adopt; name the original's \
                     SQLite file"
                        .into(),
                ));
            }
            Backend::Postgres => {
                return Err(DatabaseError::NotAdoptable(
                    "the original server's PostgreSQL layer writes no migration ledger and its \
                     layout is not documented; adopt its SQLite file"
                        .into(),
                ));
            }
        };
        if !path.is_file() {
            return Err(DatabaseError::Connect {
                backend: "sqlite",
                problem: crate::error::ConnectProblem::MissingFile,
                detail: format!("no such file: {}", path.display()),
            });
        }
        let mut options = ConnectOptions::new(url.to_owned());
        options.max_connections(1).sqlx_logging(false);
        options.map_sqlx_sqlite_opts(|o| o.read_only(true).create_if_missing(false));
        let conn = sea_orm::Database::connect(options).await?;
        Ok(Self { conn })
    }

    /// Checks that this is a database the original wrote and that this
    /// version can take it over, and counts its rows.
    ///
    /// [`DatabaseError::NotAdoptable`], with every problem named, when:
    /// there is no `_sqlx_migrations` ledger; one of the original's 20
    /// migrations (`20250120000001` … `20250120000021`) is missing or failed,
    /// or an unknown one is among them; a later migration failed (even with
    /// [`AdoptOptions::skip_unmanaged_tables`]); a table is missing, lacks a column
    /// or has a column the original does not create; or the source has
    /// later migrations or tables pierre-db does not manage and
    /// [`AdoptOptions::skip_unmanaged_tables`] is off.
    pub async fn inspect(&self, options: &AdoptOptions) -> Result<LegacyInventory> {
        inspect_on(&self.conn, options).await
    }

    /// Checks that `master` is the key the original wrapped this database's
    /// data key with (`PIERRE_MASTER_ENCRYPTION_KEY` of the original
    /// server). A wrong key is [`DatabaseError::NotAdoptable`] saying so,
    /// found before anything is written.
    pub async fn check_master_key(&self, master: &MasterKey) -> Result<()> {
        self.data_key(master).await.map(drop)
    }

    /// Reads every row of every table pierre-db manages and judges each
    /// cell against the column it will fill: ids (UUIDs, the original's
    /// prefixed ids, which adoption maps, and NULL ids, which it fills),
    /// both of the original's time forms within the years 0000–9999,
    /// booleans, JSON (or the comma-joined lists the original wrote),
    /// enum values pierre-db knows, and NULL only where the column takes
    /// it. Nothing is written; what does not convert is listed by table,
    /// column and row.
    pub async fn check_rows(&self) -> Result<LegacyRows> {
        rows::check(&self.conn, &schema::tables_of(&self.conn).await?).await
    }

    /// Classifies every credential the original stored only to verify (API
    /// keys, MCP tokens, A2A, admin, OAuth app and OAuth 2.0 client
    /// secrets, refresh tokens, authorization codes, session tokens) by the
    /// form it is in: this crate's SHA-256 (kept), in clear (hashed by
    /// adoption), or bcrypt, Argon2id or HMAC (verified and upgraded on
    /// first use). A value in no form its column holds is named, never
    /// guessed at; no value is ever printed.
    pub async fn check_credentials(&self) -> Result<LegacyCredentials> {
        credentials::check(&self.conn, &schema::tables_of(&self.conn).await?).await
    }

    /// Opens every encrypted value of the source (OAuth tokens, tenant
    /// OAuth client secrets) with its data key, unwrapped by `master`,
    /// under the original's associated data for its row: a value altered,
    /// moved from another row or sealed under another key is listed by
    /// table, column and row. The original also sealed some values without
    /// any context (its `encrypt_data`): those open in any row, so a move
    /// cannot be seen for them; they are counted apart. A wrong `master` is
    /// [`DatabaseError::NotAdoptable`], as for [`Self::check_master_key`].
    pub async fn check_secrets(&self, master: &MasterKey) -> Result<LegacySecrets> {
        secrets::check(&self.conn, &self.data_key(master).await?).await
    }

    /// Moves every row of the source into `target`, a migrated pierre-db
    /// database that holds nothing yet, in one transaction: a failed or
    /// killed adoption leaves the target as it was, and running it again
    /// starts over.
    ///
    /// The source is read in one read transaction, every table as of one
    /// moment: stop the original server first, or what it writes after
    /// that moment is not adopted.
    ///
    /// `legacy_master` is the original server's master key (usually the
    /// target's own: the same `PIERRE_MASTER_ENCRYPTION_KEY`). Rows are
    /// converted the way the library writes them: ids the original wrote
    /// in a prefixed form get UUIDs derived from them, NULL ids get one
    /// derived from the row's place, times of both forms are read, emails
    /// are normalised; every ciphertext is opened with the original's
    /// data key and sealed again under the target's active key with
    /// pierre-db's associated data, secrets kept in clear are sealed, and
    /// credentials kept in clear are hashed. Hashes of the original's that
    /// only the plaintext could convert (bcrypt, Argon2id, HMAC) move as
    /// they are, counted in [`AdoptionReport::legacy_hashes`]; when some
    /// are in the HMAC form, the original's data key is kept for them,
    /// sealed as the named secret `adopted.legacy_hmac_key`, until the
    /// last is upgraded.
    ///
    /// Refused with [`DatabaseError::NotAdoptable`], before anything is
    /// written, when [`Self::inspect`] refuses the source, `legacy_master`
    /// does not open its data key, the target holds rows (or was adopted
    /// into already), or, without [`AdoptOptions::quarantine`], a value
    /// does not convert (the message names them by table, column and row).
    ///
    /// ```no_run
    /// use pierre_db::{AdoptOptions, Database, LegacySource, MasterKey};
    ///
    /// # async fn run() -> Result<(), pierre_db::DatabaseError> {
    /// let key = MasterKey::from_file("/etc/pierre/master.key".as_ref())?;
    /// let target = Database::connect("sqlite:/var/lib/pierre/new.db", key.clone()).await?;
    /// let source = LegacySource::open("sqlite:/var/lib/pierre/pierre.db").await?;
    /// let report = source.adopt(&target, &key, &AdoptOptions::new()).await?;
    /// println!("{} rows moved", report.moved());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn adopt(
        &self,
        target: &crate::Database,
        legacy_master: &MasterKey,
        options: &AdoptOptions,
    ) -> Result<AdoptionReport> {
        self.adopt_with_progress(target, legacy_master, options, |_, _, _| {})
            .await
    }

    /// [`Self::adopt`], calling `progress(table, rows done, source rows)`
    /// after each batch.
    pub async fn adopt_with_progress(
        &self,
        target: &crate::Database,
        legacy_master: &MasterKey,
        options: &AdoptOptions,
        mut progress: impl FnMut(&str, u64, u64) + Send,
    ) -> Result<AdoptionReport> {
        let started = std::time::Instant::now();
        // One read transaction on the source: the counts, the checks and
        // every row as of one moment (SQLite keeps the snapshot of its
        // first read).
        let snapshot = self.conn.begin().await?;
        let inventory = inspect_on(&snapshot, options).await?;
        let legacy_key = data_key(&snapshot, legacy_master).await?;
        let tables = schema::tables_of(&snapshot).await?;
        // Replica reads through `target` wait for what is written here.
        let _noted = target.shared().replicas.writing(target.mark());
        let tx = crate::query::begin_write(target.pool()).await?;
        target::require_empty(&tx).await?;
        let keyring = target
            .keys()
            .sealing_keyring(&tx, target.keyring().await?)
            .await?;
        crate::keys::store::check_key_stored(&tx, keyring.active_version()).await?;
        let keys = transform::Keys {
            legacy: &legacy_key,
            target: &keyring,
        };
        let mut mover = moving::Mover::new(&snapshot, &tables, &tx, keys, &mut progress);
        mover.quarantine = options.quarantine;
        if options.batch > 0 {
            mover.batch = options.batch.into();
        }
        mover.source_rows = inventory
            .tables
            .iter()
            .map(|t| (t.table.clone(), t.rows))
            .collect();
        mover.run().await?;
        let mut report = std::mem::take(&mut mover.report);
        drop(mover);
        if report
            .legacy_hashes
            .iter()
            .any(|c| c.form == CredentialForm::HmacSha256)
        {
            target::keep_legacy_hmac_key(&tx, &keyring, &legacy_key).await?;
        }
        target::mark_adopted(&tx).await?;
        // The key may have been retired while rows were sealed under it.
        crate::keys::store::check_key_stored(&tx, keyring.active_version()).await?;
        tx.commit().await?;
        snapshot.rollback().await.ok();
        report.unmanaged_tables = inventory.unmanaged_tables;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// The source's data key, unwrapped with `master`.
    async fn data_key(&self, master: &MasterKey) -> Result<legacy::LegacyDataKey> {
        data_key(&self.conn, master).await
    }
}

/// The source's data key, read on `conn` and unwrapped with `master`.
async fn data_key(
    conn: &impl ConnectionTrait,
    master: &MasterKey,
) -> Result<legacy::LegacyDataKey> {
    let select = Query::select()
        .column(Alias::new("secret_value"))
        .from(Alias::new("system_secrets"))
        .and_where(Expr::col(Alias::new("secret_type")).eq(legacy::DATA_KEY_SECRET_TYPE))
        .to_owned();
    let row = conn.query_one(&select).await?.ok_or_else(|| {
        DatabaseError::NotAdoptable(format!(
            "system_secrets has no '{}' row: the original's data key is missing",
            legacy::DATA_KEY_SECRET_TYPE
        ))
    })?;
    let wrapped: String = row.try_get_by_index(0)?;
    legacy::unwrap_data_key(master, &wrapped).map_err(|err| match err {
        CryptoError::WrongMasterKey => DatabaseError::NotAdoptable(
            "the legacy master key does not open the source's data key: use the original \
                 server's master key (its PIERRE_MASTER_ENCRYPTION_KEY)"
                .into(),
        ),
        other => DatabaseError::NotAdoptable(format!(
            "the source's data key (system_secrets '{}') is damaged: {other}",
            legacy::DATA_KEY_SECRET_TYPE
        )),
    })
}

async fn ledger(conn: &impl ConnectionTrait) -> Result<Vec<ledger::Entry>> {
    let select = Query::select()
        .columns([Alias::new("version"), Alias::new("success")])
        .from(Alias::new(schema::LEDGER))
        .to_owned();
    conn.query_all(&select)
        .await?
        .into_iter()
        .map(|row| {
            Ok(ledger::Entry {
                version: row.try_get_by_index(0)?,
                success: row.try_get_by_index(1)?,
            })
        })
        .collect()
}

async fn rows(conn: &impl ConnectionTrait, table: &str) -> Result<TableRows> {
    let select = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(Alias::new(table))
        .to_owned();
    let rows: i64 = match conn.query_one(&select).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(TableRows {
        table: table.to_owned(),
        rows: u64::try_from(rows).unwrap_or_default(),
    })
}

/// [`LegacySource::inspect`], on `conn` (the source's connection, or a read
/// transaction on it).
async fn inspect_on(
    conn: &impl ConnectionTrait,
    options: &AdoptOptions,
) -> Result<LegacyInventory> {
    let source = schema::tables_of(conn).await?;
    if !source.contains_key(schema::LEDGER) {
        let why = if source.contains_key("seaql_migrations") {
            "it is a pierre-db database already (it has seaql_migrations): move it with \
                 `pierre-db copy`"
        } else {
            "it has no _sqlx_migrations ledger, so it is not a database the original Pierre \
                 server wrote"
        };
        return Err(DatabaseError::NotAdoptable(why.into()));
    }
    let (verdict, mut problems) = match ledger::judge(&ledger(conn).await?) {
        Ok(verdict) => (verdict, Vec::new()),
        Err(problems) => (ledger::Verdict { later: Vec::new() }, problems),
    };
    let expected = schema::expected().await?;
    problems.extend(schema::differences(&expected, &source));
    let unmanaged = schema::unmanaged(&expected, &source);
    if !options.skip_unmanaged_tables {
        if !verdict.later.is_empty() {
            problems.push(format!(
                "its ledger holds {} later migration(s) of the original ({}), which add \
                     tables pierre-db does not manage",
                verdict.later.len(),
                list(&verdict.later)
            ));
        }
        if !unmanaged.is_empty() {
            problems.push(format!(
                "it has tables pierre-db does not manage ({})",
                unmanaged.join(", ")
            ));
        }
        if !verdict.later.is_empty() || !unmanaged.is_empty() {
            problems.push(
                "to adopt the tables pierre-db manages and leave those, set \
                     AdoptOptions::skip_unmanaged_tables"
                    .into(),
            );
        }
    }
    if !problems.is_empty() {
        return Err(refused(problems));
    }
    let mut tables = Vec::new();
    for table in expected.keys().filter(|t| source.contains_key(*t)) {
        tables.push(rows(conn, table).await?);
    }
    let mut unmanaged_tables = Vec::new();
    for table in &unmanaged {
        unmanaged_tables.push(rows(conn, table).await?);
    }
    Ok(LegacyInventory {
        later_migrations: verdict.later,
        tables,
        unmanaged_tables,
    })
}

fn refused(problems: Vec<String>) -> DatabaseError {
    DatabaseError::NotAdoptable(problems.join("; "))
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
