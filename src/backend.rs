//! Which database a URL names.

use std::path::PathBuf;

use crate::error::{DatabaseError, Result};

/// The URL forms [`Backend::from_url`] accepts in this build (PostgreSQL
/// only with the `postgres` feature), for error messages.
pub const SUPPORTED_URLS: &str = supported_urls(cfg!(feature = "postgres"));

/// The URL forms of a build with or without PostgreSQL.
const fn supported_urls(postgres: bool) -> &'static str {
    if postgres {
        "sqlite::memory:, sqlite:PATH, sqlite://PATH[?mode=rwc], postgres://USER@HOST/DB or postgresql://…"
    } else {
        "sqlite::memory:, sqlite:PATH, sqlite://PATH[?mode=rwc]"
    }
}

/// The database behind a URL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite in memory: one database, gone when the pool closes.
    SqliteMemory,
    /// A SQLite file.
    SqliteFile(PathBuf),
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Detects the backend from the URL's scheme.
    ///
    /// ```
    /// use pierre_db::Backend;
    ///
    /// assert_eq!(Backend::from_url("sqlite::memory:").unwrap(), Backend::SqliteMemory);
    /// assert!(matches!(Backend::from_url("sqlite://data/p.db?mode=rwc"), Ok(Backend::SqliteFile(_))));
    /// assert!(Backend::from_url("mysql://localhost/db").is_err());
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            return Self::sqlite(rest);
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return if cfg!(feature = "postgres") {
                Ok(Backend::Postgres)
            } else {
                Err(DatabaseError::Config(format!(
                    "a PostgreSQL URL needs pierre-db built with the `postgres` feature \
                     (features = [\"postgres\"] on the dependency); this build supports: \
                     {SUPPORTED_URLS}"
                )))
            };
        }
        match url.split_once(':') {
            Some((scheme, _)) if !scheme.contains(['/', '\\', '.']) => {
                Err(DatabaseError::Config(format!(
                    "unsupported database URL (scheme {scheme:?}); supported forms: {SUPPORTED_URLS}"
                )))
            }
            _ => Err(DatabaseError::Config(format!(
                "{url:?} is a path, not a database URL: for a SQLite file write \"sqlite:{url}\" \
                 (supported forms: {SUPPORTED_URLS})"
            ))),
        }
    }

    fn sqlite(rest: &str) -> Result<Self> {
        if !cfg!(feature = "sqlite") {
            return Err(DatabaseError::Config(format!(
                "a SQLite URL needs pierre-db built with the `sqlite` feature; supported forms: {SUPPORTED_URLS}"
            )));
        }
        let path = rest.split('?').next().unwrap_or_default();
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(DatabaseError::Config(format!(
                "the SQLite URL names no file; supported forms: {SUPPORTED_URLS}"
            )));
        }
        if path == ":memory:" || rest.contains("mode=memory") {
            return Ok(Backend::SqliteMemory);
        }
        Ok(Backend::SqliteFile(PathBuf::from(path)))
    }

    /// Whether this is SQLite (file or memory).
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Backend::SqliteMemory | Backend::SqliteFile(_))
    }

    /// A short name: `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        if self.is_sqlite() {
            "sqlite"
        } else {
            "postgres"
        }
    }
}

/// Whether a SQLite URL asks for its file to be created (`mode=rwc`).
pub(crate) fn sqlite_url_creates(url: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair.trim() == "mode=rwc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_lists_only_the_url_forms_it_accepts() {
        assert!(!supported_urls(false).contains("postgres"));
        assert!(supported_urls(true).contains("postgres://"));
        assert_eq!(SUPPORTED_URLS, supported_urls(cfg!(feature = "postgres")));
    }

    #[test]
    fn only_mode_rwc_asks_for_a_new_file() {
        assert!(sqlite_url_creates("sqlite://data/p.db?mode=rwc"));
        assert!(sqlite_url_creates("sqlite:p.db?cache=shared&mode=rwc"));
        assert!(!sqlite_url_creates("sqlite:p.db"));
        assert!(!sqlite_url_creates("sqlite:p.db?mode=rw"));
        assert!(!sqlite_url_creates("sqlite:mode=rwc.db"));
    }
}
