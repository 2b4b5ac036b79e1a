//! The source's encrypted columns, opened with the original's data key
//! under the original's associated data.

use sea_orm::DatabaseConnection;

use super::read;
use crate::crypto::legacy::{self, LegacyDataKey};
use crate::error::Result;
use crate::security::UnreadableValue;

/// What [`LegacySource::check_secrets`](super::LegacySource::check_secrets)
/// found in the source's encrypted columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacySecrets {
    /// Values that opened under their row's context.
    pub opened: u64,
    /// Values that opened only without context (the original's
    /// `encrypt_data`): they open in any row, so they are bound to theirs
    /// only from adoption on.
    pub without_context: u64,
    /// Values that did not, by table, column and row (adoption refuses
    /// them, or leaves their rows out when asked to).
    pub unreadable: Vec<UnreadableValue>,
}

/// Opens every ciphertext of the source; none is written anywhere.
pub(crate) async fn check(conn: &DatabaseConnection, key: &LegacyDataKey) -> Result<LegacySecrets> {
    let mut found = LegacySecrets::default();
    let select = "id, tenant_id, user_id, provider, access_token, refresh_token";
    read::every_row(conn, "user_oauth_tokens", select, |row| {
        // Every cell optional: a NULL where the original required a value
        // is this row's problem, not the end of the check. Cell 0 is the
        // rowid.
        let text = |i: usize| row.try_get_by_index::<Option<String>>(i + 1).ok().flatten();
        let id = text(0);
        let (Some(tenant), Some(user), Some(provider)) = (text(1), text(2), text(3)) else {
            let row_key = id.unwrap_or_else(|| "(no id)".to_owned());
            let reason = "its tenant, user or provider is missing";
            found.unreadable("user_oauth_tokens", "access_token", row_key, reason);
            return Ok(());
        };
        let aad = legacy::token_aad(&tenant, &user, &provider);
        let row_key = || {
            id.clone()
                .unwrap_or_else(|| format!("{tenant}/{user}/{provider}"))
        };
        for (index, column) in [(4, "access_token"), (5, "refresh_token")] {
            if let Some(value) = text(index) {
                found.open(key, "user_oauth_tokens", column, &aad, &value, row_key);
            }
        }
        Ok(())
    })
    .await?;
    let (table, column) = ("tenant_oauth_credentials", "client_secret_encrypted");
    let select = "id, tenant_id, provider, client_secret_encrypted";
    read::every_row(conn, table, select, |row| {
        let text = |i: usize| row.try_get_by_index::<Option<String>>(i + 1).ok().flatten();
        let id = text(0);
        let (Some(tenant), Some(provider), Some(value)) = (text(1), text(2), text(3)) else {
            let row_key = id.unwrap_or_else(|| "(no id)".to_owned());
            found.unreadable(
                table,
                column,
                row_key,
                "its tenant, provider or secret is missing",
            );
            return Ok(());
        };
        let aad = legacy::credential_aad(&tenant, &provider);
        // The original inserted these rows with NULL ids: the tenant and
        // provider name the row instead.
        let row_key = || id.clone().unwrap_or_else(|| format!("{tenant}/{provider}"));
        found.open(key, table, column, &aad, &value, row_key);
        Ok(())
    })
    .await?;
    Ok(found)
}

impl LegacySecrets {
    /// Opens one value under its row's context or, failing that, under no
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
        if legacy::open(key, aad, value).is_ok() {
            self.opened += 1;
            return;
        }
        match legacy::open(key, "", value) {
            Ok(_) => self.without_context += 1,
            Err(err) => self.unreadable(table, column, row_key(), &err.to_string()),
        }
    }

    fn unreadable(&mut self, table: &'static str, column: &'static str, key: String, reason: &str) {
        self.unreadable.push(UnreadableValue {
            table,
            column,
            key,
            reason: reason.to_owned(),
        });
    }
}
