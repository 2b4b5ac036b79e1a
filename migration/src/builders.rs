//! Column, key and index builders shared by every migration.
//!
//! One vocabulary for the schema's rules (SCHEMA.md, "Rules that apply to
//! every table"), so each migration reads as a list of columns:
//! ids are `uuid` (native on PostgreSQL, `uuid_text` marker on SQLite),
//! times are `timestamptz` (`timestamp_with_timezone_text` on SQLite),
//! JSON is `jsonb` (`jsonb_text` on SQLite).

use sea_orm_migration::prelude::*;

/// A `uuid` primary key.
pub fn pk(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().primary_key().take()
}

/// A text primary key (natural keys: setting names, hashed tokens, kids).
pub fn text_pk(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().primary_key().take()
}

/// A required `uuid` (usually a foreign key).
pub fn uuid(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).uuid().not_null().take()
}

/// An optional `uuid`.
pub fn uuid_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).uuid().null().take()
}

/// Required text.
pub fn text(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().not_null().take()
}

/// Optional text.
pub fn text_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).text().null().take()
}

/// Required text with a default.
pub fn text_default(name: &'static str, default: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .text()
        .not_null()
        .default(default)
        .take()
}

/// A required timestamp with time zone.
pub fn time(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .take()
}

/// An optional timestamp with time zone.
pub fn time_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .take()
}

/// A required JSON document (`jsonb` on PostgreSQL).
pub fn json(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).json_binary().not_null().take()
}

/// A required JSON document with a literal default such as `[]`.
pub fn json_default(name: &'static str, default: &'static str) -> ColumnDef {
    ColumnDef::new(name)
        .json_binary()
        .not_null()
        .default(default)
        .take()
}

/// An optional JSON document.
pub fn json_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).json_binary().null().take()
}

/// A required boolean with a default.
pub fn flag(name: &'static str, default: bool) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(default)
        .take()
}

/// A required 32-bit integer.
pub fn int(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).integer().not_null().take()
}

/// A required 32-bit integer with a default.
pub fn int_default(name: &'static str, default: i32) -> ColumnDef {
    ColumnDef::new(name)
        .integer()
        .not_null()
        .default(default)
        .take()
}

/// An optional 32-bit integer.
pub fn int_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).integer().null().take()
}

/// A required 64-bit integer with a default (counters that can grow large).
pub fn bigint_default(name: &'static str, default: i64) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .default(default)
        .take()
}

/// An optional 64-bit integer (byte sizes).
pub fn bigint_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().take()
}

/// A required double-precision number.
pub fn real(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).double().not_null().take()
}

/// An optional double-precision number.
pub fn real_null(name: &'static str) -> ColumnDef {
    ColumnDef::new(name).double().null().take()
}

/// A foreign key `table.column -> parent.parent_column` with an ON DELETE action.
pub fn fk(
    table: &'static str,
    column: &'static str,
    parent: &'static str,
    parent_column: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(table, column)
        .to(parent, parent_column)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::NoAction)
        .take()
}

/// `table.column -> users(id) ON DELETE CASCADE`, the default for owned rows.
pub fn fk_user(table: &'static str, column: &'static str) -> ForeignKeyCreateStatement {
    fk(table, column, "users", "id", ForeignKeyAction::Cascade)
}

/// `table.tenant_id -> tenants(id) ON DELETE CASCADE`.
pub fn fk_tenant(table: &'static str) -> ForeignKeyCreateStatement {
    fk(
        table,
        "tenant_id",
        "tenants",
        "id",
        ForeignKeyAction::Cascade,
    )
}

/// A plain index named `idx_<table>_<cols>`.
pub fn index(table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(format!("idx_{table}_{}", columns.join("_")))
        .table(table);
    for column in columns {
        stmt.col(*column);
    }
    stmt
}

/// A unique index named `ux_<table>_<cols>`.
pub fn unique(table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = index(table, columns);
    stmt.name(format!("ux_{table}_{}", columns.join("_")))
        .unique();
    stmt
}

/// Creates the table and then its indexes.
pub async fn create_table_with_indexes(
    manager: &SchemaManager<'_>,
    table: TableCreateStatement,
    indexes: Vec<IndexCreateStatement>,
) -> Result<(), DbErr> {
    manager.create_table(table).await?;
    for index in indexes {
        manager.create_index(index).await?;
    }
    Ok(())
}

/// Drops tables in the order given (children first).
pub async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: &[&'static str],
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(*table).to_owned())
            .await?;
    }
    Ok(())
}

/// The current time as the entities store it: UTC, whole microseconds
/// (PostgreSQL's precision, so a value reads back equal on both backends).
pub fn now() -> chrono::DateTime<chrono::FixedOffset> {
    let now = chrono::Utc::now();
    let micros = now.timestamp_micros();
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or(now)
        .fixed_offset()
}
