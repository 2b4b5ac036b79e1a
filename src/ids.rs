//! Typed ids, so a user id cannot be passed where a tenant id belongs.

use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7), so inserts land at the end of indexes.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID: the one way to make an id from a
            /// uuid, so that it is written out where it happens (there is
            /// no `From<Uuid>`: an `.into()` cannot turn one kind of id
            /// into another).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<$name> for sea_orm::Value {
            fn from(id: $name) -> sea_orm::Value {
                id.0.into()
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::error::DatabaseError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|_| crate::error::DatabaseError::invalid(stringify!($name), "not a UUID"))
            }
        }
    };
}

typed_id!(
    /// The id of a user.
    UserId
);
typed_id!(
    /// The id of a tenant.
    TenantId
);
typed_id!(
    /// The id of an API key.
    ApiKeyId
);
typed_id!(
    /// The id of an A2A client.
    A2aClientId
);
typed_id!(
    /// The id of an A2A task.
    A2aTaskId
);
typed_id!(
    /// The id of an admin token.
    AdminTokenId
);
typed_id!(
    /// The id of an API key provisioned by an admin token.
    ProvisionedKeyId
);
typed_id!(
    /// The id of an MCP token.
    McpTokenId
);
typed_id!(
    /// The id of a chat conversation.
    ConversationId
);
typed_id!(
    /// The id of a recipe.
    RecipeId
);
typed_id!(
    /// The id of a goal.
    GoalId
);
typed_id!(
    /// The id of an OAuth notification.
    NotificationId
);
typed_id!(
    /// The id of an impersonation session.
    ImpersonationId
);
typed_id!(
    /// The id of a recorded request: a row of API-key usage, JWT usage, the
    /// request log, A2A usage or admin token usage.
    UsageId
);
typed_id!(
    /// The id of a user's membership of a tenant.
    MembershipId
);
typed_id!(
    /// The id of a user's own OAuth app credentials.
    UserOAuthAppId
);
typed_id!(
    /// The id of a tenant's OAuth credentials for a provider.
    TenantOAuthCredentialId
);
typed_id!(
    /// The id of a stored OAuth token.
    OAuthTokenId
);
typed_id!(
    /// The id of a registered OAuth app.
    OAuthAppId
);
typed_id!(
    /// The id of an insight.
    InsightId
);
typed_id!(
    /// The id of an audit event.
    AuditEventId
);
typed_id!(
    /// The id of a fitness configuration.
    FitnessConfigId
);
typed_id!(
    /// The id of a recipe's ingredient.
    IngredientId
);
typed_id!(
    /// The id of a chat message.
    MessageId
);
typed_id!(
    /// The row id of an OAuth 2.0 client (its public name is the
    /// `client_id` text).
    OAuth2ClientId
);
typed_id!(
    /// The id of an admin configuration override.
    ConfigOverrideId
);
typed_id!(
    /// The id of an entry in the admin configuration's audit log.
    ConfigAuditId
);
typed_id!(
    /// The id of a permission delegation.
    DelegationId
);
