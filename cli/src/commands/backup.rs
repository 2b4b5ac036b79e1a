//! `pierre-db backup PATH`.

use std::time::Instant;

use pierre_db::Backend;
use serde_json::json;

use crate::args::{Backup, Global};
use crate::exit::{Code, Failure, Result};
use crate::output::Output;

pub async fn run(global: &Global, out: &Output, options: &Backup) -> Result<Code> {
    let url = global.url()?;
    if Backend::from_url(&url)? == Backend::Postgres {
        return Err(Failure::failed(format!(
            "backup copies SQLite files only; for PostgreSQL run: \
             PGOPTIONS='-c pierre.scope=all' pg_dump --enable-row-security \
             --format=custom --file={} '{}'",
            options.path.display(),
            redacted(&url)
        )));
    }
    // Opening through the library checks the master key too: a backup made
    // with the wrong key in hand is found out now, not at restore time.
    let db = global.database().await?;
    let started = Instant::now();
    let outcome = db.backup_to(&options.path).await;
    db.close().await.ok();
    outcome?;
    let bytes = std::fs::metadata(&options.path)
        .map(|m| m.len())
        .unwrap_or(0);
    out.line(format!(
        "wrote {} ({} bytes) in {:.2} s",
        options.path.display(),
        bytes,
        started.elapsed().as_secs_f64()
    ));
    out.document(json!({
        "ok": true,
        "path": options.path.display().to_string(),
        "bytes": bytes,
    }));
    Ok(Code::Ok)
}

/// `url` with its password replaced by `***`, for messages.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/pierre"),
            "postgres://app:***@db:5432/pierre"
        );
        assert_eq!(
            redacted("postgres://app@db/pierre"),
            "postgres://app@db/pierre"
        );
        assert_eq!(redacted("sqlite:data/p.db"), "sqlite:data/p.db");
    }
}
