//! Data keys in the database.
//!
//! Each data key (DEK) is a `key_versions` row (global: `tenant_id` NULL)
//! and its wrapped bytes, sealed by the master key, in `system_secrets`
//! under `data_key.v<N>`. This module reads and writes those rows; the
//! operations built on them (rotation, re-encryption, retirement,
//! rewrapping) are in [`crate::security`].

use entity::{key_versions, system_secrets};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use tracing::info;
use uuid::Uuid;

use crate::crypto::keyring::{DataKey, Keyring};
use crate::crypto::master::MasterKey;
use crate::error::{DatabaseError, Result};
use crate::query::{Prepared, begin_write, global_insert, global_rows, global_update, prepared};
use crate::time;

pub(crate) const DATA_KEY_PREFIX: &str = "data_key.v";

pub(crate) fn secret_type(version: u32) -> String {
    format!("{DATA_KEY_PREFIX}{version}")
}

/// The global `key_versions` rows with their versions checked, oldest first.
pub(crate) async fn global_versions<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<(u32, key_versions::Model)>> {
    global_rows::<key_versions::Entity>()
        .into_inner()
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
pub(crate) async fn wrapped_keys<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<(u32, system_secrets::Model)>> {
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
    let version: Option<i32> = global_rows::<key_versions::Entity>()
        .into_inner()
        .select_only()
        .column(key_versions::Column::Version)
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

/// [`check_keys_stored`] for the one key a write seals with, its SQL built
/// once: every sealing write runs it (see `Ctx::write_sealed`).
pub(crate) async fn check_key_stored<C: ConnectionTrait>(conn: &C, version: u32) -> Result<()> {
    static CHECK: Prepared = prepared!();
    let name = secret_type(version);
    let statement = CHECK.statement(
        conn.get_database_backend(),
        vec![name.as_str().into()],
        || {
            system_secrets::Entity::find()
                .select_only()
                .column(system_secrets::Column::SecretType)
                .filter(system_secrets::Column::SecretType.eq(name.as_str()))
                .lock_shared()
        },
    );
    if conn.query_one_raw(statement.into_inner()).await?.is_none() {
        return Err(DatabaseError::StaleKey { version });
    }
    Ok(())
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
        Err(DatabaseError::Conflict { .. }) => {}
        Err(err) => return Err(err),
    }
    load(conn, master)
        .await?
        .ok_or_else(|| DatabaseError::Config("the first data key could not be stored".to_owned()))
}

/// Stores a new key as the only active one, in one transaction.
pub(crate) async fn store_new_key(
    conn: &DatabaseConnection,
    key: &DataKey,
    master: &MasterKey,
) -> Result<()> {
    let wrapped = key.wrap(master)?;
    let now = time::stored(time::now());
    let tx = begin_write(conn).await?;
    global_update::<key_versions::Entity>()
        .into_inner()
        .col_expr(key_versions::Column::IsActive, Expr::value(false))
        .exec(&tx)
        .await?;
    global_insert(key_versions::ActiveModel {
        id: Set(Uuid::now_v7()),
        version: Set(key.version() as i32),
        created_at: Set(now),
        expires_at: Set(None),
        is_active: Set(true),
        algorithm: Set("AES-256-GCM".to_owned()),
        ..Default::default()
    })?
    .into_inner()
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
