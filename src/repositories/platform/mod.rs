//! Platform credentials and secrets, all global: admin tokens and their
//! use, keys they provisioned, users' MCP tokens (hashed), named system
//! secrets and JWT signing keys (encrypted).

pub mod admin_tokens;
pub mod mcp_tokens;
pub mod provisioned_keys;
pub mod rsa_keys;
pub mod system_secrets;

pub use admin_tokens::{AdminToken, AdminTokenUsage, AdminTokenUse, AdminTokens, NewAdminToken};
pub use mcp_tokens::{CreatedMcpToken, McpToken, McpTokenUse, McpTokens};
pub use provisioned_keys::{ProvisionedApiKey, ProvisionedKey, ProvisionedKeys};
pub use rsa_keys::{NewRsaKeyPair, RsaKeyPair, RsaKeys};
pub use system_secrets::SystemSecrets;
