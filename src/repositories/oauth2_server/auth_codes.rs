//! Authorization codes, issued in a tenant: `db.tenant(t).oauth2_auth_codes()`.
//!
//! A code is generated here, returned once, and stored as its SHA-256 (the
//! primary key). It is consumed by the token endpoint through
//! [`OAuth2Exchange::consume_auth_code`](super::OAuth2Exchange::consume_auth_code).

use chrono::{DateTime, Duration, Utc};
use entity::oauth2_auth_codes as codes;
use pierre_db_macros::metered;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, DbErr, FromQueryResult, QueryFilter, QueryResult};
use tracing::instrument;
use uuid::Uuid;

use super::OAuth2Clients;
use super::rules::{self};
use crate::crypto::hashing;
use crate::crypto::secret::Secret;
use crate::error::Result;
use crate::ids::{TenantId, UserId};
use crate::query::RunSelect;
use crate::query::Scoped;
use crate::query::cells::{Cell, at};
use crate::query::{Prepared, prepared};
use crate::time;

/// What [`OAuth2AuthCodes::issue`] needs.
#[derive(Clone, Debug)]
pub struct NewAuthCode {
    /// The client the code is for (must be active).
    pub client_id: String,
    /// The user who authorized it.
    pub user_id: UserId,
    /// One of the client's registered redirect URIs.
    pub redirect_uri: String,
    /// The granted scopes (space-separated).
    pub scope: Option<String>,
    /// The PKCE challenge: base64url SHA-256 of the client's verifier.
    pub code_challenge: String,
    /// `S256` (`plain` is refused).
    pub code_challenge_method: String,
    /// The client's state, echoed back.
    pub state: Option<String>,
    /// Lifetime; 10 minutes when `None`.
    pub ttl: Option<Duration>,
}

impl NewAuthCode {
    /// A code with an S256 challenge, no scope and no state, living 10
    /// minutes.
    pub fn new(
        client_id: impl Into<String>,
        user_id: UserId,
        redirect_uri: impl Into<String>,
        code_challenge: impl Into<String>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            user_id,
            redirect_uri: redirect_uri.into(),
            scope: None,
            code_challenge: code_challenge.into(),
            code_challenge_method: OAuth2Clients::PKCE_METHOD.to_owned(),
            state: None,
            ttl: None,
        }
    }
}

/// A code just issued: give `code` to the client now; only its hash is
/// kept.
#[derive(Clone, Debug)]
pub struct IssuedAuthCode {
    /// The code, in clear this one time.
    pub code: Secret,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// A stored authorization code (without the code itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCode {
    /// The tenant it was issued in.
    pub tenant_id: TenantId,
    /// The user who authorized it.
    pub user_id: UserId,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// The granted scopes.
    pub scope: Option<String>,
    /// The client's state.
    pub state: Option<String>,
    /// The PKCE challenge, for [`verify_pkce`](crate::verify_pkce).
    pub code_challenge: Option<String>,
    /// The PKCE method (`S256`).
    pub code_challenge_method: Option<String>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Whether it was consumed.
    pub used: bool,
}

impl From<codes::Model> for AuthCode {
    fn from(m: codes::Model) -> Self {
        Self {
            tenant_id: TenantId::from_uuid(m.tenant_id),
            user_id: UserId::from_uuid(m.user_id),
            client_id: m.client_id,
            redirect_uri: m.redirect_uri,
            scope: m.scope,
            state: m.state,
            code_challenge: m.code_challenge,
            code_challenge_method: m.code_challenge_method,
            expires_at: m.expires_at.to_utc(),
            used: m.used,
        }
    }
}

/// The columns a consumed code returns, in the order [`CodeRow`] reads
/// them.
pub(super) const CODE_COLUMNS: [codes::Column; 10] = [
    codes::Column::TenantId,
    codes::Column::UserId,
    codes::Column::ClientId,
    codes::Column::RedirectUri,
    codes::Column::Scope,
    codes::Column::State,
    codes::Column::CodeChallenge,
    codes::Column::CodeChallengeMethod,
    codes::Column::ExpiresAt,
    codes::Column::Used,
];

/// An [`AuthCode`] read by position from [`CODE_COLUMNS`], through the
/// driver (see the `cells` module): the token endpoint's hot path.
pub(super) struct CodeRow(pub AuthCode);

impl FromQueryResult for CodeRow {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> std::result::Result<Self, DbErr> {
        Ok(Self(AuthCode {
            tenant_id: TenantId::from_uuid(Uuid::read(
                row,
                at!(CODE_COLUMNS, codes::Column::TenantId),
            )?),
            user_id: UserId::from_uuid(Uuid::read(row, at!(CODE_COLUMNS, codes::Column::UserId))?),
            client_id: String::read(row, at!(CODE_COLUMNS, codes::Column::ClientId))?,
            redirect_uri: String::read(row, at!(CODE_COLUMNS, codes::Column::RedirectUri))?,
            scope: Cell::read(row, at!(CODE_COLUMNS, codes::Column::Scope))?,
            state: Cell::read(row, at!(CODE_COLUMNS, codes::Column::State))?,
            code_challenge: Cell::read(row, at!(CODE_COLUMNS, codes::Column::CodeChallenge))?,
            code_challenge_method: Cell::read(
                row,
                at!(CODE_COLUMNS, codes::Column::CodeChallengeMethod),
            )?,
            expires_at: DateTime::<Utc>::read(row, at!(CODE_COLUMNS, codes::Column::ExpiresAt))?,
            used: bool::read(row, at!(CODE_COLUMNS, codes::Column::Used))?,
        }))
    }
}

/// Authorization codes of one tenant: `db.tenant(t).oauth2_auth_codes()`.
pub struct OAuth2AuthCodes<'a> {
    scope: Scoped<'a>,
}

/// Limits and fixed values of this repository's data.
impl OAuth2AuthCodes<'_> {
    /// How every generated code starts.
    pub const CODE_PREFIX: &'static str = "mcp_code_";
    /// How long an authorization code lives unless the caller says otherwise.
    pub const AUTH_CODE_TTL: Duration = Duration::minutes(10);
}

impl<'a> OAuth2AuthCodes<'a> {
    pub(crate) fn new(scope: Scoped<'a>) -> Self {
        Self { scope }
    }

    /// Issues a code and returns it once. `InvalidInput` for an unknown or
    /// inactive client, a redirect URI the client did not register, a PKCE
    /// method other than `S256` or a malformed challenge, a malformed scope
    /// or state, or a lifetime that is not positive; `ForeignKey` for an
    /// unknown user.
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant(), user_id = %new.user_id, client_id = %new.client_id), err(Display))]
    pub async fn issue(&self, new: NewAuthCode) -> Result<IssuedAuthCode> {
        let challenge = rules::code_challenge(&new.code_challenge, &new.code_challenge_method)?;
        let scope = rules::scope(new.scope.as_deref())?;
        let state = new.state.as_deref().map(rules::state).transpose()?;
        let now = time::now();
        let expires_at = rules::expiry(now, new.ttl, OAuth2AuthCodes::AUTH_CODE_TTL)?;
        let redirect_uri = OAuth2Clients::new(*self.scope)
            .usable_with(&new.client_id, &new.redirect_uri)
            .await?;
        let code = hashing::generate(OAuth2AuthCodes::CODE_PREFIX)?;
        let row = codes::ActiveModel {
            code: Set(hashing::hash(code.expose())),
            client_id: Set(new.client_id),
            user_id: Set(new.user_id.as_uuid()),
            redirect_uri: Set(redirect_uri),
            scope: Set(scope),
            expires_at: Set(time::stored(expires_at)),
            used: Set(false),
            state: Set(state),
            code_challenge: Set(Some(challenge)),
            code_challenge_method: Set(Some(OAuth2Clients::PKCE_METHOD.to_owned())),
            ..Default::default()
        };
        // Issued on every authorization or token request: the text is
        // built once.
        static ISSUE: Prepared = prepared!();
        let statement = self.scope.prepared_insert(&ISSUE, row, |insert| insert)?;
        statement.execute_in(&self.scope).await?;
        Ok(IssuedAuthCode {
            code,
            expires_at: time::truncate(expires_at),
        })
    }

    /// The code's stored record in this tenant, if it was issued here
    /// (used or not, expired or not).
    #[metered]
    #[instrument(skip_all, fields(tenant_id = %self.scope.tenant()))]
    pub async fn get(&self, code: &str) -> Result<Option<AuthCode>> {
        if !rules::presentable(code) {
            return Ok(None);
        }
        Ok(self
            .scope
            .find::<codes::Entity>()
            .filter(codes::Column::Code.eq(hashing::hash(code)))
            .one_in(&self.scope)
            .await?
            .map(AuthCode::from))
    }
}
