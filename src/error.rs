//! The one error type of pierre-db, and how driver errors map onto it.
//!
//! Classification reads error *codes* (SQLite extended result codes,
//! PostgreSQL SQLSTATEs) through SeaORM's [`DbErr::sql_err`] and the sqlx
//! driver error, never the words of a message, so it holds across server
//! versions and locales.

use sea_orm::{DbErr, RuntimeErr};
use thiserror::Error;

/// Everything a pierre-db call can fail with. Match on the variant to act;
/// messages are for people and never contain secrets or bound values.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// The row asked for does not exist (or is not visible to this caller).
    #[error("{entity} not found: {key}")]
    NotFound {
        /// What was looked up, e.g. `"user"`.
        entity: &'static str,
        /// The key it was looked up by (an id or other non-secret key).
        key: String,
    },

    /// A unique key is already taken: `table` and `columns` name it
    /// (`users`, `["email"]`), so that an application can say which field
    /// to change. Never carries the values.
    #[error("conflict: {} is already taken", key_text(table.as_deref(), columns))]
    Conflict {
        /// The table, when the database said.
        table: Option<String>,
        /// The key's columns, when the database said (empty otherwise).
        columns: Vec<String>,
    },

    /// A foreign key does not hold: the referenced row is missing, or rows
    /// still reference the one being deleted. `table` and `columns` name
    /// the referencing side (`tenants`, `["owner_user_id"]`). SQLite does
    /// not say which key failed; a repository that knows adds it, and
    /// `columns` stays empty otherwise.
    #[error(
        "foreign key violation on {}: the referenced row does not exist, or rows still reference this one",
        key_text(table.as_deref(), columns)
    )]
    ForeignKey {
        /// The referencing table, when known.
        table: Option<String>,
        /// The referencing columns, when known (empty otherwise).
        columns: Vec<String>,
    },

    /// A data key cannot be retired: it still seals `values` values in
    /// `column` (`table.column`). Re-encrypt first.
    #[error("data key v{version} still seals {values} values in {column}; run reencrypt_all first")]
    KeyInUse {
        /// The key version.
        version: u32,
        /// How many values it still seals in that column.
        values: u64,
        /// The first column found holding them, as `table.column`.
        column: String,
    },

    /// The database refused a value a CHECK, NOT NULL or enum type forbids.
    #[error("constraint violation: {0}")]
    Constraint(String),

    /// An argument was rejected before reaching the database.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The argument or field at fault.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },

    /// A row belongs to another tenant than the scope asking for it.
    #[error("tenant mismatch: the row belongs to another tenant")]
    TenantMismatch,

    /// A secret could not be sealed or opened (wrong key, wrong row or
    /// column, tampering, unknown version). Never carries the secret.
    #[error("crypto error: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),

    /// Configuration is missing or malformed (URL, environment, keys).
    #[error("configuration error: {0}")]
    Config(String),

    /// The operation does not exist on this backend.
    #[error("unsupported: {0}")]
    Unsupported(String),

    /// A write (or a transaction) was asked of the read-replica handle
    /// ([`Database::replica`](crate::Database::replica)); nothing was sent
    /// to any server.
    #[error(
        "read-only handle: {0} was asked of `replica()`, whose statements may only read; \
         write through the primary handles (`db.users()`, `db.tenant(t)…`)"
    )]
    ReadOnly(String),

    /// The source of an adoption is not a database the original Pierre
    /// server wrote, or holds something this version cannot take over as
    /// it is; the message names each migration, table or column at fault.
    #[error("cannot adopt this database: {0}")]
    NotAdoptable(String),

    /// The schema is behind this build: `pending` migrations are not
    /// applied. Returned by [`crate::Database::connect`] unless
    /// [`crate::DatabaseConfig::migrate_on_connect`] or
    /// [`crate::DatabaseConfig::require_migrated`] says otherwise.
    #[error(
        "the database is not migrated ({pending} migration(s) pending): run \
         `pierre-db migrate up` (or `cargo run -p migration -- up`) against it, or set \
         DatabaseConfig::migrate_on_connect = true to migrate while connecting"
    )]
    NotMigrated {
        /// Migrations known to this build but not applied.
        pending: usize,
    },

    /// The database server could not be reached, or refused this client.
    #[error("cannot connect to the {backend} database: {problem} ({detail})")]
    Connect {
        /// `postgres` (or `sqlite`).
        backend: &'static str,
        /// What went wrong, classified.
        problem: ConnectProblem,
        /// The driver's own words (never the password).
        detail: String,
    },

    /// A migration failed or the schema is not at the expected version.
    #[error("migration error: {0}")]
    Migration(String),

    /// The database was busy, locked, or aborted the transaction to resolve a
    /// conflict (SQLITE_BUSY/LOCKED, PostgreSQL 40001/40P01). Retrying the
    /// whole transaction may succeed; [`crate::Database::transaction`] does.
    #[error("database contention ({code}); the transaction may be retried")]
    Contention {
        /// The driver's error code.
        code: String,
        /// The original error.
        #[source]
        source: DbErr,
    },

    /// A transaction sealed values under data key `version`, which another
    /// process retired while the transaction ran; it was rolled back, and
    /// running it again seals under the current key.
    /// [`crate::Database::transaction`] does that by itself.
    #[error(
        "data key v{version} was retired while the transaction ran; the transaction may be retried"
    )]
    StaleKey {
        /// The retired key version.
        version: u32,
    },

    /// A data key cannot be retired yet: it stopped sealing less than
    /// twice the key refresh interval ago, and a handle of another process
    /// may still seal under it. Retry after `wait_secs`; a deployment of one
    /// process (or a test) may shorten the interval
    /// (`DatabaseConfig::key_refresh_interval`,
    /// `PIERRE_KEY_REFRESH_INTERVAL`).
    #[error(
        "data key v{version} stopped sealing {since_secs:.1} s ago; until twice the key refresh \
         interval has passed, another process may still seal under it: retry in {wait_secs:.1} s"
    )]
    KeyInGrace {
        /// The key version.
        version: u32,
        /// Seconds since it stopped sealing.
        since_secs: f64,
        /// Seconds left to wait.
        wait_secs: f64,
    },

    /// A presented credential is known but may not be used now (it is
    /// deactivated, revoked or expired). Unknown credentials are
    /// `NotFound`.
    #[error("{credential} rejected: {reason}")]
    Rejected {
        /// What was presented (`admin token`, …).
        credential: &'static str,
        /// Why (`inactive`, `expired`, …).
        reason: &'static str,
    },

    /// A file could not be read, written or renamed (restoring a backup).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The change would leave no active administrator: the last one cannot
    /// be demoted or deactivated (make another administrator first).
    /// Nothing was changed.
    #[error("user {user} is the last active administrator: {change} would leave none")]
    LastAdmin {
        /// The administrator the change was for.
        user: String,
        /// What was asked (`demoting`, `deactivating`).
        change: &'static str,
    },

    /// A state change the entity's life cycle does not allow (an A2A task
    /// from `completed` back to `running`, say). Nothing was changed.
    #[error("{entity} cannot go from {from} to {to}")]
    Transition {
        /// What changes state (`a2a task`).
        entity: &'static str,
        /// Its state now.
        from: String,
        /// The state asked for.
        to: String,
    },

    /// A stored value could not be read as its Rust type (for example an
    /// enum value this build does not know): the row is not silently
    /// defaulted.
    #[error("unreadable row: {0}")]
    Decode(String),

    /// Any other database or driver error.
    #[error("database error: {0}")]
    Backend(#[source] DbErr),
}

/// Why a connection could not be made, for [`DatabaseError::Connect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectProblem {
    /// No answer: the host is unknown, nothing listens on the port, or the
    /// server did not answer within the connect timeout.
    Unreachable,
    /// The server refused the user name or password.
    Authentication,
    /// The server has no database of that name.
    MissingDatabase,
    /// The SQLite file does not exist, and nothing asked to create it.
    MissingFile,
    /// Anything else the server or driver said.
    Other,
}

impl std::fmt::Display for ConnectProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectProblem::Unreachable => {
                "the server is unreachable; check that it runs and that the URL's host and port are right"
            }
            ConnectProblem::Authentication => {
                "the server refused the credentials; check the URL's user and password"
            }
            ConnectProblem::MissingDatabase => {
                "the database does not exist; create it (createdb NAME) or fix the URL's path"
            }
            ConnectProblem::MissingFile => {
                "the SQLite file does not exist; fix the URL's path, or ask for a new database \
                 (`pierre-db migrate up`, `?mode=rwc` on the URL, or `create_if_missing`)"
            }
            ConnectProblem::Other => "the connection failed",
        })
    }
}

/// Classifies a failed connection attempt by the driver's error kind and
/// SQLSTATE (28P01 / 28000: authentication; 3D000: no such database).
#[cfg(feature = "postgres")]
pub(crate) fn connect_problem(err: &sea_orm::sqlx::Error) -> ConnectProblem {
    use sea_orm::sqlx::Error;
    match err {
        Error::Io(_) | Error::Tls(_) => ConnectProblem::Unreachable,
        Error::Database(db) => match db.code().as_deref() {
            Some("28P01" | "28000") => ConnectProblem::Authentication,
            Some("3D000") => ConnectProblem::MissingDatabase,
            _ => ConnectProblem::Other,
        },
        _ => ConnectProblem::Other,
    }
}

/// The driver's words for a failed connection: for an error the server
/// returned, its message alone (sqlx appends the line of the server's own
/// source file, which tells an operator nothing).
#[cfg(feature = "postgres")]
pub(crate) fn connect_detail(err: &sea_orm::sqlx::Error) -> String {
    match err {
        sea_orm::sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// `table(c1, c2)`, or what is known of it.
fn key_text(table: Option<&str>, columns: &[String]) -> String {
    match (table, columns.is_empty()) {
        (Some(table), false) => format!("{table}({})", columns.join(", ")),
        (Some(table), true) => format!("a key of {table}"),
        (None, false) => format!("({})", columns.join(", ")),
        (None, true) => "a key".to_owned(),
    }
}

/// The table and columns of the key a unique or foreign-key violation
/// names, from the driver: PostgreSQL's error fields (table, and the
/// column list of DETAIL's `Key (a, b)=(…)`, whose values are dropped);
/// SQLite's `UNIQUE constraint failed: t.a, t.b` (its foreign-key message
/// names nothing). SQLite has no structured field for this, so its message
/// is read here; classification itself stays on codes.
fn violated_key(err: &DbErr) -> (Option<String>, Vec<String>) {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return (None, Vec::new());
    };
    let sea_orm::sqlx::Error::Database(db) = e.as_ref() else {
        return (None, Vec::new());
    };
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>() {
        let columns = pg
            .detail()
            .and_then(|d| d.strip_prefix("Key ("))
            .and_then(|d| d.split_once(")=(").map(|(cols, _)| cols))
            .map(|cols| cols.split(", ").map(str::to_owned).collect())
            .unwrap_or_default();
        return (pg.table().map(str::to_owned), columns);
    }
    let Some(list) = db.message().strip_prefix("UNIQUE constraint failed: ") else {
        return (None, Vec::new());
    };
    let mut table = None;
    let mut columns = Vec::new();
    for qualified in list.split(", ") {
        if let Some((t, c)) = qualified.split_once('.') {
            table.get_or_insert_with(|| t.to_owned());
            columns.push(c.to_owned());
        }
    }
    (table, columns)
}

/// Names the referencing side of a foreign-key violation that the driver
/// left unnamed (SQLite): for a write whose only foreign keys are `columns`
/// of `table`. Other errors pass through.
pub(crate) fn foreign_key_of(
    table: &'static str,
    columns: &'static [&'static str],
) -> impl FnOnce(DatabaseError) -> DatabaseError {
    move |err| match err {
        DatabaseError::ForeignKey {
            table: None,
            columns: known,
        } if known.is_empty() => DatabaseError::ForeignKey {
            table: Some(table.to_owned()),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        },
        other => other,
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = DatabaseError> = std::result::Result<T, E>;

impl DatabaseError {
    /// Whether re-running the whole transaction may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DatabaseError::Contention { .. } | DatabaseError::StaleKey { .. }
        )
    }

    /// A short, stable name of the variant (`"not_found"`, `"conflict"`,
    /// …), for logs and metrics labels: one of a fixed set, never a value.
    ///
    /// ```
    /// let err = pierre_db::DatabaseError::not_found("user", "42");
    /// assert_eq!(err.kind(), "not_found");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            DatabaseError::NotFound { .. } => "not_found",
            DatabaseError::Conflict { .. } => "conflict",
            DatabaseError::ForeignKey { .. } => "foreign_key",
            DatabaseError::KeyInUse { .. } => "key_in_use",
            DatabaseError::Constraint(_) => "constraint",
            DatabaseError::InvalidInput { .. } => "invalid_input",
            DatabaseError::TenantMismatch => "tenant_mismatch",
            DatabaseError::Crypto(_) => "crypto",
            DatabaseError::Config(_) => "config",
            DatabaseError::Unsupported(_) => "unsupported",
            DatabaseError::ReadOnly(_) => "read_only",
            DatabaseError::NotAdoptable(_) => "not_adoptable",
            DatabaseError::NotMigrated { .. } => "not_migrated",
            DatabaseError::Connect { .. } => "connect",
            DatabaseError::Migration(_) => "migration",
            DatabaseError::Contention { .. } => "contention",
            DatabaseError::StaleKey { .. } => "stale_key",
            DatabaseError::KeyInGrace { .. } => "key_in_grace",
            DatabaseError::Rejected { .. } => "rejected",
            DatabaseError::Io { .. } => "io",
            DatabaseError::LastAdmin { .. } => "last_admin",
            DatabaseError::Transition { .. } => "transition",
            DatabaseError::Decode(_) => "decode",
            DatabaseError::Backend(_) => "backend",
        }
    }

    /// Shorthand for [`DatabaseError::InvalidInput`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DatabaseError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`DatabaseError::NotFound`].
    pub fn not_found(entity: &'static str, key: impl ToString) -> Self {
        DatabaseError::NotFound {
            entity,
            key: key.to_string(),
        }
    }
}

/// What a driver error code means to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unique,
    ForeignKey,
    Constraint,
    Contention,
    Other,
}

/// SQLite extended result codes (`code & 0xff` is the primary code).
fn classify_sqlite(code: i64) -> Class {
    const SQLITE_BUSY: i64 = 5;
    const SQLITE_LOCKED: i64 = 6;
    const SQLITE_CONSTRAINT: i64 = 19;
    const CONSTRAINT_FOREIGNKEY: i64 = 787;
    // SQLite enforces ON DELETE/UPDATE RESTRICT through its internal
    // foreign-key triggers, which fail with CONSTRAINT_TRIGGER. The schema
    // defines no triggers of its own, so here the code means a foreign key.
    const CONSTRAINT_TRIGGER: i64 = 1811;
    const CONSTRAINT_PRIMARYKEY: i64 = 1555;
    const CONSTRAINT_UNIQUE: i64 = 2067;
    match (code & 0xff, code) {
        (SQLITE_BUSY | SQLITE_LOCKED, _) => Class::Contention,
        (_, CONSTRAINT_UNIQUE | CONSTRAINT_PRIMARYKEY) => Class::Unique,
        (_, CONSTRAINT_FOREIGNKEY | CONSTRAINT_TRIGGER) => Class::ForeignKey,
        (SQLITE_CONSTRAINT, _) => Class::Constraint,
        _ => Class::Other,
    }
}

/// PostgreSQL SQLSTATEs.
fn classify_postgres(sqlstate: &str) -> Class {
    match sqlstate {
        "23505" => Class::Unique,
        "23503" => Class::ForeignKey,
        // check_violation, not_null_violation, invalid_text_representation
        // (an unknown enum label), exclusion_violation
        "23514" | "23502" | "22P02" | "23P01" => Class::Constraint,
        // serialization_failure, deadlock_detected, lock_not_available
        "40001" | "40P01" | "55P03" => Class::Contention,
        _ => Class::Other,
    }
}

/// The driver's code for this error, wherever SeaORM wrapped it (including
/// `DbErr::Conn`, where BUSY at `BEGIN` arrives).
fn driver_code(err: &DbErr) -> Option<(bool, String)> {
    let runtime = match err {
        DbErr::Conn(e) | DbErr::Exec(e) | DbErr::Query(e) => e,
        _ => return None,
    };
    let RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return None;
    };
    let sea_orm::sqlx::Error::Database(db_err) = sqlx_err.as_ref() else {
        return None;
    };
    let code = db_err.code()?.into_owned();
    #[cfg(feature = "sqlite")]
    if db_err
        .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
        .is_some()
    {
        return Some((true, code));
    }
    Some((false, code))
}

fn classify(err: &DbErr) -> (Class, Option<String>) {
    if let Some(sql) = err.sql_err() {
        let class = match sql {
            sea_orm::SqlErr::UniqueConstraintViolation(_) => Class::Unique,
            sea_orm::SqlErr::ForeignKeyConstraintViolation(_) => Class::ForeignKey,
            _ => Class::Other,
        };
        if class != Class::Other {
            return (class, None);
        }
    }
    match driver_code(err) {
        Some((true, code)) => (
            code.parse().map(classify_sqlite).unwrap_or(Class::Other),
            Some(code),
        ),
        Some((false, code)) => (classify_postgres(&code), Some(code)),
        None => (Class::Other, None),
    }
}

/// The database's own message, which names the constraint but not the values.
fn driver_message(err: &DbErr) -> String {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sea_orm::sqlx::Error::Database(db) => db.message().to_owned(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// A cell the driver could not read as the column's Rust type (a BLOB or
/// invalid UTF-8 where text belongs): `"<column>: <why>"`. Such a cell is
/// bad data, not a driver failure, so it is a [`DatabaseError::Decode`].
fn column_decode(err: &DbErr) -> Option<String> {
    let (DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    match e.as_ref() {
        sea_orm::sqlx::Error::ColumnDecode { index, source } => {
            Some(format!("{}: {source}", index.trim_matches('"')))
        }
        _ => None,
    }
}

/// Maps a driver error of a query on `table`, naming the table in a decode
/// error (`"user_oauth_tokens.access_token: …"`).
///
/// ```text
/// tokens::Entity::find().all(conn).await.map_err(on_table("user_oauth_tokens"))?
/// ```
pub(crate) fn on_table<E: Into<DatabaseError>>(
    table: &'static str,
) -> impl FnOnce(E) -> DatabaseError {
    move |err| match err.into() {
        DatabaseError::Decode(message) => DatabaseError::Decode(format!("{table}.{message}")),
        other => other,
    }
}

impl From<DbErr> for DatabaseError {
    fn from(err: DbErr) -> Self {
        if let DbErr::RecordNotFound(what) = &err {
            return DatabaseError::NotFound {
                entity: "record",
                key: what.clone(),
            };
        }
        if let Some(what) = crate::query::refused_on_replica(&err) {
            return DatabaseError::ReadOnly(what.to_owned());
        }
        if let DbErr::Migration(message) = &err {
            return DatabaseError::Migration(message.clone());
        }
        if let DbErr::Type(message) = &err {
            return DatabaseError::Decode(message.clone());
        }
        if let Some(message) = column_decode(&err) {
            return DatabaseError::Decode(message);
        }
        match classify(&err) {
            (Class::Unique, _) => {
                let (table, columns) = violated_key(&err);
                DatabaseError::Conflict { table, columns }
            }
            (Class::ForeignKey, _) => {
                let (table, columns) = violated_key(&err);
                DatabaseError::ForeignKey { table, columns }
            }
            (Class::Constraint, _) => DatabaseError::Constraint(driver_message(&err)),
            (Class::Contention, code) => {
                #[cfg(feature = "metrics")]
                crate::telemetry::contention();
                DatabaseError::Contention {
                    code: code.unwrap_or_default(),
                    source: err,
                }
            }
            (Class::Other, _) => DatabaseError::Backend(err),
        }
    }
}

impl From<sea_orm::TransactionError<DbErr>> for DatabaseError {
    fn from(err: sea_orm::TransactionError<DbErr>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db)
            | sea_orm::TransactionError::Transaction(db) => db.into(),
        }
    }
}

impl From<sea_orm::TransactionError<DatabaseError>> for DatabaseError {
    fn from(err: sea_orm::TransactionError<DatabaseError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(inner) => inner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes() {
        assert_eq!(classify_sqlite(5), Class::Contention);
        assert_eq!(classify_sqlite(517), Class::Contention, "BUSY_SNAPSHOT");
        assert_eq!(classify_sqlite(6), Class::Contention);
        assert_eq!(
            classify_sqlite(262),
            Class::Contention,
            "LOCKED_SHAREDCACHE"
        );
        assert_eq!(classify_sqlite(2067), Class::Unique);
        assert_eq!(classify_sqlite(1555), Class::Unique);
        assert_eq!(classify_sqlite(787), Class::ForeignKey);
        assert_eq!(classify_sqlite(1811), Class::ForeignKey, "RESTRICT");
        assert_eq!(classify_sqlite(275), Class::Constraint, "CHECK");
        assert_eq!(classify_sqlite(1299), Class::Constraint, "NOT NULL");
        assert_eq!(classify_sqlite(1), Class::Other);
    }

    #[test]
    fn postgres_codes() {
        assert_eq!(classify_postgres("23505"), Class::Unique);
        assert_eq!(classify_postgres("23503"), Class::ForeignKey);
        assert_eq!(classify_postgres("23514"), Class::Constraint);
        assert_eq!(classify_postgres("40001"), Class::Contention);
        assert_eq!(classify_postgres("40P01"), Class::Contention);
        assert_eq!(classify_postgres("42P01"), Class::Other);
    }
}
