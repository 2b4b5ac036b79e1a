//! Schema changes that SQLite cannot make with `ALTER TABLE`.
//!
//! SQLite cannot change a CHECK or add a foreign key to an existing table, so
//! those migrations rebuild the table: create the new definition under a
//! temporary name, copy the rows, drop the old table, rename the new one and
//! recreate its indexes (SQLite's documented twelve-step procedure).
//!
//! The old table must be dropped with foreign keys OFF: with them ON, SQLite
//! runs an implicit `DELETE FROM` first, which would fire `ON DELETE CASCADE`
//! in every child table and silently delete their rows. `PRAGMA foreign_keys`
//! is a no-op inside a transaction, so [`begin`] turns it off on the
//! migration's connection before `BEGIN`, checks it took effect (it would not
//! on a pool of several connections), runs the work, verifies every foreign
//! key with `PRAGMA foreign_key_check` before `COMMIT`, and turns enforcement
//! back on whatever happened.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, Statement, TransactionTrait,
};

/// Opens the transaction of a migration that may rebuild tables: on SQLite
/// with foreign-key enforcement off (checked). Pair it with [`finish`].
///
/// Migrations that call this must return `Some(false)` from
/// `use_transaction`, since the transaction is opened here.
pub async fn begin(manager: &SchemaManager<'_>) -> Result<DatabaseTransaction, DbErr> {
    if !is_sqlite(manager) {
        return manager.get_connection().begin().await;
    }
    // Raw pragmas: sea-query has no builder for PRAGMA statements.
    manager
        .get_connection()
        .execute_unprepared("PRAGMA foreign_keys = OFF")
        .await?;
    let opened = async {
        let tx = manager.get_connection().begin().await?;
        ensure_foreign_keys_off(&tx).await?;
        Ok(tx)
    }
    .await;
    if opened.is_err() {
        restore_foreign_keys(manager).await?;
    }
    opened
}

/// Ends what [`begin`] opened: if `outcome` is `Ok`, checks every foreign
/// key (SQLite) and commits; otherwise rolls back. Foreign-key enforcement
/// is back on afterwards in both cases.
pub async fn finish(
    manager: &SchemaManager<'_>,
    tx: DatabaseTransaction,
    outcome: Result<(), DbErr>,
) -> Result<(), DbErr> {
    let sqlite = is_sqlite(manager);
    let checked = match outcome {
        Ok(()) if sqlite => ensure_foreign_keys_hold(&tx).await,
        other => other,
    };
    // The transaction must end before the pragma: it holds the connection.
    let ended = match checked {
        Ok(()) => tx.commit().await,
        Err(err) => {
            tx.rollback().await?;
            Err(err)
        }
    };
    if sqlite {
        restore_foreign_keys(manager).await?;
    }
    ended
}

fn is_sqlite(manager: &SchemaManager<'_>) -> bool {
    manager.get_database_backend() == DbBackend::Sqlite
}

async fn restore_foreign_keys(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared("PRAGMA foreign_keys = ON")
        .await
        .map(|_| ())
}

async fn ensure_foreign_keys_off(tx: &DatabaseTransaction) -> Result<(), DbErr> {
    let row = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA foreign_keys",
        ))
        .await?;
    let on: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    if on != 0 {
        return Err(DbErr::Migration(
            "this migration rebuilds SQLite tables and must run on a single connection \
             (foreign-key enforcement could not be turned off for it); run it through \
             `pierre_db::Database::migrate`, `sea-orm-cli migrate` or `cargo run -p migration`"
                .to_owned(),
        ));
    }
    Ok(())
}

async fn ensure_foreign_keys_hold(tx: &DatabaseTransaction) -> Result<(), DbErr> {
    let rows = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA foreign_key_check",
        ))
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let violations: Vec<String> = rows
        .iter()
        .map(|row| {
            let table: String = row.try_get_by_index(0).unwrap_or_default();
            let rowid: i64 = row.try_get_by_index(1).unwrap_or_default();
            let parent: String = row.try_get_by_index(2).unwrap_or_default();
            format!("{table} rowid {rowid} -> {parent}")
        })
        .collect();
    Err(DbErr::Migration(format!(
        "foreign keys would not hold after the rebuild ({} violations): {}",
        violations.len(),
        violations.join(", ")
    )))
}

/// Rebuilds `table` on SQLite under a new definition, keeping every row.
///
/// `definition` is the complete new `CREATE TABLE` for `table`; `columns`
/// are the columns copied (those the old and the new table share);
/// `indexes` are recreated afterwards. Must run between [`begin`] and [`finish`].
pub async fn rebuild_sqlite_table(
    tx: &SchemaManager<'_>,
    table: &'static str,
    mut definition: TableCreateStatement,
    indexes: Vec<IndexCreateStatement>,
    columns: &[&'static str],
) -> Result<(), DbErr> {
    let scratch = format!("{table}__rebuild");
    definition.table(Alias::new(scratch.as_str()));
    tx.create_table(definition).await?;

    let copy = Query::insert()
        .into_table(Alias::new(scratch.as_str()))
        .columns(columns.iter().copied())
        .select_from(
            Query::select()
                .columns(columns.iter().copied())
                .from(table)
                .to_owned(),
        )
        .map_err(|err| DbErr::Migration(format!("copying {table}: {err}")))?
        .to_owned();
    tx.execute(copy).await?;

    tx.drop_table(Table::drop().table(table).to_owned()).await?;
    tx.rename_table(
        Table::rename()
            .table(Alias::new(scratch.as_str()), table)
            .to_owned(),
    )
    .await?;
    for index in indexes {
        tx.create_index(index).await?;
    }
    Ok(())
}
