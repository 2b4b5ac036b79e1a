//! The target of an adoption: empty before, marked after.

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use super::moving::{SEEDED_BY_MIGRATIONS, TABLES};
use crate::crypto::columns::SYSTEM_SECRET;
use crate::crypto::keyring::Keyring;
use crate::crypto::legacy::LegacyDataKey;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::keys::legacy_hmac;
use crate::keys::store::DATA_KEY_PREFIX;

/// The `system_settings` key an adoption leaves behind.
const ADOPTED: &str = "pierre_db.adopted_at";

/// Tables a target holds rows of before any adoption besides the
/// migrations' seeds: the data key the library creates on first connect.
const FIRST_CONNECT: [&str; 2] = ["key_versions", "system_secrets"];

/// Refuses a target that was adopted into or holds rows of its own: rows
/// in any table but the seeded ones, or a named secret.
pub(crate) async fn require_empty(tx: &DatabaseTransaction) -> Result<()> {
    let adopted = Query::select()
        .column(Alias::new("value"))
        .from(Alias::new("system_settings"))
        .and_where(Expr::col(Alias::new("key")).eq(ADOPTED))
        .to_owned();
    if let Some(row) = tx.query_one(&adopted).await? {
        let at: String = row.try_get_by_index(0)?;
        return Err(DatabaseError::NotAdoptable(format!(
            "the target was adopted into already ({at}): adopt into a new database"
        )));
    }
    let mut filled = Vec::new();
    let before_any_row = |t: &&&str| SEEDED_BY_MIGRATIONS.contains(t) || FIRST_CONNECT.contains(t);
    for table in TABLES.iter().filter(|t| !before_any_row(t)) {
        let n = count(tx, table, None).await?;
        if n > 0 {
            filled.push(format!("{table} {n}"));
        }
    }
    let named = count(
        tx,
        "system_secrets",
        Some(Expr::col(Alias::new("secret_type")).not_like(format!("{DATA_KEY_PREFIX}%"))),
    )
    .await?;
    if named > 0 {
        filled.push(format!("system_secrets {named} (named secrets)"));
    }
    if filled.is_empty() {
        return Ok(());
    }
    Err(DatabaseError::NotAdoptable(format!(
        "the target is not empty ({}): adopt into a freshly migrated database",
        filled.join(", ")
    )))
}

/// Records the adoption in `system_settings`, so a second one into the
/// same database is refused.
pub(crate) async fn mark_adopted(tx: &DatabaseTransaction) -> Result<()> {
    let now = crate::time::stored(crate::time::truncate(chrono::Utc::now()));
    let insert = Query::insert()
        .into_table(Alias::new("system_settings"))
        .columns([
            Alias::new("key"),
            Alias::new("value"),
            Alias::new("description"),
            Alias::new("created_at"),
            Alias::new("updated_at"),
        ])
        .values_panic([
            ADOPTED.into(),
            now.to_rfc3339().into(),
            "when pierre-db adopted the original server's database into this one".into(),
            now.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::column(Alias::new("key"))
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

/// Keeps the original's data key, sealed as the named secret the
/// repositories check HMAC-form credentials with (`keys::legacy_hmac`).
pub(crate) async fn keep_legacy_hmac_key(
    tx: &DatabaseTransaction,
    keyring: &Keyring,
    key: &LegacyDataKey,
) -> Result<()> {
    let name = legacy_hmac::SECRET_NAME;
    let sealed = keyring.seal(
        &SYSTEM_SECRET.context(None, None, &[name])?,
        &Secret::new(key.to_base64().as_str()),
    )?;
    let now = crate::time::stored(crate::time::truncate(chrono::Utc::now()));
    let insert = Query::insert()
        .into_table(Alias::new("system_secrets"))
        .columns([
            Alias::new("secret_type"),
            Alias::new("secret_value"),
            Alias::new("created_at"),
            Alias::new("updated_at"),
        ])
        .values_panic([name.into(), sealed.into(), now.into(), now.into()])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}

async fn count(
    tx: &DatabaseTransaction,
    table: &str,
    filter: Option<sea_orm::sea_query::SimpleExpr>,
) -> Result<i64> {
    let mut select = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Alias::new(table))
        .to_owned();
    if let Some(filter) = filter {
        select.and_where(filter);
    }
    Ok(match tx.query_one(&select).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    })
}
