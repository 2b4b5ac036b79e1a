//! Credentials: OAuth tokens and client credentials (encrypted), OAuth
//! applications and API keys (hashed).

pub mod api_keys;
pub mod oauth_apps;
pub mod oauth_tokens;
pub mod tenant_oauth_credentials;
pub mod user_oauth_apps;

pub use crate::validation::oauth::{parse_provider, provider_name};
pub use api_keys::{ApiKey, ApiKeyFilter, ApiKeys, CreatedApiKey, NewApiKey};
pub use oauth_apps::{NewOAuthApp, OAuthApp, OAuthApps, RegisteredOAuthApp};
pub use oauth_tokens::{CrossTenantOAuthTokens, NewOAuthToken, OAuthToken, OAuthTokens};
pub use tenant_oauth_credentials::{
    NewTenantOAuthCredential, TenantOAuthCredential, TenantOAuthCredentialSummary,
    TenantOAuthCredentials,
};
pub use user_oauth_apps::{NewUserOAuthApp, UserOAuthApp, UserOAuthAppSummary, UserOAuthApps};
