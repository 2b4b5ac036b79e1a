//! Every encrypted column of the schema, and the context each is sealed in.
//!
//! Repositories build contexts from these definitions and the rotation job
//! walks the same list, so the two cannot disagree about what a value is
//! bound to.

use uuid::Uuid;

use super::CryptoError;
use super::aad::Context;

/// An encrypted column and how its rows name their context.
#[derive(Debug)]
pub struct SealedColumn {
    /// The table.
    pub table: &'static str,
    /// The encrypted column.
    pub column: &'static str,
    /// The primary key column.
    pub key: &'static str,
    /// Whether the primary key is a UUID (else text).
    pub key_is_uuid: bool,
    /// The tenant column bound into the context, if the table has one.
    pub tenant: Option<&'static str>,
    /// The user column bound into the context, if the table has one.
    pub user: Option<&'static str>,
    /// Further key parts, read as text, in this order.
    pub parts: &'static [&'static str],
}

impl SealedColumn {
    /// The context of one row, checked against the column's shape: a tenant
    /// or user given where the column binds none (or missing where it binds
    /// one), or another number of parts, is [`CryptoError::ContextShape`].
    /// The rotation job builds contexts from these same definitions, so a
    /// repository that got the shape wrong fails at its first write, not
    /// at the first rotation.
    pub fn context(
        &self,
        tenant: Option<Uuid>,
        user: Option<Uuid>,
        parts: &[&str],
    ) -> Result<Context, CryptoError> {
        if tenant.is_some() != self.tenant.is_some()
            || user.is_some() != self.user.is_some()
            || parts.len() != self.parts.len()
        {
            return Err(CryptoError::ContextShape {
                table: self.table,
                column: self.column,
            });
        }
        let mut context = Context::new(self.table, self.column);
        if let Some(tenant) = tenant {
            context = context.tenant(tenant);
        }
        if let Some(user) = user {
            context = context.user(user);
        }
        for part in parts {
            context = context.part(*part);
        }
        Ok(context)
    }
}

/// `user_oauth_tokens.access_token`, bound to tenant, user and provider.
pub const OAUTH_ACCESS_TOKEN: SealedColumn = SealedColumn {
    table: "user_oauth_tokens",
    column: "access_token",
    key: "id",
    key_is_uuid: true,
    tenant: Some("tenant_id"),
    user: Some("user_id"),
    parts: &["provider"],
};

/// `user_oauth_tokens.refresh_token`, bound like the access token.
pub const OAUTH_REFRESH_TOKEN: SealedColumn = SealedColumn {
    column: "refresh_token",
    ..OAUTH_ACCESS_TOKEN
};

/// `tenant_oauth_credentials.client_secret_encrypted`, bound to tenant and provider.
pub const TENANT_CLIENT_SECRET: SealedColumn = SealedColumn {
    table: "tenant_oauth_credentials",
    column: "client_secret_encrypted",
    key: "id",
    key_is_uuid: true,
    tenant: Some("tenant_id"),
    user: None,
    parts: &["provider"],
};

/// `user_oauth_app_credentials.client_secret`, bound to user and provider.
pub const USER_APP_CLIENT_SECRET: SealedColumn = SealedColumn {
    table: "user_oauth_app_credentials",
    column: "client_secret",
    key: "id",
    key_is_uuid: true,
    tenant: None,
    user: Some("user_id"),
    parts: &["provider"],
};

/// `rsa_keypairs.private_key_pem`, bound to the key id.
pub const RSA_PRIVATE_KEY: SealedColumn = SealedColumn {
    table: "rsa_keypairs",
    column: "private_key_pem",
    key: "kid",
    key_is_uuid: false,
    tenant: None,
    user: None,
    parts: &["kid"],
};

/// `system_secrets.secret_value`, bound to the secret type. The wrapped data
/// keys stored in the same table are sealed by the master key (key version
/// 0), which the rotation job leaves alone.
pub const SYSTEM_SECRET: SealedColumn = SealedColumn {
    table: "system_secrets",
    column: "secret_value",
    key: "secret_type",
    key_is_uuid: false,
    tenant: None,
    user: None,
    parts: &["secret_type"],
};

/// Every encrypted column.
pub const ALL: [&SealedColumn; 6] = [
    &OAUTH_ACCESS_TOKEN,
    &OAUTH_REFRESH_TOKEN,
    &TENANT_CLIENT_SECRET,
    &USER_APP_CLIENT_SECRET,
    &RSA_PRIVATE_KEY,
    &SYSTEM_SECRET,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_of_the_wrong_shape_is_refused() {
        let (t, u) = (Some(Uuid::nil()), Some(Uuid::max()));
        assert!(OAUTH_ACCESS_TOKEN.context(t, u, &["strava"]).is_ok());
        for (tenant, user, parts) in [
            (None, u, &["strava"][..]),
            (t, None, &["strava"][..]),
            (t, u, &[][..]),
            (t, u, &["strava", "extra"][..]),
        ] {
            assert_eq!(
                OAUTH_ACCESS_TOKEN.context(tenant, user, parts).unwrap_err(),
                CryptoError::ContextShape {
                    table: "user_oauth_tokens",
                    column: "access_token"
                }
            );
        }
        assert!(USER_APP_CLIENT_SECRET.context(t, u, &["fitbit"]).is_err());
        assert!(USER_APP_CLIENT_SECRET.context(None, u, &["fitbit"]).is_ok());
    }
}
