//! The original Pierre server's HMAC key, in a database adopted from it.
//!
//! The original stored OAuth app secrets and refresh tokens as
//! HMAC-SHA256 under its data key. Only the plaintext converts such a value
//! to this crate's SHA-256, so adoption keeps the key, sealed as the named
//! secret [`SECRET_NAME`] and used for nothing else: a repository that
//! meets a credential in the HMAC form checks it with this key and stores
//! it as SHA-256 on the first success. When no credential in that form is
//! left, the key is deleted.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entity::{oauth_apps, oauth2_refresh_tokens, system_secrets};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, Query, SelectStatement};

use crate::crypto::legacy_hash as legacy;
use crate::error::{DatabaseError, Result};
use crate::query::Ctx;
use crate::repositories::platform::system_secrets::SystemSecrets;

/// The named secret holding the original's data key as standard base64.
pub const SECRET_NAME: &str = "adopted.legacy_hmac_key";

/// The original's HMAC form of `presented`, if this database holds its key
/// (it was adopted, and credentials in that form remain).
pub(crate) async fn legacy_mac(ctx: Ctx<'_>, presented: &str) -> Result<Option<String>> {
    let Some(key) = SystemSecrets::new(ctx).get(SECRET_NAME).await? else {
        return Ok(None);
    };
    let bytes = zeroize::Zeroizing::new(STANDARD.decode(key.expose()).map_err(|_| {
        DatabaseError::Decode(format!(
            "system secret {SECRET_NAME} is not base64: the adopted HMAC key is damaged"
        ))
    })?);
    Ok(Some(legacy::hmac(&bytes, presented)))
}

/// A select of the rows whose credential is still in an older form than
/// SHA-256 (64 hex characters: adoption hashed the ones in clear, so the
/// rest are the HMAC form) and can still be checked: an active app, a
/// refresh token neither revoked nor expired. Written with sea-query on
/// the connection, like the key store: it reads every tenant's refresh
/// tokens, and only whether any is left.
fn older_forms() -> [SelectStatement; 2] {
    let older = |column: Expr| Expr::expr(Func::cust("length").arg(column)).ne(64);
    let now = crate::time::stored(crate::time::now());
    [
        Query::select()
            .expr(Expr::val(1))
            .from(oauth_apps::Entity)
            .and_where(older(Expr::col(oauth_apps::Column::ClientSecretHash)))
            .and_where(Expr::col(oauth_apps::Column::IsActive).eq(true))
            .to_owned(),
        Query::select()
            .expr(Expr::val(1))
            .from(oauth2_refresh_tokens::Entity)
            .and_where(older(Expr::col(oauth2_refresh_tokens::Column::Token)))
            .and_where(Expr::col(oauth2_refresh_tokens::Column::Revoked).eq(false))
            .and_where(Expr::col(oauth2_refresh_tokens::Column::ExpiresAt).gt(now))
            .to_owned(),
    ]
}

/// Deletes the key once no credential in the HMAC form is left; the check
/// and the delete are one statement.
pub(crate) async fn drop_when_unused<C: ConnectionTrait>(conn: &C) -> Result<()> {
    // A primary-key lookup first: in a database that was never adopted
    // (every one but a few) the scans below never run.
    if !kept(conn).await? {
        return Ok(());
    }
    let [apps, tokens] = older_forms();
    let delete = Query::delete()
        .from_table(system_secrets::Entity)
        .and_where(Expr::col(system_secrets::Column::SecretType).eq(SECRET_NAME))
        .and_where(Expr::exists(apps).not())
        .and_where(Expr::exists(tokens).not())
        .to_owned();
    conn.execute(&delete).await?;
    Ok(())
}

/// How many credentials that can still be checked are in the HMAC form,
/// and whether the key that checks them is kept.
pub(crate) async fn status<C: ConnectionTrait>(conn: &C) -> Result<(u64, bool)> {
    let mut left = 0u64;
    for older in older_forms() {
        let count = Query::select()
            .expr(Expr::col(Asterisk).count())
            .from_subquery(older, Alias::new("older"))
            .to_owned();
        if let Some(row) = conn.query_one(&count).await? {
            left += u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or_default();
        }
    }
    Ok((left, kept(conn).await?))
}

/// Whether the key is stored.
async fn kept<C: ConnectionTrait>(conn: &C) -> Result<bool> {
    let kept = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(system_secrets::Entity)
        .and_where(Expr::col(system_secrets::Column::SecretType).eq(SECRET_NAME))
        .to_owned();
    Ok(match conn.query_one(&kept).await? {
        Some(row) => row.try_get_by_index::<i64>(0)? > 0,
        None => false,
    })
}
