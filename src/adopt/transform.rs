//! What adoption does to a row besides converting its cells: secrets
//! opened under the original's data key and sealed again under the
//! target's, secrets the original kept in clear sealed or hashed, and
//! addresses normalised the way the library writes them.

use sea_orm::Value;
use sea_orm::sea_query::OptionEnum;
use uuid::Uuid;

use super::credentials::{CredentialForm, column_forms, form_of};
use super::report::AdoptionReport;
use crate::crypto::columns::{self, SealedColumn};
use crate::crypto::hashing;
use crate::crypto::keyring::Keyring;
use crate::crypto::legacy::{self, LegacyDataKey};
use crate::crypto::secret::Secret;
use crate::repositories::configuration::system_settings::SystemSettings;
use crate::repositories::identity::tenants::Tenants;
use crate::repositories::platform::system_secrets::checked_name;

/// One row on its way: the source's cells, converted, and what went wrong.
pub(crate) struct Row<'c> {
    pub(crate) table: &'static str,
    pub(crate) columns: &'c [&'static str],
    /// The source's text of each column (ids and names as the original
    /// stored them, which its associated data is made of).
    pub(crate) source: Vec<Option<String>>,
    /// The converted value of each column.
    pub(crate) values: Vec<Value>,
    /// Cells that did not convert: `(column, reason)`.
    pub(crate) problems: Vec<(&'static str, String)>,
}

impl Row<'_> {
    fn at(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == column)
    }

    /// The source's text of `column`.
    pub(crate) fn source_text(&self, column: &str) -> Option<&str> {
        self.at(column).and_then(|i| self.source[i].as_deref())
    }

    /// The converted value of `column`, as text.
    pub(crate) fn text(&self, column: &str) -> Option<String> {
        match self.at(column).map(|i| &self.values[i]) {
            Some(Value::String(Some(text))) => Some(text.to_string()),
            Some(Value::Enum(OptionEnum::Some(value))) => Some(value.value.to_string()),
            _ => None,
        }
    }

    /// The converted value of `column`, as a UUID.
    pub(crate) fn uuid(&self, column: &str) -> Option<Uuid> {
        match self.at(column).map(|i| &self.values[i]) {
            Some(Value::Uuid(Some(id))) => Some(*id),
            _ => None,
        }
    }

    fn set(&mut self, column: &str, value: Value) {
        if let Some(i) = self.at(column) {
            self.values[i] = value;
        }
    }

    fn problem(&mut self, column: &'static str, reason: impl Into<String>) {
        self.problems.push((column, reason.into()));
    }
}

/// What a secret column of the original holds, and what adoption makes of it.
enum Rule {
    /// The original's ciphertext under its associated data (or none):
    /// opened and sealed again as `SealedColumn` says.
    Reseal(&'static SealedColumn, fn(&Row<'_>) -> String),
    /// A secret the original kept in clear: sealed as `SealedColumn` says.
    Seal(&'static SealedColumn),
    /// A credential that only verifies: hashed when in clear, kept in the
    /// other forms the column holds.
    Credential,
    /// A text column the library normalises on write.
    Normalise(fn(&str) -> crate::error::Result<String>),
}

fn token_aad(row: &Row<'_>) -> String {
    let part = |c| row.source_text(c).unwrap_or_default();
    legacy::token_aad(part("tenant_id"), part("user_id"), part("provider"))
}

fn credential_aad(row: &Row<'_>) -> String {
    let part = |c| row.source_text(c).unwrap_or_default();
    legacy::credential_aad(part("tenant_id"), part("provider"))
}

fn rule(table: &str, column: &str) -> Option<Rule> {
    Some(match (table, column) {
        ("user_oauth_tokens", "access_token") => {
            Rule::Reseal(&columns::OAUTH_ACCESS_TOKEN, token_aad)
        }
        ("user_oauth_tokens", "refresh_token") => {
            Rule::Reseal(&columns::OAUTH_REFRESH_TOKEN, token_aad)
        }
        ("tenant_oauth_credentials", "client_secret_encrypted") => {
            Rule::Reseal(&columns::TENANT_CLIENT_SECRET, credential_aad)
        }
        ("rsa_keypairs", "private_key_pem") => Rule::Seal(&columns::RSA_PRIVATE_KEY),
        ("system_secrets", "secret_value") => Rule::Seal(&columns::SYSTEM_SECRET),
        ("user_oauth_app_credentials", "client_secret") => {
            Rule::Seal(&columns::USER_APP_CLIENT_SECRET)
        }
        // The session token is also the key `a2a_usage` refers to it by:
        // both are hashed alike.
        ("a2a_usage", "session_token") => Rule::Credential,
        // Keys the library reaches rows by: one it would refuse on write
        // would make the row unreachable.
        ("users", "email") => Rule::Normalise(crate::validation::email),
        ("system_settings", "key") => Rule::Normalise(|key| {
            crate::validation::identifier("key", key, SystemSettings::MAX_KEY)
        }),
        ("system_secrets", "secret_type") => Rule::Normalise(checked_name),
        ("tenants", "slug") => Rule::Normalise(|slug| {
            crate::validation::slug("slug", slug, Tenants::MIN_SLUG, Tenants::MAX_SLUG)
        }),
        ("tenants", "domain") => {
            Rule::Normalise(|domain| crate::validation::domain_name("domain", domain))
        }
        _ if column_forms(table, column).is_some() => Rule::Credential,
        _ => return None,
    })
}

/// The tools a row's secrets need.
pub(crate) struct Keys<'k> {
    pub(crate) legacy: &'k LegacyDataKey,
    pub(crate) target: &'k Keyring,
}

/// What one row's rules sealed, hashed and left in a legacy form, by
/// `table.column`: added to the report only if the row is written.
#[derive(Default)]
pub(crate) struct RowCounts {
    sealed: Vec<String>,
    hashed: Vec<String>,
    legacy: Vec<(String, CredentialForm)>,
}

impl RowCounts {
    /// Adds the counts to `report`.
    pub(crate) fn add_to(self, report: &mut AdoptionReport) {
        for column in self.sealed {
            AdoptionReport::count(&mut report.sealed, column);
        }
        for column in self.hashed {
            AdoptionReport::count(&mut report.hashed, column);
        }
        for (column, form) in self.legacy {
            super::credentials::count(&mut report.legacy_hashes, column, form);
        }
    }
}

/// Applies every rule of `row`'s table to it, counting what it sealed and
/// hashed in `counts`. For a row that is refused already
/// (`credentials_only`), only credentials are hashed: another row may refer
/// to one by value, and the reference is compared in the hashed form.
pub(crate) fn apply(
    row: &mut Row<'_>,
    keys: &Keys<'_>,
    counts: &mut RowCounts,
    credentials_only: bool,
) {
    for i in 0..row.columns.len() {
        let column = row.columns[i];
        let Some(rule) = rule(row.table, column) else {
            continue;
        };
        if credentials_only && !matches!(rule, Rule::Credential) {
            continue;
        }
        let Some(value) = row.text(column) else {
            // NULL stays NULL (conversion refused it where it may not be).
            continue;
        };
        let counted = format!("{}.{column}", row.table);
        match rule {
            Rule::Reseal(sealed, aad) => {
                let opened = legacy::open(keys.legacy, &aad(row), &value)
                    .or_else(|_| legacy::open(keys.legacy, "", &value));
                match opened {
                    Ok(plain) => match String::from_utf8(plain.to_vec()) {
                        Ok(plain) => {
                            if seal(row, keys, sealed, column, plain) {
                                counts.sealed.push(counted);
                            }
                        }
                        Err(_) => row.problem(column, "opens, but not to UTF-8 text"),
                    },
                    Err(err) => row.problem(
                        column,
                        format!("does not open under the original's data key: {err}"),
                    ),
                }
            }
            Rule::Seal(sealed) => {
                if seal(row, keys, sealed, column, value) {
                    counts.sealed.push(counted);
                }
            }
            Rule::Credential => {
                let forms = column_forms(row.table, column).unwrap_or(&[CredentialForm::Plaintext]);
                match form_of(&value, forms) {
                    Some(CredentialForm::Plaintext) => {
                        row.set(column, Some(hashing::hash(&value)).into());
                        counts.hashed.push(counted);
                    }
                    Some(
                        form @ (CredentialForm::Bcrypt
                        | CredentialForm::Argon2id
                        | CredentialForm::HmacSha256),
                    ) => counts.legacy.push((counted, form)),
                    Some(_) => {}
                    None => row.problem(column, "in none of the forms this column holds"),
                }
            }
            Rule::Normalise(normalise) => match normalise(&value) {
                Ok(normal) => row.set(column, Some(normal).into()),
                Err(err) => row.problem(column, err.to_string()),
            },
        }
    }
}

/// Seals `plain` into `column` under `sealed`'s context for this row;
/// `false` (and a problem) if the row cannot name its context.
fn seal(
    row: &mut Row<'_>,
    keys: &Keys<'_>,
    sealed: &SealedColumn,
    column: &'static str,
    plain: String,
) -> bool {
    let tenant = sealed.tenant.and_then(|c| row.uuid(c));
    let user = sealed.user.and_then(|c| row.uuid(c));
    let parts: Vec<String> = sealed
        .parts
        .iter()
        .map(|c| row.text(c).unwrap_or_default())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let outcome = sealed
        .context(tenant, user, &parts)
        .and_then(|context| keys.target.seal(&context, &Secret::new(plain)));
    match outcome {
        Ok(text) => {
            row.set(column, Some(text).into());
            true
        }
        Err(err) => {
            row.problem(column, format!("cannot be sealed for its row: {err}"));
            false
        }
    }
}
