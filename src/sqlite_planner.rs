//! The query planner stability guarantee (QPSG), on every SQLite connection
//! the library opens.
//!
//! Without it, SQLite re-plans a prepared statement whenever a newly bound
//! value could change the plan: the `LIMIT ?` that sea-query binds for
//! `.one()`, and after `ANALYZE` every indexed `= ?`. Measured on this kind
//! of machine (pool of 1, one task), a point select through SeaORM went from
//! 7,487/s to 20,533/s on a WAL file and from 6,964/s to 27,606/s in memory
//! once QPSG was on (issue 19). With it, a statement keeps the plan it was
//! prepared with; sqlx caches prepared statements per connection, so each
//! connection plans each statement once.
//!
//! The library does not run `PRAGMA optimize` (or `ANALYZE`) by itself.
//! Measured on a 1,000,000-row users table (benches/repository.rs, "user by
//! id, 1M rows, ANALYZEd"), statistics changed no point read: every hot
//! query is on a primary key, a unique index or an index whose leading
//! columns the query names, which the planner picks without statistics.
//! Run after migrations, ANALYZE would record the statistics of empty
//! tables, which mislead the planner once the tables fill. Operators who
//! want statistics run `PRAGMA optimize` on a populated database; with
//! QPSG on, new plans are taken by connections opened afterwards.
//!
//! SQLite has no pragma for this setting, only `sqlite3_db_config`, so this
//! module holds the crate's one `unsafe` call. It is public only with the
//! `internals` feature, for the tests that read the setting back.

use sea_orm::sqlx::pool::PoolOptions;
use sea_orm::sqlx::sqlite::SqliteConnection;
use sea_orm::sqlx::{self, Sqlite};

/// `op` value that reads the setting without changing it.
const READ_ONLY: i32 = -1;

/// Adds the hook that turns QPSG on to `options`, for every connection the
/// pool opens (the first and every replacement).
pub fn with_stable_plans(options: PoolOptions<Sqlite>) -> PoolOptions<Sqlite> {
    options.after_connect(|conn, _meta| {
        Box::pin(async move {
            let on = query_planner_stability(conn, Some(true)).await?;
            if on {
                Ok(())
            } else {
                Err(sqlx::Error::Configuration(
                    "SQLite refused to enable the query planner stability guarantee".into(),
                ))
            }
        })
    })
}

/// Whether QPSG is on for `conn`, after setting it to `set` if given.
pub async fn query_planner_stability(
    conn: &mut SqliteConnection,
    set: Option<bool>,
) -> Result<bool, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut current: i32 = 0;
    let value = match set {
        Some(on) => i32::from(on),
        None => READ_ONLY,
    };
    // SAFETY: `db` is the open handle of `conn`, held exclusively by the
    // `LockedSqliteHandle` guard (no other thread uses it until the guard
    // drops at the end of this function). SQLITE_DBCONFIG_ENABLE_QPSG takes
    // exactly two variadic arguments, an `int` (1 on, 0 off, negative to
    // leave as is) and an `int*` that receives the current value; both
    // outlive the call.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            value,
            &mut current as *mut i32,
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        return Err(sqlx::Error::Configuration(
            format!("sqlite3_db_config(SQLITE_DBCONFIG_ENABLE_QPSG) failed with code {rc}").into(),
        ));
    }
    Ok(current != 0)
}
