//! A2A sessions: `db.a2a_sessions()`.
//!
//! A session token (`pa2s_…`, 256 random bits) is generated here, returned
//! once and stored as its SHA-256 (the table's key). Only unexpired
//! sessions are seen or touched; a touch counts in SQL.

use chrono::{DateTime, Utc};
use entity::a2a_sessions as sessions;
use pierre_db_macros::metered;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tracing::instrument;

use super::clients::active_client;
use crate::crypto::hashing;
use crate::crypto::secret::Secret;
use crate::error::{DatabaseError, Result};
use crate::ids::{A2aClientId, UserId};
use crate::query::Ctx;
use crate::query::{Prepared, latest, prepared, string_list, unsigned};
use crate::query::{RunInsert, RunSelect, RunWrite};
use crate::time;
use crate::validation;

/// Longest presented token looked at.
const MAX_PRESENTED: usize = 256;

/// An A2A session (its token is only ever returned at creation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct A2aSession {
    /// The client it belongs to.
    pub client_id: A2aClientId,
    /// The user it acts for, if any.
    pub user_id: Option<UserId>,
    /// The scopes granted, a subset of the client's permissions.
    pub granted_scopes: Vec<String>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// When it was last used.
    pub last_activity: DateTime<Utc>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// How many requests it made.
    pub requests_count: u64,
}

impl TryFrom<sessions::Model> for A2aSession {
    type Error = DatabaseError;

    fn try_from(m: sessions::Model) -> Result<Self> {
        Ok(Self {
            client_id: A2aClientId::from_uuid(m.client_id),
            user_id: m.user_id.map(UserId::from_uuid),
            granted_scopes: string_list("a2a_sessions.granted_scopes", m.granted_scopes)?,
            expires_at: m.expires_at.to_utc(),
            last_activity: m.last_activity.to_utc(),
            created_at: m.created_at.to_utc(),
            requests_count: unsigned("a2a_sessions.requests_count", m.requests_count)?,
        })
    }
}

/// A session just opened, with its token in clear this one time.
#[derive(Debug)]
pub struct OpenedA2aSession {
    /// The stored session.
    pub session: A2aSession,
    /// The token to hand to the agent now.
    pub token: Secret,
}

/// A2A sessions: `db.a2a_sessions()`.
pub struct A2aSessions<'a> {
    ctx: Ctx<'a>,
}

/// Limits and fixed values of this repository's data.
impl A2aSessions<'_> {
    /// How every session token starts.
    pub const SESSION_TOKEN_PREFIX: &'static str = "pa2s_";
    /// How the original Pierre server's session tokens start: an adopted
    /// database holds their hashes, and they are accepted like new ones.
    pub const LEGACY_SESSION_TOKEN_PREFIX: &'static str = "sess_";
}

impl<'a> A2aSessions<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Opens a session of `owner`'s client, acting for `user` if given.
    /// `NotFound` for a client `owner` does not own; `Rejected` for an
    /// inactive client; `InvalidInput` for a scope the client may not be
    /// granted or an expiry in the past. A time outside the years 0000–9999 is
    /// [`DatabaseError::InvalidInput`](crate::DatabaseError::InvalidInput)
    /// naming the parameter.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %client, user_id = %owner), err(Display))]
    pub async fn create(
        &self,
        owner: UserId,
        client: A2aClientId,
        user: Option<UserId>,
        scopes: &[&str],
        expires_at: DateTime<Utc>,
    ) -> Result<OpenedA2aSession> {
        let now = time::now();
        let expires_at = validation::expiry(
            "expires_at",
            time::checked_utc("expires_at", expires_at)?,
            now,
        )?;
        let token = hashing::generate(A2aSessions::SESSION_TOKEN_PREFIX)?;
        let token_hash = hashing::hash(token.expose());
        let requested: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        // The client's check and the insert share one write transaction, as
        // in `A2aTasks::create`: a deactivation either waits for this
        // session (and then ends it) or is seen by the check.
        let row = self
            .ctx
            .in_write_tx(|tx| {
                Box::pin(async move {
                    let permissions = active_client(&tx, owner, client.as_uuid()).await?;
                    let known: Vec<&str> = permissions.iter().map(String::as_str).collect();
                    let granted = validation::known_values("scopes", &requested, &known)?;
                    let row = sessions::Model {
                        session_token: token_hash,
                        client_id: client.as_uuid(),
                        user_id: user.map(|u| u.as_uuid()),
                        granted_scopes: serde_json::json!(granted),
                        expires_at: time::stored(expires_at),
                        last_activity: time::stored(now),
                        created_at: time::stored(now),
                        requests_count: 0,
                    };
                    sessions::Entity::insert(sea_orm::ActiveModelTrait::reset_all(
                        sessions::ActiveModel::from(row.clone()),
                    ))
                    .exec_without_returning_in(&tx)
                    .await?;
                    Ok(row)
                })
            })
            .await?;
        Ok(OpenedA2aSession {
            session: row.try_into()?,
            token,
        })
    }

    /// The unexpired session of this token, if any.
    #[metered]
    #[instrument(skip_all)]
    pub async fn get(&self, token: &str) -> Result<Option<A2aSession>> {
        let Some(hash) = presented(token) else {
            return Ok(None);
        };
        sessions::Entity::find_by_id(hash)
            .filter(sessions::Column::ExpiresAt.gt(time::stored(time::now())))
            .one_in(&self.ctx)
            .await?
            .map(A2aSession::try_from)
            .transpose()
    }

    /// Records a request of the unexpired session: `last_activity` now and
    /// `requests_count + 1`, in ONE statement (concurrent touches all
    /// count; `last_activity` never moves back). Whether the session was
    /// live.
    #[metered]
    #[instrument(skip_all)]
    pub async fn touch(&self, token: &str) -> Result<bool> {
        let Some(hash) = presented(token) else {
            return Ok(false);
        };
        static TOUCH: Prepared = prepared!();
        let now = time::stored(time::now());
        let values = vec![
            now.into(),
            now.into(),
            1i64.into(),
            hash.as_str().into(),
            now.into(),
        ];
        let statement = TOUCH.statement(self.ctx.backend(), values, || {
            sessions::Entity::update_many()
                .col_expr(
                    sessions::Column::LastActivity,
                    latest(sessions::Column::LastActivity, now),
                )
                .col_expr(
                    sessions::Column::RequestsCount,
                    Expr::col(sessions::Column::RequestsCount).add(1i64),
                )
                .filter(sessions::Column::SessionToken.eq(&hash))
                .filter(sessions::Column::ExpiresAt.gt(now))
        });
        let changed = statement.execute_in(&self.ctx).await?;
        Ok(changed == 1)
    }

    /// The unexpired sessions of `owner`'s client, newest first.
    #[metered]
    #[instrument(skip_all, fields(a2a_client_id = %client, user_id = %owner))]
    pub async fn list_active(&self, owner: UserId, client: A2aClientId) -> Result<Vec<A2aSession>> {
        super::clients::owned_client(&self.ctx, owner, client.as_uuid()).await?;
        sessions::Entity::find()
            .filter(sessions::Column::ClientId.eq(client))
            .filter(sessions::Column::ExpiresAt.gt(time::stored(time::now())))
            .order_by_desc(sessions::Column::CreatedAt)
            .all_in(&self.ctx)
            .await?
            .into_iter()
            .map(A2aSession::try_from)
            .collect()
    }

    /// Ends the session now; whether it was live.
    #[metered]
    #[instrument(skip_all)]
    pub async fn end(&self, token: &str) -> Result<bool> {
        let Some(hash) = presented(token) else {
            return Ok(false);
        };
        let now = time::stored(time::now());
        let changed = sessions::Entity::update_many()
            .col_expr(sessions::Column::ExpiresAt, Expr::value(now))
            .filter(sessions::Column::SessionToken.eq(hash))
            .filter(sessions::Column::ExpiresAt.gt(now))
            .exec_in(&self.ctx)
            .await?
            .rows_affected;
        Ok(changed == 1)
    }
}

/// The stored key of a presented token, if it could have been issued here.
fn presented(token: &str) -> Option<String> {
    let issued = [
        A2aSessions::SESSION_TOKEN_PREFIX,
        A2aSessions::LEGACY_SESSION_TOKEN_PREFIX,
    ]
    .iter()
    .any(|prefix| token.starts_with(prefix));
    (issued && token.len() <= MAX_PRESENTED).then(|| hashing::hash(token))
}
