//! The source's credentials that only verify (hashed, or in the oldest
//! databases kept in clear), by the form each is stored in: what adoption
//! keeps, what it hashes, and what waits for its first use to be upgraded.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::DatabaseConnection;

use super::read;
use super::rows::LegacyCell;
use super::schema::Tables;
use crate::error::Result;

/// How the original stored one credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CredentialForm {
    /// Lowercase hex SHA-256: this crate's own form, kept as it is.
    Sha256Hex,
    /// In clear (authorization codes, session tokens, and in databases of
    /// the 20-migration era A2A and OAuth app secrets and refresh tokens):
    /// hashed by adoption.
    Plaintext,
    /// bcrypt (admin tokens): verified, and upgraded, on first use.
    Bcrypt,
    /// Argon2id (OAuth 2.0 client secrets): verified, and upgraded, on first
    /// use.
    Argon2id,
    /// Base64 HMAC-SHA256 under the original's data key (OAuth app secrets,
    /// later refresh tokens): verified, and upgraded, on first use.
    HmacSha256,
}

/// How many credentials of one column are in one form.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialCount {
    /// `table.column`.
    pub column: String,
    /// The form.
    pub form: CredentialForm,
    /// How many rows hold it.
    pub rows: u64,
}

/// What [`LegacySource::check_credentials`](super::LegacySource::check_credentials)
/// found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegacyCredentials {
    /// Rows per column and form, in column order.
    pub counts: Vec<CredentialCount>,
    /// Values in none of the forms that column's credentials take: named,
    /// never guessed at.
    pub unknown: Vec<LegacyCell>,
}

/// A credential column and the forms the original wrote into it.
struct Column {
    table: &'static str,
    column: &'static str,
    forms: &'static [CredentialForm],
}

/// Every credential column of the original (user passwords excepted: they
/// are the application's hash, opaque here), with its possible forms.
const COLUMNS: [Column; 10] = {
    use CredentialForm::*;
    [
        Column {
            table: "api_keys",
            column: "key_hash",
            forms: &[Sha256Hex],
        },
        Column {
            table: "user_mcp_tokens",
            column: "token_hash",
            forms: &[Sha256Hex],
        },
        Column {
            table: "a2a_clients",
            column: "client_secret",
            forms: &[Sha256Hex, Plaintext],
        },
        Column {
            table: "admin_tokens",
            column: "jwt_secret_hash",
            forms: &[Sha256Hex],
        },
        Column {
            table: "admin_tokens",
            column: "token_hash",
            forms: &[Bcrypt, Sha256Hex],
        },
        Column {
            table: "oauth2_clients",
            column: "client_secret_hash",
            forms: &[Argon2id, Sha256Hex],
        },
        Column {
            table: "oauth_apps",
            column: "client_secret_hash",
            forms: &[HmacSha256, Plaintext],
        },
        Column {
            table: "oauth2_refresh_tokens",
            column: "token",
            forms: &[HmacSha256, Plaintext],
        },
        Column {
            table: "oauth2_auth_codes",
            column: "code",
            forms: &[Plaintext],
        },
        Column {
            table: "a2a_sessions",
            column: "session_token",
            forms: &[Plaintext],
        },
    ]
};

/// The forms the original wrote into `table.column`, if it is a
/// credential column. `a2a_usage.session_token` refers to a session by its
/// token, so it holds what `a2a_sessions.session_token` holds.
pub(crate) fn column_forms(table: &str, column: &str) -> Option<&'static [CredentialForm]> {
    let (table, column) = match (table, column) {
        ("a2a_usage", "session_token") => ("a2a_sessions", "session_token"),
        other => other,
    };
    COLUMNS
        .iter()
        .find(|c| c.table == table && c.column == column)
        .map(|c| c.forms)
}

/// Adds one `form` credential of `column` to `counts`.
pub(crate) fn count(counts: &mut Vec<CredentialCount>, column: String, form: CredentialForm) {
    match counts
        .iter_mut()
        .find(|c| c.column == column && c.form == form)
    {
        Some(count) => count.rows += 1,
        None => counts.push(CredentialCount {
            column,
            form,
            rows: 1,
        }),
    }
}

/// The form of `value`, among `allowed`: the first that fits. A plaintext
/// secret fits only where nothing else does (it has no shape of its own).
pub(crate) fn form_of(value: &str, allowed: &[CredentialForm]) -> Option<CredentialForm> {
    let fits = |form: &CredentialForm| match form {
        CredentialForm::Sha256Hex => {
            value.len() == 64
                && value
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        CredentialForm::Bcrypt => ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| value.starts_with(p)),
        CredentialForm::Argon2id => value.starts_with("$argon2id$"),
        CredentialForm::HmacSha256 => STANDARD.decode(value).is_ok_and(|mac| mac.len() == 32),
        CredentialForm::Plaintext => !value.is_empty(),
    };
    allowed.iter().copied().find(fits)
}

/// Classifies every credential of the source; nothing is written.
pub(crate) async fn check(conn: &DatabaseConnection, source: &Tables) -> Result<LegacyCredentials> {
    let mut found = LegacyCredentials::default();
    for spec in &COLUMNS {
        let Some(columns) = source.get(spec.table) else {
            continue;
        };
        if !columns.contains(spec.column) {
            continue;
        }
        let id = if columns.contains("id") { "id" } else { "NULL" };
        // Names from the fixed list above, not from input. The values are
        // secrets or their hashes: they are classified here and never
        // printed.
        let select = format!("CAST({id} AS TEXT), CAST(\"{}\" AS TEXT)", spec.column);
        let mut counts: Vec<(CredentialForm, u64)> = Vec::new();
        read::every_row(conn, spec.table, &select, |row| {
            let rowid: i64 = row.try_get_by_index(0)?;
            let id: Option<String> = row.try_get_by_index(1)?;
            let value: Option<String> = row.try_get_by_index(2)?;
            match value.as_deref().and_then(|v| form_of(v, spec.forms)) {
                Some(form) => match counts.iter_mut().find(|(f, _)| *f == form) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((form, 1)),
                },
                None => found.unknown.push(LegacyCell {
                    table: spec.table.to_owned(),
                    column: spec.column.to_owned(),
                    row: id.unwrap_or_else(|| format!("rowid {rowid}")),
                    reason: format!(
                        "in none of the forms this column holds ({})",
                        spec.forms
                            .iter()
                            .map(|f| format!("{f:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            }
            Ok(())
        })
        .await?;
        counts.sort();
        found
            .counts
            .extend(counts.into_iter().map(|(form, rows)| CredentialCount {
                column: format!("{}.{}", spec.table, spec.column),
                form,
                rows,
            }));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use CredentialForm::*;

    #[test]
    fn each_form_is_told_by_its_shape_and_plaintext_only_last() {
        let hex = "ab".repeat(32);
        let mac = STANDARD.encode([7u8; 32]);
        assert_eq!(form_of(&hex, &[Sha256Hex, Plaintext]), Some(Sha256Hex));
        assert_eq!(
            form_of("a2a_secret_x", &[Sha256Hex, Plaintext]),
            Some(Plaintext)
        );
        assert_eq!(form_of("$2b$12$abc", &[Bcrypt, Sha256Hex]), Some(Bcrypt));
        assert_eq!(
            form_of("$argon2id$v=19$m=1", &[Argon2id, Sha256Hex]),
            Some(Argon2id)
        );
        assert_eq!(form_of(&mac, &[HmacSha256, Plaintext]), Some(HmacSha256));
        assert_eq!(
            form_of("refresh-token", &[HmacSha256, Plaintext]),
            Some(Plaintext)
        );
        // Uppercase hex is not this crate's form; an empty value is nothing.
        assert_eq!(form_of(&"AB".repeat(32), &[Sha256Hex]), None);
        assert_eq!(form_of("", &[Plaintext]), None);
    }
}
