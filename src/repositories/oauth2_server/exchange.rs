//! The token endpoint's handle: `db.oauth2_exchange()`.
//!
//! The token endpoint is given a code, refresh token or state and learns
//! the tenant from it, so consumption is global and says so in its name.
//! Each consumption is ONE conditional `UPDATE … RETURNING`: of any number
//! of concurrent callers presenting the same value, exactly one gets the
//! row, and every failure (missing, used, expired, other client, other
//! redirect) is `None`. A mismatched client or redirect does not burn the
//! value: the condition is part of the same statement.

use chrono::{DateTime, Utc};
use entity::{
    oauth2_auth_codes as codes, oauth2_refresh_tokens as tokens, oauth2_states as states,
};
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, FromQueryResult, QueryFilter, QueryTrait, UpdateMany, Value};
use tracing::instrument;

use super::auth_codes::{CODE_COLUMNS, CodeRow};
use super::rules;
use super::states::checked_row;
use super::{
    AuthCode, IssuedRefreshToken, NewOAuth2State, NewRefreshToken, OAuth2State, RefreshToken,
};
use crate::crypto::hashing;
use crate::error::{DatabaseError, Result};
use crate::keys::legacy_hmac;
use crate::query::{AllTenants, Checked, GlobalRows, RunInsert, RunWrite, TenantColumn};
use crate::query::{Prepared, prepared};
use crate::scope::TenantScope;
use crate::time;
use crate::validation;
use crate::validation::oauth::MAX_REDIRECT_URI;

/// A refresh token rotated: the one consumed and the one issued in its
/// place (same tenant, user, client and scope).
#[derive(Clone, Debug)]
pub struct RotatedRefreshToken {
    /// The consumed token's record.
    pub previous: RefreshToken,
    /// The new token, in clear this one time.
    pub issued: IssuedRefreshToken,
}

/// How many expired rows [`OAuth2Exchange::purge_expired`] deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgedCounts {
    /// Authorization codes.
    pub auth_codes: u64,
    /// States.
    pub states: u64,
    /// Refresh tokens.
    pub refresh_tokens: u64,
}

/// Consumption of codes, refresh tokens and states, across tenants:
/// `db.oauth2_exchange()`.
///
/// ```
/// use pierre_db::{Database, MasterKey, NewAuthCode, NewOAuth2Client, NewUser, verify_pkce};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pierre_db::DatabaseError> {
/// # let mut config = pierre_db::DatabaseConfig::new("sqlite::memory:", MasterKey::generate()?);
/// # config.migrate_on_connect = true;
/// # let db = Database::connect_with(config).await?;
/// # let owner = db.users().create(NewUser::new("owner@example.org", "hash")).await?;
/// # let tenant = db.tenants().create(pierre_db::NewTenant::new("Club", "club", owner.id)).await?.id;
/// let callback = "https://client.example/cb";
/// let client = db.oauth2_clients().register(NewOAuth2Client::new(callback)).await?.client;
/// let (verifier, challenge) = (
///     "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
///     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
/// );
/// let issued = db
///     .tenant(tenant)
///     .oauth2_auth_codes()
///     .issue(NewAuthCode::new(&client.client_id, owner.id, callback, challenge))
///     .await?;
///
/// // The token endpoint: consume once, then check PKCE.
/// let now = pierre_db::chrono::Utc::now();
/// let exchange = db.oauth2_exchange();
/// let code = exchange
///     .consume_auth_code(issued.code.expose(), &client.client_id, callback, now)
///     .await?
///     .expect("first use");
/// assert_eq!(code.tenant_id, tenant);
/// assert!(verify_pkce(verifier, code.code_challenge.as_deref().unwrap()));
/// let again = exchange.consume_auth_code(issued.code.expose(), &client.client_id, callback, now);
/// assert!(again.await?.is_none());
/// # Ok(())
/// # }
/// ```
pub struct OAuth2Exchange<'a> {
    rows: AllTenants<'a>,
}

impl<'a> OAuth2Exchange<'a> {
    /// Codes, tokens and states are found by their hash, whatever their
    /// tenant: the exchange is where a request's tenant is learnt, so it
    /// holds every tenant's rows, handed over by the public handles only.
    pub(crate) fn new(rows: AllTenants<'a>) -> Self {
        Self { rows }
    }

    /// Marks the code used and returns its record, if it exists, is unused,
    /// expires after `now`, and was issued to `client_id` for
    /// `redirect_uri`; otherwise `None`, and a code presented with the
    /// wrong client or redirect stays usable. A time outside the years
    /// 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id, tenant_id = tracing::field::Empty))]
    pub async fn consume_auth_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthCode>> {
        let now = time::checked("now", now)?;
        let redirect_uri = validation::http_url("redirect_uri", redirect_uri, MAX_REDIRECT_URI);
        let (true, true, Ok(redirect_uri)) = (
            rules::presentable(code),
            rules::presentable(client_id),
            redirect_uri,
        ) else {
            return Ok(None);
        };
        static CONSUME: Prepared = prepared!();
        let hash = hashing::hash(code);
        let values = vec![
            true.into(),
            hash.as_str().into(),
            client_id.into(),
            redirect_uri.as_str().into(),
            false.into(),
            now.into(),
        ];
        let consumed = self
            .returning::<_, CodeRow>(&CONSUME, values, Some(&CODE_COLUMNS), |rows| {
                rows.update::<codes::Entity>()
                    .col_expr(codes::Column::Used, Expr::value(true))
                    .filter(codes::Column::Code.eq(&hash))
                    .filter(codes::Column::ClientId.eq(client_id))
                    .filter(codes::Column::RedirectUri.eq(&redirect_uri))
                    .filter(codes::Column::Used.eq(false))
                    .filter(codes::Column::ExpiresAt.gt(now))
            })
            .await?
            .map(|row| row.0);
        record_tenant(consumed.as_ref().map(|c| c.tenant_id));
        Ok(consumed)
    }

    /// Revokes the refresh token and returns its record, if it exists, is
    /// live, expires after `now` and was issued to `client_id`; otherwise
    /// `None`, and a token presented by another client stays usable. A time
    /// outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id, tenant_id = tracing::field::Empty))]
    pub async fn consume_refresh_token(
        &self,
        token: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<RefreshToken>> {
        let now = time::checked("now", now)?;
        if !rules::presentable(token) || !rules::presentable(client_id) {
            return Ok(None);
        }
        let hash = hashing::hash(token);
        let mut consumed = self.consume_stored_token(&hash, client_id, now).await?;
        // The original's HMAC form, in a database adopted from it: consumed
        // the same way, and stored in the current form.
        if consumed.is_none()
            && let Some(mac) = legacy_hmac::legacy_mac(*self.rows, token).await?
        {
            consumed = self.consume_stored_token(&mac, client_id, now).await?;
            if consumed.is_some() {
                self.upgrade_token(&mac, &hash).await;
            }
        }
        record_tenant(consumed.as_ref().map(|t| t.tenant_id));
        Ok(consumed)
    }

    /// Revokes the live refresh token stored as `stored` of `client_id` and
    /// returns it.
    async fn consume_stored_token(
        &self,
        stored: &str,
        client_id: &str,
        now: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<Option<RefreshToken>> {
        static CONSUME: Prepared = prepared!();
        let values = vec![
            true.into(),
            stored.into(),
            client_id.into(),
            false.into(),
            now.into(),
        ];
        Ok(self
            .returning::<_, tokens::Model>(&CONSUME, values, None, |rows| {
                rows.update::<tokens::Entity>()
                    .col_expr(tokens::Column::Revoked, Expr::value(true))
                    .filter(tokens::Column::Token.eq(stored))
                    .filter(tokens::Column::ClientId.eq(client_id))
                    .filter(tokens::Column::Revoked.eq(false))
                    .filter(tokens::Column::ExpiresAt.gt(now))
            })
            .await?
            .map(RefreshToken::from))
    }

    /// Stores a consumed token of the original's HMAC form as SHA-256,
    /// then drops the original's key if nothing needs it any more. The
    /// token is consumed already: a failure here is logged, never returned
    /// (the caller would lose a token it holds), and the key stays until
    /// the next purge.
    async fn upgrade_token(&self, legacy_form: &str, hash: &str) {
        let outcome = self
            .rows
            .update::<tokens::Entity>()
            .col_expr(tokens::Column::Token, Expr::value(hash))
            .filter(tokens::Column::Token.eq(legacy_form))
            .exec_in(&self.rows)
            .await;
        let outcome = match outcome {
            Ok(_) => self.rows.drop_unused_legacy_key().await,
            Err(err) => Err(err),
        };
        if let Err(err) = outcome {
            tracing::warn!(error = %err, "an adopted refresh token was not brought to the current form");
        }
    }

    /// Consumes the refresh token and issues its successor (same tenant,
    /// user, client and scope, a fresh 30-day lifetime) in ONE transaction:
    /// if issuing fails, the old token stays usable. `None` when the token
    /// cannot be consumed (see [`Self::consume_refresh_token`]). A time
    /// outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter, before the transaction begins.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id))]
    pub async fn rotate_refresh_token(
        &self,
        token: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<RotatedRefreshToken>> {
        let now = time::checked_utc("now", now)?;
        let (token, client_id) = (token.to_owned(), client_id.to_owned());
        self.rows
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let exchange = OAuth2Exchange::new(tx);
                    let Some(previous) = exchange
                        .consume_refresh_token(&token, &client_id, now)
                        .await?
                    else {
                        return Ok(None);
                    };
                    let successor = NewRefreshToken {
                        scope: previous.scope.clone(),
                        ..NewRefreshToken::new(previous.client_id.clone(), previous.user_id)
                    };
                    let issued = TenantScope::new(*tx, previous.tenant_id)
                        .oauth2_refresh_tokens()
                        .issue(successor)
                        .await?;
                    Ok(Some(RotatedRefreshToken { previous, issued }))
                })
            })
            .await
    }

    /// Stores a state that belongs to no tenant yet (for one that does,
    /// use `db.tenant(t).oauth2_states()`). Errors as
    /// [`OAuth2States::store`](super::OAuth2States::store).
    #[metered]
    #[instrument(skip_all, fields(client_id = %new.client_id), err(Display))]
    pub async fn store_state(&self, new: NewOAuth2State) -> Result<()> {
        let row = checked_row(&self.rows, new).await?;
        GlobalRows::new(*self.rows)
            .insert(row)?
            .exec_without_returning_in(&self.rows)
            .await?;
        Ok(())
    }

    /// Marks the state used and returns it, if it exists, is unused,
    /// expires after `now` and was stored for `client_id`; otherwise
    /// `None`, and a state presented by another client stays usable. A time
    /// outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(client_id = %client_id))]
    pub async fn consume_state(
        &self,
        state: &str,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OAuth2State>> {
        let now = time::checked("now", now)?;
        if !rules::presentable(state) || !rules::presentable(client_id) {
            return Ok(None);
        }
        static CONSUME: Prepared = prepared!();
        let values = vec![
            true.into(),
            state.into(),
            client_id.into(),
            false.into(),
            now.into(),
        ];
        Ok(self
            .returning::<_, states::Model>(&CONSUME, values, None, |rows| {
                rows.update::<states::Entity>()
                    .col_expr(states::Column::Used, Expr::value(true))
                    .filter(states::Column::State.eq(state))
                    .filter(states::Column::ClientId.eq(client_id))
                    .filter(states::Column::Used.eq(false))
                    .filter(states::Column::ExpiresAt.gt(now))
            })
            .await?
            .map(OAuth2State::from))
    }

    /// Deletes codes, states and refresh tokens that expired at or before
    /// `now`, `batch` rows per statement so that no statement holds the
    /// write lock for long; returns how many of each. `InvalidInput` for a
    /// batch of 0. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(batch), err(Display))]
    pub async fn purge_expired(&self, now: DateTime<Utc>, batch: u32) -> Result<PurgedCounts> {
        if batch == 0 {
            return Err(DatabaseError::invalid("batch", "must be at least 1"));
        }
        let now = time::checked("now", now)?;
        let purged = PurgedCounts {
            auth_codes: self
                .purge::<codes::Entity>(codes::Column::Code, codes::Column::ExpiresAt, now, batch)
                .await?,
            states: self
                .purge::<states::Entity>(
                    states::Column::State,
                    states::Column::ExpiresAt,
                    now,
                    batch,
                )
                .await?,
            refresh_tokens: self
                .purge::<tokens::Entity>(
                    tokens::Column::Token,
                    tokens::Column::ExpiresAt,
                    now,
                    batch,
                )
                .await?,
        };
        // An adopted database's HMAC key goes with the last credential it
        // could still check.
        self.rows.drop_unused_legacy_key().await?;
        Ok(purged)
    }

    /// Runs `update` returning `columns` (all when `None`), read as `M`; its
    /// text built once in `slot`, `values` in the builder's order. One
    /// statement, so of concurrent callers exactly one changes the row.
    async fn returning<E: TenantColumn, M: FromQueryResult>(
        &self,
        slot: &Prepared,
        values: Vec<Value>,
        columns: Option<&[E::Column]>,
        update: impl Fn(&AllTenants<'a>) -> Checked<UpdateMany<E>>,
    ) -> Result<Option<M>> {
        let backend = self.rows.backend();
        let statement = slot.text(backend, values, || {
            let mut query = update(&self.rows).into_inner().into_query();
            query.returning(match columns {
                Some(columns) => Query::returning().columns(columns.iter().copied()),
                None => Query::returning().all(),
            });
            backend.build(&query)
        });
        self.rows
            .returning_row(self.rows.statement(statement))
            .await
    }

    /// Deletes `E`'s rows with `expires <= now`, `batch` keys at a time.
    async fn purge<E: TenantColumn>(
        &self,
        key: E::Column,
        expires: E::Column,
        now: chrono::DateTime<chrono::FixedOffset>,
        batch: u32,
    ) -> Result<u64> {
        let mut total = 0;
        loop {
            let expired = Query::select()
                .column(key)
                .from(E::default())
                .and_where(expires.lte(now))
                .limit(u64::from(batch))
                .to_owned();
            let deleted = self
                .rows
                .delete::<E>()
                .filter(key.in_subquery(expired))
                .exec_in(&self.rows)
                .await?
                .rows_affected;
            total += deleted;
            if deleted < u64::from(batch) {
                return Ok(total);
            }
        }
    }
}

fn record_tenant(tenant: Option<crate::ids::TenantId>) {
    if let Some(tenant) = tenant {
        tracing::Span::current().record("tenant_id", tracing::field::display(tenant));
    }
}
