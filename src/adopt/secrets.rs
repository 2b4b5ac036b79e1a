//! The source's encrypted columns, opened with the original's data key
//! under the original's associated data.

use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};

use crate::crypto::legacy::{self, LegacyDataKey};
use crate::error::Result;
use crate::security::UnreadableValue;

/// What [`LegacySource::check_secrets`](super::LegacySource::check_secrets)
/// found in the source's encrypted columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacySecrets {
    /// Values that opened.
    pub opened: u64,
    /// Values that did not, by table, column and row (adoption refuses
    /// them, or leaves their rows out when asked to).
    pub unreadable: Vec<UnreadableValue>,
}

/// Opens every ciphertext of the source; none is written anywhere.
pub(crate) async fn check(conn: &DatabaseConnection, key: &LegacyDataKey) -> Result<LegacySecrets> {
    let mut found = LegacySecrets::default();
    let tokens = select(
        conn,
        "user_oauth_tokens",
        &[
            "id",
            "tenant_id",
            "user_id",
            "provider",
            "access_token",
            "refresh_token",
        ],
    )
    .await?;
    for row in tokens {
        let (id, tenant, user, provider): (Option<String>, String, String, String) = (
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
            row.try_get_by_index(3)?,
        );
        let aad = legacy::token_aad(&tenant, &user, &provider);
        let row_key = || {
            id.clone()
                .unwrap_or_else(|| format!("{tenant}/{user}/{provider}"))
        };
        for (index, column) in [(4, "access_token"), (5, "refresh_token")] {
            let value: Option<String> = row.try_get_by_index(index)?;
            if let Some(value) = value {
                found.open(key, "user_oauth_tokens", column, &aad, &value, row_key);
            }
        }
    }
    let credentials = select(
        conn,
        "tenant_oauth_credentials",
        &["id", "tenant_id", "provider", "client_secret_encrypted"],
    )
    .await?;
    for row in credentials {
        let (id, tenant, provider, value): (Option<String>, String, String, String) = (
            row.try_get_by_index(0)?,
            row.try_get_by_index(1)?,
            row.try_get_by_index(2)?,
            row.try_get_by_index(3)?,
        );
        let aad = legacy::credential_aad(&tenant, &provider);
        // The original inserted these rows with NULL ids: the tenant and
        // provider name the row instead.
        let row_key = || id.clone().unwrap_or_else(|| format!("{tenant}/{provider}"));
        found.open(
            key,
            "tenant_oauth_credentials",
            "client_secret_encrypted",
            &aad,
            &value,
            row_key,
        );
    }
    Ok(found)
}

impl LegacySecrets {
    /// Opens one value under its row's context, or, failing that, under no
    /// context (the original's `encrypt_data` wrote some values without).
    fn open(
        &mut self,
        key: &LegacyDataKey,
        table: &'static str,
        column: &'static str,
        aad: &str,
        value: &str,
        row_key: impl Fn() -> String,
    ) {
        match legacy::open(key, aad, value).or_else(|_| legacy::open(key, "", value)) {
            Ok(_) => self.opened += 1,
            Err(err) => self.unreadable.push(UnreadableValue {
                table,
                column,
                key: row_key(),
                reason: err.to_string(),
            }),
        }
    }
}

async fn select(
    conn: &DatabaseConnection,
    table: &str,
    columns: &[&str],
) -> Result<Vec<QueryResult>> {
    let select = Query::select()
        .columns(columns.iter().map(|c| Alias::new(*c)))
        .from(Alias::new(table))
        .to_owned();
    Ok(conn.query_all(&select).await?)
}
