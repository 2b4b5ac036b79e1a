//! The repositories: one per aggregate, grouped by domain. Each holds only
//! queries; validation, encryption, cursors and error mapping come from
//! their own modules. Each borrows one executor (the pool or a transaction),
//! so the same repository serves `db.x()` and `tx.x()`.
//!
//! Repositories of tenant-owned tables are built only by a
//! [`TenantScope`] and query only through its scoped
//! handle (see the `scope` module); their constructors are private to the
//! crate.
//!
//! The table of every table's repository and accessor is in the crate
//! docs.
//!
//! A hot path (a call every request makes: a key lookup, a token read, a
//! usage row) keeps its statement's text in a `static` slot declared with
//! `prepared!()` instead of building the query on every call; the query is
//! still written with the builder (see `query::prepared` for what that
//! saves). The integration suite's census (`tests/it/prepared.rs`) fails
//! until the new path runs in its `run_every_hot_path`.
//!
//! Adding a repository: its file in its domain folder (with its `pub mod`
//! and type re-exports in the folder's `mod.rs`), and one line in the
//! accessor list below, which gives it to `Database`, `Tx` and, for
//! tenant-owned data, `TenantScope`.

/// The body of a repository method, timed and its error counted under the
/// method's name (with `metrics`; otherwise the body as it is). Written by
/// `#[metered]`, which every public method of a repository carries.
#[cfg(feature = "metrics")]
macro_rules! metered_body {
    ($method:literal, $body:block) => {
        crate::telemetry::call::<Self, _>($method, async move $body).await
    };
}

#[cfg(not(feature = "metrics"))]
macro_rules! metered_body {
    ($method:literal, $body:block) => {
        $body
    };
}

pub mod a2a;
pub mod audit;
pub mod configuration;
pub mod content;
pub mod credentials;
pub mod identity;
pub mod oauth2_server;
pub mod platform;
pub mod privileged;
pub mod profile;
pub mod usage;

use crate::query::{AllTenants, Ctx, GlobalRows};

use a2a::{A2aClients, A2aSessions, A2aTasks, A2aUsage};
use audit::AuditEvents;
use configuration::{AdminConfig, SystemSettings};
use content::{Chat, FitnessConfigs, Recipes};
use credentials::{
    ApiKeys, CrossTenantOAuthTokens, OAuthApps, OAuthTokens, TenantOAuthCredentials, UserOAuthApps,
};
use identity::{TenantMembers, Tenants, Users};
use oauth2_server::{
    OAuth2AuthCodes, OAuth2Clients, OAuth2Exchange, OAuth2RefreshTokens, OAuth2States,
};
use platform::{AdminTokens, McpTokens, ProvisionedKeys, RsaKeys, SystemSecrets};
use privileged::{Impersonations, PermissionDelegations};
use profile::{Goals, Insights, OAuthNotifications, UserConfigurations, UserProfiles};
use usage::Usage;

use crate::ids::TenantId;
use crate::scope::{AcrossTenants, ReplicaReads, TenantScope};

/// Writes the accessors of every repository on [`crate::Database`] (the
/// pool), [`crate::Tx`] (inside a transaction), [`TenantScope`] and
/// [`AcrossTenants`], from one list.
macro_rules! accessors {
    (
        global { $( $(#[$gdoc:meta])* $gname:ident: $gty:ident, )* }
        tenant { $( $(#[$tdoc:meta])* $tname:ident: $tty:ident, )* }
        across_tenants { $( $(#[$adoc:meta])* $aname:ident: $aty:ident, )* }
    ) => {
        // The name each repository's series are labelled with: its accessor.
        #[cfg(feature = "metrics")]
        const _: () = {
            use crate::telemetry::Repository;
            $( impl Repository for $gty<'_> { const NAME: &'static str = stringify!($gname); } )*
            $( impl Repository for $tty<'_> { const NAME: &'static str = stringify!($tname); } )*
            $(
                impl Repository for $aty<'_> {
                    const NAME: &'static str = concat!("across_tenants.", stringify!($aname));
                }
            )*
            impl Repository for OAuth2Exchange<'_> { const NAME: &'static str = "oauth2_exchange"; }
        };

        impl crate::database::Database {
            $(
                $(#[$gdoc])*
                pub fn $gname(&self) -> $gty<'_> {
                    $gty::new(Ctx::pool(self.shared(), self.mark()))
                }
            )*

            /// The repositories of one tenant's data.
            pub fn tenant(&self, tenant: TenantId) -> TenantScope<'_> {
                TenantScope::new(Ctx::pool(self.shared(), self.mark()), tenant)
            }

            /// The few operations that span tenants.
            pub fn across_tenants(&self) -> AcrossTenants<'_> {
                AcrossTenants { rows: AllTenants::on_pool(self.shared(), self.mark()) }
            }

            /// The read path: the same repositories, their reads on the
            /// read replicas (see [`ReplicaReads`]).
            pub fn replica(&self) -> ReplicaReads<'_> {
                ReplicaReads { shared: self.shared(), mark: self.mark() }
            }
        }

        impl<'a> ReplicaReads<'a> {
            $(
                $(#[$gdoc])*
                ///
                /// Reads on the replicas.
                pub fn $gname(&self) -> $gty<'a> {
                    $gty::new(self.ctx())
                }
            )*

            /// The repositories of one tenant's data, reads on the replicas.
            pub fn tenant(&self, tenant: TenantId) -> TenantScope<'a> {
                TenantScope::new(self.ctx(), tenant)
            }

            /// The operations that span tenants, reads on the replicas.
            pub fn across_tenants(&self) -> AcrossTenants<'a> {
                AcrossTenants { rows: AllTenants::on_replica(self.shared, self.mark) }
            }
        }

        impl<'c> crate::transactions::Tx<'c> {
            $(
                $(#[$gdoc])*
                ///
                /// Inside this transaction.
                pub fn $gname(&self) -> $gty<'c> {
                    $gty::new(self.ctx())
                }
            )*

            /// The repositories of one tenant's data, inside this transaction.
            pub fn tenant(&self, tenant: TenantId) -> TenantScope<'c> {
                TenantScope::new(self.ctx(), tenant)
            }

            /// The operations that span tenants, inside this transaction.
            pub fn across_tenants(&self) -> AcrossTenants<'c> {
                AcrossTenants { rows: self.all_tenants() }
            }
        }

        impl<'a> TenantScope<'a> {
            $(
                $(#[$tdoc])*
                pub fn $tname(&self) -> $tty<'a> {
                    $tty::new(self.scoped)
                }
            )*
        }

        impl<'a> AcrossTenants<'a> {
            $(
                $(#[$adoc])*
                pub fn $aname(&self) -> $aty<'a> {
                    $aty::new(self.rows)
                }
            )*
        }
    };
}

accessors! {
    global {
        /// Users: accounts, status, roles.
        users: Users,
        /// Tenants, created with their owner's membership.
        tenants: Tenants,
        /// API keys (hashed) and their lookups.
        api_keys: ApiKeys,
        /// OAuth applications (client secrets hashed).
        oauth_apps: OAuthApps,
        /// Users' own OAuth app credentials (client secrets encrypted).
        user_oauth_apps: UserOAuthApps,
        /// API-key and JWT usage, request logs and statistics.
        usage: Usage,
        /// The OAuth 2.0 authorization server's clients (secrets hashed).
        oauth2_clients: OAuth2Clients,
        /// Admin tokens (hashed), their use and its history.
        admin_tokens: AdminTokens,
        /// API keys provisioned by admin tokens.
        provisioned_keys: ProvisionedKeys,
        /// Users' MCP tokens (hashed).
        mcp_tokens: McpTokens,
        /// A2A clients (secrets hashed) and their API-key links.
        a2a_clients: A2aClients,
        /// A2A sessions (tokens hashed).
        a2a_sessions: A2aSessions,
        /// A2A tasks and their life cycle.
        a2a_tasks: A2aTasks,
        /// A2A usage, its rate-limit window and statistics.
        a2a_usage: A2aUsage,
        /// Named system secrets (encrypted).
        system_secrets: SystemSecrets,
        /// The application's JWT signing key pairs (private keys encrypted).
        rsa_keys: RsaKeys,
        /// Impersonation sessions: at most one active per impersonator.
        impersonations: Impersonations,
        /// Permission delegations between users.
        permission_delegations: PermissionDelegations,
        /// Platform settings (plain values, not secrets).
        system_settings: SystemSettings,
        /// Users' profiles (one JSON document each).
        user_profiles: UserProfiles,
        /// Users' configurations (one JSON document each).
        user_configurations: UserConfigurations,
        /// Users' goals and their progress.
        goals: Goals,
        /// Insights computed for users.
        insights: Insights,
        /// Users' OAuth connection notifications.
        oauth_notifications: OAuthNotifications,
    }
    tenant {
        /// OAuth tokens of this tenant's users (encrypted).
        oauth_tokens: OAuthTokens,
        /// This tenant's members and their roles.
        members: TenantMembers,
        /// This tenant's own OAuth client credentials per provider
        /// (client secrets encrypted).
        oauth_credentials: TenantOAuthCredentials,
        /// Authorization codes issued in this tenant (hashed).
        oauth2_auth_codes: OAuth2AuthCodes,
        /// Refresh tokens issued in this tenant (hashed).
        oauth2_refresh_tokens: OAuth2RefreshTokens,
        /// Authorization states stored in this tenant.
        oauth2_states: OAuth2States,
        /// Fitness configurations: tenant defaults and users' overrides.
        fitness_configs: FitnessConfigs,
        /// Chat conversations and their messages.
        chat: Chat,
        /// Recipes and their ingredients.
        recipes: Recipes,
        /// This tenant's admin configuration overrides (falling back to
        /// the global ones) and its audit log of changes.
        admin_config: AdminConfig,
        /// This tenant's audit events.
        audit_events: AuditEvents,
    }
    across_tenants {
        /// A user's OAuth tokens in every tenant.
        oauth_tokens: CrossTenantOAuthTokens,
    }
}

impl crate::database::Database {
    /// The token endpoint: consumes codes, refresh tokens and states of
    /// every tenant, each exactly once.
    pub fn oauth2_exchange(&self) -> OAuth2Exchange<'_> {
        OAuth2Exchange::new(AllTenants::on_pool(self.shared(), self.mark()))
    }
}

impl<'c> crate::transactions::Tx<'c> {
    /// The token endpoint, inside this transaction.
    pub fn oauth2_exchange(&self) -> OAuth2Exchange<'c> {
        OAuth2Exchange::new(self.all_tenants())
    }
}

/// Handles for the global rows (no tenant) of tables that also hold tenant
/// rows.
// Named for it, and made from the global rows explicitly.
impl crate::database::Database {
    /// The global admin configuration overrides (no tenant), the
    /// categories, and the global audit log of changes.
    pub fn global_admin_config(&self) -> AdminConfig<'_> {
        AdminConfig::new(GlobalRows::new(Ctx::pool(self.shared(), self.mark())))
    }

    /// The platform's own audit events (no tenant).
    pub fn global_audit_events(&self) -> AuditEvents<'_> {
        AuditEvents::new(GlobalRows::new(Ctx::pool(self.shared(), self.mark())))
    }
}

impl<'a> ReplicaReads<'a> {
    /// The global admin configuration, reads on the replicas.
    pub fn global_admin_config(&self) -> AdminConfig<'a> {
        AdminConfig::new(GlobalRows::new(self.ctx()))
    }

    /// The platform's own audit events, reads on the replicas.
    pub fn global_audit_events(&self) -> AuditEvents<'a> {
        AuditEvents::new(GlobalRows::new(self.ctx()))
    }
}

impl<'c> crate::transactions::Tx<'c> {
    /// The global admin configuration, inside this transaction.
    pub fn global_admin_config(&self) -> AdminConfig<'c> {
        AdminConfig::new(GlobalRows::new(self.ctx()))
    }

    /// The platform's own audit events, inside this transaction.
    pub fn global_audit_events(&self) -> AuditEvents<'c> {
        AuditEvents::new(GlobalRows::new(self.ctx()))
    }
}
