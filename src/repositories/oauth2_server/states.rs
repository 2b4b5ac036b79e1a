//! Authorization states: a value the client chose, stored while the user
//! authorizes and consumed once. Stored in a tenant
//! (`db.tenant(t).oauth2_states()`) when the tenant is known, or without
//! one ([`OAuth2Exchange::store_state`](super::OAuth2Exchange::store_state)).

use chrono::{DateTime, Duration, Utc};
use entity::oauth2_states as states;
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use tracing::instrument;

use super::OAuth2Clients;
use super::rules;
use crate::error::Result;
use crate::ids::{TenantId, UserId};
use crate::query::Ctx;
use crate::query::RunInsert;
use crate::query::Scoped;
use crate::time;

/// What a state is stored with.
#[derive(Clone, Debug)]
pub struct NewOAuth2State {
    /// The client's state value (printable ASCII, at most 512 characters).
    pub state: String,
    /// The client (must be active).
    pub client_id: String,
    /// The user, when known.
    pub user_id: Option<UserId>,
    /// One of the client's registered redirect URIs.
    pub redirect_uri: String,
    /// The requested scopes (space-separated).
    pub scope: Option<String>,
    /// The PKCE challenge, when the request carried one (S256 only).
    pub code_challenge: Option<String>,
    /// Lifetime; 10 minutes when `None`.
    pub ttl: Option<Duration>,
}

impl NewOAuth2State {
    /// A state without user, scope or challenge, living 10 minutes.
    pub fn new(
        state: impl Into<String>,
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            state: state.into(),
            client_id: client_id.into(),
            user_id: None,
            redirect_uri: redirect_uri.into(),
            scope: None,
            code_challenge: None,
            ttl: None,
        }
    }
}

/// A consumed state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2State {
    /// The state value.
    pub state: String,
    /// The client.
    pub client_id: String,
    /// The tenant it was stored in, if any.
    pub tenant_id: Option<TenantId>,
    /// The user, if known.
    pub user_id: Option<UserId>,
    /// The redirect URI.
    pub redirect_uri: String,
    /// The requested scopes.
    pub scope: Option<String>,
    /// The PKCE challenge (S256), if any.
    pub code_challenge: Option<String>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

impl From<states::Model> for OAuth2State {
    fn from(m: states::Model) -> Self {
        Self {
            state: m.state,
            client_id: m.client_id,
            tenant_id: m.tenant_id.map(TenantId::from_uuid),
            user_id: m.user_id.map(UserId::from_uuid),
            redirect_uri: m.redirect_uri,
            scope: m.scope,
            code_challenge: m.code_challenge,
            created_at: m.created_at.to_utc(),
            expires_at: m.expires_at.to_utc(),
        }
    }
}

/// Authorization states of one tenant: `db.tenant(t).oauth2_states()`.
pub struct OAuth2States<'a> {
    scope: Scoped<'a>,
}

/// Limits and fixed values of this repository's data.
impl OAuth2States<'_> {
    /// How long a stored state lives unless the caller says otherwise.
    pub const STATE_TTL: Duration = Duration::minutes(10);
    /// Longest state value.
    pub const MAX_STATE_LEN: usize = 512;
}

impl<'a> OAuth2States<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Stores a state in this tenant. `Conflict` when the value is already
    /// stored; `InvalidInput` for a malformed value, scope or challenge, an
    /// unknown or inactive client, or an unregistered redirect URI.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), client_id = %new.client_id), err(Display))]
    pub async fn store(&self, new: NewOAuth2State) -> Result<()> {
        let row = checked_row(&self.scope, new).await?;
        self.scope
            .insert(row)?
            .exec_without_returning_in(&self.scope)
            .await?;
        Ok(())
    }
}

/// The row for `new`, checked, without a tenant.
pub(super) async fn checked_row(ctx: &Ctx<'_>, new: NewOAuth2State) -> Result<states::ActiveModel> {
    let state = rules::state(&new.state)?;
    let scope = rules::scope(new.scope.as_deref())?;
    let (challenge, method) = match new.code_challenge.as_deref() {
        Some(challenge) => (
            Some(rules::code_challenge(
                challenge,
                OAuth2Clients::PKCE_METHOD,
            )?),
            Some(OAuth2Clients::PKCE_METHOD.to_owned()),
        ),
        None => (None, None),
    };
    let now = time::now();
    let expires_at = rules::expiry(now, new.ttl, OAuth2States::STATE_TTL)?;
    let redirect_uri = super::OAuth2Clients::new(*ctx)
        .usable_with(&new.client_id, &new.redirect_uri)
        .await?;
    Ok(states::ActiveModel {
        state: Set(state),
        client_id: Set(new.client_id),
        user_id: Set(new.user_id.map(|u| u.as_uuid())),
        redirect_uri: Set(redirect_uri),
        scope: Set(scope),
        code_challenge: Set(challenge),
        code_challenge_method: Set(method),
        created_at: Set(time::stored(now)),
        expires_at: Set(time::stored(expires_at)),
        used: Set(false),
        ..Default::default()
    })
}
