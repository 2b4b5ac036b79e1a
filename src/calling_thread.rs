//! SQLite reads on the calling thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own: every
//! statement is sent there and its rows sent back, and on a point read that
//! hand-off, not SQLite, is most of the time (≈ 40 µs for a user by id
//! through the library's sqlx path on this kind of machine, ≈ 4 µs for the
//! same select in rusqlite). The hot reads of a SQLite file (point lookups
//! and keyset pages) run here instead, through a few read-only connections
//! of the library's own, opened with rusqlite on the same SQLite that sqlx
//! links.
//!
//! What makes this safe to do on an async runtime's thread:
//!
//! - **WAL.** A reader never waits for a writer: it reads the last commit
//!   made before its statement began, which is every write committed before
//!   the read was asked for.
//! - **A short busy timeout** ([`CALLING_THREAD_BUSY_TIMEOUT`]). A lock held by another
//!   connection (one that took the file in exclusive mode, one recovering
//!   the WAL index) is waited on for at most that long; then the read is
//!   given up here and goes through sqlx, whose worker waits instead.
//!   SQLite's own retries while another connection rewrites the WAL index
//!   header are outside that timeout: they take microseconds, and only a
//!   pathological stream of checkpoints could stretch them.
//! - **Only bounded reads.** Point lookups by a unique key and keyset pages
//!   (at most the page size plus one row); scans and reports stay on sqlx.
//! - **Nothing inside a transaction.** A read in a transaction must see
//!   that transaction's own writes, so it runs on the transaction's
//!   connection (the query layer never asks for one here).
//!
//! Anything this path does not handle exactly as sqlx would (a value it
//! does not bind, a cell not stored the way sqlx stores it, any SQLite
//! error) gives the read up to sqlx, which then answers as it always has:
//! a read here is either the same result or no result. The in-memory
//! database keeps the sqlx path: it is one shared-cache database behind
//! one connection, whose table locks (there is no WAL in memory) would
//! refuse readers during every write.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value as Stored, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::{Statement, Value};

/// How long a SQLite read on the calling thread waits on another
/// connection's lock before it goes through sqlx instead.
pub const CALLING_THREAD_BUSY_TIMEOUT: Duration = Duration::from_millis(2);

/// How long after a failed open the readers try again; reads meanwhile
/// go through sqlx without trying.
const REOPEN_AFTER: Duration = Duration::from_secs(1);

/// Prepared statements each connection keeps (rusqlite's default is 16;
/// the hot reads are about 30).
const STATEMENT_CACHE: usize = 64;

/// The read-only connections of one SQLite file, and how their reads went.
pub(crate) struct Readers {
    path: PathBuf,
    mmap_size: u64,
    /// Connections not in use. A read takes one (or opens one) and gives
    /// it back: as many exist as reads ran at once, and at most `keep` are
    /// kept.
    idle: Mutex<Vec<Connection>>,
    keep: usize,
    served: AtomicU64,
    fell_back: AtomicU64,
    /// Set by `Database::close`: reads go to the closed pool, which fails
    /// them.
    closed: AtomicBool,
    /// When a connection may be opened again after one failed to open (a
    /// file not in WAL mode, a path the process cannot read).
    reopen_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers")
            .field("path", &self.path)
            .field("served", &self.served)
            .field("fell_back", &self.fell_back)
            .finish_non_exhaustive()
    }
}

/// How the reads on the calling thread went (see
/// [`Database::calling_thread_reads`](crate::Database::calling_thread_reads)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallingThreadReads {
    /// Reads answered on the calling thread.
    pub served: u64,
    /// Reads given up there and answered through sqlx instead (a lock held
    /// past the busy timeout, a value stored unlike sqlx stores it, an
    /// error).
    pub fell_back: u64,
    /// Read-only connections open and idle.
    pub idle_connections: usize,
}

/// Why a read was given up here.
enum Miss {
    /// SQLite said so (a lock, an I/O error, a missing table).
    Sqlite(rusqlite::Error),
    /// A value this module does not bind as sqlx does.
    Unbound,
    /// A cell the decoder did not take.
    Decode(sea_orm::DbErr),
    /// No connection: the last open failed within [`REOPEN_AFTER`].
    Unavailable,
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::Sqlite(err) => write!(f, "SQLite: {err}"),
            Miss::Unbound => f.write_str("a value not bound as sqlx binds it"),
            Miss::Decode(err) => write!(f, "a cell not stored as sqlx stores it: {err}"),
            Miss::Unavailable => f.write_str("no reader (the last open failed)"),
        }
    }
}

impl From<rusqlite::Error> for Miss {
    fn from(err: rusqlite::Error) -> Self {
        Miss::Sqlite(err)
    }
}

/// The file a SQLite URL names, as sqlx opens it (its path
/// percent-decoded); `None` when the URL asks for something the readers
/// would not open the same way (another VFS, an immutable file).
pub(crate) fn file_of(url: &str) -> Option<PathBuf> {
    use std::str::FromStr;
    let url = url.trim();
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let special = query
        .split('&')
        .any(|param| param.starts_with("vfs=") || param.starts_with("immutable="));
    (!special).then(|| options.get_filename().to_owned())
}

impl Readers {
    /// Readers of the file at `path`, keeping up to `keep` connections
    /// open, each mapping `mmap_size` bytes (as the pool's do).
    pub(crate) fn new(path: &Path, mmap_size: u64, keep: usize) -> Self {
        Self {
            path: path.to_owned(),
            mmap_size,
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
            served: AtomicU64::new(0),
            fell_back: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            reopen_at: Mutex::new(None),
        }
    }

    /// Closes the idle connections; later reads go through sqlx (whose
    /// closed pool fails them), and connections in use close when given
    /// back.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.lock().clear();
    }

    /// The rows of `statement` (only the first when `one`), each read by
    /// `decode`; `None` when the read is given up here and must go through
    /// sqlx.
    pub(crate) fn rows<T>(
        &self,
        statement: &Statement,
        one: bool,
        mut decode: impl FnMut(&rusqlite::Row<'_>) -> Result<T, sea_orm::DbErr>,
    ) -> Option<Vec<T>> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let conn = match self.take() {
            Ok(conn) => conn,
            Err(miss) => return self.miss(&miss, statement),
        };
        // A read that began as the handle closed must not read on.
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let read = read(&conn, statement, one, &mut decode);
        self.give(conn);
        match read {
            Ok(rows) => {
                self.served.fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "metrics")]
                counted(true);
                Some(rows)
            }
            Err(miss) => self.miss(&miss, statement),
        }
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> CallingThreadReads {
        CallingThreadReads {
            served: self.served.load(Ordering::Relaxed),
            fell_back: self.fell_back.load(Ordering::Relaxed),
            idle_connections: self.lock().len(),
        }
    }

    fn miss<T>(&self, miss: &Miss, statement: &Statement) -> Option<T> {
        self.fell_back.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        counted(false);
        tracing::debug!(
            reason = %miss,
            sql = %statement.sql,
            "read given up on the calling thread; reading through sqlx"
        );
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic cannot leave the list half-changed (push and pop only).
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn take(&self) -> Result<Connection, Miss> {
        if let Some(conn) = self.lock().pop() {
            return Ok(conn);
        }
        let mut reopen_at = self
            .reopen_at
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if reopen_at.is_some_and(|at| Instant::now() < at) {
            return Err(Miss::Unavailable);
        }
        match self.open() {
            Ok(conn) => {
                *reopen_at = None;
                Ok(conn)
            }
            Err(err) => {
                if reopen_at.is_none() {
                    tracing::warn!(
                        path = %self.path.display(),
                        error = %err,
                        "cannot open a reader of the SQLite file; its reads go through sqlx \
                         (tried again every {} s)",
                        REOPEN_AFTER.as_secs()
                    );
                }
                *reopen_at = Some(Instant::now() + REOPEN_AFTER);
                Err(Miss::Sqlite(err))
            }
        }
    }

    fn give(&self, conn: Connection) {
        let mut idle = self.lock();
        if idle.len() < self.keep && !self.closed.load(Ordering::Acquire) {
            idle.push(conn);
        }
    }

    /// A read-only connection with the pool's settings: the memory map,
    /// foreign keys (as every connection of the library), the query
    /// planner stability guarantee, and the short busy timeout. The file
    /// must be in WAL mode (the pool puts it there); otherwise readers
    /// would wait on writers, and the read goes through sqlx.
    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(CALLING_THREAD_BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let mmap_size = i64::try_from(self.mmap_size).unwrap_or(i64::MAX);
        conn.pragma_update(None, "mmap_size", mmap_size)?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "journal mode {mode}, not wal"
            )));
        }
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

/// The series these reads are counted in (public as
/// `telemetry::CALLING_THREAD_READS`, which describes it; defined here so
/// that this module needs nothing of the telemetry's).
#[cfg(feature = "metrics")]
pub(crate) const SERIES: &str = "pierre_db_calling_thread_reads_total";

/// Counts a read in [`SERIES`]: served here, or given up to sqlx.
#[cfg(feature = "metrics")]
fn counted(served: bool) {
    let outcome = if served { "served" } else { "fell_back" };
    metrics::counter!(SERIES, "outcome" => outcome).increment(1);
}

/// Runs `statement` on `conn` and decodes its rows. The statement stays in
/// the connection's cache, reset (its read transaction ended) when `rows`
/// drops.
fn read<T>(
    conn: &Connection,
    statement: &Statement,
    one: bool,
    decode: &mut impl FnMut(&rusqlite::Row<'_>) -> Result<T, sea_orm::DbErr>,
) -> Result<Vec<T>, Miss> {
    let mut prepared = conn.prepare_cached(&statement.sql)?;
    let values = statement.values.as_ref().map_or(&[][..], |v| &v.0[..]);
    if prepared.parameter_count() != values.len() {
        return Err(Miss::Unbound);
    }
    for (i, value) in values.iter().enumerate() {
        prepared.raw_bind_parameter(i + 1, bound(value).ok_or(Miss::Unbound)?)?;
    }
    let mut rows = prepared.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row).map_err(Miss::Decode)?);
        if one {
            break;
        }
    }
    Ok(out)
}

/// `value` as sqlx-sqlite binds it (see sea-query-sqlx's SQLite arguments
/// and sqlx's encoders): integers and booleans as integers, UUIDs as their
/// 16 bytes, times as RFC 3339 text with a `T`, JSON as its text. `None`
/// for a value this module does not bind.
fn bound(value: &Value) -> Option<ToSqlOutput<'_>> {
    fn or_null<'v, T>(
        value: &'v Option<T>,
        bind: impl FnOnce(&'v T) -> ToSqlOutput<'v>,
    ) -> ToSqlOutput<'v> {
        value
            .as_ref()
            .map_or(ToSqlOutput::Borrowed(ValueRef::Null), bind)
    }
    let int = |i: i64| ToSqlOutput::Owned(Stored::Integer(i));
    let text = |t: String| ToSqlOutput::Owned(Stored::Text(t));
    let time = chrono::SecondsFormat::AutoSi;
    Some(match value {
        Value::Bool(v) => or_null(v, |b| int(i64::from(*b))),
        Value::TinyInt(v) => or_null(v, |i| int(i64::from(*i))),
        Value::SmallInt(v) => or_null(v, |i| int(i64::from(*i))),
        Value::Int(v) => or_null(v, |i| int(i64::from(*i))),
        Value::BigInt(v) => or_null(v, |i| int(*i)),
        Value::TinyUnsigned(v) => or_null(v, |i| int(i64::from(*i))),
        Value::SmallUnsigned(v) => or_null(v, |i| int(i64::from(*i))),
        Value::Unsigned(v) => or_null(v, |i| int(i64::from(*i))),
        Value::BigUnsigned(v) => match v {
            Some(i) => int(i64::try_from(*i).ok()?),
            None => ToSqlOutput::Borrowed(ValueRef::Null),
        },
        Value::Float(v) => or_null(v, |f| ToSqlOutput::Owned(Stored::Real(f64::from(*f)))),
        Value::Double(v) => or_null(v, |f| ToSqlOutput::Owned(Stored::Real(*f))),
        Value::String(v) => or_null(v, |s| ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))),
        Value::Char(v) => or_null(v, |c| text(c.to_string())),
        Value::Enum(sea_orm::sea_query::OptionEnum::Some(e)) => {
            ToSqlOutput::Borrowed(ValueRef::Text(e.value.as_bytes()))
        }
        Value::Enum(sea_orm::sea_query::OptionEnum::None(_)) => {
            ToSqlOutput::Borrowed(ValueRef::Null)
        }
        Value::Bytes(v) => or_null(v, |b| ToSqlOutput::Borrowed(ValueRef::Blob(b))),
        Value::Uuid(v) => or_null(v, |u| ToSqlOutput::Borrowed(ValueRef::Blob(u.as_bytes()))),
        Value::ChronoDateTimeUtc(v) => or_null(v, |t| text(t.to_rfc3339_opts(time, false))),
        Value::ChronoDateTimeWithTimeZone(v) => {
            or_null(v, |t| text(t.to_rfc3339_opts(time, false)))
        }
        Value::ChronoDateTimeLocal(v) => or_null(v, |t| text(t.to_rfc3339_opts(time, false))),
        Value::ChronoDateTime(v) => or_null(v, |t| text(t.format("%F %T%.f").to_string())),
        Value::ChronoDate(v) => or_null(v, |d| text(d.format("%F").to_string())),
        Value::ChronoTime(v) => or_null(v, |t| text(t.format("%T%.f").to_string())),
        Value::Json(v) => match v {
            Some(json) => text(serde_json::to_string(json).ok()?),
            None => ToSqlOutput::Borrowed(ValueRef::Null),
        },
        _ => return None,
    })
}

/// A cell type read the way sqlx-sqlite decodes it, from the storage class
/// sqlx writes it in: `None` for anything else (sqlx then reads the row,
/// and decides).
pub(crate) trait FromStored: Sized {
    /// The value in `cell`, if it is stored as sqlx stores it.
    fn from_stored(cell: ValueRef<'_>) -> Option<Self>;
}

/// The cell at `index` of `row`, if stored as sqlx stores it.
pub(crate) fn cell<T: FromStored>(row: &rusqlite::Row<'_>, index: usize) -> Option<T> {
    T::from_stored(row.get_ref(index).ok()?)
}

impl<T: FromStored> FromStored for Option<T> {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        match cell {
            ValueRef::Null => Some(None),
            other => T::from_stored(other).map(Some),
        }
    }
}

impl FromStored for bool {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        match cell {
            ValueRef::Integer(i) => Some(i != 0),
            _ => None,
        }
    }
}

impl FromStored for i32 {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        match cell {
            ValueRef::Integer(i) => i32::try_from(i).ok(),
            _ => None,
        }
    }
}

impl FromStored for i64 {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        match cell {
            ValueRef::Integer(i) => Some(i),
            _ => None,
        }
    }
}

impl FromStored for f64 {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        match cell {
            ValueRef::Real(f) => Some(f),
            _ => None,
        }
    }
}

impl FromStored for String {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        match cell {
            ValueRef::Text(t) => std::str::from_utf8(t).ok().map(str::to_owned),
            _ => None,
        }
    }
}

impl FromStored for uuid::Uuid {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        match cell {
            ValueRef::Blob(b) => uuid::Uuid::from_slice(b).ok(),
            _ => None,
        }
    }
}

impl FromStored for chrono::DateTime<chrono::Utc> {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        // sqlx writes RFC 3339; its other accepted forms are left to it.
        match cell {
            ValueRef::Text(t) => chrono::DateTime::parse_from_rfc3339(std::str::from_utf8(t).ok()?)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc)),
            _ => None,
        }
    }
}

impl FromStored for serde_json::Value {
    fn from_stored(cell: ValueRef<'_>) -> Option<Self> {
        match cell {
            ValueRef::Text(t) => serde_json::from_slice(t).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(value: Value) -> Option<Stored> {
        bound(&value).map(|out| match out {
            ToSqlOutput::Owned(v) => v,
            ToSqlOutput::Borrowed(r) => Stored::try_from(r).unwrap(),
            _ => unreachable!("only owned and borrowed values are bound"),
        })
    }

    #[test]
    fn binds_as_sqlx_stores() {
        let id = uuid::Uuid::from_u128(7);
        assert_eq!(
            stored(id.into()),
            Some(Stored::Blob(id.as_bytes().to_vec()))
        );
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:00:00.5+00:00")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            stored(at.into()),
            Some(Stored::Text("2026-12-07T10:00:00.500+00:00".into()))
        );
        assert_eq!(stored(true.into()), Some(Stored::Integer(1)));
        assert_eq!(stored(Value::Int(None)), Some(Stored::Null));
        assert_eq!(stored(Value::BigUnsigned(Some(u64::MAX))), None);
    }

    #[test]
    fn reads_only_what_sqlx_would_read_the_same() {
        assert_eq!(i32::from_stored(ValueRef::Integer(1 << 40)), None);
        assert_eq!(bool::from_stored(ValueRef::Text(b"1")), None);
        assert_eq!(uuid::Uuid::from_stored(ValueRef::Text(b"x")), None);
        assert_eq!(
            Option::<String>::from_stored(ValueRef::Null),
            Some(None::<String>)
        );
        assert_eq!(String::from_stored(ValueRef::Null), None);
        assert_eq!(
            chrono::DateTime::<chrono::Utc>::from_stored(ValueRef::Text(b"2026-01-01 10:00:00")),
            None,
            "sqlx's other forms are left to sqlx"
        );
    }
}
