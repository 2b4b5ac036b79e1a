//! This server as an OAuth 2.0 authorization server (RFC 6749 with PKCE,
//! RFC 7636): its clients, and the single-use values it issues and
//! consumes.
//!
//! | what | handle | secret stored as |
//! |---|---|---|
//! | clients | `db.oauth2_clients()` | client secret: SHA-256 |
//! | authorization codes | `db.tenant(t).oauth2_auth_codes()` | SHA-256 |
//! | refresh tokens | `db.tenant(t).oauth2_refresh_tokens()` | SHA-256 |
//! | states | `db.tenant(t).oauth2_states()` or the exchange | the value (client-chosen, not secret) |
//! | consumption, rotation, purge | `db.oauth2_exchange()` | |

pub mod auth_codes;
pub mod clients;
pub mod exchange;
pub mod refresh_tokens;
pub mod rules;
pub mod states;

pub use auth_codes::{AuthCode, IssuedAuthCode, NewAuthCode, OAuth2AuthCodes};
pub use clients::{NewOAuth2Client, OAuth2Client, OAuth2Clients, RegisteredOAuth2Client};
pub use exchange::{OAuth2Exchange, PurgedCounts, RotatedRefreshToken};
pub use refresh_tokens::{IssuedRefreshToken, NewRefreshToken, OAuth2RefreshTokens, RefreshToken};
pub use rules::{pkce_s256_challenge, verify_pkce};
pub use states::{NewOAuth2State, OAuth2State, OAuth2States};
