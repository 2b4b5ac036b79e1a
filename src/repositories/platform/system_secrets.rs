//! Named system secrets: `db.system_secrets()`.
//!
//! Secrets the application needs back (a session signing secret, say),
//! encrypted with the `system_secrets.secret_value` column context (bound
//! to the name), so `reencrypt_all` keeps covering them. They share the
//! table with the wrapped data keys the key store keeps under
//! `data_key.v<N>`; those names are refused here.

use entity::system_secrets as secrets;
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, Insert, QueryFilter};
use tracing::instrument;

use crate::crypto::columns::SYSTEM_SECRET;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::keys::store::DATA_KEY_PREFIX;
use crate::query::Ctx;
use crate::query::{Allowed, RunSelect};
use crate::time;
use crate::validation;

/// Named system secrets: `db.system_secrets()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, Secret};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// let secrets = db.system_secrets();
/// let first = secrets.get_or_create("session_key", || Secret::new("generated")).await?;
/// let again = secrets.get_or_create("session_key", || Secret::new("other")).await?;
/// assert_eq!(first.expose(), again.expose());
/// assert!(secrets.put("data_key.v9", Secret::new("x")).await.is_err());
/// # Ok(())
/// # }
/// ```
pub struct SystemSecrets<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl SystemSecrets<'_> {
    /// Longest secret name.
    pub const MAX_NAME: usize = 100;
    /// Longest secret value, in bytes.
    pub const MAX_VALUE_BYTES: usize = 64 * 1024;
}

impl<'a> SystemSecrets<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// The secret called `name`, decrypted, if stored.
    #[metered]
    #[instrument(skip_all, fields(name = %name), err(Display))]
    pub async fn get(&self, name: &str) -> Result<Option<Secret>> {
        let name = checked_name(name)?;
        let row = secrets::Entity::find()
            .filter(secrets::Column::SecretType.eq(&name))
            .all_in(&self.ctx)
            .await?
            .pop();
        match row {
            Some(row) => Ok(Some(
                self.ctx
                    .open(
                        &SYSTEM_SECRET.context(None, None, &[&name])?,
                        &row.secret_value,
                    )
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// Stores `value` as `name`, replacing any earlier value.
    #[metered]
    #[instrument(skip_all, fields(name = %name), err(Display))]
    pub async fn put(&self, name: &str, value: Secret) -> Result<()> {
        self.write(name, &value, |insert| {
            insert.on_conflict(
                OnConflict::column(secrets::Column::SecretType)
                    .update_columns([secrets::Column::SecretValue, secrets::Column::UpdatedAt])
                    .to_owned(),
            )
        })
        .await
    }

    /// The secret called `name`; if there is none, stores `create()`'s
    /// value first. Race-free: the insert does nothing when another caller
    /// stored one first, and everyone then reads the one stored value.
    #[metered]
    #[instrument(skip_all, fields(name = %name), err(Display))]
    pub async fn get_or_create(
        &self,
        name: &str,
        create: impl FnOnce() -> Secret,
    ) -> Result<Secret> {
        if let Some(existing) = self.get(name).await? {
            return Ok(existing);
        }
        self.write(name, &create(), |insert| {
            insert.on_conflict(
                OnConflict::column(secrets::Column::SecretType)
                    .do_nothing()
                    .to_owned(),
            )
        })
        .await?;
        self.get(name)
            .await?
            .ok_or_else(|| DatabaseError::not_found("system secret", name))
    }

    /// Seals `value` and runs the insert `finish` completes.
    async fn write(
        &self,
        name: &str,
        value: &Secret,
        finish: impl Fn(Insert<secrets::ActiveModel>) -> Insert<secrets::ActiveModel>,
    ) -> Result<()> {
        let name = checked_name(name)?;
        validation::secret("value", value.expose(), SystemSecrets::MAX_VALUE_BYTES)?;
        let context = SYSTEM_SECRET.context(None, None, &[&name])?;
        let now = time::stored(time::now());
        self.ctx
            .write_sealed(|keyring| {
                let row = secrets::ActiveModel {
                    secret_type: Set(name.clone()),
                    secret_value: Set(keyring.seal(&context, value)?),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                Ok(finish(secrets::Entity::insert(row))
                    .checked()
                    .build(self.ctx.backend()))
            })
            .await?;
        Ok(())
    }
}

/// A secret name: an identifier that is not one of the key store's.
pub(crate) fn checked_name(name: &str) -> Result<String> {
    if name.starts_with(DATA_KEY_PREFIX) {
        return Err(DatabaseError::invalid(
            "name",
            format!("names starting with {DATA_KEY_PREFIX:?} belong to the data keys"),
        ));
    }
    let name = name.trim();
    if name.is_empty()
        || name.len() > SystemSecrets::MAX_NAME
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err(DatabaseError::invalid(
            "name",
            format!(
                "1 to {} characters of a-z, 0-9, '.', '_' and '-'",
                SystemSecrets::MAX_NAME
            ),
        ));
    }
    Ok(name.to_owned())
}
